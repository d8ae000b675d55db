"""Image routes: details and sub-records, rendering links, the original's download, upload and query,
and the emulator-only metadata writes."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.responses import Response

from emulators.common.http import read_params
from emulators.common.video import VIDEO_EXTENSIONS, NotAVideoError
from emulators.photoshelter.account import (
    NotAnImageError,
    ps_time,
    render_preview,
    store_image,
    store_video,
)
from emulators.photoshelter.state import PhotoShelterEmulator, PSError, emulator, ok, parse_extend, select_fields

router = APIRouter()
metadata_write_router = APIRouter()  # not included by a --strict emulator


@router.get("/psapi/v3/mem/image/{image_id}")
async def get_image(image_id: str, request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    image = emu.image_or_404(image_id)
    out = select_fields(emu.public_image(image), params.get("fields"))
    extend = parse_extend(params.get("extend"))
    for name in ("Iptc", "CustomMetadata", "License"):
        if name in extend:  # CustomMetadata is a list of fields; the others are records with times
            value = image.get(name) or ({} if name != "CustomMetadata" else [])
            out[name] = emu.local_times(value) if isinstance(value, dict) else value
    if "ImageLink" in extend:
        out["ImageLink"] = emu.image_link(request, image_id, (extend["ImageLink"] or {}).get("params") or {})
    return ok({"Image": out})


@router.get("/psapi/v3/mem/image/{image_id}/link")
async def get_link(image_id: str, request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    emu.image_or_404(image_id)
    return ok({"ImageLink": emu.image_link(request, image_id, params)})


@router.get("/psapi/v3/mem/image/{image_id}/download")
async def download(image_id: str, request: Request) -> Response:
    emu = emulator(request)
    await emu.member(request)
    return original_response(emu, emu.image_or_404(image_id))


@router.get("/img-get2/{image_id}/{spec}")
async def signed_link(image_id: str, spec: str, request: Request, exp: int = 0, sig: str = "") -> Response:
    """Session-less signed links (``ImageLink.link`` / ``auth_link``) [INFERRED shape]."""
    emu = emulator(request)
    if exp < time.time() or not hmac.compare_digest(sig, emu.sign_link(image_id, spec, exp)):
        raise PSError(403, "LinkExpired", "The link is expired or its signature is invalid")
    image = emu.image_or_404(image_id)
    if not emu.strict:  # permissive: every link serves the original
        return original_response(emu, image)
    return render_response(emu, image, spec)


@router.post("/psapi/v3/mem/image/upload")
async def upload(request: Request) -> Response:
    emu = emulator(request)
    params, files = await read_params(request)
    emu.check_api_key(request, params)
    emu.session_for(request, params, need_org=True)
    gallery_id = params.get("gallery_id")
    if not gallery_id:
        raise PSError(400, "InvalidParameter", "gallery_id is required (parent_id uploads are not emulated)")
    emu.gallery_or_404(gallery_id)
    uploads = [f for name, f in files if name in ("file", "file[]")]
    if not uploads:
        raise PSError(400, "InvalidParameter", "file is required (multipart field 'file')")
    stored = []
    for upload_file in uploads:
        name = upload_file.filename or "upload"
        try:
            if name.lower().endswith(VIDEO_EXTENSIONS):  # [INFERRED] the one upload route takes videos too
                stored.append(store_video(emu.store, gallery_id, name, upload_file.file))
            else:
                stored.append(store_image(emu.store, gallery_id, name, upload_file.file))
        except (NotAnImageError, NotAVideoError) as exc:
            raise PSError(400, "InvalidFile", f"{upload_file.filename}: {exc}") from exc
    gallery = emu.gallery_or_404(gallery_id)
    gallery["modified_at"] = ps_time()
    emu.store.put("gallery", gallery_id, gallery)
    shaped = [{"image_id": r["image_id"], "file_name": r["file_name"], "gallery_id": gallery_id,
               "file_size": r["file_size"]} for r in stored]
    return ok({"Image": shaped[0] if len(shaped) == 1 else shaped})


@router.get("/psapi/v3/mem/video/{video_id}")
async def get_video(video_id: str, request: Request) -> Response:
    """A video's record [INFERRED: the image route's twin, fields as the captured ``Video`` extend]."""
    emu = emulator(request)
    await emu.member(request)
    return ok({"Video": emu.public_image(emu.video_or_404(video_id))})


@router.get("/psapi/v3/mem/video/{video_id}/download")
async def download_video(video_id: str, request: Request) -> Response:
    """A video's original [INFERRED: the image download's twin; the hook's one swappable path]."""
    emu = emulator(request)
    await emu.member(request)
    return original_response(emu, emu.video_or_404(video_id))


@router.api_route("/psapi/v3/mem/image/query", methods=["GET", "POST"])
async def image_query(request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    gallery_id, file_name = params.get("gallery_id"), params.get("file_name")
    total = 0
    for doc_id, _ in emu.store.iter("gallery_image", f"{gallery_id}/" if gallery_id else ""):
        image = emu.store.get("image", doc_id.split("/", 1)[1])
        if image and (not file_name or image["file_name"] == file_name):
            total += 1
    return ok({"total": total})


def sub_record(key: str):
    async def endpoint(image_id: str, request: Request) -> Response:
        emu = emulator(request)
        await emu.member(request)
        return ok({key: emu.local_times(emu.image_or_404(image_id)[key])})
    return endpoint


def original_response(emu: PhotoShelterEmulator, image: dict[str, Any]) -> Response:
    path = emu.store.blob_dir / "originals" / image["image_id"]
    if not path.exists():
        raise PSError(404, "FileNotFound", f"The original of {image['image_id']} is not available")
    disposition = f"attachment; filename*=UTF-8''{quote(image['file_name'])}"
    return FileResponse(path, media_type=image.get("content_type") or "application/octet-stream",
                        headers={"Content-Disposition": disposition})


def render_response(emu: PhotoShelterEmulator, image: dict[str, Any], spec: str) -> Response:
    """A JPEG rendering that fits ``fit=WxH`` (what ``ImageLink`` serves), cached per size."""
    try:
        width, height = (int(x) for x in spec.removeprefix("fit=").split("x"))
    except ValueError as exc:
        raise PSError(400, "InvalidParameter", f"image_size must be WxH, not {spec!r}") from exc
    original = emu.store.blob_dir / "originals" / image["image_id"]
    cached = emu.store.blob_dir / "renders" / f"{image['image_id']}_{width}x{height}.jpg"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        render_preview(Path(original), cached, (width, height))
    return FileResponse(cached, media_type="image/jpeg")


# /iptc, /custom and /license: one record of an image each (§6.4)
for _part, _key in (("iptc", "Iptc"), ("custom", "CustomMetadata"), ("license", "License")):
    router.add_api_route(f"/psapi/v3/mem/image/{{image_id}}/{_part}", sub_record(_key), methods=["GET"])

# ------------------------------------------- metadata writes: EMULATOR-ONLY CONTRACT
# PhotoShelter documents no public v3 route for metadata writes. These two routes are the
# emulator's stand-in (not served by a --strict emulator); PhotoShelterHook.update_metadata() is
# the one client method that calls them, so pointing at the real API is a change in two places.


@metadata_write_router.post("/psapi/v3/mem/image/{image_id}/iptc/update")
async def update_iptc(image_id: str, request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    image = emu.media_or_404(image_id)
    image["Iptc"].update({k: str(v) for k, v in params.items() if k not in ("api_key", "auth_token")})
    image["updated_at"] = ps_time()
    emu.store.put("image", image_id, image)
    return ok({"Iptc": image["Iptc"]})


@metadata_write_router.post("/psapi/v3/mem/image/{image_id}/custom_metadata/update")
async def update_custom(image_id: str, request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    image = emu.media_or_404(image_id)
    set_custom_fields(image, {k: v for k, v in params.items() if k not in ("api_key", "auth_token")})
    emu.store.put("image", image_id, image)
    return ok({"CustomMetadata": image["CustomMetadata"]})


def set_custom_fields(image: dict[str, Any], values: dict[str, Any]) -> None:
    """Set custom metadata fields on a medium (made on first use) and bump its ``updated_at``,
    as an edit in PhotoShelter does: the write route and the emulator's control route share it."""
    fields = {e["name"]: e for e in image["CustomMetadata"]}
    for key, value in values.items():
        field_id = "F" + hashlib.sha1(key.encode()).hexdigest()[:10]
        entry = fields.setdefault(key, {"field_id": field_id, "name": key})
        entry["value"] = str(value)
    image["CustomMetadata"] = list(fields.values())
    image["updated_at"] = ps_time()



