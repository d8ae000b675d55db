"""PhotoShelter v4 routes (``/psapi/v4.0``) over the same account as the v3 ones: token and
organisation login, the library and collection children, a gallery's children (its media), a
medium, its custom metadata and IPTC, and the one download route for images and videos.

Answers are JSON:API-like as the public v4 clients read them: ``{"data": …, "meta": …}``, a
resource ``{"id", "type", "attributes"}``; errors ``{"errors": [{"id": "<Name>Exception",
"title": …}]}``. Where v4's public material is silent, ``strict`` takes the harder reading
(docs/emulators.md marks each **[STRICT]**):

- a v4 session token is not a v3 one, nor the other way round;
- a gallery's children come in another order than v3's listing of the gallery (by ID), so page
  *n* of one need not hold the media of page *n* of the other;
- a gallery's children carry no custom metadata (``/media/{id}/custom-metadata`` answers it, one
  call per medium), and their ``meta`` says no total and no next page (a page shorter than
  ``per_page`` is the last);
- ``/media/{id}/custom-metadata`` answers a list holding one resource;
- times are the account's local time without a zone, as v3's strict ones;
- ``download_filetype`` is required on the download;
- an expired session answers 401 ``UnauthorizedException``, with no word of a session.

No v4 route serves a medium's licence or takes an upload (none is documented): v4 accounts go
through v3 for those (the hook does; docs/real-accounts.md lists which).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from emulators.common.http import read_params
from emulators.photoshelter.media import original_response
from emulators.photoshelter.state import PhotoShelterEmulator, PSError, Session, emulator

PREFIX = "/psapi/v4.0"
MAX_PER_PAGE = 1000  # what the public v4 clients ask
router = APIRouter(prefix=PREFIX)


class V4Error(PSError):
    """An error rendered as v4's ``errors`` list (the app's handler tells it from a v3 one)."""


def v4_error_response(exc: PSError) -> JSONResponse:
    name = exc.code if exc.code.endswith("Exception") else f"{exc.code}Exception"
    return JSONResponse({"errors": [{"id": name, "title": exc.message, "status": str(exc.status)}]},
                        status_code=exc.status)


def resource(kind: str, ident: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"id": ident, "type": kind, "attributes": attributes}


async def member(request: Request, *, need_org: bool = True) -> tuple[PhotoShelterEmulator, dict[str, Any], Session]:
    emu = emulator(request)
    params, _ = await read_params(request)
    given = request.headers.get("x-ps-api-key") or params.get("api_key")
    if given != emu.api_key:
        raise V4Error(401, "ApiKeyInvalid", "Invalid API key")
    try:
        session = emu.session_for(request, params, need_org=False, api=4)
    except PSError as exc:
        if emu.strict:
            raise V4Error(401, "Unauthorized", "Unauthorized") from exc
        raise V4Error(401, "SessionExpired", "Your session has expired") from exc
    if need_org and session.org_id is None:
        raise V4Error(403, "OrganizationAuthRequired", "Authenticate to your organization first")
    return emu, params, session


@router.post("/authenticate")
async def authenticate(request: Request) -> JSONResponse:
    """Token login: the token and organisations are top level, not in ``data`` (as the clients read them)."""
    emu = emulator(request)
    params, _ = await read_params(request)
    if (request.headers.get("x-ps-api-key") or params.get("api_key")) != emu.api_key:
        raise V4Error(401, "ApiKeyInvalid", "Invalid API key")
    if params.get("email") != emu.email or params.get("password") != emu.password:
        raise V4Error(401, "InvalidCredentials", "The email or password is incorrect")
    if emu.strict and params.get("mode") != "token":
        raise V4Error(400, "InvalidParameter", "mode=token is required")
    token = secrets.token_urlsafe(24)
    session = Session(user_id=emu.account["user_id"], api=4)
    org = emu.account["org_id"]
    if params.get("org_id"):
        if params["org_id"] != org:
            raise V4Error(403, "NotOrganizationMember", f"You are not a member of organization {params['org_id']}")
        session.org_id = org
    emu.sessions[token] = session
    return JSONResponse({"token": token, "org": [{"id": org, "name": emu.account["org_name"]}], "two_factor": False})


@router.post("/organization/authenticate")
async def org_authenticate(request: Request) -> JSONResponse:
    emu, params, session = await member(request, need_org=False)
    if params.get("org_id") != emu.account["org_id"]:
        raise V4Error(403, "NotOrganizationMember", f"You are not a member of organization {params.get('org_id')}")
    session.org_id = params["org_id"]
    return JSONResponse({"data": resource("organization", session.org_id, {"name": emu.account["org_name"]})})


@router.get("/authenticate/logout")
async def logout(request: Request) -> JSONResponse:
    emu = emulator(request)
    emu.sessions.pop(request.headers.get("x-ps-auth-token") or "", None)
    return JSONResponse({"meta": {}})


@router.get("/user/session")
async def user_session(request: Request) -> JSONResponse:
    emu, _, session = await member(request, need_org=False)
    attributes = {"email": emu.email, "org_id": session.org_id}
    if not emu.strict:  # no public v4 source shows a time zone in the session
        attributes["timezone"] = "GMT"
    return JSONResponse({"data": resource("user", session.user_id, attributes)})


def container(record: dict[str, Any], kind: str) -> dict[str, Any]:
    return resource(kind, record[f"{kind}_id"], {"name": record["name"], "description": record.get("description", ""),
                                                 "mode": record.get("mode"), "is_listed": record.get("f_list") == "t"})


def children(emu: PhotoShelterEmulator, parent: str) -> list[dict[str, Any]]:
    return [container(r, kind) for kind in ("collection", "gallery") for _, r in emu.store.iter(kind)
            if r["parent"] == parent]


@router.get("/library")
async def library(request: Request) -> JSONResponse:
    emu, _, _ = await member(request)
    return JSONResponse({"data": children(emu, "root"), "meta": {}})


@router.get("/collections/{collection_id}/children")
async def collection_children(collection_id: str, request: Request) -> JSONResponse:
    emu, _, _ = await member(request)
    if emu.store.get("collection", collection_id) is None:
        raise V4Error(404, "NotFound", f"Collection {collection_id} not found")
    return JSONResponse({"data": children(emu, collection_id), "meta": {}})


@router.get("/galleries/{gallery_id}")
async def gallery(gallery_id: str, request: Request) -> JSONResponse:
    emu, _, _ = await member(request)
    record = emu.store.get("gallery", gallery_id)
    if record is None:
        raise V4Error(404, "NotFound", f"Gallery {gallery_id} not found")
    return JSONResponse({"data": container(record, "gallery")})


def medium(emu: PhotoShelterEmulator, record: dict[str, Any], *, custom: bool) -> dict[str, Any]:
    video = record.get("media_type") == "video"
    shown = emu.local_times(record)
    keys = ("file_name", "file_size", "width", "height", "updated_at", "uploaded_at", *(("duration",) if video else ()))
    attributes: dict[str, Any] = {k: shown.get(k) for k in keys if shown.get(k) is not None}
    if custom:
        attributes["custom_metadata"] = [dict(m) for m in record.get("CustomMetadata") or []]
    return resource("video" if video else "image", record["video_id" if video else "image_id"], attributes)


@router.get("/galleries/{gallery_id}/children")
async def gallery_children(gallery_id: str, request: Request) -> JSONResponse:
    emu, params, _ = await member(request)
    if emu.store.get("gallery", gallery_id) is None:
        raise V4Error(404, "NotFound", f"Gallery {gallery_id} not found")
    try:
        page, per_page = int(params.get("page") or 1), int(params.get("per_page") or 100)
    except ValueError as exc:
        raise V4Error(400, "InvalidParameter", "page and per_page must be integers") from exc
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise V4Error(400, "InvalidParameter", f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}")
    members = f"{gallery_id}/"
    ids = [doc_id.split("/", 1)[1] for doc_id, _ in emu.store.page("gallery_image", members, (page - 1) * per_page,
                                                                    per_page, by_id=emu.v4_order == "id")]
    records = [r for r in (emu.store.get("image", i) for i in ids) if r is not None]
    meta: dict[str, Any] = {"page": page, "per_page": per_page}
    if not emu.strict:
        total = emu.store.count("gallery_image", members)
        meta.update(total=total, next_page=page + 1 if page * per_page < total else None)
    return JSONResponse({"data": [medium(emu, r, custom=not emu.strict) for r in records], "meta": meta})


def media_record(emu: PhotoShelterEmulator, media_id: str) -> dict[str, Any]:
    record = emu.store.get("image", media_id)
    if record is None:
        raise V4Error(404, "NotFound", f"Media {media_id} not found")
    return record


@router.get("/media/{media_id}")
async def media(media_id: str, request: Request) -> JSONResponse:
    emu, _, _ = await member(request)
    return JSONResponse({"data": medium(emu, media_record(emu, media_id), custom=True)})


@router.get("/media/{media_id}/custom-metadata")
async def custom_metadata(media_id: str, request: Request) -> JSONResponse:
    emu, _, _ = await member(request)
    record = media_record(emu, media_id)
    data = resource("custom_metadata", media_id,
                    {"custom_metadata": [dict(m) for m in record.get("CustomMetadata") or []]})
    return JSONResponse({"data": [data] if emu.strict else data})


@router.get("/media/{media_id}/iptc")
async def iptc(media_id: str, request: Request) -> JSONResponse:
    emu, _, _ = await member(request)
    return JSONResponse({"data": resource("iptc", media_id, dict(media_record(emu, media_id).get("Iptc") or {}))})


@router.get("/media/{media_id}/download")
async def download(media_id: str, request: Request) -> Response:
    """The one download route for images and videos (``download_filetype=original``)."""
    emu, params, _ = await member(request)
    kind = params.get("download_filetype")
    if emu.strict and kind is None:
        raise V4Error(400, "InvalidParameter", "download_filetype is required")
    if kind not in (None, "original"):
        raise V4Error(400, "InvalidParameter", f"download_filetype {kind!r} is not served by this emulator")
    return original_response(emu, media_record(emu, media_id))
