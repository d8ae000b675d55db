"""Hierarchy and listing routes: collections, galleries and a gallery's images (paged, ``extend``)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from emulators.photoshelter.account import (
    add_container,
    make_container,
)
from emulators.photoshelter.state import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    PhotoShelterEmulator,
    PSError,
    emulator,
    ok,
    parse_extend,
    select_fields,
)

router = APIRouter()


@router.get("/psapi/v3/mem/collection/{collection_id}/children")
async def collection_children(collection_id: str, request: Request) -> Response:
    emu = emulator(request)
    await emu.member(request)
    if collection_id != "root" and emu.store.get("collection", collection_id) is None:
        raise PSError(404, "NotFound", f"Collection {collection_id} not found")
    return ok({"Children": children_of(emu, collection_id)})


@router.get("/psapi/v3/mem/collection/{collection_id}")
async def get_collection(collection_id: str, request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    record = emu.store.get("collection", collection_id)
    if record is None:
        raise PSError(404, "NotFound", f"Collection {collection_id} not found")
    out = select_fields(public_container(emu, record), params.get("fields"))
    if "Children" in parse_extend(params.get("extend")):
        out["Children"] = children_of(emu, collection_id)
    return ok({"Collection": out})


@router.api_route("/psapi/v3/mem/collection/insert", methods=["GET", "POST"])
async def insert_collection(request: Request) -> Response:
    emu = emulator(request)
    return await insert(emu, request, "collection")


@router.get("/psapi/v3/mem/gallery/query")
async def gallery_query(request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    parent = params.get("parent")
    name = params.get("name")
    found = [public_container(emu, r) for _, r in emu.store.iter("gallery")
             if (not parent or r["parent"] == parent) and (not name or r["name"] == name)]
    return ok({"Gallery": found})


@router.api_route("/psapi/v3/mem/gallery/insert", methods=["GET", "POST"])
async def insert_gallery(request: Request) -> Response:
    emu = emulator(request)
    return await insert(emu, request, "gallery")


@router.get("/psapi/v3/mem/gallery/{gallery_id}")
async def get_gallery(gallery_id: str, request: Request) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    record = emu.gallery_or_404(gallery_id)
    out = select_fields(public_container(emu, record), params.get("fields"))
    if "Visibility" in parse_extend(params.get("extend")):
        out["Visibility"] = {"mode": record["mode"]}
    return ok({"Gallery": out})


@router.get("/psapi/v3/mem/gallery/{gallery_id}/images")
async def gallery_images(gallery_id: str, request: Request) -> Response:
    """Images only: pages run over all of a gallery's media, so a page holding videos carries fewer
    than ``per_page`` images [INFERRED, the pessimistic reading]: only ``Paging.next`` says more follow."""
    return await gallery_listing(gallery_id, request, media=False)


@router.get("/psapi/v3/mem/gallery/{gallery_id}/media")
async def gallery_media(gallery_id: str, request: Request) -> Response:
    """Every medium as ``GalleryMedia`` (images and videos) [INFERRED member twin of the captured
    public ``/gallery/{id}/media`` call]."""
    return await gallery_listing(gallery_id, request, media=True)


async def gallery_listing(gallery_id: str, request: Request, *, media: bool) -> Response:
    emu = emulator(request)
    params = await emu.member(request)
    emu.gallery_or_404(gallery_id)
    try:
        page = int(params.get("page") or 1)
        per_page = int(params.get("per_page") or DEFAULT_PER_PAGE)
    except ValueError as exc:
        raise PSError(400, "InvalidParameter", "page and per_page must be integers") from exc
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise PSError(400, "InvalidParameter", f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}")
    extend = parse_extend(params.get("extend"))
    members = f"{gallery_id}/"
    total = emu.store.count("gallery_image", members)
    pages = max(1, math.ceil(total / per_page))
    chunk = [doc_id.split("/", 1)[1] for doc_id, _ in emu.store.page("gallery_image", members,
                                                                      (page - 1) * per_page, per_page)]
    records = []
    for media_id in chunk:
        record = emu.store.get("image", media_id)
        if record is None or (not media and record.get("media_type") == "video"):
            continue
        fields = params.get("fields")
        records.append(emu.gallery_media(request, record, extend, gallery_id, fields) if media
                       else emu.gallery_image(request, record, extend, gallery_id, fields))
    paging: dict[str, Any] = {"total": total, "page": page, "per_page": per_page, "pages": pages}
    if page < pages:
        paging["next"] = page + 1
    return ok({"GalleryMedia" if media else "GalleryImage": records, "Paging": paging})


def children_of(emu: PhotoShelterEmulator, parent: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"Collection": [], "Gallery": []}
    for kind, key in (("collection", "Collection"), ("gallery", "Gallery")):
        out[key] = [public_container(emu, r) for _, r in emu.store.iter(kind) if r["parent"] == parent]
    return out


def public_container(emu: PhotoShelterEmulator, record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "parent"}


def container_from(emu: PhotoShelterEmulator, params: dict[str, Any], kind: str) -> dict[str, Any]:
    name = (params.get("name") or "").strip()
    if not name:
        raise PSError(400, "InvalidParameter", "name is required")
    parent = params.get("parent") or "root"
    if parent != "root" and emu.store.get("collection", parent) is None:
        raise PSError(404, "NotFound", f"Parent collection {parent} not found")
    mode = params.get("mode") or "private"
    if mode not in ("everyone", "public", "permission", "private"):
        raise PSError(400, "InvalidParameter", f"mode must be everyone|public|permission|private, not {mode!r}")
    return make_container(kind, name, parent, mode=mode, f_list=params.get("f_list") or "t",
                          description=params.get("description") or "")


async def insert(emu: PhotoShelterEmulator, request: Request, kind: str) -> Response:
    """Create a collection or gallery from the request's parameters."""
    params = await emu.member(request)
    record = add_container(emu.store, kind, container_from(emu, params, kind))
    return ok({kind.capitalize(): public_container(emu, record)})
