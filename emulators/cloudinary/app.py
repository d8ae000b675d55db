"""Cloudinary emulator (FastAPI): Upload API, Admin API and delivery, wire-compatible with the SDK.

Point the real ``cloudinary`` SDK at it with ``upload_prefix="http://127.0.0.1:PORT"`` and
build delivery URLs with ``cname="127.0.0.1:PORT", secure=False``. Behaviour follows
Cloudinary's public documentation (``docs/api-notes.md``); inferences are listed in ``docs/emulators.md``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.responses import FileResponse, Response

from emulators.cloudinary import transform
from emulators.cloudinary.params import (
    InvalidParameter,
    access_allowed,
    parse_access_control,
    parse_bool,
    parse_context,
    parse_metadata,
    parse_tags,
)
from emulators.cloudinary.signing import (
    NOTIFICATION_PARAMS,
    delivery_signature,
    response_signature,
    token_valid,
    verify_upload_signature,
)
from emulators.common.control import Control, ControlMiddleware, control_router
from emulators.common.http import read_params
from emulators.common.store import DocStore

DEFAULT_CLOUD = "democloud"
DEFAULT_API_KEY = "123456789012345"
DEFAULT_API_SECRET = "emulator-secret"
DEFAULT_AUTH_TOKEN_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
TIMESTAMP_TOLERANCE = 3600  # seconds; stale signed requests are refused [INFERRED §1.5]
MAX_RESULTS = 500
DELETE_CHUNK = 1000


class CloudinaryError(Exception):
    """Rendered as ``{"error": {"message": ...}}`` with the given HTTP status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def resource_key(rt: str, dtype: str, public_id: str) -> str:
    return f"{rt}/{dtype}/{public_id}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Account:
    """The emulated product environment: its resources, derived files and usage counters."""

    def __init__(self, store: DocStore, control: Control) -> None:
        self.store, self.control = store, control

    # ----------------------------------------------------------------- usage
    def usage_day(self, day: date) -> dict[str, int]:
        return self.store.get("usage", day.isoformat()) or {"bandwidth": 0, "transformations": 0, "requests": 0}

    def bump(self, **amounts: int) -> None:
        day = self.control.now().date()
        counters = self.usage_day(day)
        for key, amount in amounts.items():
            counters[key] = counters.get(key, 0) + amount
        self.store.put("usage", day.isoformat(), counters)

    def storage_bytes(self) -> tuple[int, int, int]:
        """(bytes stored, originals, derived files)."""
        total = originals = derived = 0
        for _, res in self.store.iter("resource"):
            originals += 1
            total += res["bytes"] + sum(d["bytes"] for d in res.get("derived", []))
            derived += len(res.get("derived", []))
        return total, originals, derived

    # ----------------------------------------------------------------- resources
    def get(self, rt: str, dtype: str, public_id: str) -> dict[str, Any] | None:
        return self.store.get("resource", resource_key(rt, dtype, public_id))

    def require(self, rt: str, dtype: str, public_id: str) -> dict[str, Any]:
        res = self.get(rt, dtype, public_id)
        if res is None:
            raise CloudinaryError(404, f"Resource not found - {public_id}")
        return res

    def save(self, res: dict[str, Any]) -> None:
        self.store.put("resource", resource_key(res["resource_type"], res["type"], res["public_id"]), res)

    def original_path(self, res: dict[str, Any]) -> Path:
        return self.store.blob_path(f"originals/{res['asset_id']}")

    def remove(self, res: dict[str, Any], keep_original: bool = False) -> None:
        for derived in res.get("derived", []):
            (self.store.blob_dir / "derived" / derived["id"]).unlink(missing_ok=True)
        if keep_original:
            res["derived"] = []
            self.save(res)
            return
        self.original_path(res).unlink(missing_ok=True)
        self.store.delete("resource", resource_key(res["resource_type"], res["type"], res["public_id"]))

    def iter(self, rt: str, dtype: str | None = None):
        prefix = f"{rt}/{dtype}/" if dtype else f"{rt}/"
        return (res for _, res in self.store.iter("resource", prefix))

    # ----------------------------------------------------------------- derived
    def derive(self, res: dict[str, Any], chain: str, fmt: str, accept: str = "") -> tuple[Path, str, bool]:
        """The derived file for a transformation chain; returns (path, format, newly made)."""
        components = [transform.parse_component(c) for c in chain.split("/") if c] if chain else []
        wants_auto = any(c.params.get("f") == "auto" for c in components)
        variant = "webp" if wants_auto and "image/webp" in accept else ""
        key = hashlib.sha1(f"{res['asset_id']}|{res['version']}|{chain}|{fmt}|{variant}".encode()).hexdigest()
        path = self.store.blob_path(f"derived/{key}")
        known = next((d for d in res.get("derived", []) if d["id"] == key), None)
        if known and path.exists():
            return path, known["format"], False
        with Image.open(self.original_path(res)) as im:
            im.load()
            out, delivery = transform.apply(im, components)
            data, used_fmt = transform.encode(out, fmt, delivery, accept)
            width, height = out.size
        path.write_bytes(data)
        entry = {"id": key, "transformation": chain, "format": used_fmt, "bytes": len(data),
                 "width": width, "height": height}
        res.setdefault("derived", []).append(entry)
        self.save(res)
        self.bump(transformations=1)
        return path, used_fmt, True


def create_app(data_dir: str, *, cloud_name: str = DEFAULT_CLOUD, api_key: str = DEFAULT_API_KEY,
               api_secret: str = DEFAULT_API_SECRET, auth_token_key: str = DEFAULT_AUTH_TOKEN_KEY,
               admin_hourly_limit: int = 500, strict: bool = False, private_cdn: bool = False,
               control: Control | None = None) -> FastAPI:
    """Build the emulator for the product environment stored in ``data_dir``.

    ``strict`` takes the pessimistic reading wherever Cloudinary's documentation is silent or
    names a premium feature (``docs/emulators.md``): token-based access only with a private CDN
    distribution (``private_cdn``: delivery URLs without the cloud name, as the SDK builds them
    with ``private_cdn=True``), so ``token`` rules and ``__cld_token__`` are refused otherwise;
    Admin listings without ``access_control``; ``e_background_removal`` on the fly answers 423
    the first time; ``delete_resources`` does not purge the CDN.
    """
    store = DocStore(data_dir)
    control = control or Control()
    account = Account(store, control)
    tokens_enabled = private_cdn or not strict
    background_requested: set[str] = set()  # strict: (asset, chain) pairs already asked once
    purges: list[str] = []  # public IDs whose CDN cache a call purged (GET /_emulator/purges)
    admin_window: dict[str, int] = {"hour": -1, "used": 0}
    app = FastAPI(title="Cloudinary emulator", docs_url=None, redoc_url=None)
    app.state.store, app.state.control, app.state.account = store, control, account
    app.state.admin_hourly_limit = admin_hourly_limit
    app.add_middleware(ControlMiddleware, fastapi_app=app, control=control)
    app.include_router(control_router(control))

    @app.exception_handler(CloudinaryError)
    async def cld_error(_: Request, exc: CloudinaryError) -> JSONResponse:
        return JSONResponse({"error": {"message": exc.message}}, status_code=exc.status,
                            headers={"X-Request-Id": secrets.token_hex(8), **exc.headers})

    @app.exception_handler(InvalidParameter)
    async def bad_param(_: Request, exc: InvalidParameter) -> JSONResponse:
        return JSONResponse({"error": {"message": str(exc)}}, status_code=400)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_emulator/admin-limit")
    def set_admin_limit(values: dict[str, int]) -> dict[str, int]:
        app.state.admin_hourly_limit = int(values["limit"])
        admin_window["used"] = 0
        return {"limit": app.state.admin_hourly_limit}

    @app.get("/_emulator/purges")
    def list_purges() -> dict[str, list[str]]:
        return {"purged": purges}

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def delivery_url(request: Request, res: dict[str, Any], chain: str = "", fmt: str | None = None) -> str:
        """The URL as the service answers it: percent-encoded like the SDK's own (overlay text
        included), so any ordinary HTTP client accepts it."""
        pid = quote(res["public_id"], safe="/")
        ext = fmt or res.get("format")
        parts = [base_url(request), *([] if private_cdn else [cloud_name]), res["resource_type"], res["type"]]
        if chain:
            parts.append(quote(chain, safe="/:,_-.~!$&'()*+;=@%"))
        parts.append(f"v{res['version']}")
        return "/".join(parts) + "/" + (f"{pid}.{ext}" if ext and res["resource_type"] != "raw" else pid)

    def check_cloud(cloud: str) -> None:
        if cloud != cloud_name:
            raise CloudinaryError(401, f"Invalid cloud_name {cloud}")

    # ----------------------------------------------------------------- Upload API auth
    async def signed_params(request: Request, cloud: str, *, exclude: frozenset[str] = frozenset()):
        check_cloud(cloud)
        params, files = await read_params(request)
        if params.get("api_key") != api_key:
            raise CloudinaryError(401, f"Unknown API key {params.get('api_key') or ''}".strip())
        if not params.get("signature"):
            raise CloudinaryError(401, "Missing required parameter - signature")
        ok_sig, to_sign = verify_upload_signature(params, api_secret, exclude)
        if not ok_sig:
            raise CloudinaryError(401, f"Invalid Signature {params['signature']}. String to sign - '{to_sign}'.")
        try:
            stale = abs(time.time() - int(params.get("timestamp", 0))) > TIMESTAMP_TOLERANCE
        except ValueError:
            stale = True
        if stale:
            raise CloudinaryError(400, f"Stale request - reported time is {params.get('timestamp')}, "
                                       "which is more than 1 hour ago")
        return params, files

    def result(request: Request, res: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """The upload/explicit/Admin resource shape (§2.1); empty tags/context are omitted."""
        out = {k: v for k, v in res.items() if k not in ("derived", "tags", "context", "metadata", "delivery")}
        out["url"] = out["secure_url"] = delivery_url(request, res)
        out["signature"] = response_signature(res["public_id"], res["version"], api_secret)
        if res.get("tags"):
            out["tags"] = res["tags"]
        if res.get("context"):
            out["context"] = {"custom": res["context"]}
        if res.get("metadata"):
            out["metadata"] = res["metadata"]
        out.update(extra)
        return out

    def check_metadata(values: dict[str, Any]) -> None:
        unknown = [k for k in values if store.get("metadata_field", k) is None]
        if unknown:
            raise InvalidParameter(f"Metadata External IDs do not exist: {json.dumps(unknown)}")

    def eager_results(request: Request, res: dict[str, Any], eager: str | None) -> list[dict[str, Any]]:
        out = []
        for item in (eager or "").split("|"):
            if not item:
                continue
            components, fmt = transform.parse_chain(item)
            chain = "/".join(c.text for c in components)
            _, used, _ = account.derive(res, chain, fmt or res["format"])
            entry = next(d for d in res["derived"] if d["transformation"] == chain and d["format"] == used)
            url = delivery_url(request, res, chain, used)
            out.append({"transformation": item, "width": entry["width"], "height": entry["height"],
                        "bytes": entry["bytes"], "format": used, "url": url, "secure_url": url})
        return out

    def apply_common(res: dict[str, Any], params: dict[str, Any]) -> None:
        """Tags, context, metadata and access_control given on upload/explicit/update."""
        if "tags" in params:
            res["tags"] = parse_tags(params["tags"])
        if "context" in params:
            res["context"] = parse_context(params["context"])
        if "metadata" in params:
            metadata = parse_metadata(params["metadata"])
            check_metadata(metadata)
            res["metadata"] = {**res.get("metadata", {}), **metadata}
        if parse_bool(params.get("invalidate"), False):
            res["invalidations"] = res.get("invalidations", 0) + 1  # the CDN purge a real call asks for
            purges.append(res["public_id"])
        if params.get("access_control"):
            rules = parse_access_control(params["access_control"])
            if not tokens_enabled and any(r.get("access_type") == "token" for r in rules):
                raise CloudinaryError(400, "Token-based access is not enabled for this product environment "
                                           "(a premium feature that needs a private CDN distribution)")
            res["access_control"] = rules
            res["access_mode"] = "authenticated" if not access_allowed(res["access_control"], control.now()) \
                else "public"

    # ----------------------------------------------------------------- file intake
    chunks: dict[str, Path] = {}
    tmp_dir = store.data_dir / "tmp"
    tmp_dir.mkdir(exist_ok=True)

    def new_tmp(suffix: str = "") -> Path:
        fd, name = tempfile.mkstemp(suffix=suffix, dir=tmp_dir)
        os.close(fd)
        return Path(name)

    async def receive_file(request: Request, params: dict[str, Any], files: list) -> tuple[Path, str] | None:
        """Land the upload in a temp file; returns (path, original filename) or None for a
        non-final chunk of a chunked upload."""
        tmp = new_tmp()
        upload = next((f for name, f in files if name == "file"), None)
        if upload is not None:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(upload.file, out, 1024 * 1024)
            filename = upload.filename or "file"
        elif isinstance(params.get("file"), str) and params["file"]:
            # In a thread: the URL may be this emulator's own delivery route (a copy of an asset).
            filename = await asyncio.to_thread(fetch_remote, params["file"], tmp)
        else:
            tmp.unlink(missing_ok=True)
            raise CloudinaryError(400, "Missing required parameter - file")
        content_range = request.headers.get("content-range")
        if not content_range:
            return tmp, filename
        # Chunked upload (upload_large): append this part; answer the last one with the asset.
        upload_id = request.headers.get("x-unique-upload-id", "")
        try:
            span, total = content_range.split(" ", 1)[1].split("/")
            start, end = (int(v) for v in span.split("-"))
        except ValueError as exc:
            raise CloudinaryError(400, f"Invalid Content-Range header - {content_range}") from exc
        part_path = chunks.setdefault(upload_id, new_tmp())
        with open(part_path, "ab") as out, open(tmp, "rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
        tmp.unlink(missing_ok=True)
        if end + 1 < int(total):
            return None
        chunks.pop(upload_id, None)
        return part_path, filename

    def fetch_remote(url: str, dest: Path) -> str:
        if url.startswith("data:"):
            try:
                dest.write_bytes(base64.b64decode(url.split(",", 1)[1]))
            except (IndexError, binascii.Error) as exc:
                raise CloudinaryError(400, "Invalid data URI") from exc
            return "file"
        if not url.startswith(("http://", "https://")):
            raise CloudinaryError(400, f"Invalid file parameter - {url[:60]}")
        try:
            with httpx.stream("GET", url, timeout=60, follow_redirects=True) as resp:
                if resp.status_code != 200:
                    raise CloudinaryError(400, f"Error in loading {url} - {resp.status_code} {resp.reason_phrase}")
                with open(dest, "wb") as out:
                    for block in resp.iter_bytes(1024 * 1024):
                        out.write(block)
        except httpx.HTTPError as exc:
            raise CloudinaryError(400, f"Error in loading {url} - {exc.__class__.__name__}") from exc
        return unquote(url.split("?", 1)[0].rsplit("/", 1)[-1]) or "remote"

    def inspect(path: Path, rt: str) -> dict[str, Any]:
        size = path.stat().st_size
        if size == 0:
            raise CloudinaryError(400, "Empty file")
        if rt == "raw":
            return {"bytes": size}
        try:
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                fmt = {"JPEG": "jpg"}.get(im.format or "", (im.format or "").lower())
                return {"bytes": size, "width": im.size[0], "height": im.size[1], "format": fmt}
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad data
            raise CloudinaryError(400, "Invalid image file") from exc

    # ----------------------------------------------------------------- Upload API
    @app.post("/v1_1/{cloud}/{rt}/upload")
    async def upload(cloud: str, rt: str, request: Request) -> JSONResponse:
        params, files = await signed_params(request, cloud)
        rt = "image" if rt == "auto" else rt
        landed = await receive_file(request, params, files)
        pid_hint = params.get("public_id") or secrets.token_hex(10)
        if landed is None:
            return JSONResponse({"public_id": pid_hint, "done": False})
        path, filename = landed
        try:
            info = inspect(path, rt)
            dtype = params.get("type") or "upload"
            public_id = f"{params['folder'].strip('/')}/{pid_hint}" if params.get("folder") else pid_hint
            existing = account.get(rt, dtype, public_id)
            if existing and not parse_bool(params.get("overwrite"), True):
                return JSONResponse(result(request, existing, existing=True))
            now = control.now()
            version = max(int(now.timestamp()), (existing or {}).get("version", 0) + 1)
            res = {
                "asset_id": (existing or {}).get("asset_id") or secrets.token_hex(16),
                "public_id": public_id, "version": version, "version_id": secrets.token_hex(16),
                "format": info.get("format") or Path(filename).suffix.lstrip(".") or "",
                "resource_type": rt, "type": dtype, "created_at": iso(now), "bytes": info["bytes"],
                "width": info.get("width"), "height": info.get("height"),
                "etag": hashlib.md5(path.read_bytes()).hexdigest() if info["bytes"] < 64 << 20 else "",
                "placeholder": False, "access_mode": "public",
                "original_filename": Path(filename).stem, "tags": [], "context": {}, "metadata": {},
                "derived": [], "access_control": [],
            }
            apply_common(res, params)
            if existing:
                account.remove(existing)
            shutil.move(str(path), account.original_path(res))
        finally:
            path.unlink(missing_ok=True)
        account.save(res)
        eager = eager_results(request, res, params.get("eager"))
        extra: dict[str, Any] = {"overwritten": True} if existing else {}
        if eager:
            extra["eager"] = eager
        return JSONResponse(result(request, res, **extra))

    @app.post("/v1_1/{cloud}/{rt}/explicit")
    async def explicit(cloud: str, rt: str, request: Request) -> JSONResponse:
        params, _ = await signed_params(request, cloud)
        res = account.require(rt, params.get("type") or "upload", params.get("public_id") or "")
        apply_common(res, params)
        account.save(res)
        eager = eager_results(request, res, params.get("eager"))
        return JSONResponse(result(request, res, **({"eager": eager} if eager else {})))

    @app.post("/v1_1/{cloud}/{rt}/destroy")
    async def destroy(cloud: str, rt: str, request: Request) -> JSONResponse:
        params, _ = await signed_params(request, cloud)
        res = account.get(rt, params.get("type") or "upload", params.get("public_id") or "")
        if res is None:
            return JSONResponse({"result": "not found"})
        account.remove(res)
        if parse_bool(params.get("invalidate"), False):
            purges.append(res["public_id"])
        return JSONResponse({"result": "ok"})

    def targets(rt: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        ids = params.get("public_ids") or []
        ids = ids if isinstance(ids, list) else [ids]
        dtype = params.get("type") or "upload"
        return [r for r in (account.get(rt, dtype, pid) for pid in ids) if r is not None]

    def update_targets(rt: str, params: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> JSONResponse:
        """Apply ``change`` to every asset named in ``public_ids``; answer with those changed."""
        changed = []
        for res in targets(rt, params):
            change(res)
            account.save(res)
            changed.append(res["public_id"])
        return JSONResponse({"public_ids": changed})

    @app.post("/v1_1/{cloud}/{rt}/tags")
    async def tags(cloud: str, rt: str, request: Request) -> JSONResponse:
        params, _ = await signed_params(request, cloud, exclude=NOTIFICATION_PARAMS)
        command, given = params.get("command"), parse_tags(params.get("tag"))
        if command not in ("add", "remove", "replace", "set_exclusive", "remove_all"):
            raise InvalidParameter(f"Invalid command - {command}")

        def change(res: dict[str, Any]) -> None:
            current = res.get("tags", [])
            if command == "add":
                res["tags"] = current + [t for t in given if t not in current]
            elif command == "remove":
                res["tags"] = [t for t in current if t not in given]
            elif command == "remove_all":
                res["tags"] = []
            else:
                res["tags"] = list(given)
                if command == "set_exclusive":  # the tag leaves every other asset
                    for other in account.iter(rt):
                        if other["public_id"] != res["public_id"] and set(given) & set(other.get("tags", [])):
                            other["tags"] = [t for t in other["tags"] if t not in given]
                            account.save(other)

        return update_targets(rt, params, change)

    @app.post("/v1_1/{cloud}/{rt}/context")
    async def context(cloud: str, rt: str, request: Request) -> JSONResponse:
        params, _ = await signed_params(request, cloud, exclude=NOTIFICATION_PARAMS)
        command, values = params.get("command"), parse_context(params.get("context"))
        if command not in ("add", "remove_all"):
            raise InvalidParameter(f"Invalid command - {command}")
        return update_targets(rt, params, lambda res: res.update(
            context={**res.get("context", {}), **values} if command == "add" else {}))

    @app.post("/v1_1/{cloud}/{rt}/metadata")
    async def metadata(cloud: str, rt: str, request: Request) -> JSONResponse:
        params, _ = await signed_params(request, cloud, exclude=NOTIFICATION_PARAMS)
        values = parse_metadata(params.get("metadata"))
        check_metadata(values)
        return update_targets(rt, params, lambda res: res.update(metadata={**res.get("metadata", {}), **values}))

    @app.api_route("/v1_1/{cloud}/{rt}/generate_archive", methods=["GET", "POST"])
    async def generate_archive(cloud: str, rt: str, request: Request) -> Response:
        params, _ = await signed_params(request, cloud)
        dtype = params.get("type") or "upload"
        wanted = []
        rts = ["image", "raw"] if rt == "all" else [rt]
        id_list = params.get("public_ids") or []
        id_list = id_list if isinstance(id_list, list) else [id_list]
        prefixes = params.get("prefixes") or []
        prefixes = prefixes if isinstance(prefixes, list) else [prefixes]
        tag_list = parse_tags(params.get("tags"))
        for kind in rts:
            for res in account.iter(kind, dtype):
                if (res["public_id"] in id_list or any(res["public_id"].startswith(p) for p in prefixes)
                        or set(tag_list) & set(res.get("tags", []))):
                    wanted.append(res)
        missing = [pid for pid in id_list if not any(r["public_id"] == pid for r in wanted)]
        if missing and not parse_bool(params.get("allow_missing"), False):
            raise CloudinaryError(404, f"Resource not found - {', '.join(missing)}")
        if not wanted:
            raise CloudinaryError(400, "No resources found for the archive")
        tmp = new_tmp(".zip")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
            for res in wanted:
                ext = f".{res['format']}" if res.get("format") and res["resource_type"] != "raw" else ""
                zf.write(account.original_path(res), res["public_id"] + ext)
        mode = params.get("mode") or "create"
        if mode == "download":
            account.bump(bandwidth=tmp.stat().st_size, requests=1)
            return FileResponse(tmp, media_type="application/zip", filename="archive.zip",
                                background=None)
        now = control.now()
        archive_id = params.get("target_public_id") or f"{secrets.token_hex(8)}.zip"
        res = {"asset_id": secrets.token_hex(16), "public_id": archive_id,
               "version": int(now.timestamp()), "version_id": secrets.token_hex(16), "format": "zip",
               "resource_type": "raw", "type": "upload", "created_at": iso(now),
               "bytes": tmp.stat().st_size, "tags": parse_tags(params.get("target_tags")),
               "context": {}, "metadata": {}, "derived": [], "access_mode": "public", "placeholder": False}
        shutil.move(str(tmp), account.original_path(res))
        account.save(res)
        return JSONResponse(result(request, res, resource_count=len(wanted), file_count=len(wanted)))

    # ----------------------------------------------------------------- Admin API
    def admin_auth(request: Request, cloud: str) -> dict[str, str]:
        """Basic auth plus the hourly limit; returns the rate-limit headers to send."""
        check_cloud(cloud)
        header = request.headers.get("authorization", "")
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if not header.startswith("Basic ") or user != api_key or password != api_secret:
            raise CloudinaryError(401, "Invalid credentials" if user == api_key else f"Unknown API key {user}")
        now = control.now()
        hour = int(now.timestamp() // 3600)
        if admin_window["hour"] != hour:
            admin_window.update(hour=hour, used=0)
        limit = app.state.admin_hourly_limit
        reset = format_datetime(datetime.fromtimestamp((hour + 1) * 3600, UTC), usegmt=True)
        headers = {"X-FeatureRateLimit-Limit": str(limit), "X-FeatureRateLimit-Reset": reset}
        if admin_window["used"] >= limit:
            raise CloudinaryError(420, "Rate Limit Exceeded",
                                  {**headers, "X-FeatureRateLimit-Remaining": "0",
                                   "Retry-After": str(int((hour + 1) * 3600 - now.timestamp()) + 1)})
        admin_window["used"] += 1
        headers["X-FeatureRateLimit-Remaining"] = str(limit - admin_window["used"])
        return headers

    def admin_json(body: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
        return JSONResponse(body, headers={"X-Request-Id": secrets.token_hex(8), **headers})

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidParameter("Request body is not valid JSON") from exc
        return {k: v for k, v in body.items() if v is not None}

    @app.get("/v1_1/{cloud}/ping")
    async def ping(cloud: str, request: Request) -> JSONResponse:
        return admin_json({"status": "ok"}, admin_auth(request, cloud))

    def parse_usage_date(text: str) -> date:
        for fmt in ("%d-%m-%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise InvalidParameter(f"Invalid date - {text} (use dd-mm-yyyy or yyyy-mm-dd)")

    @app.get("/v1_1/{cloud}/usage")
    @app.get("/v1_1/{cloud}/usage/{day}")
    async def usage(cloud: str, request: Request, day: str | None = None) -> JSONResponse:
        headers = admin_auth(request, cloud)
        day = day or request.query_params.get("date")
        days = [parse_usage_date(day)] if day else [date.fromisoformat(d) for d, _ in store.iter("usage")]
        totals = {"bandwidth": 0, "transformations": 0, "requests": 0}
        for d in days:
            for key, value in account.usage_day(d).items():
                totals[key] = totals.get(key, 0) + value
        storage, originals, derived = account.storage_bytes()

        def metric(value: int, limit: int, per_credit: float) -> dict[str, Any]:
            return {"usage": value, "credits_usage": round(value / per_credit, 4), "limit": limit,
                    "used_percent": round(100 * value / limit, 2)}

        body = {
            "plan": "Emulator", "last_updated": control.now().date().isoformat(),
            "date_requested": days[0].isoformat() if day else control.now().date().isoformat(),
            "transformations": metric(totals["transformations"], 25_000, 1000),
            "objects": {"usage": originals + derived, "limit": 500_000,
                        "used_percent": round(100 * (originals + derived) / 500_000, 2)},
            "bandwidth": metric(totals["bandwidth"], 25 << 30, 1 << 30),
            "storage": metric(storage, 25 << 30, 1 << 30),
            "requests": totals["requests"], "resources": originals, "derived_resources": derived,
            "media_limits": {"image_max_size_bytes": 20 << 20, "video_max_size_bytes": 100 << 20,
                             "raw_max_size_bytes": 10 << 20, "image_max_px": 25_000_000,
                             "asset_max_total_px": 50_000_000},
        }
        return admin_json(body, headers)

    @app.get("/v1_1/{cloud}/metadata_fields")
    async def list_metadata_fields(cloud: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        return admin_json({"metadata_fields": [f for _, f in store.iter("metadata_field")]}, headers)

    @app.post("/v1_1/{cloud}/metadata_fields")
    async def add_metadata_field(cloud: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        body = await json_body(request)
        external_id = body.get("external_id") or body.get("label")
        if not external_id or body.get("type") not in ("string", "integer", "date", "enum", "set"):
            raise InvalidParameter("A metadata field needs external_id (or label) and a type "
                                   "string|integer|date|enum|set")
        if store.get("metadata_field", external_id):
            raise CloudinaryError(409, f"External ID {external_id} already exists")
        field = {"external_id": external_id, "label": body.get("label", external_id), "type": body["type"],
                 "mandatory": bool(body.get("mandatory", False))}
        store.put("metadata_field", external_id, field)
        return admin_json(field, headers)

    def page(resources: list[dict[str, Any]], request: Request, params: dict[str, Any],
             headers: dict[str, str]) -> JSONResponse:
        try:
            max_results = min(int(params.get("max_results") or 10), MAX_RESULTS)
            offset = int(base64.urlsafe_b64decode(params["next_cursor"]).decode()) if params.get("next_cursor") else 0
        except (ValueError, binascii.Error) as exc:
            raise InvalidParameter("Invalid max_results or next_cursor") from exc
        resources = sorted(resources, key=lambda r: r["public_id"])
        chunk = resources[offset: offset + max_results]
        with_tags = parse_bool(params.get("tags"), False)
        with_context = parse_bool(params.get("context"), False)
        with_metadata = parse_bool(params.get("metadata"), False)
        out = []
        for res in chunk:
            item = result(request, res)
            if res.get("delivery"):  # emulator extension: per-asset figures (see README)
                item["delivery"] = res["delivery"]
            for flag_on, key in ((with_tags, "tags"), (with_context, "context"), (with_metadata, "metadata")):
                if not flag_on:
                    item.pop(key, None)
            item.pop("signature", None)
            if strict:  # whether listings carry access_control is undocumented: they do not
                item.pop("access_control", None)
            out.append(item)
        body: dict[str, Any] = {"resources": out}
        if offset + max_results < len(resources):
            body["next_cursor"] = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode()
        return admin_json(body, headers)

    @app.get("/v1_1/{cloud}/resources/{rt}/tags/{tag:path}")
    async def resources_by_tag(cloud: str, rt: str, tag: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        params, _ = await read_params(request)
        return page([r for r in account.iter(rt) if tag in r.get("tags", [])], request, params, headers)

    @app.get("/v1_1/{cloud}/resources/{rt}/context")
    async def resources_by_context(cloud: str, rt: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        params, _ = await read_params(request)
        key, value = params.get("key"), params.get("value")
        found = [r for r in account.iter(rt) if key in r.get("context", {})
                 and (value is None or r["context"][key] == value)]
        return page(found, request, params, headers)

    @app.get("/v1_1/{cloud}/resources/{rt}")
    @app.get("/v1_1/{cloud}/resources/{rt}/{dtype}")
    async def list_resources(cloud: str, rt: str, request: Request, dtype: str | None = None) -> JSONResponse:
        headers = admin_auth(request, cloud)
        params, _ = await read_params(request)
        if params.get("public_ids"):
            ids = params["public_ids"] if isinstance(params["public_ids"], list) else [params["public_ids"]]
            found = [r for r in (account.get(rt, dtype or "upload", pid) for pid in ids) if r]
        else:
            prefix = params.get("prefix") or ""
            found = [r for r in account.iter(rt, dtype) if r["public_id"].startswith(prefix)]
        return page(found, request, params, headers)

    @app.get("/v1_1/{cloud}/resources/{rt}/{dtype}/{public_id:path}")
    async def get_resource(cloud: str, rt: str, dtype: str, public_id: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        res = account.require(rt, dtype, public_id)
        derived = [{"transformation": d["transformation"], "format": d["format"], "bytes": d["bytes"],
                    "id": d["id"], "url": delivery_url(request, res, d["transformation"], d["format"])}
                   for d in res.get("derived", [])]
        body = result(request, res, derived=derived, delivery=res.get("delivery", {}))
        body.pop("signature", None)
        return admin_json(body, headers)

    @app.post("/v1_1/{cloud}/resources/{rt}/{dtype}/{public_id:path}")
    async def update_resource(cloud: str, rt: str, dtype: str, public_id: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        res = account.require(rt, dtype, public_id)
        body = await json_body(request)
        apply_common(res, body)
        account.save(res)
        out = result(request, res)
        out.pop("signature", None)
        return admin_json(out, headers)

    def delete_many(found: list[dict[str, Any]], requested: list[str], keep_original: bool,
                    headers: dict[str, str], invalidate: bool = False) -> JSONResponse:
        deleted: dict[str, str] = {pid: "not_found" for pid in requested}
        for res in found[:DELETE_CHUNK]:
            account.remove(res, keep_original=keep_original)
            deleted[res["public_id"]] = "deleted"
            if invalidate and not strict:  # strict: bulk invalidation is off, as by default
                purges.append(res["public_id"])
        body: dict[str, Any] = {"deleted": deleted, "partial": len(found) > DELETE_CHUNK,
                                "deleted_counts": {pid: {"original": 0 if keep_original else 1,
                                                         "derived": 1} for pid, s in deleted.items()
                                                   if s == "deleted"}}
        if len(found) > DELETE_CHUNK:
            body["next_cursor"] = "more"
        return admin_json(body, headers)

    @app.delete("/v1_1/{cloud}/resources/{rt}/tags/{tag:path}")
    async def delete_by_tag(cloud: str, rt: str, tag: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        found = [r for r in account.iter(rt) if tag in r.get("tags", [])]
        return delete_many(found, [], False, headers)

    @app.delete("/v1_1/{cloud}/resources/{rt}/{dtype}")
    async def delete_resources(cloud: str, rt: str, dtype: str, request: Request) -> JSONResponse:
        headers = admin_auth(request, cloud)
        body = await json_body(request)
        keep_original = bool(body.get("keep_original"))
        requested = body.get("public_ids") or []
        if requested:
            found = [r for r in (account.get(rt, dtype, pid) for pid in requested) if r]
        elif body.get("prefix"):
            found = [r for r in account.iter(rt, dtype) if r["public_id"].startswith(body["prefix"])]
        elif body.get("all"):
            found = list(account.iter(rt, dtype))
        else:
            raise InvalidParameter("Missing required parameter - public_ids, prefix or all")
        return delete_many(found, list(requested), keep_original, headers, parse_bool(body.get("invalidate"), False))

    # ----------------------------------------------------------------- delivery
    if private_cdn:
        @app.get("/{rt}/{dtype}/{rest:path}")
        async def deliver_private(rt: str, dtype: str, rest: str, request: Request) -> Response:
            """The private CDN form: no cloud name in the path (the SDK's ``private_cdn=True``)."""
            if rt not in ("image", "video", "raw"):
                return deny(404, "Resource not found")
            return serve(rt, dtype, request, skip=3, shared=False)

    @app.get("/{cloud}/{rt}/{dtype}/{rest:path}")
    async def deliver(cloud: str, rt: str, dtype: str, rest: str, request: Request) -> Response:
        if cloud != cloud_name:
            return deny(404, f"Resource not found - unknown cloud {cloud}")
        return serve(rt, dtype, request, skip=4, shared=True)

    def serve(rt: str, dtype: str, request: Request, *, skip: int, shared: bool) -> Response:
        raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        segments = raw.split("/")[skip:]  # after ['', (cloud,) rt, dtype]
        signature = None
        if segments and segments[0].startswith("s--") and segments[0].endswith("--"):
            signature = segments.pop(0)[3:-2]
        components: list[str] = []
        while len(segments) > 1 and transform.is_component(segments[0]):
            components.append(segments.pop(0))
        if len(segments) > 1 and segments[0][:1] == "v" and segments[0][1:].isdigit():
            segments.pop(0)
        pid_ext = "/".join(segments)
        token = request.query_params.get("__cld_token__")
        if token is not None and (not tokens_enabled or (strict and shared)):
            return deny(401, "Token-based access is not enabled for this delivery host")
        if token is not None:
            ok, reason = token_valid(token, raw, auth_token_key, control.now().timestamp())
            if not ok:
                return deny(401, reason)
        elif signature is not None:
            to_sign = "/".join(components + [pid_ext])
            if not secrets.compare_digest(signature, delivery_signature(to_sign, api_secret, len(signature) > 8)):
                return deny(401, "Invalid signature")
        if token is None and signature is None and (dtype == "authenticated" or (dtype == "private"
                                                                                   and not components)):
            return deny(401, "Signature required for this delivery type")
        public_id = unquote(pid_ext)
        stem, _, ext = public_id.rpartition(".")
        res = account.get(rt, dtype, stem) if stem else None
        if res is None:
            res, ext = account.get(rt, dtype, public_id), ""
        if res is None:
            return deny(404, f"Resource not found - {stem or public_id}")
        if token is None and dtype == "upload" and not access_allowed(res.get("access_control", []), control.now()):
            return deny(401, "deny or ACL failure")
        accept = request.headers.get("accept", "")
        if rt == "raw" or (not components and (not ext or ext == res.get("format"))):
            path, media = account.original_path(res), (res.get("format") or "octet-stream")
        else:
            try:
                chain = "/".join(transform.parse_component(c).text for c in components)
                busy = f"{res['asset_id']}/{chain}"
                made = any(d["transformation"] == chain for d in res.get("derived", []))  # eager, or asked before
                if strict and "e_background_removal" in chain and not made and busy not in background_requested:
                    background_requested.add(busy)  # the add-on works asynchronously on the fly
                    return deny(423, "Background removal is in progress; try again shortly")
                path, media, _ = account.derive(res, chain, ext or res["format"], accept)
            except transform.TransformationError as exc:
                return deny(400, f"Invalid Transformation - {exc}")
        data = path.read_bytes()
        account.bump(bandwidth=len(data), requests=1)
        # Per-asset and per-transformation figures (an emulator extension: Cloudinary shows them
        # only in the Console's reports, not through the Admin API).
        delivery = res.setdefault("delivery", {"requests": 0, "bytes": 0})
        delivery["requests"] += 1
        delivery["bytes"] += len(data)
        key = "/".join(components) or "original"
        per = delivery.setdefault("by_transformation", {}).setdefault(key, {"requests": 0, "bytes": 0})
        per["requests"] += 1
        per["bytes"] += len(data)
        account.save(res)
        media_type = {"jpg": "image/jpeg", "zip": "application/zip"}.get(media, f"image/{media}")
        if rt == "raw":
            media_type = "application/zip" if media == "zip" else "application/octet-stream"
        return Response(data, media_type=media_type,
                        headers={"ETag": hashlib.md5(data).hexdigest(), "Vary": "Accept"})

    def deny(status: int, message: str) -> Response:
        """Delivery errors carry their reason in ``x-cld-error``, not in JSON (§4)."""
        return Response(b"", status_code=status, headers={"x-cld-error": message})

    return app

