"""PhotoShelter API emulator (FastAPI): the v3 member routes this project uses, and v4's beside them.

Built from PhotoShelter's public v3 documentation (``docs/api-notes.md``). Where the public
record is silent the behaviour is marked [INFERRED] in ``docs/emulators.md``; the metadata-write
routes are an emulator-only contract (no public write API is documented).

Routes live in one router per part of the API, named after it: ``auth.py`` (sessions),
``listing.py`` (collections and galleries), ``media.py`` (images), ``v4.py`` (the v4 routes over the
same account); ``state.py`` holds the account
they share. This module assembles them with the emulator's controls.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from emulators.common.control import Control, ControlMiddleware, control_router
from emulators.photoshelter import auth, listing, media
from emulators.photoshelter import v4 as v4_routes
from emulators.photoshelter.account import inspect_image, ps_time
from emulators.photoshelter.state import (
    DEFAULT_API_KEY,
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    PhotoShelterEmulator,
    PSError,
)

__all__ = ["DEFAULT_API_KEY", "DEFAULT_EMAIL", "DEFAULT_PASSWORD", "create_app"]


def create_app(data_dir: str, *, api_key: str = DEFAULT_API_KEY, email: str = DEFAULT_EMAIL,
               password: str = DEFAULT_PASSWORD, session_ttl: float = 7200.0, strict: bool = False,
               control: Control | None = None, v4: bool = True) -> FastAPI:
    """Build the emulator for the account stored in ``data_dir``.

    ``v4`` serves the v4 routes too (``emulators/photoshelter/v4.py``).

    ``strict`` takes the pessimistic reading wherever PhotoShelter's public documentation is
    silent (see ``docs/emulators.md``): ``ImageLink`` links serve a 500 px rendering, not the
    original; there is no metadata-write route; times are the account's local time with no
    zone marker (the session's ``tz`` names the zone); ``CustomMetadata`` and ``License`` land
    inside ``Image`` in an ``extend``ed listing.
    """
    emu = PhotoShelterEmulator(data_dir, api_key=api_key, email=email, password=password,
                               session_ttl=session_ttl, strict=strict, control=control)
    app = FastAPI(title="PhotoShelter v3 emulator", docs_url=None, redoc_url=None)
    app.state.emulator = emu
    app.state.store, app.state.control, app.state.sessions = emu.store, emu.control, emu.sessions
    app.add_middleware(ControlMiddleware, fastapi_app=app, control=emu.control)
    app.include_router(control_router(emu.control))

    @app.exception_handler(v4_routes.V4Error)
    async def v4_error(_: Request, exc: v4_routes.V4Error) -> JSONResponse:
        return v4_routes.v4_error_response(exc)

    @app.exception_handler(PSError)
    async def ps_error(_: Request, exc: PSError) -> JSONResponse:
        return JSONResponse({"status": "error", "error": {"code": exc.code, "message": exc.message}},
                            status_code=exc.status)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_emulator/sessions/expire")
    def expire_sessions() -> dict[str, int]:
        n = len(emu.sessions)
        emu.sessions.clear()
        return {"expired": n}

    @app.post("/_emulator/v4-order")
    def v4_order(body: dict[str, str]) -> dict[str, str]:
        """The order v4 lists a gallery's children in: ``"id"`` (another order than v3 lists its
        media; strict's default) or ``"seq"`` (v3's, permissive's default). Neither API documents
        its order, so a page of one need not hold the media of the same page of the other."""
        if body.get("order") not in ("seq", "id"):
            return JSONResponse({"error": "order: seq or id"}, status_code=400)
        was, emu.v4_order = emu.v4_order, body["order"]
        return {"order": emu.v4_order, "was": was}

    @app.post("/_emulator/images/{image_id}/license")
    def set_license(image_id: str, values: dict[str, str]) -> dict[str, Any]:
        """A rights manager edits a licence in PhotoShelter's UI (no public write API exists)."""
        image = emu.store.get("image", image_id)
        if image is None:
            return JSONResponse({"error": f"no image {image_id}"}, status_code=404)
        image["License"] = {**image.get("License", {}), **values}
        image["updated_at"] = ps_time()
        emu.store.put("image", image_id, image)
        return {"License": image["License"]}

    @app.post("/_emulator/images/{image_id}/custom-metadata")
    def set_custom(image_id: str, values: dict[str, str]) -> dict[str, Any]:
        """A person edits custom metadata in PhotoShelter's UI — approves a medium, say
        (``{"Approval Status": "Approved"}``): the fields change and ``updated_at`` moves, as
        any edit does. Images and videos alike."""
        image = emu.store.get("image", image_id)
        if image is None:
            return JSONResponse({"error": f"no medium {image_id}"}, status_code=404)
        media.set_custom_fields(image, values)
        emu.store.put("image", image_id, image)
        return {"CustomMetadata": image["CustomMetadata"], "updated_at": image["updated_at"]}

    @app.delete("/_emulator/galleries/{gallery_id}")
    def delete_gallery(gallery_id: str, images: bool = False) -> dict[str, Any]:
        """Someone deletes a gallery in PhotoShelter's UI, with its images (``?images=true``) or
        leaving them in the library; every later call for it answers 404."""
        if not emu.store.delete("gallery", gallery_id):
            return JSONResponse({"error": f"no gallery {gallery_id}"}, status_code=404)
        members = [doc_id for doc_id, _ in emu.store.iter("gallery_image", f"{gallery_id}/")]
        for doc_id in members:
            emu.store.delete("gallery_image", doc_id)
            if images:
                emu.store.delete("image", doc_id.split("/", 1)[1])
        return {"deleted": gallery_id, "images": len(members) if images else 0}

    @app.post("/_emulator/images/{image_id}/original")
    async def replace_original(image_id: str, request: Request) -> Response:
        """A photographer replaces a master's file in PhotoShelter's UI (body: the new file)."""
        image = emu.store.get("image", image_id)
        if image is None:
            return JSONResponse({"error": f"no image {image_id}"}, status_code=404)
        target = emu.store.blob_path(f"originals/{image_id}")
        target.write_bytes(await request.body())
        info = inspect_image(target)
        image.update(width=str(info["width"]), height=str(info["height"]), file_size=str(target.stat().st_size),
                     content_type=info["content_type"], updated_at=ps_time())
        emu.store.put("image", image_id, image)
        for cached in (emu.store.blob_dir / "renders").glob(f"{image_id}_*"):
            cached.unlink()
        return JSONResponse({"Image": emu.public_image(image)})

    app.include_router(auth.router)
    app.include_router(listing.router)
    app.include_router(media.router)
    if v4:  # v4 beside v3, over the same account (off: an account that answers v3 only)
        app.include_router(v4_routes.router)
    if not strict:  # no such routes on the real API, as far as anything public says
        app.include_router(media.metadata_write_router)
    return app
