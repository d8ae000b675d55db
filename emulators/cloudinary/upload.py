"""Upload API routes: upload (also chunked), explicit, destroy, rename, tags, context, metadata, archives."""


from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.responses import FileResponse, Response

from emulators.cloudinary import events, transform
from emulators.cloudinary.params import (
    InvalidParameter,
    check_add_ons,
    parse_bool,
    parse_context,
    parse_metadata,
    parse_tags,
)
from emulators.cloudinary.signing import (
    NOTIFICATION_PARAMS,
    verify_upload_signature,
)
from emulators.cloudinary.state import (
    TIMESTAMP_TOLERANCE,
    CloudinaryEmulator,
    CloudinaryError,
    emulator,
    iso,
    resource_key,
)
from emulators.common import video
from emulators.common.control import SELF_FETCH
from emulators.common.http import read_params

router = APIRouter()
MAX_SINGLE_UPLOAD = 100 * 1024 * 1024  # [DOC] a larger file must be uploaded in chunks
MIN_CHUNK = 5 * 1024 * 1024  # [DOC] the smallest part of a chunked upload, the last excepted


@router.post("/v1_1/{cloud}/{rt}/upload")
async def upload(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    params, files = await signed_params(emu, request, cloud)
    if emu.strict:
        check_add_ons(params)
    rt = "image" if rt == "auto" else rt
    landed = await receive_file(emu, request, params, files)
    if landed is None:  # a part of a chunked upload: the SDK sends this public ID with the next parts
        part = next((f for name, f in files if name == "file"), None)
        return JSONResponse({"public_id": new_public_id(params, getattr(part, "filename", None) or "file"),
                             "done": False})
    path, filename = landed
    pid_hint = new_public_id(params, filename)
    try:
        info = inspect(emu, path, rt)
        dtype = params.get("type") or "upload"
        public_id = f"{params['folder'].strip('/')}/{pid_hint}" if params.get("folder") else pid_hint
        existing = emu.account.get(rt, dtype, public_id)
        if existing and not parse_bool(params.get("overwrite"), True):
            return JSONResponse(emu.result(request, existing, existing=True))
        now = emu.control.now()
        version = max(int(now.timestamp()), (existing or {}).get("version", 0) + 1)
        res = {
            "asset_id": (existing or {}).get("asset_id") or secrets.token_hex(16),
            "public_id": public_id, "version": version, "version_id": secrets.token_hex(16),
            "format": info.get("format") or Path(filename).suffix.lstrip(".") or "",
            "resource_type": rt, "type": dtype, "created_at": iso(now), "bytes": info["bytes"],
            "width": info.get("width"), "height": info.get("height"),
            "etag": info.get("etag", ""),
            **{k: info[k] for k in ("duration", "bit_rate", "frame_rate", "video", "audio") if k in info},
            "placeholder": False, "access_mode": "public",
            "original_filename": Path(filename).stem, "tags": [], "context": {}, "metadata": {},
            "derived": [], "access_control": [],
        }
        emu.apply_common(res, params)
        emu.metadata_defaults(res)
        if existing:
            emu.account.remove(existing)
        shutil.move(str(path), emu.account.original_path(res))
    finally:
        path.unlink(missing_ok=True)
    emu.account.save(res)
    emu.events.emit("upload", {**events.resource_fields(res), "version": res["version"], "bytes": res["bytes"],
                               "format": res["format"], **({"overwritten": True} if existing else {})})
    eager = eager_answer(emu, request, res, params)
    extra: dict[str, Any] = {"overwritten": True} if existing else {}
    if eager:
        extra["eager"] = eager
    return JSONResponse(emu.result(request, res, **extra))


def new_public_id(params: dict[str, Any], filename: str) -> str:
    """The given public ID; with ``use_filename``, the file's own name (plus ``_`` and 6 random
    characters unless ``unique_filename`` is false); otherwise a random one."""
    if params.get("public_id"):
        return params["public_id"]
    if not parse_bool(params.get("use_filename"), False):
        return secrets.token_hex(10)
    stem = re.sub(r"[^\w\-]+", "_", Path(filename).stem).strip("_") or "file"
    return stem if not parse_bool(params.get("unique_filename"), True) else f"{stem}_{secrets.token_hex(3)}"


@router.post("/v1_1/{cloud}/{rt}/explicit")
async def explicit(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud)
    if emu.strict:
        check_add_ons(params)
    res = emu.account.require(rt, params.get("type") or "upload", params.get("public_id") or "")
    before = json.loads(json.dumps(res))
    emu.apply_common(res, params)
    emu.account.save(res)
    events.changed(emu, res, before)
    eager = eager_answer(emu, request, res, params)
    return JSONResponse(emu.result(request, res, **({"eager": eager} if eager else {})))


@router.post("/v1_1/{cloud}/{rt}/destroy")
async def destroy(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud)
    res = emu.account.get(rt, params.get("type") or "upload", params.get("public_id") or "")
    if res is None:
        return JSONResponse({"result": "not found"})
    emu.account.remove(res)
    events.deleted(emu, [res])
    if parse_bool(params.get("invalidate"), False):
        emu.purges.append(res["public_id"])
    return JSONResponse({"result": "ok"})


@router.post("/v1_1/{cloud}/{rt}/rename")
async def rename(cloud: str, rt: str, request: Request) -> JSONResponse:
    """A new public ID for an asset, derivatives and all; URLs of the old ID stop resolving."""
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud)
    source, target = params.get("from_public_id") or "", params.get("to_public_id") or ""
    if not source or not target:
        raise CloudinaryError(400, "Missing required parameter - from_public_id and to_public_id")
    dtype = params.get("type") or "upload"
    res = emu.account.require(rt, dtype, source)
    to_type = params.get("to_type") or dtype
    existing = emu.account.get(rt, to_type, target)
    if existing is not None and not parse_bool(params.get("overwrite"), False):
        raise CloudinaryError(400, f"to_public_id ({target}) already exists")
    if existing is not None:
        emu.account.remove(existing)
    emu.account.store.delete("resource", resource_key(rt, dtype, source))
    res.update(public_id=target, type=to_type)
    emu.account.save(res)
    events.renamed(emu, res, source)
    if parse_bool(params.get("invalidate"), False):
        emu.purges.append(source)
    return JSONResponse(emu.result(request, res))


@router.post("/v1_1/{cloud}/{rt}/tags")
async def tags(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud, exclude=NOTIFICATION_PARAMS)
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
                for other in emu.account.iter(rt):
                    if other["public_id"] != res["public_id"] and set(given) & set(other.get("tags", [])):
                        other["tags"] = [t for t in other["tags"] if t not in given]
                        emu.account.save(other)

    return update_targets(emu, rt, params, change)


@router.post("/v1_1/{cloud}/{rt}/context")
async def context(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud, exclude=NOTIFICATION_PARAMS)
    command, values = params.get("command"), parse_context(params.get("context"))
    if command not in ("add", "remove_all"):
        raise InvalidParameter(f"Invalid command - {command}")
    return update_targets(emu, rt, params, lambda res: res.update(
        context={**res.get("context", {}), **values} if command == "add" else {}))


@router.post("/v1_1/{cloud}/{rt}/metadata")
async def metadata(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud, exclude=NOTIFICATION_PARAMS)
    values = parse_metadata(params.get("metadata"))
    emu.check_metadata(values)
    return update_targets(emu, rt, params, lambda res: emu.merge_metadata(res, values))


@router.api_route("/v1_1/{cloud}/{rt}/generate_archive", methods=["GET", "POST"])
async def generate_archive(cloud: str, rt: str, request: Request) -> Response:
    emu = emulator(request)
    params, _ = await signed_params(emu, request, cloud)
    dtype = params.get("type") or "upload"
    wanted = []
    rts = ["image", "raw"] if rt == "all" else [rt]
    id_list = params.get("public_ids") or []
    id_list = id_list if isinstance(id_list, list) else [id_list]
    prefixes = params.get("prefixes") or []
    prefixes = prefixes if isinstance(prefixes, list) else [prefixes]
    tag_list = parse_tags(params.get("tags"))
    for kind in rts:
        for res in emu.account.iter(kind, dtype):
            if (res["public_id"] in id_list or any(res["public_id"].startswith(p) for p in prefixes)
                    or set(tag_list) & set(res.get("tags", []))):
                wanted.append(res)
    missing = [pid for pid in id_list if not any(r["public_id"] == pid for r in wanted)]
    if missing and not parse_bool(params.get("allow_missing"), False):
        raise CloudinaryError(404, f"Resource not found - {', '.join(missing)}")
    if not wanted:
        raise CloudinaryError(400, "No resources found for the archive")
    tmp = new_tmp(emu, ".zip")
    # With transformations, each asset (but raw files) is in the archive once per transformation
    # (each a derived file, named <public id>_<transformation>) instead of as its original.
    chains = [c for c in str(params.get("transformations") or "").split("|") if c]
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for res in wanted:
            ext = f".{res['format']}" if res.get("format") and res["resource_type"] != "raw" else ""
            if not chains or res["resource_type"] == "raw":
                zf.write(emu.account.original_path(res), res["public_id"] + ext)
                continue
            for chain in chains:
                components, fmt = transform.parse_chain(chain)
                made, _, _ = emu.account.derive(res, "/".join(c.text for c in components), fmt or res["format"])
                zf.write(made, f"{res['public_id']}_{chain.replace('/', '_')}.{fmt or res['format']}")
    mode = params.get("mode") or "create"
    if mode == "download":
        emu.account.bump(bandwidth=tmp.stat().st_size, requests=1)
        return FileResponse(tmp, media_type="application/zip", filename="archive.zip",
                            background=None)
    now = emu.control.now()
    archive_id = params.get("target_public_id") or f"{secrets.token_hex(8)}.zip"
    res = {"asset_id": secrets.token_hex(16), "public_id": archive_id,
           "version": int(now.timestamp()), "version_id": secrets.token_hex(16), "format": "zip",
           "resource_type": "raw", "type": "upload", "created_at": iso(now),
           "bytes": tmp.stat().st_size, "tags": parse_tags(params.get("target_tags")),
           "context": {}, "metadata": {}, "derived": [], "access_mode": "public", "placeholder": False}
    shutil.move(str(tmp), emu.account.original_path(res))
    emu.account.save(res)
    files = len(wanted) * max(1, len(chains))
    return JSONResponse(emu.result(request, res, resource_count=len(wanted), file_count=files))


async def signed_params(emu: CloudinaryEmulator, request: Request, cloud: str, *,
                        exclude: frozenset[str] = frozenset()):
    emu.check_cloud(cloud)
    params, files = await read_params(request)
    if params.get("api_key") != emu.api_key:
        raise CloudinaryError(401, f"Unknown API key {params.get('api_key') or ''}".strip())
    if not params.get("signature"):
        raise CloudinaryError(401, "Missing required parameter - signature")
    ok_sig, to_sign = verify_upload_signature(params, emu.api_secret, exclude)
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


def eager_answer(emu: CloudinaryEmulator, request: Request, res: dict[str, Any],
                 params: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``eager`` part of an answer: made at once, or with ``eager_async`` made in the background
    (``status: processing`` and a ``batch_id`` now; the resource lists each derived file once it is
    made, and delivering one before answers 423 in strict mode)."""
    items = [item for item in (params.get("eager") or "").split("|") if item]
    if not (items and parse_bool(params.get("eager_async"), False)):
        return eager_results(emu, request, res, params.get("eager"))
    job = emu.account.start_eager_job(res, items)
    emu.account.save(res)
    made = emu.eager_pool.submit(emu.account.run_eager_job, dict(res), job, emu.eager_delay)
    made.add_done_callback(lambda _: announce(emu, request, dict(res), job, params.get("eager_notification_url")))
    out = []
    for item in items:
        components, fmt = transform.parse_chain(item)
        url = emu.delivery_url(request, res, "/".join(c.text for c in components), fmt or res["format"])
        out.append({"status": "processing", "batch_id": job, "transformation": item, "url": url, "secure_url": url})
    return out


def announce(emu: CloudinaryEmulator, request: Request, res: dict[str, Any], job_id: str, url: str | None) -> None:
    """Once an ``eager_async`` job is done, in the job's thread: its notification when the upload
    asked for one (``notifications.py``); logged either way (when it finished, for benchmarks)."""
    job = emu.store.get("eager_job", job_id) or {"done": []}
    made = [{**d, "transformation": d["eager"],
             "url": emu.delivery_url(request, res, d["transformation"], d["format"]),
             "secure_url": emu.delivery_url(request, res, d["transformation"], d["format"])}
            for d in job["done"] if "id" in d]
    emu.notifier.eager_done(url, res, job_id, made)
    body = emu.notifier.eager_notification(res, job_id, made)
    emu.events.emit("eager", {k: v for k, v in body.items() if k not in ("notification_type", "timestamp",
                                                                        "request_id", "notification_context")})


def eager_results(emu: CloudinaryEmulator, request: Request, res: dict[str, Any],
                  eager: str | None) -> list[dict[str, Any]]:
    out = []
    for item in (eager or "").split("|"):
        if not item:
            continue
        components, fmt = transform.parse_chain(item)
        chain = "/".join(c.text for c in components)
        _, used, _ = emu.account.derive(res, chain, fmt or res["format"])
        entry = next(d for d in res["derived"] if d["transformation"] == chain and d["format"] == used)
        url = emu.delivery_url(request, res, chain, used)
        out.append({"transformation": item, "width": entry["width"], "height": entry["height"],
                    "bytes": entry["bytes"], "format": used, "url": url, "secure_url": url})
    return out


def new_tmp(emu: CloudinaryEmulator, suffix: str = "") -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix, dir=emu.tmp_dir)
    os.close(fd)
    return Path(name)


async def receive_file(emu: CloudinaryEmulator, request: Request, params: dict[str, Any],
                       files: list) -> tuple[Path, str] | None:
    """Land the upload in a temp file; returns (path, original filename) or None for a
    non-final chunk of a chunked upload."""
    tmp = new_tmp(emu)
    upload = next((f for name, f in files if name == "file"), None)
    if upload is not None:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)
        filename = upload.filename or "file"
    elif isinstance(params.get("file"), str) and params["file"]:
        # In a thread: the URL may be this emulator's own delivery route (a copy of an asset).
        filename = await asyncio.to_thread(fetch_remote, emu, params["file"], tmp)
    else:
        tmp.unlink(missing_ok=True)
        raise CloudinaryError(400, "Missing required parameter - file")
    content_range = request.headers.get("content-range")
    if not content_range:
        if emu.strict and tmp.stat().st_size > MAX_SINGLE_UPLOAD:
            size = tmp.stat().st_size
            tmp.unlink(missing_ok=True)
            raise CloudinaryError(400, f"File size too large. Got {size}. Maximum is {MAX_SINGLE_UPLOAD}. "
                                       "Upload large files in chunks (upload_large)")
        return tmp, filename
    # Chunked upload (upload_large): append this part; answer the last one with the asset.
    upload_id = request.headers.get("x-unique-upload-id", "")
    try:
        span, total_text = content_range.split(" ", 1)[1].split("/")
        start, end = (int(v) for v in span.split("-"))
        total = int(total_text)
    except (ValueError, IndexError) as exc:
        tmp.unlink(missing_ok=True)
        raise CloudinaryError(400, f"Invalid Content-Range header - {content_range}") from exc
    part_path = emu.chunks.setdefault(upload_id, new_tmp(emu))
    size, received = tmp.stat().st_size, part_path.stat().st_size
    last = end + 1 >= total
    problem = ("does not continue the parts received" if start != received
               else "does not match the part's size" if end - start + 1 != size
               else f"is smaller than the {MIN_CHUNK} bytes a part needs (but the last)"
               if emu.strict and not last and size < MIN_CHUNK else "")
    if problem:  # [STRICT] parts in order, each (but the last) at least 5 MB
        tmp.unlink(missing_ok=True)
        raise CloudinaryError(400, f"Invalid Content-Range header - {content_range} {problem}")
    with open(part_path, "ab") as out, open(tmp, "rb") as src:
        shutil.copyfileobj(src, out, 1024 * 1024)
    tmp.unlink(missing_ok=True)
    if not last:
        return None
    emu.chunks.pop(upload_id, None)
    return part_path, filename


@functools.cache
def remote_client() -> httpx.Client:
    """One client for every remote fetch (a new one per fetch spends its time on TLS set-up)."""
    # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s) could
    # close one under a new request.
    return httpx.Client(timeout=60, follow_redirects=True, headers={SELF_FETCH: "1"},
                        limits=httpx.Limits(keepalive_expiry=2))


def fetch_remote(emu: CloudinaryEmulator, url: str, dest: Path) -> str:
    if url.startswith("data:"):
        try:
            dest.write_bytes(base64.b64decode(url.split(",", 1)[1]))
        except (IndexError, binascii.Error) as exc:
            raise CloudinaryError(400, "Invalid data URI") from exc
        return "file"
    if not url.startswith(("http://", "https://")):
        raise CloudinaryError(400, f"Invalid file parameter - {url[:60]}")
    try:
        with remote_client().stream("GET", url) as resp:
            if resp.status_code != 200:
                raise CloudinaryError(400, f"Error in loading {url} - {resp.status_code} {resp.reason_phrase}")
            with open(dest, "wb") as out:
                for block in resp.iter_bytes(1024 * 1024):
                    out.write(block)
    except httpx.HTTPError as exc:
        raise CloudinaryError(400, f"Error in loading {url} - {exc.__class__.__name__}") from exc
    return unquote(url.split("?", 1)[0].rsplit("/", 1)[-1]) or "remote"


def inspect(emu: CloudinaryEmulator, path: Path, rt: str) -> dict[str, Any]:
    size = path.stat().st_size
    if size == 0:
        raise CloudinaryError(400, "Empty file")
    etag = hashlib.md5(path.read_bytes()).hexdigest() if size < 64 << 20 else ""
    if rt == "raw":
        return {"bytes": size, "etag": etag}
    if rt == "video":
        try:
            info = video.probe(path)
        except video.NotAVideoError as exc:
            raise CloudinaryError(400, f"Invalid video file - {exc}") from exc
        return {"bytes": size, "etag": etag, "width": info["width"], "height": info["height"],
                "format": info["format"], "duration": info["duration"], "bit_rate": info["bit_rate"],
                "frame_rate": info["frame_rate"],
                "video": {"codec": info["video_codec"], "bit_rate": str(info["bit_rate"])},
                "audio": {"codec": info["audio_codec"]} if info["audio_codec"] else {}}
    known = emu.account.inspected.get(etag) if emu.account.shared_derivatives and etag else None
    if known:  # benchmark mode: the same content was decoded before
        return dict(known)
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            fmt = {"JPEG": "jpg"}.get(im.format or "", (im.format or "").lower())
            im.load()  # [STRICT] a full decode: a truncated file is refused on upload, not rendered grey
            info = {"bytes": size, "width": im.size[0], "height": im.size[1], "format": fmt, "etag": etag}
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for bad data
        raise CloudinaryError(400, f"Invalid image file - {exc.__class__.__name__}") from exc
    if emu.account.shared_derivatives and etag:
        emu.account.inspected[etag] = info
    return info


def targets(emu: CloudinaryEmulator, rt: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    ids = params.get("public_ids") or []
    ids = ids if isinstance(ids, list) else [ids]
    dtype = params.get("type") or "upload"
    return [r for r in (emu.account.get(rt, dtype, pid) for pid in ids) if r is not None]


def update_targets(emu: CloudinaryEmulator, rt: str, params: dict[str, Any],
                   change: Callable[[dict[str, Any]], None]) -> JSONResponse:
    """Apply ``change`` to every asset named in ``public_ids``; answer with those changed."""
    changed = []
    for res in targets(emu, rt, params):
        before = json.loads(json.dumps(res))
        change(res)
        emu.account.save(res)
        events.changed(emu, res, before)
        changed.append(res["public_id"])
    return JSONResponse({"public_ids": changed})

