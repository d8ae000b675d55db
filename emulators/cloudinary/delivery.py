"""Delivery routes: originals and derived files (transformed on first request), signed URLs,
token URLs and access control."""


from __future__ import annotations

import hashlib
import secrets
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from emulators.cloudinary import transform
from emulators.cloudinary.params import (
    access_allowed,
)
from emulators.cloudinary.signing import (
    delivery_signature,
    token_valid,
)
from emulators.cloudinary.state import CloudinaryEmulator, emulator


class AnyPath(Convertor):
    """A path's rest, line breaks included: a text layer's line break is ``%0A`` in the URL, which
    the router sees decoded (Starlette's ``path`` stops at it, and the request would not match)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", AnyPath())
router = APIRouter()
MEDIA_TYPES = {"jpg": "image/jpeg", "zip": "application/zip", "mp4": "video/mp4", "webm": "video/webm",
               "mov": "video/quicktime", "m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t"}
private_cdn_router = APIRouter()  # included only for an emulator started with --private-cdn


@private_cdn_router.get("/{rt}/{dtype}/{rest:anypath}")
async def deliver_private(rt: str, dtype: str, rest: str, request: Request) -> Response:
    """The private CDN form: no cloud name in the path (the SDK's ``private_cdn=True``)."""
    emu = emulator(request)
    if rt not in ("image", "video", "raw"):
        return logged(emu, request, deny(404, "Resource not found"))
    return logged(emu, request, serve(emu, rt, dtype, request, skip=3, shared=False))


@router.get("/{cloud}/{rt}/{dtype}/{rest:anypath}")
async def deliver(cloud: str, rt: str, dtype: str, rest: str, request: Request) -> Response:
    emu = emulator(request)
    if cloud != emu.cloud_name:
        return logged(emu, request, deny(404, f"Resource not found - unknown cloud {cloud}"))
    return logged(emu, request, serve(emu, rt, dtype, request, skip=4, shared=True))


def logged(emu: CloudinaryEmulator, request: Request, response: Response) -> Response:
    """The CDN's log line for this request, where the emulator writes one (``access_log.py``)."""
    if emu.access_log is not None:
        raw = request.scope.get("raw_path", b"").decode("latin-1")
        path, _, query = raw.partition("?")
        emu.access_log.write(when=emu.control.now(), host=request.headers.get("host", ""), path=path, query=query,
                             status=response.status_code, size=int(response.headers.get("content-length") or 0),
                             client=request.client.host if request.client else "-")
    return response


def serve(emu: CloudinaryEmulator, rt: str, dtype: str, request: Request, *, skip: int, shared: bool) -> Response:
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
    if token is not None and (not emu.tokens_enabled or (emu.strict and shared)):
        return deny(401, "Token-based access is not enabled for this delivery host")
    if token is not None:
        ok, reason = token_valid(token, raw, emu.auth_token_key, emu.control.now().timestamp())
        if not ok:
            return deny(401, reason)
    elif signature is not None:
        to_sign = "/".join(components + [pid_ext])
        if not secrets.compare_digest(signature, delivery_signature(to_sign, emu.api_secret, len(signature) > 8)):
            return deny(401, "Invalid signature")
    if token is None and signature is None and (dtype == "authenticated" or (dtype == "private"
                                                                               and not components)):
        return deny(401, "Signature required for this delivery type")
    public_id, _, segment = unquote(pid_ext).partition(".m3u8.hls/")  # an HLS playlist's segment
    public_id += ".m3u8" if segment else ""
    stem, _, ext = public_id.rpartition(".")
    res = emu.account.get(rt, dtype, stem) if stem else None
    if res is None:
        res, ext = emu.account.get(rt, dtype, public_id), ""
    if res is None:
        return deny(404, f"Resource not found - {stem or public_id}")
    if token is None and dtype == "upload" and not access_allowed(res.get("access_control", []), emu.control.now()):
        return deny(401, "deny or ACL failure")
    accept = request.headers.get("accept", "")
    if rt == "raw" or (not components and (not ext or ext == res.get("format"))):
        path, media = emu.account.original_path(res), (res.get("format") or "octet-stream")
    else:
        try:
            chain = "/".join(transform.parse_component(c).text for c in components)
            busy = f"{res['asset_id']}/{chain}"
            made = any(d["transformation"] == chain for d in res.get("derived", []))  # eager, or asked before
            if emu.strict and "e_background_removal" in chain and not made and busy not in emu.background_requested:
                emu.background_requested.add(busy)  # the add-on works asynchronously on the fly
                return deny(423, "Background removal is in progress; try again shortly")
            wanted = "/".join(components) + (f"/{ext}" if ext else "")
            if emu.strict and any(_same(wanted, item) for item in emu.account.pending(res)):
                return deny(423, "The video is still being processed (eager_async); try again shortly")
            path, media, _ = emu.account.derive(res, chain, ext or res["format"], accept)
        except transform.TransformationError as exc:
            return deny(400, f"Invalid Transformation - {exc}")
    if segment:
        path, media = path.parent / f"{path.name}.hls" / segment.replace("/", ""), "ts"
        if not path.is_file():
            return deny(404, f"Resource not found - {segment}")
    size = path.stat().st_size  # streamed from disk below, never read whole
    emu.account.bump(bandwidth=size, requests=1)
    # Per-asset and per-transformation figures (an emulator extension: Cloudinary shows them
    # only in the Console's reports, not through the Admin API).
    delivery = res.setdefault("delivery", {"requests": 0, "bytes": 0})
    delivery["requests"] += 1
    delivery["bytes"] += size
    if rt == "video" and media in ("mp4", "webm", "mov"):  # seconds of video delivered
        made = next((d for d in res.get("derived", []) if d["id"] == path.name), res)
        delivery["seconds"] = round(delivery.get("seconds", 0.0) + float(made.get("duration") or 0), 3)
    key = "/".join(components) or "original"
    per = delivery.setdefault("by_transformation", {}).setdefault(key, {"requests": 0, "bytes": 0})
    per["requests"] += 1
    per["bytes"] += size
    emu.account.save(res)
    media_type = MEDIA_TYPES.get(media, f"image/{media}")
    if rt == "raw":
        media_type = "application/zip" if media == "zip" else "application/octet-stream"
    # The file's name is its content key (a derived file's hash, an original's asset ID and version).
    etag = hashlib.md5(f"{path.name}|{size}|{res['version']}".encode()).hexdigest()
    return FileResponse(path, media_type=media_type, headers={"ETag": etag, "Vary": "Accept"},
                        stat_result=path.stat())  # sized now: the access log reads its Content-Length


def _same(wanted: str, eager_item: str) -> bool:
    """Whether a delivery path's transformation and extension name an eager item."""
    def norm(text: str) -> list[str]:
        parts = [p for p in text.split("/") if p]
        return [transform.parse_component(p).text if "_" in p else p for p in parts]
    return norm(wanted) == norm(eager_item)


def deny(status: int, message: str) -> Response:
    """Delivery errors carry their reason in ``x-cld-error``, not in JSON (§4)."""
    return Response(b"", status_code=status, headers={"x-cld-error": message})

