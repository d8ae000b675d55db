"""PhotoShelter v3 API emulator (FastAPI): the member routes this project uses.

Built from PhotoShelter's public v3 documentation (``docs/api-notes.md``). Where the public
record is silent the behaviour is marked [INFERRED] in ``docs/emulators.md``; the metadata-write
routes are an emulator-only contract (no public write API is documented).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import Response

from emulators.common.control import Control, ControlMiddleware, control_router
from emulators.common.http import read_params
from emulators.common.store import DocStore
from emulators.photoshelter.account import (
    NotAnImageError,
    add_container,
    ensure_account,
    inspect_image,
    make_container,
    parse_ps_time,
    ps_time,
    render_preview,
    store_image,
)

DEFAULT_API_KEY = "PSEMULATOR1"
DEFAULT_EMAIL = "pipeline@example.com"
DEFAULT_PASSWORD = "emulator-password"
MAX_PER_PAGE = 1500
DEFAULT_PER_PAGE = 100
# Library routes need an organisation login; these member routes do not [INFERRED from §3.3].
ORG_FREE_ROUTES = ("authenticate", "user/session", "organization/")


class PSError(Exception):
    """An API error rendered as PhotoShelter's v3 error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Session:
    user_id: str
    org_id: str | None = None
    last_used: float = field(default_factory=time.monotonic)


def ok(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": "ok", "data": data})


def select_fields(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Apply the ``fields`` parameter (comma list or ``*``) to one record."""
    if not fields or fields.strip() == "*":
        return dict(record)
    wanted = {f.strip() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in record.items() if k in wanted}


def parse_extend(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PSError(400, "InvalidParameter", f"extend is not valid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise PSError(400, "InvalidParameter", "extend must be a JSON object")
    return value


TIME_FIELDS = ("updated_at", "uploaded_at", "created_at", "modified_at", "license_etime")
STRICT_TIMEZONE = "America/New_York"
STRICT_RENDER_SIZE = 500  # what ``ImageLink`` links render when no image_size is asked


def create_app(data_dir: str, *, api_key: str = DEFAULT_API_KEY, email: str = DEFAULT_EMAIL,
               password: str = DEFAULT_PASSWORD, session_ttl: float = 7200.0, strict: bool = False,
               control: Control | None = None) -> FastAPI:
    """Build the emulator for the account stored in ``data_dir``.

    ``strict`` takes the pessimistic reading wherever PhotoShelter's public documentation is
    silent (see ``docs/emulators.md``): ``ImageLink`` links serve a 500 px rendering, not the
    original; there is no metadata-write route; times are the account's local time with no
    zone marker (the session's ``tz`` names the zone); ``CustomMetadata`` and ``License`` land
    inside ``Image`` in an ``extend``ed listing.
    """
    store = DocStore(data_dir)
    account_tz = ZoneInfo(STRICT_TIMEZONE) if strict else UTC
    account = ensure_account(store)
    control = control or Control()
    sessions: dict[str, Session] = {}
    app = FastAPI(title="PhotoShelter v3 emulator", docs_url=None, redoc_url=None)
    app.state.store, app.state.control, app.state.sessions = store, control, sessions
    app.add_middleware(ControlMiddleware, fastapi_app=app, control=control)
    app.include_router(control_router(control))

    @app.exception_handler(PSError)
    async def ps_error(_: Request, exc: PSError) -> JSONResponse:
        return JSONResponse({"status": "error", "error": {"code": exc.code, "message": exc.message}},
                            status_code=exc.status)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_emulator/sessions/expire")
    def expire_sessions() -> dict[str, int]:
        n = len(sessions)
        sessions.clear()
        return {"expired": n}

    @app.post("/_emulator/images/{image_id}/license")
    def set_license(image_id: str, values: dict[str, str]) -> dict[str, Any]:
        """A rights manager edits a licence in PhotoShelter's UI (no public write API exists)."""
        image = store.get("image", image_id)
        if image is None:
            return JSONResponse({"error": f"no image {image_id}"}, status_code=404)
        image["License"] = {**image.get("License", {}), **values}
        image["updated_at"] = ps_time()
        store.put("image", image_id, image)
        return {"License": image["License"]}

    @app.post("/_emulator/images/{image_id}/original")
    async def replace_original(image_id: str, request: Request) -> Response:
        """A photographer replaces a master's file in PhotoShelter's UI (body: the new file)."""
        image = store.get("image", image_id)
        if image is None:
            return JSONResponse({"error": f"no image {image_id}"}, status_code=404)
        target = store.blob_path(f"originals/{image_id}")
        target.write_bytes(await request.body())
        info = inspect_image(target)
        image.update(width=str(info["width"]), height=str(info["height"]), file_size=str(target.stat().st_size),
                     content_type=info["content_type"], updated_at=ps_time())
        store.put("image", image_id, image)
        for cached in (store.blob_dir / "renders").glob(f"{image_id}_*"):
            cached.unlink()
        return JSONResponse({"Image": public_image(image)})

    # ----------------------------------------------------------------- auth helpers
    def check_api_key(request: Request, params: dict[str, Any]) -> None:
        given = request.headers.get("x-ps-api-key") or params.get("api_key")
        if given != api_key:
            raise PSError(401, "ApiKeyInvalid", "Invalid API key")

    def session_for(request: Request, params: dict[str, Any], *, need_org: bool) -> Session:
        bearer = request.headers.get("authorization", "")
        token = (request.headers.get("x-ps-auth-token") or params.get("auth_token")
                 or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
                 or request.cookies.get("PSSession"))
        session = sessions.get(token or "")
        if session is None or time.monotonic() - session.last_used > session_ttl:
            sessions.pop(token or "", None)
            raise PSError(401, "SessionRequired",
                          "You must be logged into PhotoShelter to perform this action")
        session.last_used = time.monotonic()
        if need_org and session.org_id is None:
            raise PSError(403, "OrganizationAuthRequired",
                          "Authenticate to your organization with "
                          "/psapi/v3/mem/organization/{org_id}/authenticate first")
        return session

    async def member(request: Request, *, need_org: bool = True) -> dict[str, Any]:
        params, _ = await read_params(request)
        check_api_key(request, params)
        session_for(request, params, need_org=need_org)
        return params

    def gallery_or_404(gallery_id: str) -> dict[str, Any]:
        gallery = store.get("gallery", gallery_id)
        if gallery is None:
            raise PSError(404, "NotFound", f"Gallery {gallery_id} not found")
        return gallery

    def image_or_404(image_id: str) -> dict[str, Any]:
        image = store.get("image", image_id)
        if image is None:
            raise PSError(404, "NotFound", f"Image {image_id} not found")
        return image

    def sign_link(image_id: str, spec: str, expires: int) -> str:
        msg = f"{image_id}/{spec}/{expires}".encode()
        return hmac.new(account["link_secret"].encode(), msg, hashlib.sha256).hexdigest()[:32]

    def image_link(request: Request, image_id: str, params: dict[str, Any]) -> dict[str, str]:
        """``link`` and ``auth_link``: signed, session-less links. Strict: both are renderings
        (``image_size``, default 500x500 fit), as PhotoShelter documents ``ImageLink``;
        permissive: ``auth_link`` serves the original."""
        base = str(request.base_url).rstrip("/")
        size = params.get("image_size") or (f"{STRICT_RENDER_SIZE}x{STRICT_RENDER_SIZE}" if strict else "1000x1000")
        expires = int(time.time()) + 24 * 3600
        fit = f"fit={size}"
        auth_spec = fit if strict else "original"
        return {
            "link": f"{base}/img-get2/{image_id}/{fit}?exp={expires}&sig={sign_link(image_id, fit, expires)}",
            "auth_link": (f"{base}/img-get2/{image_id}/{auth_spec}?exp={expires}"
                          f"&sig={sign_link(image_id, auth_spec, expires)}"),
            "base": f"{base}/img-get2/{image_id}",
        }

    def local_times(record: dict[str, Any]) -> dict[str, Any]:
        """Strict: stored GMT times rendered in the account's zone, with no zone marker."""
        if not strict:
            return record
        out = dict(record)
        for key in TIME_FIELDS:
            value = out.get(key)
            if isinstance(value, str):
                try:
                    moment = parse_ps_time(value)
                except ValueError:
                    continue  # garbled text stays as it is
                out[key] = moment.astimezone(account_tz).strftime("%Y-%m-%d %H:%M:%S")
        return out

    def public_image(image: dict[str, Any]) -> dict[str, Any]:
        return local_times({k: v for k, v in image.items()
                            if k not in ("Iptc", "CustomMetadata", "License", "galleries", "content_type")})

    def gallery_image(request: Request, image: dict[str, Any], extend: dict[str, Any],
                      gallery_id: str, fields: str | None) -> dict[str, Any]:
        """A ``GalleryImage`` record with the asked extensions nested as §8.2 shows."""
        out = select_fields({"image_id": image["image_id"], "f_visible": "t", "gallery_id": gallery_id},
                            fields)
        if "Image" in extend:
            out["Image"] = select_fields(public_image(image), (extend["Image"] or {}).get("fields"))
            if "Iptc" in extend:
                out["Image"]["Iptc"] = select_fields(image["Iptc"], (extend["Iptc"] or {}).get("fields"))
        elif "Iptc" in extend:
            out["Iptc"] = select_fields(image["Iptc"], (extend["Iptc"] or {}).get("fields"))
        if "ImageLink" in extend:
            link_params = (extend["ImageLink"] or {}).get("params") or {}
            out["ImageLink"] = select_fields(image_link(request, image["image_id"], link_params),
                                             (extend["ImageLink"] or {}).get("fields"))
        # Where these two land is undocumented: top level (permissive) or inside Image (strict).
        holder = out["Image"] if strict and "Image" in out else out
        if "CustomMetadata" in extend:
            holder["CustomMetadata"] = image["CustomMetadata"]
        if "License" in extend:
            holder["License"] = local_times(image["License"])
        return out

    # ----------------------------------------------------------------- auth routes
    @app.api_route("/psapi/v3/mem/authenticate", methods=["GET", "POST"])
    async def authenticate(request: Request) -> Response:
        params, _ = await read_params(request)
        check_api_key(request, params)
        if params.get("email") != email or params.get("password") != password:
            raise PSError(401, "InvalidCredentials", "The email or password is incorrect")
        token = secrets.token_urlsafe(24)
        sessions[token] = Session(user_id=account["user_id"])
        data: dict[str, Any] = {
            "org": [{"id": account["org_id"], "name": account["org_name"], "member": "t"}],
            "two_factor": "f",
        }
        if params.get("mode") == "token":
            return ok({"token": token, **data})
        response = ok(data)
        response.set_cookie("PSSession", token, httponly=True)
        return response

    @app.api_route("/psapi/v3/mem/organization/{org_id}/authenticate", methods=["GET", "POST"])
    async def org_authenticate(org_id: str, request: Request) -> Response:
        params, _ = await read_params(request)
        check_api_key(request, params)
        session = session_for(request, params, need_org=False)
        if org_id != account["org_id"]:
            raise PSError(403, "NotOrganizationMember", f"You are not a member of organization {org_id}")
        session.org_id = org_id
        return ok({})

    @app.api_route("/psapi/v3/mem/authenticate/logout", methods=["GET", "POST"])
    async def logout(request: Request) -> Response:
        params, _ = await read_params(request)
        check_api_key(request, params)
        token = request.headers.get("x-ps-auth-token") or params.get("auth_token") or ""
        sessions.pop(token, None)
        return ok({})

    @app.get("/psapi/v3/mem/user/session")
    async def user_session(request: Request) -> Response:
        params, _ = await read_params(request)
        check_api_key(request, params)
        session = session_for(request, params, need_org=False)
        return ok({"Session": {"user_id": session.user_id, "email": email, "tz": STRICT_TIMEZONE if strict else "GMT",
                               "org_id": session.org_id or ""}})

    # ----------------------------------------------------------------- hierarchy
    def children_of(parent: str) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {"Collection": [], "Gallery": []}
        for kind, key in (("collection", "Collection"), ("gallery", "Gallery")):
            out[key] = [public_container(r) for _, r in store.iter(kind) if r["parent"] == parent]
        return out

    def public_container(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "parent"}

    @app.get("/psapi/v3/mem/collection/{collection_id}/children")
    async def collection_children(collection_id: str, request: Request) -> Response:
        await member(request)
        if collection_id != "root" and store.get("collection", collection_id) is None:
            raise PSError(404, "NotFound", f"Collection {collection_id} not found")
        return ok({"Children": children_of(collection_id)})

    @app.get("/psapi/v3/mem/collection/{collection_id}")
    async def get_collection(collection_id: str, request: Request) -> Response:
        params = await member(request)
        record = store.get("collection", collection_id)
        if record is None:
            raise PSError(404, "NotFound", f"Collection {collection_id} not found")
        out = select_fields(public_container(record), params.get("fields"))
        if "Children" in parse_extend(params.get("extend")):
            out["Children"] = children_of(collection_id)
        return ok({"Collection": out})

    @app.api_route("/psapi/v3/mem/collection/insert", methods=["GET", "POST"])
    async def insert_collection(request: Request) -> Response:
        params = await member(request)
        record = add_container(store, "collection", container_from(params, "collection"))
        return ok({"Collection": public_container(record)})

    def container_from(params: dict[str, Any], kind: str) -> dict[str, Any]:
        name = (params.get("name") or "").strip()
        if not name:
            raise PSError(400, "InvalidParameter", "name is required")
        parent = params.get("parent") or "root"
        if parent != "root" and store.get("collection", parent) is None:
            raise PSError(404, "NotFound", f"Parent collection {parent} not found")
        mode = params.get("mode") or "private"
        if mode not in ("everyone", "public", "permission", "private"):
            raise PSError(400, "InvalidParameter", f"mode must be everyone|public|permission|private, not {mode!r}")
        return make_container(kind, name, parent, mode=mode, f_list=params.get("f_list") or "t",
                              description=params.get("description") or "")

    @app.get("/psapi/v3/mem/gallery/query")
    async def gallery_query(request: Request) -> Response:
        params = await member(request)
        parent = params.get("parent")
        name = params.get("name")
        found = [public_container(r) for _, r in store.iter("gallery")
                 if (not parent or r["parent"] == parent) and (not name or r["name"] == name)]
        return ok({"Gallery": found})

    @app.api_route("/psapi/v3/mem/gallery/insert", methods=["GET", "POST"])
    async def insert_gallery(request: Request) -> Response:
        params = await member(request)
        return ok({"Gallery": public_container(add_container(store, "gallery", container_from(params, "gallery")))})

    @app.get("/psapi/v3/mem/gallery/{gallery_id}")
    async def get_gallery(gallery_id: str, request: Request) -> Response:
        params = await member(request)
        record = gallery_or_404(gallery_id)
        out = select_fields(public_container(record), params.get("fields"))
        if "Visibility" in parse_extend(params.get("extend")):
            out["Visibility"] = {"mode": record["mode"]}
        return ok({"Gallery": out})

    @app.get("/psapi/v3/mem/gallery/{gallery_id}/images")
    async def gallery_images(gallery_id: str, request: Request) -> Response:
        params = await member(request)
        gallery_or_404(gallery_id)
        try:
            page = int(params.get("page") or 1)
            per_page = int(params.get("per_page") or DEFAULT_PER_PAGE)
        except ValueError as exc:
            raise PSError(400, "InvalidParameter", "page and per_page must be integers") from exc
        if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
            raise PSError(400, "InvalidParameter", f"page must be >= 1 and per_page 1..{MAX_PER_PAGE}")
        extend = parse_extend(params.get("extend"))
        members = [doc_id.split("/", 1)[1] for doc_id, _ in store.iter("gallery_image", f"{gallery_id}/")]
        total = len(members)
        pages = max(1, math.ceil(total / per_page))
        chunk = members[(page - 1) * per_page: page * per_page]
        records = []
        for image_id in chunk:
            image = store.get("image", image_id)
            if image is not None:
                records.append(gallery_image(request, image, extend, gallery_id, params.get("fields")))
        paging: dict[str, Any] = {"total": total, "page": page, "per_page": per_page, "pages": pages}
        if page < pages:
            paging["next"] = page + 1
        return ok({"GalleryImage": records, "Paging": paging})

    # ----------------------------------------------------------------- images
    @app.get("/psapi/v3/mem/image/{image_id}")
    async def get_image(image_id: str, request: Request) -> Response:
        params = await member(request)
        image = image_or_404(image_id)
        out = select_fields(public_image(image), params.get("fields"))
        extend = parse_extend(params.get("extend"))
        for name in ("Iptc", "CustomMetadata", "License"):
            if name in extend:
                out[name] = local_times(image[name])
        if "ImageLink" in extend:
            out["ImageLink"] = image_link(request, image_id, (extend["ImageLink"] or {}).get("params") or {})
        return ok({"Image": out})

    def sub_record(key: str):
        async def endpoint(image_id: str, request: Request) -> Response:
            await member(request)
            return ok({key: local_times(image_or_404(image_id)[key])})
        return endpoint

    # /iptc, /custom and /license: one record of an image each (§6.4)
    for part, key in (("iptc", "Iptc"), ("custom", "CustomMetadata"), ("license", "License")):
        app.add_api_route(f"/psapi/v3/mem/image/{{image_id}}/{part}", sub_record(key), methods=["GET"])

    @app.get("/psapi/v3/mem/image/{image_id}/link")
    async def get_link(image_id: str, request: Request) -> Response:
        params = await member(request)
        image_or_404(image_id)
        return ok({"ImageLink": image_link(request, image_id, params)})

    def original_response(image: dict[str, Any]) -> Response:
        path = store.blob_dir / "originals" / image["image_id"]
        if not path.exists():
            raise PSError(404, "FileNotFound", f"The original of {image['image_id']} is not available")
        disposition = f"attachment; filename*=UTF-8''{quote(image['file_name'])}"
        return FileResponse(path, media_type=image.get("content_type") or "application/octet-stream",
                            headers={"Content-Disposition": disposition})

    @app.get("/psapi/v3/mem/image/{image_id}/download")
    async def download(image_id: str, request: Request) -> Response:
        await member(request)
        return original_response(image_or_404(image_id))

    @app.get("/img-get2/{image_id}/{spec}")
    async def signed_link(image_id: str, spec: str, exp: int = 0, sig: str = "") -> Response:
        """Session-less signed links (``ImageLink.link`` / ``auth_link``) [INFERRED shape]."""
        if exp < time.time() or not hmac.compare_digest(sig, sign_link(image_id, spec, exp)):
            raise PSError(403, "LinkExpired", "The link is expired or its signature is invalid")
        image = image_or_404(image_id)
        if not strict:  # permissive: every link serves the original
            return original_response(image)
        return render_response(image, spec)

    def render_response(image: dict[str, Any], spec: str) -> Response:
        """A JPEG rendering that fits ``fit=WxH`` (what ``ImageLink`` serves), cached per size."""
        try:
            width, height = (int(x) for x in spec.removeprefix("fit=").split("x"))
        except ValueError as exc:
            raise PSError(400, "InvalidParameter", f"image_size must be WxH, not {spec!r}") from exc
        original = store.blob_dir / "originals" / image["image_id"]
        cached = store.blob_dir / "renders" / f"{image['image_id']}_{width}x{height}.jpg"
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            render_preview(Path(original), cached, (width, height))
        return FileResponse(cached, media_type="image/jpeg")

    @app.post("/psapi/v3/mem/image/upload")
    async def upload(request: Request) -> Response:
        params, files = await read_params(request)
        check_api_key(request, params)
        session_for(request, params, need_org=True)
        gallery_id = params.get("gallery_id")
        if not gallery_id:
            raise PSError(400, "InvalidParameter", "gallery_id is required (parent_id uploads are not emulated)")
        gallery_or_404(gallery_id)
        uploads = [f for name, f in files if name in ("file", "file[]")]
        if not uploads:
            raise PSError(400, "InvalidParameter", "file is required (multipart field 'file')")
        stored = []
        for upload_file in uploads:
            try:
                stored.append(store_image(store, gallery_id, upload_file.filename or "upload", upload_file.file))
            except NotAnImageError as exc:
                raise PSError(400, "InvalidFile", f"{upload_file.filename}: {exc}") from exc
        gallery = gallery_or_404(gallery_id)
        gallery["modified_at"] = ps_time()
        store.put("gallery", gallery_id, gallery)
        shaped = [{"image_id": r["image_id"], "file_name": r["file_name"], "gallery_id": gallery_id,
                   "file_size": r["file_size"]} for r in stored]
        return ok({"Image": shaped[0] if len(shaped) == 1 else shaped})

    @app.api_route("/psapi/v3/mem/image/query", methods=["GET", "POST"])
    async def image_query(request: Request) -> Response:
        params = await member(request)
        gallery_id, file_name = params.get("gallery_id"), params.get("file_name")
        total = 0
        for doc_id, _ in store.iter("gallery_image", f"{gallery_id}/" if gallery_id else ""):
            image = store.get("image", doc_id.split("/", 1)[1])
            if image and (not file_name or image["file_name"] == file_name):
                total += 1
        return ok({"total": total})

    # ------------------------------------------- metadata writes: EMULATOR-ONLY CONTRACT
    # PhotoShelter documents no public v3 route for metadata writes. These two routes are
    # the emulator's stand-in; PhotoShelterHook.update_metadata() is the one client method that
    # calls them, so pointing at the real API is a change in exactly two places.
    if strict:  # no such route on the real API, as far as anything public says
        return app

    @app.post("/psapi/v3/mem/image/{image_id}/iptc/update")
    async def update_iptc(image_id: str, request: Request) -> Response:
        params = await member(request)
        image = image_or_404(image_id)
        image["Iptc"].update({k: str(v) for k, v in params.items() if k not in ("api_key", "auth_token")})
        image["updated_at"] = ps_time()
        store.put("image", image_id, image)
        return ok({"Iptc": image["Iptc"]})

    @app.post("/psapi/v3/mem/image/{image_id}/custom_metadata/update")
    async def update_custom(image_id: str, request: Request) -> Response:
        params = await member(request)
        image = image_or_404(image_id)
        fields = {e["name"]: e for e in image["CustomMetadata"]}
        for key, value in params.items():
            if key in ("api_key", "auth_token"):
                continue
            field_id = "F" + hashlib.sha1(key.encode()).hexdigest()[:10]
            entry = fields.setdefault(key, {"field_id": field_id, "name": key})
            entry["value"] = str(value)
        image["CustomMetadata"] = list(fields.values())
        image["updated_at"] = ps_time()
        store.put("image", image_id, image)
        return ok({"CustomMetadata": image["CustomMetadata"]})

    return app
