"""PhotoShelterHook: all I/O to the PhotoShelter API on httpx: v3 (``/psapi/v3/mem/...``), or with the
connection's ``"api_version": 4`` v4 (``/psapi/v4.0``) for logins, listings, custom metadata and
originals, v3 still for the time zone, licences, uploads and galleries (``docs/api-notes.md``; v4's
answers are read by ``hooks/photoshelter_v4.py``).

Connection (type *PhotoShelter* in the UI's form, registered by this distribution's provider
entry point; a ``http`` connection with the same fields works too)::

    AIRFLOW_CONN_PHOTOSHELTER_DEFAULT='{"conn_type": "photoshelter", "host": "https://www.photoshelter.com",
        "login": "<email>", "password": "<password>",
        "extra": {"api_key": "<API key>", "org_id": "<optional O0000... id>", "timeout": 30}}'

``"video_download_path"`` (e.g. ``"mem/video/{media_id}/download"``, the default) names the route a
video's original comes from, should the account's differ.

Facts used (``docs/api-notes.md``, PhotoShelter): API key in ``X-PS-Api-Key``; token login with
``mode=token`` then ``X-PS-Auth-Token``; organisation login; the ``ok`` envelope and
``{"status":"error","error":{...}}`` errors; ``page``/``per_page``/``Paging.next``; ``extend``;
streamed download; multipart upload. The connection is read on first use, the HTTP client
made then too; :meth:`close` logs out without ever hiding the error that ended the work.
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from campaign_media import settings
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks import photoshelter_v4
from campaign_media.hooks.retry import (
    ErrorKinds,
    RetryBudgetExceeded,
    RetryPolicy,
    TooLarge,
    TransientError,
    credentials_only_to,
    download_limit,
    http_client,
    retry_after_seconds,
    send_once,
    stream_to_file,
)

API_PATH = "/psapi/v3"
V4_PATH = "/psapi/v4.0"
API_VERSIONS = (3, 4)
CREDENTIAL_HEADERS = ("X-PS-Api-Key", "X-PS-Auth-Token")
RETRYABLE_STATUS = frozenset({420, 429, 500, 502, 503, 504})
# What a campaign pipeline needs about each master, in one listing call per page.
MASTER_EXTEND: dict[str, Any] = {
    "Image": {"fields": "image_id,file_name,file_size,width,height,updated_at,uploaded_at", "params": {}},
    "Iptc": {"fields": "*", "params": {}},
    "CustomMetadata": {"fields": "*", "params": {}},
    "License": {"fields": "license_etime", "params": {}},
}
# With videos: the gallery's ``media`` listing (``GalleryMedia``), ``Video`` as the captured call asks it.
MEDIA_EXTEND: dict[str, Any] = {
    **MASTER_EXTEND,
    "Video": {"fields": "video_id,file_name,file_size,width,height,duration,updated_at,uploaded_at", "params": {}},
}
# What the change watcher compares (file and custom metadata), nothing more: a poll stays small.
WATCH_EXTEND: dict[str, Any] = {
    "Image": {"fields": "image_id,file_name,file_size,width,height,updated_at", "params": {}},
    "CustomMetadata": {"fields": "*", "params": {}},
}
WATCH_MEDIA_EXTEND: dict[str, Any] = {
    **WATCH_EXTEND, "Video": {"fields": "video_id,file_name,file_size,width,height,updated_at", "params": {}}}
# No documented maximum page size; 750-1,500 appear in working v3 clients and v4 documents 1,000.
LARGEST_PAGE = 1000
# [INFERRED] twin of the documented image download (no public source names a v3 video route);
# the connection's ``video_download_path`` extra replaces it.
VIDEO_DOWNLOAD_PATH = "mem/video/{media_id}/download"
# EMULATOR-ONLY CONTRACT: PhotoShelter documents no public write API. Used only when the
# connection says ``"metadata_write": true``; ``metadata_write_paths`` names the routes.
DEFAULT_METADATA_WRITE_PATHS = {
    "iptc": "mem/image/{image_id}/iptc/update",
    "custom": "mem/image/{image_id}/custom_metadata/update",
}


class PhotoShelterError(CampaignMediaError, RuntimeError):
    """A PhotoShelter call failed; the message names the call, the status and the reason."""

    def __init__(self, call: str, status: int | None, code: str, message: str) -> None:
        super().__init__(f"PhotoShelter {call} failed: {status or '-'} {code}: {message}")
        self.call, self.status, self.code, self.reason = call, status, code, message


class PhotoShelterAuthError(PhotoShelterError):
    """Bad API key, credentials or organisation: fix the connection, retrying will not help."""

    retryable = False


class PhotoShelterNotFound(PhotoShelterError):
    """The gallery, collection or image does not exist (or is not visible to this account)."""


class PhotoShelterRejected(PhotoShelterError):
    """PhotoShelter refused the request's input (400/422): retrying will not help."""

    retryable = False


class PhotoShelterRateLimited(PhotoShelterError, RetryBudgetExceeded):
    """PhotoShelter kept answering 420/429 beyond the retry budget."""


class EmptyOriginalError(PhotoShelterError):
    """The original downloaded as zero bytes: the master is broken in PhotoShelter."""

    retryable = False


ERRORS = ErrorKinds(other=PhotoShelterError, not_found=PhotoShelterNotFound, auth=PhotoShelterAuthError,
                    rejected=PhotoShelterRejected)


@dataclass(frozen=True)
class PhotoShelterAccount:
    """What :attr:`PhotoShelterHook.account` reads from the connection (secrets kept out of repr)."""

    base_url: str
    api_key: str = field(repr=False)
    email: str
    password: str = field(repr=False)
    org_id: str | None
    timeout: float
    write_paths: dict[str, str]
    video_download_path: str
    metadata_writes: bool
    retry: RetryPolicy
    api_version: int = 3  # 4: reads through /psapi/v4.0 (hooks.photoshelter_v4), the rest through v3
    v4_url: str = ""


@dataclass(frozen=True)
class Download:
    """A downloaded original: where it is, its size and SHA-256."""

    path: Path
    size: int
    sha256: str
    content_type: str


class PhotoShelterHook(BaseHook):
    """Talks to PhotoShelter: login, hierarchy, gallery listing, download, upload, metadata."""

    conn_name_attr = "photoshelter_conn_id"
    default_conn_name = "photoshelter_default"
    conn_type = "photoshelter"
    hook_name = "PhotoShelter"

    def __init__(self, photoshelter_conn_id: str = default_conn_name, *, retry: RetryPolicy | None = None,
                 api_version: int | None = None) -> None:
        """:param api_version: 3 or 4 instead of the connection's ``api_version`` (the account check tries both)"""
        super().__init__()
        self.photoshelter_conn_id = photoshelter_conn_id
        self._retry_override = retry
        self._version_override = api_version
        self._timezone: str | None = None
        self._token: str | None = None
        self._token4: str | None = None  # the v4 session (a v4 connection's reads)
        self._session_org: str | None = None  # the organisation the login chose (none configured)
        self._client: httpx.Client | None = None
        self._login_lock = threading.Lock()  # a batch's threads share one session: one login at a time
        self._client_lock = threading.Lock()
        self.calls_made = 0  # HTTP exchanges so far, retries and logins included (what a poll costs)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The Connections form's labels and hidden fields (declared once, in ``provider.py``)."""
        from campaign_media.provider import PHOTOSHELTER, ui_field_behaviour

        return ui_field_behaviour(PHOTOSHELTER)

    @cached_property
    def account(self) -> PhotoShelterAccount:
        """The connection, read once: base URL, credentials (masked in logs), options."""
        conn = self.get_connection(self.photoshelter_conn_id)
        extras = conn.extra_dejson
        host = (conn.host or "").rstrip("/")
        if not host:
            raise PhotoShelterAuthError("read connection", None, "NoHost", f"connection {self.photoshelter_conn_id!r} "
                                        "has no host: set it to https://www.photoshelter.com or the emulator's "
                                        "http://127.0.0.1:PORT")
        if "://" not in host:
            host = f"{conn.schema or 'https'}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
        api_key, email, password = extras.get("api_key") or "", conn.login or "", conn.password or ""
        if not (api_key and email and password):
            raise PhotoShelterAuthError("read connection", None, "Incomplete", f"connection "
                                        f"{self.photoshelter_conn_id!r} needs login (email), password and the API key")
        for secret in (password, api_key):
            mask_secret(secret)
        version = str(self._version_override or extras.get("api_version", 3)).strip().lower().removeprefix("v")
        version = version.split(".")[0]
        if version not in {str(v) for v in API_VERSIONS}:
            raise PhotoShelterAuthError("read connection", None, "BadApiVersion", f"connection "
                                        f"{self.photoshelter_conn_id!r}: api_version must be 3 or 4, not "
                                        f"{extras.get('api_version')!r} (check-account says which the account answers)")
        return PhotoShelterAccount(
            api_version=int(version), v4_url=host + V4_PATH,
            base_url=host + extras.get("api_path", API_PATH), api_key=api_key, email=email, password=password,
            org_id=extras.get("org_id") or None, timeout=float(extras.get("timeout") or 30),
            write_paths={**DEFAULT_METADATA_WRITE_PATHS, **extras.get("metadata_write_paths", {})},
            video_download_path=extras.get("video_download_path") or VIDEO_DOWNLOAD_PATH,
            # Off unless the account is known to have such routes: write-backs carry their link to
            # the master embedded in the file (IPTC/XMP), which PhotoShelter reads on upload.
            metadata_writes=str(extras.get("metadata_write", "")).lower() in ("1", "true", "yes"),
            retry=self._retry_override or RetryPolicy.from_extras(extras))

    def get_conn(self) -> httpx.Client:
        """The HTTP client (API key header set), made on first use and again after :meth:`close`."""
        with self._client_lock:  # a batch's threads start at once: one client for all of them
            if self._client is None:
                account = self.account
                # Credentials go to the configured origin only: a download redirected elsewhere
                # (signed storage URLs need none) is followed without any X-PS-* header.
                self._client = http_client(base_url=account.base_url, timeout=account.timeout,
                                           follow_redirects=True, headers={"X-PS-Api-Key": account.api_key},
                                           event_hooks={"request": [credentials_only_to(account.base_url,
                                                                                        CREDENTIAL_HEADERS)]})
            return self._client

    @property
    def base_url(self) -> str:
        return self.account.base_url

    @property
    def retry(self) -> RetryPolicy:
        return self.account.retry

    @property
    def org_id(self) -> str | None:
        """The organisation of the session: the connection's, or the one the login chose."""
        return self._session_org or self.account.org_id

    def test_connection(self) -> tuple[bool, str]:
        """The UI's *Test* button: log in (token, then organisation) and read the session."""
        try:
            with self:
                self.login()
                tz = self.session_timezone()
                return True, (f"logged in to PhotoShelter as {self.account.email} (organisation "
                              f"{self.org_id or 'none'}, time zone {tz})")
        except (PhotoShelterError, RetryBudgetExceeded) as exc:
            return False, str(exc)

    # ------------------------------------------------------------------ session
    @property
    def api_version(self) -> int:
        return self.account.api_version

    def login(self) -> None:
        """Token login, then organisation login (the configured org, or the user's first), on the
        connection's API version (a v4 connection's v3 session, for what v4 lacks, opens when needed)."""
        if self.api_version == 4:
            self._login_v4()
        else:
            self._login_v3()

    def _login_v3(self) -> None:
        self._token = None
        data = self._call("POST", "mem/authenticate", data={"email": self.account.email, "mode": "token",
                                                           "password": self.account.password}, auth=False)
        token = data.get("token")
        if not token:
            raise PhotoShelterAuthError("POST mem/authenticate", None, "NoToken",
                                        "the login answered without a token (is two-factor required?)")
        mask_secret(token)
        orgs = [o.get("id") for o in data.get("org") or []]
        if self.org_id and self.org_id not in orgs:
            raise PhotoShelterAuthError("POST mem/authenticate", None, "NotOrganizationMember",
                                        f"user is not in organisation {self.org_id}; member of {orgs}")
        org = self.org_id or (orgs[0] if orgs else None)
        if org:
            self._call("POST", f"mem/organization/{org}/authenticate", auth=False, relogin=False, token=token)
            self._session_org = org
        # Published only now: a thread sending with a token whose organisation login has not
        # finished yet is refused (the batch's other threads read it without the lock).
        self._token = token

    def _login_v4(self) -> None:
        """v4's token login (the token and organisations top level), then its organisation login."""
        self._token4 = None
        body = self._json("POST authenticate", self._exchange(
            "POST", self._v4("authenticate"), auth=False, v4=True, data={
                "email": self.account.email, "password": self.account.password, "mode": "token",
                **({"org_id": self.account.org_id} if self.account.org_id else {})}))
        token = body.get("token")
        if not token:
            raise PhotoShelterAuthError("POST v4 authenticate", None, "NoToken",
                                        "the login answered without a token (is two-factor required?)")
        mask_secret(token)
        orgs = [o.get("id") for o in body.get("org") or [] if isinstance(o, dict)]
        if self.account.org_id and self.account.org_id not in orgs:
            raise PhotoShelterAuthError("POST v4 authenticate", None, "NotOrganizationMember",
                                        f"user is not in organisation {self.account.org_id}; member of {orgs}")
        org = self.account.org_id or (orgs[0] if orgs else None)
        if org:
            self._exchange("POST", self._v4("organization/authenticate"), auth=False, v4=True, token=token,
                           data={"org_id": org})
            self._session_org = org
        self._token4 = token

    def logout(self) -> None:
        try:
            if self._token4:
                try:
                    self._exchange("GET", self._v4("authenticate/logout"), relogin=False, v4=True)
                finally:
                    self._token4 = None
        finally:
            if self._token:
                try:
                    self._call("GET", "mem/authenticate/logout", relogin=False)
                finally:
                    self._token = None

    def close(self) -> None:
        """Log out and close the client. A failed logout (a dead service, an expired session) is
        logged, never raised: it must not replace the error that ended the work, and an
        abandoned token expires by itself."""
        try:
            self.logout()
        except (PhotoShelterError, RetryBudgetExceeded) as exc:
            self.log.warning("PhotoShelter logout failed (ignored; the session expires by itself): %s", exc)
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> PhotoShelterHook:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _headers(self, auth: bool, *, v4: bool = False) -> dict[str, str]:
        """The session header of a call to v3 (or ``v4``), logging that version in first if needed."""
        if not auth:
            return {}
        if v4:
            if self._token4 is None:
                self._login_once(None, v4=True)
            return {"X-PS-Auth-Token": self._token4 or ""}
        if self._token is None:
            self._login_once(None)
        return {"X-PS-Auth-Token": self._token or ""}

    def _login_once(self, stale: str | None, *, v4: bool = False) -> None:
        """Log in (to v3, or to v4) unless another thread already replaced the ``stale`` token (or lack of one)."""
        with self._login_lock:
            if v4 and self._token4 == stale:
                self._login_v4()
            elif not v4 and self._token == stale:
                self._login_v3()

    def _v4(self, path: str) -> str:
        """The absolute URL of a v4 route (the client's base URL is v3's)."""
        return f"{self.account.v4_url}/{path}"

    def _call4(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A v4 JSON call; returns the whole body (``data``, ``meta``)."""
        return self._json(f"{method} v4 {path}", self._exchange(method, self._v4(path), v4=True, **kwargs))

    def _send(self, method: str, path: str, *, auth: bool, v4: bool = False,
              sink: Callable[[httpx.Response], None] | None = None, **kwargs: Any) -> httpx.Response:
        """One streamed HTTP exchange; transient failures become TransientError.

        A successful body goes to ``sink`` when given (downloads), otherwise it is read.
        File handles in ``files`` are rewound first, so a retried upload resends them whole.
        """
        for value in (kwargs.get("files") or {}).values():
            value[1].seek(0)
        token = kwargs.pop("token", None)  # a session still being set up (login) names its token
        headers = {"X-PS-Auth-Token": token} if token else self._headers(auth, v4=v4)
        self.calls_made += 1
        try:
            with self.get_conn().stream(method, path, headers=headers, **kwargs) as response:
                if response.status_code in RETRYABLE_STATUS:
                    raise TransientError(f"HTTP {response.status_code}",
                                         retry_after_seconds(response.headers.get("retry-after")),
                                         rate_limited=response.status_code in (420, 429))
                if sink is not None and response.status_code < 400:
                    sink(response)
                else:
                    response.read()
                return response
        except httpx.TransportError as exc:
            raise TransientError(f"connection problem ({exc.__class__.__name__}: {exc})") from exc

    def _exchange(self, method: str, path: str, *, auth: bool = True, relogin: bool = True, retry: bool = True,
                  v4: bool = False, **kwargs: Any) -> httpx.Response:
        """Retry transient failures (unless ``retry`` is off: a write that must happen once
        retries in :meth:`_write_once`), log in again once on an expired session, raise on errors.
        ``v4``: a v4 route (its session, its ``errors`` list; any 401 of a session is taken as
        expired, since v4's public material names no expiry error)."""
        what = f"{method} {path.removeprefix(self.account.v4_url + '/')}" + (" (v4)" if v4 else "")

        def send() -> httpx.Response:
            return self._send(method, path, auth=auth, v4=v4, **kwargs)

        used = self._token4 if v4 else self._token
        response = self._retrying(what, send) if retry else send()
        if auth and relogin and response.status_code == 401 and (v4 or self._session_expired(response)):
            self.log.info("PhotoShelter session expired; logging in again")
            self._login_once(used, v4=v4)
            response = self._retrying(what, send) if retry else send()
        if response.status_code >= 400:
            try:
                body = self._json(what, response)
                error = photoshelter_v4.error_of(body) if v4 else body.get("error") or {}
            except PhotoShelterError:  # an error page that is not JSON still says auth or not found
                error = {"code": f"HTTP{response.status_code}", "message": response.text[:200] or "no body"}
            self._raise(what, response.status_code, error)
        return response

    def _retrying(self, what: str, fn: Callable[[], httpx.Response]) -> httpx.Response:
        try:
            return self.retry.call(what, fn)
        except RetryBudgetExceeded as exc:
            if exc.rate_limited:
                raise exc.carried_by(PhotoShelterRateLimited(what, None, "RateLimited", str(exc))) from exc
            raise

    def _write_once(self, what: str, send: Callable[[], dict[str, Any]],
                    find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        """A write that must happen once (an upload, a new gallery): ``retry.send_once`` in the
        retry loop, so a failure with an unknown outcome looks for the result before re-sending."""
        return self._retrying(what, send_once(what, send, find, self.log))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON call; returns the envelope's ``data``."""
        response = self._exchange(method, path, **kwargs)
        body = self._json(f"{method} {path}", response)
        if body.get("status") != "ok":
            self._raise(f"{method} {path}", response.status_code, body.get("error") or {})
        return body.get("data") or {}

    def _session_expired(self, response: httpx.Response) -> bool:
        try:
            return "session" in str(response.json().get("error", {}).get("code", "")).lower()
        except (json.JSONDecodeError, AttributeError):
            return False

    @staticmethod
    def _json(what: str, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except json.JSONDecodeError as exc:
            raise PhotoShelterError(what, response.status_code, "BadResponse",
                                    f"not JSON: {response.text[:200]!r}") from exc
        return body if isinstance(body, dict) else {"status": "error", "error": {"message": str(body)[:200]}}

    @staticmethod
    def _raise(what: str, status: int, error: dict[str, Any]) -> None:
        code, message = str(error.get("code") or "Error"), str(error.get("message") or "no message")
        raise ERRORS.for_status(status)(what, status, code, message)

    def session_timezone(self) -> str:
        """The user's time zone (``mem/user/session`` → ``tz``): PhotoShelter times without a
        zone of their own are in it. ``GMT`` when the session does not say."""
        if self._timezone is None:
            data = self._call("GET", "mem/user/session")
            session = data.get("Session") or data
            self._timezone = str(session.get("tz") or "GMT")
        return self._timezone

    # ------------------------------------------------------------------ hierarchy
    def get_children(self, collection_id: str = "root") -> dict[str, list[dict[str, Any]]]:
        """The collections and galleries directly inside a collection (``root`` = top level)."""
        if self.api_version == 4:
            route = "library" if collection_id == "root" else f"collections/{collection_id}/children"
            return photoshelter_v4.children(self._call4("GET", route))
        data = self._call("GET", f"mem/collection/{collection_id}/children")
        children = data.get("Children") or {}
        return {"collections": children.get("Collection") or [], "galleries": children.get("Gallery") or []}

    def walk_galleries(self, collection_id: str = "root",
                       path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
        """Every gallery below a collection, depth first, with its collection-name path."""
        children = self.get_children(collection_id)
        for gallery in children["galleries"]:
            yield path, gallery
        for collection in children["collections"]:
            yield from self.walk_galleries(collection["collection_id"], (*path, collection["name"]))

    def get_gallery(self, gallery_id: str) -> dict[str, Any]:
        return self._call("GET", f"mem/gallery/{gallery_id}",
                          params={"extend": json.dumps({"Visibility": {}})})["Gallery"]

    def find_galleries(self, name: str, parent: str | None = None) -> list[dict[str, Any]]:
        params = {"name": name, **({"parent": parent} if parent else {})}
        return [g for g in self._call("GET", "mem/gallery/query", params=params).get("Gallery") or []
                if g.get("name") == name]

    def create_gallery(self, name: str, parent: str | None = None, *, mode: str = "private",
                       listed: bool = True) -> dict[str, Any]:
        """Create a gallery under a collection (``parent``) or at the top level, once.

        :param name: the gallery's name
        :param parent: the collection ID it goes in (top level without)
        :param mode: its visibility (``private``, ``public``…)
        :param listed: whether it is listed in its collection
        """
        data = {"name": name, "mode": mode, "f_list": "t" if listed else "f", **({"parent": parent} if parent else {})}
        return self._write_once(f"create gallery {name!r}",
                                lambda: self._call("POST", "mem/gallery/insert", data=data, retry=False)["Gallery"],
                                lambda: next(iter(self.find_galleries(name, parent)), None))

    def ensure_gallery(self, name: str, parent: str | None = None, *, mode: str = "private") -> dict[str, Any]:
        """The gallery with this name under ``parent``, created once (idempotent)."""
        found = self.find_galleries(name, parent)
        return found[0] if found else self.create_gallery(name, parent, mode=mode)

    def ensure_collection(self, name: str, parent: str | None = None) -> dict[str, Any]:
        """The collection with this name under ``parent`` (top level by default), created once."""
        for collection in self.get_children(parent or "root")["collections"]:
            if collection["name"] == name:
                return collection
        return self.create_collection(name, parent)

    def create_collection(self, name: str, parent: str | None = None) -> dict[str, Any]:
        data = {"name": name, "f_list": "t", **({"parent": parent} if parent else {})}
        return self._write_once(
            f"create collection {name!r}",
            lambda: self._call("POST", "mem/collection/insert", data=data, retry=False)["Collection"],
            lambda: next((c for c in self.get_children(parent or "root")["collections"] if c["name"] == name), None))

    # ------------------------------------------------------------------ media
    def iter_gallery_images(self, gallery_id: str, *, per_page: int = 500,
                            extend: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield the gallery's ``GalleryImage`` records page by page (one call per page)."""
        for data in self._pages(gallery_id, "GalleryImage", per_page=per_page, extend=extend, media=False):
            yield from data.get("GalleryImage") or []

    def iter_gallery_media(self, gallery_id: str, *, per_page: int = 500,
                           extend: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every image *and video* of a gallery (the ``media`` listing, one call per page): an
        image as its ``GalleryImage`` record, a video as its ``GalleryVideo`` record (``media_type``
        says which)."""
        for data in self._pages(gallery_id, "GalleryMedia", per_page=per_page, extend=extend, media=True):
            for item in data.get("GalleryMedia") or []:
                if "GalleryVideo" in item:
                    yield {**item["GalleryVideo"], "media_type": "video"}
                elif "GalleryImage" in item:
                    yield {**item["GalleryImage"], "media_type": "image"}

    def _pages(self, gallery_id: str, records: str, *, per_page: int, extend: dict[str, Any] | None,
               media: bool) -> Iterator[dict[str, Any]]:
        """Every page of a gallery listing, one call each: ``Paging.next`` leads on; a page without
        ``Paging`` is the last one when it holds fewer than ``per_page`` ``records``."""
        page = 1
        while True:
            data = self.gallery_page(gallery_id, page=page, per_page=per_page, extend=extend, media=media)
            yield data
            paging = data.get("Paging")
            if paging is not None:
                if "next" not in paging:
                    return
                page = int(paging["next"])
            elif len(data.get(records) or []) < per_page:
                return
            else:
                page += 1

    def gallery_page(self, gallery_id: str, *, page: int = 1, per_page: int = 500,
                     extend: dict[str, Any] | None = None, media: bool = False) -> dict[str, Any]:
        """One page of a gallery listing as PhotoShelter answers it (``GalleryImage``, ``Paging``), or of
        its ``media`` listing (``GalleryMedia``: images and videos).

        :param gallery_id: the gallery
        :param page: the page number, from 1
        :param per_page: records per page (one call each)
        :param extend: the ``extend`` object: which related records and fields each record carries
            (default: what the pipeline needs about a master, :data:`MASTER_EXTEND` / :data:`MEDIA_EXTEND`)
        :param media: the ``media`` listing (images and videos) instead of ``images``
        """
        default = MEDIA_EXTEND if media else MASTER_EXTEND
        extend = default if extend is None else extend
        if self.api_version == 4:
            return self._gallery_page_v4(gallery_id, page=page, per_page=per_page, extend=extend, media=media)
        return self._call("GET", f"mem/gallery/{gallery_id}/{'media' if media else 'images'}", params={
            "page": page, "per_page": per_page, "extend": json.dumps(extend)})

    def _gallery_page_v4(self, gallery_id: str, *, page: int, per_page: int, extend: dict[str, Any],
                         media: bool) -> dict[str, Any]:
        """One page of v4's ``/galleries/{id}/children`` in v3's shape, in at most two calls.

        The media (images and videos alike) come from v4. Licences, where asked, come from v3's
        listing of the same page: v4 documents none. Custom metadata, where asked, comes with the
        children where v4 puts it there; otherwise from that same v3 page. Neither API documents
        its order, so the v3 page may not name every medium of the v4 page: each one it does not
        name costs a call of its own (``media/{id}/custom-metadata``; an image's licence from v3's
        ``mem/image/{id}``). A video's licence has no such route: it reads as unreadable and fails
        closed. A poll of a thousand media whose pages agree is therefore two calls per page, not a
        thousand. IPTC is not read: nothing downstream uses it.
        """
        per_page = min(per_page, LARGEST_PAGE)
        body = self._call4("GET", f"galleries/{gallery_id}/children", params={"page": page, "per_page": per_page})
        items = photoshelter_v4.resources(body)
        if not media:  # v3's images listing: its videos are not asked for, nor their metadata
            items = [i for i in items if not photoshelter_v4.is_video(i)]
        want_custom, want_licence = "CustomMetadata" in extend, "License" in extend
        listed = {i["id"]: photoshelter_v4.listed_custom(i) for i in items} if want_custom else {}
        v3_asks = {k: extend[k] for k in ("License", "CustomMetadata")
                   if k in extend and (k == "License" or None in listed.values())}
        from_v3: dict[str, dict[str, Any]] = {}
        if v3_asks and items:
            listing = "media" if media else "images"  # images: the documented listing; media: as v3 reads videos
            v3_extend = {"Image": {"fields": "image_id", "params": {}}, "Video": {"fields": "video_id", "params": {}},
                         **v3_asks}
            from_v3 = photoshelter_v4.governance(self._call("GET", f"mem/gallery/{gallery_id}/{listing}", params={
                "page": page, "per_page": per_page, "extend": json.dumps(v3_extend)}))
        records = []
        for item in items:
            known = from_v3.get(item["id"], {})
            custom = None
            if want_custom:
                custom = listed.get(item["id"])
                if custom is None:
                    custom = known.get("CustomMetadata")
                if custom is None:
                    custom = photoshelter_v4.custom_metadata(self._call4("GET", f"media/{item['id']}/custom-metadata"))
            licence = None
            if want_licence:
                licence = known.get("License")
                if licence is None and item["id"] not in from_v3 and not photoshelter_v4.is_video(item):
                    licence = self.image_licence(item["id"], extend["License"])
                if licence is None:
                    licence = photoshelter_v4.UNREAD_LICENCE
            records.append(photoshelter_v4.listing_record(item, custom=custom, licence=licence))
        full = len(photoshelter_v4.resources(body)) >= per_page
        return photoshelter_v4.v3_page(records, media=media, next_page=page + 1 if full else None)

    def gallery_file_names(self, gallery_id: str, *, media: bool = False) -> dict[str, str]:
        """``file name -> image_id`` of everything a gallery holds (one listing call per page):
        how write-backs and archive items stay exactly-once (the file name is their key). With
        ``media``, videos too (``file name -> video_id``), from the media listing."""
        if media:
            extend = {"Image": {"fields": "image_id,file_name", "params": {}},
                      "Video": {"fields": "video_id,file_name", "params": {}}}
            return {(r.get("Video") or r.get("Image") or {}).get("file_name", ""): r.get("video_id") or r["image_id"]
                    for r in self.iter_gallery_media(gallery_id, extend=extend)}
        extend = {"Image": {"fields": "image_id,file_name", "params": {}}}
        return {r["Image"]["file_name"]: r["image_id"] for r in self.iter_gallery_images(gallery_id, extend=extend)}

    def image_licence(self, image_id: str, extend: Any = None) -> dict[str, Any] | None:
        """An image's licence record from v3 (``mem/image/{id}`` with ``extend`` License), wherever
        the answer puts it; ``None`` when it holds none."""
        data = self._call("GET", f"mem/image/{image_id}", params={"extend": json.dumps({"License": extend or {}})})
        found = data.get("License")
        return found if found is not None else (data.get("Image") or {}).get("License")

    def get_image(self, image_id: str, extend: dict[str, Any] | None = None) -> dict[str, Any]:
        """An image's record (``Image``); with ``extend``, its related records too (through v3 on a v4
        connection: v4 has no ``extend``)."""
        if self.api_version == 4 and not extend:
            [item] = photoshelter_v4.resources(self._call4("GET", f"media/{image_id}"))
            return photoshelter_v4.listing_record(item, custom=None, licence=None)["Image"]
        params = {"extend": json.dumps(extend)} if extend else {}
        return self._call("GET", f"mem/image/{image_id}", params=params)["Image"]

    def image_link(self, image_id: str) -> dict[str, str]:
        """``link`` and ``auth_link``: signed, session-less *rendering* links (sized by
        ``image_size``), not the original — originals come from :meth:`download_original`."""
        return self._call("GET", f"mem/image/{image_id}/link", params={"f_https_link": "t"})["ImageLink"]

    def count_images(self, gallery_id: str, file_name: str) -> int:
        """How many images named ``file_name`` a gallery holds (for idempotent uploads)."""
        return int(self._call("POST", "mem/image/query",
                              data={"gallery_id": gallery_id, "file_name": file_name}).get("total", 0))

    def download_original(self, image_id: str, dest: str | os.PathLike[str], *, chunk_size: int = 1024 * 1024,
                          media_type: str = "image", listed_size: int | None = None) -> Download:
        """Stream an original (an image's, or a video's with ``media_type="video"``) to ``dest``,
        never whole in memory; verify it is not empty.

        Written to ``dest.part`` and renamed when complete, so a failed download leaves
        nothing that looks finished. A dropped connection restarts the download.

        :param image_id: the master (an image ID, or a video ID with ``media_type="video"``)
        :param dest: the file to write
        :param chunk_size: bytes read per block (memory stays at one block)
        :param media_type: ``image`` or ``video`` (which download route)
        :param listed_size: the size the listing gives: the stream is stopped past it plus a margin (10 %),
            failing that master with both figures; unknown, past ``[campaign_media] max_download_mb``
        """
        if self.api_version == 4:  # one documented route for images and videos
            route, v4, params = self._v4(f"media/{image_id}/download"), True, {"download_filetype": "original"}
        else:
            route, v4, params = (self.account.video_download_path.format(media_id=image_id) if media_type == "video"
                                 else f"mem/image/{image_id}/download"), False, {}
        dest = Path(dest)
        part = dest.with_name(dest.name + ".part")
        stats: dict[str, Any] = {}

        limit = download_limit(listed_size, settings.get("max_download_mb") * 1024 * 1024)

        def sink(response: httpx.Response) -> None:
            try:  # truncated on every attempt
                got = stream_to_file(response.iter_bytes(chunk_size), part, limit)
            except TooLarge as exc:
                raise PhotoShelterRejected(f"GET {route}", response.status_code, "TooLarge",
                                           f"the original of {image_id} passed {exc.limit} bytes "
                                           f"(listed: {listed_size or 'unknown'} bytes) and was stopped") from exc
            stats.update(size=got.size, sha256=got.sha256, content_type=response.headers.get("content-type", ""))

        try:
            self._exchange("GET", route, sink=sink, v4=v4, params=params)
            if stats["size"] == 0:
                raise EmptyOriginalError(f"GET {route}", 200, "EmptyOriginal",
                                         f"the original of {image_id} is zero bytes; fix or replace it in PhotoShelter")
            part.replace(dest)
            return Download(dest, stats["size"], stats["sha256"], stats["content_type"])
        finally:
            part.unlink(missing_ok=True)

    def upload_image(self, gallery_id: str, source: str | os.PathLike[str] | bytes, *, file_name: str | None = None,
                     searchable: bool = True, video: bool = False) -> dict[str, Any]:
        """Upload a file (multipart, streamed from disk) or the bytes of one (``file_name`` then
        required) into a gallery, once: a retry after an unknown outcome first looks for the
        file name in the gallery. Returns its ``Image`` (at least ``image_id``; a video's ID there
        too). ``video``: the file is a video [INFERRED: the same upload route takes one], found
        again through the media listing.

        :param gallery_id: the gallery to upload into
        :param source: a path, or the file's bytes
        :param file_name: the name in PhotoShelter (required with bytes; the write-back key)
        :param searchable: whether PhotoShelter's search finds it
        :param video: the file is a video
        """
        if isinstance(source, bytes) and not file_name:
            raise ValueError("upload_image: bytes need a file_name")
        name = file_name or Path(source).name  # type: ignore[arg-type]
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"

        def opened() -> IO[bytes]:
            return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")

        def send() -> dict[str, Any]:
            with opened() as handle:
                data = self._call("POST", "mem/image/upload", files={"file": (name, handle, mime)}, retry=False,
                                  data={"gallery_id": gallery_id, "f_searchable": "t" if searchable else "f"})
            image = data["Image"]
            return image[0] if isinstance(image, list) else image

        def find() -> dict[str, Any] | None:
            image_id = self.gallery_file_names(gallery_id, media=video).get(name)
            return {"image_id": image_id, "file_name": name} if image_id else None

        return self._write_once(f"upload {name!r}", send, find)

    # ------------------------------------------------------------------ metadata write
    def update_metadata(self, image_id: str, *, iptc: dict[str, str] | None = None,
                        custom: dict[str, str] | None = None) -> None:
        """Write IPTC and custom metadata of one image, where the account has such routes.

        UNVERIFIED CONTRACT — the one swappable place: PhotoShelter publishes no metadata-write
        API. Only called when the connection says ``"metadata_write": true``; the paths come
        from ``metadata_write_paths`` and default to the emulator's routes.
        """
        if not self.account.metadata_writes:
            raise PhotoShelterError(f"update metadata of {image_id}", None, "MetadataWriteDisabled",
                                    'the connection does not enable metadata writes ("metadata_write": true)')
        if iptc:
            self._call("POST", self.account.write_paths["iptc"].format(image_id=image_id), data=iptc)
        if custom:
            self._call("POST", self.account.write_paths["custom"].format(image_id=image_id), data=custom)
