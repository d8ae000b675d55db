"""Cloudinary emulator (FastAPI): Upload API, Admin API and delivery, wire-compatible with the SDK.

Point the real ``cloudinary`` SDK at it with ``upload_prefix="http://127.0.0.1:PORT"`` and
build delivery URLs with ``cname="127.0.0.1:PORT", secure=False``. Behaviour follows
Cloudinary's public documentation (``docs/api-notes.md``); inferences are listed in
``docs/emulators.md``.

Routes live in one router per API, named after it: ``upload.py`` (Upload API), ``admin.py``
(Admin API), ``delivery.py`` (delivery URLs); ``state.py`` holds the product environment they
share. This module assembles them with the emulator's controls.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from emulators.cloudinary import admin, delivery, events, notifications, upload
from emulators.cloudinary.access_log import AccessLog
from emulators.cloudinary.params import InvalidParameter
from emulators.cloudinary.state import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_AUTH_TOKEN_KEY,
    DEFAULT_CLOUD,
    CloudinaryEmulator,
    CloudinaryError,
)
from emulators.common.control import Control, ControlMiddleware, control_router

__all__ = ["DEFAULT_API_KEY", "DEFAULT_API_SECRET", "DEFAULT_AUTH_TOKEN_KEY", "DEFAULT_CLOUD", "create_app"]


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
    the first time; ``delete_resources`` does not purge the CDN; chunked uploads need 5 MB parts
    and a plain upload over 100 MB is refused; a derivative an ``eager_async`` job has not made
    yet answers 423.
    """
    emu = CloudinaryEmulator(data_dir, cloud_name=cloud_name, api_key=api_key, api_secret=api_secret,
                             auth_token_key=auth_token_key, admin_hourly_limit=admin_hourly_limit, strict=strict,
                             private_cdn=private_cdn, control=control)
    app = FastAPI(title="Cloudinary emulator", docs_url=None, redoc_url=None)
    app.state.emulator = emu
    app.state.store, app.state.control, app.state.account = emu.store, emu.control, emu.account
    app.add_middleware(ControlMiddleware, fastapi_app=app, control=emu.control)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(control_router(emu.control))
    app.include_router(notifications.router(emu.notifier))

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
        """``{"limit": N}`` calls per window from now; ``"window_seconds"`` shortens the hour (tests
        of waiting for a reset); ``"used"`` starts the window with that many spent."""
        emu.admin_hourly_limit = int(values["limit"])
        emu.admin_window_seconds = int(values.get("window_seconds", 3600))
        emu.admin_window.update(hour=-1, used=int(values.get("used", 0)))
        return {"limit": emu.admin_hourly_limit, "window_seconds": emu.admin_window_seconds}

    @app.post("/_emulator/access-log")
    def set_access_log(values: dict[str, str | None]) -> dict[str, str | None]:
        """``{"folder": DIR, "format": "cloudfront"|"jsonl"|"csv"}``: log every delivery there from
        now (as the CDN in front of the delivery host would); ``{"folder": null}`` stops."""
        folder = values.get("folder")
        emu.access_log = AccessLog(folder, values.get("format") or "cloudfront") if folder else None
        return {"folder": folder, "format": emu.access_log.format if emu.access_log else None}

    @app.get("/_emulator/purges")
    def list_purges() -> dict[str, list[str]]:
        return {"purged": emu.purges}

    app.include_router(upload.router)
    app.include_router(admin.router)
    app.include_router(events.trigger_router())
    app.include_router(unknown_api_routes(app))  # before delivery, whose GET route would take them
    if private_cdn:  # before the shared form, which would read its first segment as a cloud name
        app.include_router(delivery.private_cdn_router)
    app.include_router(delivery.router)
    return app


API_PREFIX = "/v1_1/"


class RequestIdMiddleware:
    """Every Upload and Admin API answer carries ``X-Request-Id``, as Cloudinary's do (the SDK
    puts it in a result's ``request_id``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return

        async def with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", secrets.token_hex(8).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_id)


def unknown_api_routes(app: FastAPI) -> APIRouter:
    """API paths the emulator does not serve answer Cloudinary's JSON error, so the SDK raises:
    405 where the path exists with another method, 404 otherwise. (FastAPI's own 404/405 carry
    ``{"detail": ...}``, which the SDK, finding no ``error`` key, returns as a result; a GET would
    otherwise fall into the delivery route's empty 404.)"""
    router = APIRouter()

    @router.api_route(API_PREFIX + "{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                      include_in_schema=False)
    async def unknown(rest: str, request: Request) -> JSONResponse:
        path = request.url.path
        methods = sorted({m for route in app.router.routes if isinstance(route, APIRoute)
                          and not route.path.endswith(("{rest:path}", "{rest:anypath}"))
                          and route.path_regex.match(path)
                          for m in route.methods})
        if methods:
            return JSONResponse({"error": {"message": f"{request.method} is not allowed on {path} (only "
                                                      f"{', '.join(methods)})"}},
                                status_code=405, headers={"Allow": ", ".join(methods)})
        return JSONResponse({"error": {"message": f"Resource not found - {path}"}}, status_code=404)

    return router
