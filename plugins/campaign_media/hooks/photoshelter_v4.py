"""PhotoShelter v4 answers (JSON:API-like: ``data`` / ``attributes`` / ``meta``, errors in
``errors[]``) turned into the v3 records the rest of the package reads, so the steps never know
which version the connection speaks. Pure: the hook (``hooks/photoshelter.py``) does the I/O.

What v4 documents and this module reads (``docs/api-notes.md``, v4 column): the library and a
collection's children (``type`` collection or gallery), a gallery's children (its media, ``type``
image or video), a medium's attributes and its ``custom_metadata`` list. v4 documents no licence
route: a v4 connection reads licences through v3 (:func:`governance`) and, where the children do not
carry it, custom metadata from the same v3 page.
"""

from __future__ import annotations

from typing import Any

# The fields of a medium's v3 ``Image`` / ``Video`` record that v4's attributes carry.
MEDIUM_FIELDS = ("file_name", "file_size", "width", "height", "updated_at", "uploaded_at", "duration")
# A medium v3's licence listing did not name: read as unreadable, so it fails closed.
UNREAD_LICENCE = {"license_etime": "not read (v3 licence listing did not name this medium)"}


def error_of(body: Any) -> dict[str, str]:
    """v4's first error as the ``{code, message}`` the hook raises with."""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return {"code": str(first.get("id") or first.get("code") or "Error"),
            "message": str(first.get("title") or first.get("detail") or "no message")}


def resources(body: Any) -> list[dict[str, Any]]:
    """``data`` as a list of resources (a single resource, or none, alike)."""
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        return [data]
    return [r for r in data or [] if isinstance(r, dict)]


def children(body: Any) -> dict[str, list[dict[str, Any]]]:
    """The library's or a collection's children as v3's ``get_children`` gives them."""
    out: dict[str, list[dict[str, Any]]] = {"collections": [], "galleries": []}
    for item in resources(body):
        attributes = item.get("attributes") or {}
        if item.get("type") == "collection":
            out["collections"].append({"collection_id": item["id"], "name": attributes.get("name", "")})
        elif item.get("type") == "gallery":
            out["galleries"].append({"gallery_id": item["id"], "name": attributes.get("name", ""),
                                     "mode": attributes.get("mode")})
    return out


def custom_metadata(body: Any) -> list[dict[str, str]]:
    """``/media/{id}/custom-metadata`` (one resource, or a list holding one) → ``[{name, value}]``."""
    for item in resources(body):
        found = (item.get("attributes") or {}).get("custom_metadata")
        if isinstance(found, list):
            return [{"name": str(m.get("name")), "value": m.get("value")} for m in found if isinstance(m, dict)]
    return []


def is_video(item: dict[str, Any]) -> bool:
    return item.get("type") == "video"


def listing_record(item: dict[str, Any], *, custom: list[dict[str, Any]] | None,
                   licence: dict[str, Any] | None) -> dict[str, Any]:
    """One medium of a gallery's children as v3's listing gives it (``GalleryImage`` or the inside
    of a ``GalleryVideo``): its ID, ``media_type``, its ``Image`` or ``Video`` record, and the
    ``CustomMetadata`` and ``License`` asked for (``None``: not asked)."""
    attributes = item.get("attributes") or {}
    key, inner = ("video_id", "Video") if is_video(item) else ("image_id", "Image")
    record: dict[str, Any] = {key: item["id"], "media_type": "video" if is_video(item) else "image",
                              inner: {key: item["id"], **{f: attributes[f] for f in MEDIUM_FIELDS if f in attributes}}}
    if custom is not None:
        record["CustomMetadata"] = custom
    if licence is not None:
        record["License"] = licence
    return record


def listed_custom(item: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The custom metadata a gallery's children carry with a medium, if they do (None: ask the medium)."""
    found = (item.get("attributes") or {}).get("custom_metadata")
    return custom_metadata({"data": item}) if isinstance(found, list) else None


def v3_page(records: list[dict[str, Any]], *, media: bool, next_page: int | None) -> dict[str, Any]:
    """v3's page shape: ``GalleryImage`` (images only) or ``GalleryMedia`` (each wrapped), and a
    ``Paging`` whose ``next`` names the page that may follow (v4 says none: a page that held
    ``per_page`` media may have one after it)."""
    paging: dict[str, Any] = {"next": next_page} if next_page else {}
    if media:
        wrapped = [{"GalleryVideo": r} if r["media_type"] == "video" else {"GalleryImage": r} for r in records]
        return {"GalleryMedia": wrapped, "Paging": paging}
    return {"GalleryImage": [r for r in records if r["media_type"] == "image"], "Paging": paging}


def governance(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``media ID → {"License": …, "CustomMetadata": …}`` (what it holds) from a v3 listing page,
    wherever the page puts them (top level, or inside the medium's own record)."""
    out: dict[str, dict[str, Any]] = {}
    for item in page.get("GalleryMedia") or page.get("GalleryImage") or []:
        record = item.get("GalleryVideo") or item.get("GalleryImage") or item
        own = record.get("Video") or record.get("Image") or {}
        ident = record.get("video_id") or record.get("image_id") or own.get("video_id") or own.get("image_id")
        if not ident:
            continue
        found = {key: record.get(key) if record.get(key) is not None else own.get(key)
                 for key in ("License", "CustomMetadata")}
        out[ident] = {key: value for key, value in found.items() if value is not None}
    return out
