"""The PhotoShelter emulator's state: one account (its store, sessions, time zone) and the helpers
every router shares. Routers reach it with ``emulator(request)``."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import JSONResponse

from emulators.common.control import Control
from emulators.common.http import read_params
from emulators.common.store import DocStore
from emulators.photoshelter.account import (
    ensure_account,
    parse_ps_time,
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
    api: int = 3  # the API version that logged it in (strict: a token works on its own version only)


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



class PhotoShelterEmulator:
    """One account and the emulator's settings (``create_app``'s arguments)."""

    def __init__(self, data_dir: str, *, api_key: str = DEFAULT_API_KEY, email: str = DEFAULT_EMAIL,
                 password: str = DEFAULT_PASSWORD, session_ttl: float = 7200.0, strict: bool = False,
                 control: Control | None = None) -> None:
        self.api_key, self.email, self.password = api_key, email, password
        self.session_ttl, self.strict = session_ttl, strict
        # The order v4 lists a gallery's children in (/_emulator/v4-order); strict: not v3's
        self.v4_order = "id" if strict else "seq"
        self.store = DocStore(data_dir)
        self.account_tz = ZoneInfo(STRICT_TIMEZONE) if strict else UTC
        self.account = ensure_account(self.store)
        self.control = control or Control()
        self.sessions: dict[str, Session] = {}

    def check_api_key(self, request: Request, params: dict[str, Any]) -> None:
        given = request.headers.get("x-ps-api-key") or params.get("api_key")
        if given != self.api_key:
            raise PSError(401, "ApiKeyInvalid", "Invalid API key")

    def session_for(self, request: Request, params: dict[str, Any], *, need_org: bool, api: int = 3) -> Session:
        bearer = request.headers.get("authorization", "")
        token = (request.headers.get("x-ps-auth-token") or params.get("auth_token")
                 or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
                 or request.cookies.get("PSSession"))
        session = self.sessions.get(token or "")
        if session is not None and self.strict and session.api != api:
            session = None  # [STRICT] a v4 token is no v3 session, nor the other way round
        if session is None or time.monotonic() - session.last_used > self.session_ttl:
            self.sessions.pop(token or "", None)
            raise PSError(401, "SessionRequired",
                          "You must be logged into PhotoShelter to perform this action")
        session.last_used = time.monotonic()
        if need_org and session.org_id is None:
            raise PSError(403, "OrganizationAuthRequired",
                          "Authenticate to your organization with "
                          "/psapi/v3/mem/organization/{org_id}/authenticate first")
        return session

    async def member(self, request: Request, *, need_org: bool = True) -> dict[str, Any]:
        params, _ = await read_params(request)
        self.check_api_key(request, params)
        self.session_for(request, params, need_org=need_org)
        return params

    def gallery_or_404(self, gallery_id: str) -> dict[str, Any]:
        gallery = self.store.get("gallery", gallery_id)
        if gallery is None:
            raise PSError(404, "NotFound", f"Gallery {gallery_id} not found")
        return gallery

    def media_or_404(self, media_id: str, kind: str | None = None) -> dict[str, Any]:
        """A medium's record, or 404: any kind (the emulator-only metadata writes take either), or
        only ``"image"`` / ``"video"`` (image routes do not serve videos, nor video routes images)."""
        record = self.store.get("image", media_id)
        if record is None or (kind is not None and record.get("media_type", "image") != kind):
            raise PSError(404, "NotFound", f"{(kind or 'media').capitalize()} {media_id} not found")
        return record

    def image_or_404(self, image_id: str) -> dict[str, Any]:
        return self.media_or_404(image_id, "image")

    def video_or_404(self, video_id: str) -> dict[str, Any]:
        return self.media_or_404(video_id, "video")

    def sign_link(self, image_id: str, spec: str, expires: int) -> str:
        msg = f"{image_id}/{spec}/{expires}".encode()
        return hmac.new(self.account["link_secret"].encode(), msg, hashlib.sha256).hexdigest()[:32]

    def image_link(self, request: Request, image_id: str, params: dict[str, Any]) -> dict[str, str]:
        """``link`` and ``auth_link``: signed, session-less links. Strict: both are renderings
        (``image_size``, default 500x500 fit), as PhotoShelter documents ``ImageLink``;
        permissive: ``auth_link`` serves the original."""
        base = str(request.base_url).rstrip("/")
        strict_size = f"{STRICT_RENDER_SIZE}x{STRICT_RENDER_SIZE}"
        size = params.get("image_size") or (strict_size if self.strict else "1000x1000")
        expires = int(time.time()) + 24 * 3600
        fit = f"fit={size}"
        auth_spec = fit if self.strict else "original"
        return {
            "link": f"{base}/img-get2/{image_id}/{fit}?exp={expires}&sig={self.sign_link(image_id, fit, expires)}",
            "auth_link": (f"{base}/img-get2/{image_id}/{auth_spec}?exp={expires}"
                          f"&sig={self.sign_link(image_id, auth_spec, expires)}"),
            "base": f"{base}/img-get2/{image_id}",
        }

    def local_times(self, record: dict[str, Any]) -> dict[str, Any]:
        """Strict: stored GMT times rendered in the account's zone, with no zone marker."""
        if not self.strict:
            return record
        out = dict(record)
        for key in TIME_FIELDS:
            value = out.get(key)
            if isinstance(value, str):
                try:
                    moment = parse_ps_time(value)
                except ValueError:
                    continue  # garbled text stays as it is
                out[key] = moment.astimezone(self.account_tz).strftime("%Y-%m-%d %H:%M:%S")
        return out

    def public_image(self, image: dict[str, Any]) -> dict[str, Any]:
        hidden = ("Iptc", "CustomMetadata", "License", "galleries", "content_type", "media_type")
        if image.get("media_type") == "video":
            hidden += ("image_id",)
        return self.local_times({k: v for k, v in image.items() if k not in hidden})

    def gallery_media(self, request: Request, record: dict[str, Any], extend: dict[str, Any],
                      gallery_id: str, fields: str | None) -> dict[str, Any]:
        """One ``GalleryMedia`` item: ``{"GalleryImage": …}`` or ``{"GalleryVideo": …}`` [INFERRED:
        the captured call shows only images; a video's wrapper and its ``Video`` record follow the
        image's shape, with the fields the captured ``extend`` asks of ``Video``]."""
        if record.get("media_type") != "video":
            return {"GalleryImage": self.gallery_image(request, record, extend, gallery_id, fields)}
        out = select_fields({"video_id": record["video_id"], "f_visible": "t", "gallery_id": gallery_id}, fields)
        if "Video" in extend:
            out["Video"] = select_fields(self.public_image(record), (extend["Video"] or {}).get("fields"))
        self._governance(out, record, extend, "Video")
        return {"GalleryVideo": out}

    def _governance(self, out: dict[str, Any], record: dict[str, Any], extend: dict[str, Any], inner: str) -> None:
        """IPTC, custom metadata and licence where a listing puts them: top level (permissive) or inside
        the medium's own record (strict) — undocumented, so the strict emulator takes the harder place."""
        holder = out[inner] if self.strict and inner in out else out
        if "Iptc" in extend:
            out.get(inner, out)["Iptc"] = select_fields(record["Iptc"], (extend["Iptc"] or {}).get("fields"))
        if "CustomMetadata" in extend:
            holder["CustomMetadata"] = record["CustomMetadata"]
        if "License" in extend:
            holder["License"] = self.local_times(record["License"])

    def gallery_image(self, request: Request, image: dict[str, Any], extend: dict[str, Any],
                      gallery_id: str, fields: str | None) -> dict[str, Any]:
        """A ``GalleryImage`` record with the asked extensions nested as §8.2 shows."""
        out = select_fields({"image_id": image["image_id"], "f_visible": "t", "gallery_id": gallery_id},
                            fields)
        if "Image" in extend:
            out["Image"] = select_fields(self.public_image(image), (extend["Image"] or {}).get("fields"))
        if "ImageLink" in extend:
            link_params = (extend["ImageLink"] or {}).get("params") or {}
            out["ImageLink"] = select_fields(self.image_link(request, image["image_id"], link_params),
                                             (extend["ImageLink"] or {}).get("fields"))
        self._governance(out, image, extend, "Image")
        return out


def emulator(request: Request) -> PhotoShelterEmulator:
    """The state of the app serving ``request``."""
    return request.app.state.emulator
