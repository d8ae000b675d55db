"""The Cloudinary emulator's state: one product environment (assets on disk, usage, rules) and the
helpers every router shares. Routers reach it with ``emulator(request)``."""


from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from PIL import Image

from emulators.cloudinary import transform, video
from emulators.cloudinary.access_log import AccessLog
from emulators.cloudinary.notifications import Notifier
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
    response_signature,
)
from emulators.common.control import Control
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
        # Benchmark mode (``--shared-derivatives``): a derived file is keyed by the original's
        # *content*, so identical originals render a transformation once, and an upload of
        # content seen before is not decoded again. Answers stay truthful (the same bytes, sizes
        # and URLs); only the emulator's own Pillow work is saved.
        self.shared_derivatives = False
        self.inspected: dict[str, dict[str, Any]] = {}  # etag -> what decoding it found

    # ----------------------------------------------------------------- usage
    def usage_day(self, day: date) -> dict[str, int]:
        return self.store.get("usage", day.isoformat()) or {"bandwidth": 0, "transformations": 0, "requests": 0}

    def bump(self, **amounts: int) -> None:
        day = self.control.now().date()
        with self.store.lock:  # eager_async jobs count from their own thread
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
        res = self.store.get("resource", resource_key(rt, dtype, public_id))
        if res is not None and res.get("eager_job"):
            self._fold(res)  # derived files an asynchronous eager job has finished since
        return res

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
            shutil.rmtree(self.store.blob_dir / "derived" / f"{derived['id']}.hls", ignore_errors=True)
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
        key, path = self.derived_key(res, chain, fmt, accept)
        known = next((d for d in res.get("derived", []) if d["id"] == key), None)
        if known and path.exists():
            return path, known["format"], False
        shared = self.shared_derivatives and path.exists() and self.store.get("derived_file", key)
        if shared:  # made before from another asset with the same original
            res.setdefault("derived", []).append(shared)
            self.save(res)
            return path, shared["format"], False
        entry = self.render(res, chain, fmt, accept)
        res.setdefault("derived", []).append(entry)
        self.save(res)
        return path, entry["format"], True

    def derived_key(self, res: dict[str, Any], chain: str, fmt: str, accept: str = "") -> tuple[str, Path]:
        """A derived file's ID (original, chain, format, and the Accept variant ``f_auto`` picks) and path."""
        components = [transform.parse_component(c) for c in chain.split("/") if c] if chain else []
        wants_auto = any(c.params.get("f") == "auto" for c in components)
        if res["resource_type"] == "video":
            variant = "webm" if wants_auto and "video/webm" in accept else ""
        else:
            variant = "webp" if wants_auto and "image/webp" in accept else ""
        source = res["etag"] if self.shared_derivatives and res.get("etag") else f"{res['asset_id']}|{res['version']}"
        key = hashlib.sha1(f"{source}|{chain}|{fmt}|{variant}".encode()).hexdigest()
        return key, self.store.blob_path(f"derived/{key}")

    def render(self, res: dict[str, Any], chain: str, fmt: str, accept: str = "") -> dict[str, Any]:
        """Make a derived file (Pillow for images, ffmpeg for videos); returns its ``derived`` entry.
        Touches no resource record: the asynchronous eager jobs run it in a thread."""
        key, path = self.derived_key(res, chain, fmt, accept)
        components = [transform.parse_component(c) for c in chain.split("/") if c] if chain else []
        extra: dict[str, Any] = {}
        if res["resource_type"] == "video":
            used_fmt = video.output_format(components, fmt, accept)
            video.transcode(self.original_path(res), (res["width"], res["height"]), components, used_fmt, path,
                            hls_prefix=f"{res['public_id'].rsplit('/', 1)[-1]}.m3u8.hls")
            width, height, extra = video.measure(path, used_fmt)
            size = path.stat().st_size
        else:
            with Image.open(self.original_path(res)) as im:
                try:
                    im.load()
                except OSError as exc:  # an undecodable original: the service's 400, never a crash
                    raise CloudinaryError(400, f"Invalid image file - {exc}") from exc
                out, delivery = transform.apply(im, components)
                data, used_fmt = transform.encode(out, fmt, delivery, accept)
                width, height = out.size
            path.write_bytes(data)
            size = len(data)
        entry = {"id": key, "transformation": chain, "format": used_fmt, "bytes": size, "width": width,
                 "height": height, **extra}
        if self.shared_derivatives:
            self.store.put("derived_file", key, entry)
        self.bump(transformations=1)
        return entry

    # ----------------------------------------------------------------- asynchronous eager
    def start_eager_job(self, res: dict[str, Any], items: list[str]) -> str:
        """Record an ``eager_async`` job on the resource; the caller runs :meth:`run_eager_job`."""
        job_id = secrets.token_hex(16)
        self.store.put("eager_job", job_id, {"items": items, "done": []})
        res["eager_job"] = job_id
        return job_id

    def run_eager_job(self, res: dict[str, Any], job_id: str, delay: float) -> None:
        """In a background thread: make each item, appending its entry to the job (never to the
        resource: request handlers fold finished entries in when they read it)."""
        time.sleep(delay)
        job = self.store.get("eager_job", job_id) or {"items": [], "done": []}
        for item in job["items"]:
            components, fmt = transform.parse_chain(item)
            chain = "/".join(c.text for c in components)
            try:
                entry = self.render(res, chain, fmt or res["format"])
            except (transform.TransformationError, CloudinaryError) as exc:
                entry = {"transformation": chain, "format": fmt, "error": str(exc)}
            job["done"].append({**entry, "eager": item})
            self.store.put("eager_job", job_id, job)

    def pending(self, res: dict[str, Any]) -> list[str]:
        """The eager items of a resource still being made (after folding in the finished ones)."""
        job = self.store.get("eager_job", res["eager_job"]) if res.get("eager_job") else None
        if not job:
            return []
        finished = {d["eager"] for d in job["done"]}
        return [item for item in job["items"] if item not in finished]

    def _fold(self, res: dict[str, Any]) -> None:
        job = self.store.get("eager_job", res["eager_job"])
        if job is None:
            return
        known = {d["id"] for d in res.get("derived", [])}
        made = [{k: v for k, v in d.items() if k != "eager"} for d in job["done"] if "id" in d and d["id"] not in known]
        res.setdefault("derived", []).extend(made)
        if len(job["done"]) == len(job["items"]):
            res.pop("eager_job")
        if made or "eager_job" not in res:
            self.save(res)


class CloudinaryEmulator:
    """One product environment and the emulator's settings (``create_app``'s arguments)."""

    def __init__(self, data_dir: str, *, cloud_name: str = DEFAULT_CLOUD, api_key: str = DEFAULT_API_KEY,
                 api_secret: str = DEFAULT_API_SECRET, auth_token_key: str = DEFAULT_AUTH_TOKEN_KEY,
                 admin_hourly_limit: int = 500, strict: bool = False, private_cdn: bool = False,
                 control: Control | None = None, eager_delay: float = 1.0) -> None:
        self.cloud_name, self.api_key, self.api_secret = cloud_name, api_key, api_secret
        self.auth_token_key, self.admin_hourly_limit = auth_token_key, admin_hourly_limit
        self.strict, self.private_cdn = strict, private_cdn
        self.store = DocStore(data_dir)
        self.control = control or Control()
        self.account = Account(self.store, self.control)
        self.tokens_enabled = private_cdn or not strict
        self.background_requested: set[str] = set()  # strict: (asset, chain) pairs already asked once
        self.purges: list[str] = []  # public IDs whose CDN cache a call purged (GET /_emulator/purges)
        self.admin_window: dict[str, int] = {"hour": -1, "used": 0}
        self.admin_window_seconds = 3600  # the quota's window: an hour, shorter only in tests
        self.chunks: dict[str, Path] = {}  # upload_large parts by X-Unique-Upload-Id
        # eager_async jobs: made in the background, after a delay standing for the service's queue
        self.eager_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="eager")
        self.eager_delay = eager_delay
        self.notifier = Notifier(api_key, api_secret)  # eager_notification_url (notifications.py)
        from emulators.cloudinary.events import Events  # its routes import this module

        self.events = Events(self.notifier)  # triggers and poll notifications (events.py)
        self.tmp_dir = self.store.data_dir / "tmp"
        self.tmp_dir.mkdir(exist_ok=True)
        self.access_log: AccessLog | None = None  # the CDN's log of deliveries (access_log.py), when asked

    def base_url(self, request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def delivery_url(self, request: Request, res: dict[str, Any], chain: str = "", fmt: str | None = None) -> str:
        """The URL as the service answers it: percent-encoded like the SDK's own, so any ordinary
        HTTP client accepts it. ``chain`` is decoded once (as stored): encoding it again, ``%``
        included, gives a text layer's comma and slash their double escape (``%252C``, ``%252F``),
        which survives the one decoding a URL gets before its components are split."""
        pid = quote(res["public_id"], safe="/")
        ext = fmt or res.get("format")
        parts = [self.base_url(request), *([] if self.private_cdn else [self.cloud_name]), res["resource_type"],
                 res["type"]]
        if chain:
            parts.append(quote(chain, safe="/:,_-.~!$&'()*+;=@"))
        parts.append(f"v{res['version']}")
        return "/".join(parts) + "/" + (f"{pid}.{ext}" if ext and res["resource_type"] != "raw" else pid)

    def check_cloud(self, cloud: str) -> None:
        if cloud != self.cloud_name:
            raise CloudinaryError(401, f"Invalid cloud_name {cloud}")

    def result(self, request: Request, res: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """The upload/explicit/Admin resource shape (§2.1); empty tags/context are omitted."""
        out = {k: v for k, v in res.items() if k not in ("derived", "tags", "context", "metadata", "delivery")}
        out["url"] = out["secure_url"] = self.delivery_url(request, res)
        out["signature"] = response_signature(res["public_id"], res["version"], self.api_secret)
        if res.get("tags"):
            out["tags"] = sorted(res["tags"])  # Cloudinary answers tags sorted, whatever the order given
        if res.get("context"):
            out["context"] = {"custom": res["context"]}
        if res.get("metadata"):
            out["metadata"] = res["metadata"]
        out.update(extra)
        return out

    def check_metadata(self, values: dict[str, Any]) -> None:
        """Values must fit their fields: a string, an integer, a ``YYYY-MM-DD`` date, an enum's
        active entry ID, a list of a set's entry IDs; "" (or []) clears. [PESSIMISTIC: Cloudinary
        documents the types and that list values are entry external IDs, not its error texts.]"""
        unknown = [k for k in values if self.store.get("metadata_field", k) is None]
        if unknown:
            raise InvalidParameter(f"Metadata External IDs do not exist: {json.dumps(unknown)}")
        for external_id, value in values.items():
            if value in ("", []):
                continue
            field = self.store.get("metadata_field", external_id)
            kind = field["type"]
            if not value_fits(field, value):
                raise InvalidParameter(f"Invalid value {json.dumps(value)} for metadata field {external_id} "
                                       f"({kind}" + (": use the external_id of one of its datasource values)"
                                                     if kind in ("enum", "set") else ")"))

    def merge_metadata(self, res: dict[str, Any], values: dict[str, Any]) -> None:
        """Checked values onto an asset; an empty value removes its field."""
        self.check_metadata(values)
        merged = {**res.get("metadata", {}), **values}
        res["metadata"] = {k: v for k, v in merged.items() if v not in ("", [])}

    def metadata_defaults(self, res: dict[str, Any]) -> None:
        """A new asset gets each structured metadata field's ``default_value`` it was not given."""
        for external_id, field in self.store.iter("metadata_field"):
            if field.get("default_value") is not None and external_id not in res.get("metadata", {}):
                res.setdefault("metadata", {})[external_id] = field["default_value"]

    def apply_common(self, res: dict[str, Any], params: dict[str, Any]) -> None:
        """Tags, context, metadata and access_control given on upload/explicit/update."""
        if "tags" in params:
            res["tags"] = parse_tags(params["tags"])
        if "context" in params:
            res["context"] = parse_context(params["context"])
        if "metadata" in params:
            self.merge_metadata(res, parse_metadata(params["metadata"]))
        if parse_bool(params.get("invalidate"), False):
            res["invalidations"] = res.get("invalidations", 0) + 1  # the CDN purge a real call asks for
            self.purges.append(res["public_id"])
        if params.get("access_control"):
            rules = parse_access_control(params["access_control"])
            if not self.tokens_enabled and any(r.get("access_type") == "token" for r in rules):
                raise CloudinaryError(400, "Token-based access is not enabled for this product environment "
                                           "(a premium feature that needs a private CDN distribution)")
            res["access_control"] = rules
            res["access_mode"] = "authenticated" if not access_allowed(res["access_control"], self.control.now()) \
                else "public"


def emulator(request: Request) -> CloudinaryEmulator:
    """The state of the app serving ``request``."""
    return request.app.state.emulator


def value_fits(field: dict[str, Any], value: Any) -> bool:
    """Whether a structured metadata value fits its field's type (a list value: active entry IDs)."""
    entries = {e["external_id"] for e in (field.get("datasource") or {}).get("values", [])
               if e.get("state", "active") == "active"}
    kind = field["type"]
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, str) and value.lstrip("-").isdigit())
    if kind == "date":
        return isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None
    if kind == "enum":
        return isinstance(value, str) and value in entries
    return isinstance(value, list) and all(x in entries for x in value)
