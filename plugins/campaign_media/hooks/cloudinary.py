"""CloudinaryHook: all I/O to Cloudinary, through the official ``cloudinary`` SDK.

Connection (type *Cloudinary* in the UI's form, registered by this distribution's provider
entry point)::

    AIRFLOW_CONN_CLOUDINARY_DEFAULT='{"conn_type": "cloudinary", "host": "<cloud name>",
        "login": "<api key>", "password": "<api secret>",
        "extra": {"timeout": 60}}'

Add ``"auth_token_key": "<hex key>"`` (the account's token-based access key) for expiring
token URLs: the pipeline's own downloads of restricted assets and campaign-specific links.
Add ``"notification_base_url": "https://airflow.example.com"`` (the API server's address as
Cloudinary can reach it) to have video transcodes announced by Cloudinary's notifications
instead of waited for by polling (``docs/event-driven-ingest.md``).

For the emulator add ``"upload_prefix": "http://127.0.0.1:PORT"`` and
``"delivery_host": "127.0.0.1:PORT"`` to the extras (delivery URLs then use ``cname`` with
``secure=False``). Real accounts leave both out: the SDK's defaults, with ``secure=True``.

The connection is read on first use (:meth:`get_conn`), not in ``__init__``. Every call passes
the account's options explicitly (no global ``cloudinary.config()``), so two hooks for two
accounts can live in one process, and the SDK behaves as before for any other code in it.
Facts used (``docs/api-notes.md``, Cloudinary): the SDK's transport and errors, upload parameters,
delivery URLs, rate limits.
"""

from __future__ import annotations

import functools
import hmac
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import cloudinary.api
import cloudinary.api_client.call_api
import cloudinary.exceptions
import cloudinary.uploader
import cloudinary.utils
import httpx
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from campaign_media import settings
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.retry import (
    ErrorKinds,
    Fetched,
    RetryBudgetExceeded,
    RetryPolicy,
    TooLarge,
    TransientError,
    download_limit,
    http_client,
    retry_hint,
    send_once,
    stream_to_file,
)
from campaign_media.hooks.sdk import CloudinaryClient, ResponseHeaders, install_header_recorders

T = TypeVar("T")
# Above this, a file goes up in chunks of this size (memory stays at one chunk). 20 MB is the SDK's
# default chunk; Cloudinary's minimum is 5 MB, and a file over 100 MB must be sent in chunks.
LARGE_FILE_BYTES = 20 * 1024 * 1024
ADDON_EFFECT = "e_background_removal"  # the one add-on transformation the pipeline may ask for
TRANSIENT_SDK_ERRORS = (cloudinary.exceptions.RateLimited, cloudinary.exceptions.GeneralError)
# An upload from a URL fails with 400 "Error in loading <url> - <reason>" when Cloudinary could
# not fetch the source. A 4xx reason (but 420/429) is the source's answer and final; a 5xx, a rate
# limit or a transport failure (a dropped connection, a timeout) is worth another try.
SERVER_ERROR_PAGE = re.compile(r"Error parsing server response \((5\d\d|420|429)\)")
REMOTE_SOURCE_FINAL = re.compile(r"Error in loading .* - 4(?!20|29)\d\d\b")


class CloudinaryError(CampaignMediaError, RuntimeError):
    """A Cloudinary call failed; the message names the call and the service's reason."""


class CloudinaryNotFound(CloudinaryError):
    """The asset (or folder, or field) does not exist."""


class CloudinaryAuthError(CloudinaryError):
    """Wrong cloud name, API key or secret, or a call the key may not make: fix the connection."""

    retryable = False


class CloudinaryRejected(CloudinaryError):
    """Cloudinary refused the input (a bad parameter, transformation or file); retrying will not help."""

    retryable = False


class CloudinaryRateLimited(CloudinaryError, RetryBudgetExceeded):
    """A rate limit (the Admin API's hourly quota, or 420/429) outlasted the retry budget."""


# The status each of the SDK's error classes stands for (the SDK raises them by status).
_SDK_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (cloudinary.exceptions.NotFound, 404),
    (cloudinary.exceptions.AuthorizationRequired, 401),
    (cloudinary.exceptions.NotAllowed, 403),
    (cloudinary.exceptions.BadRequest, 400),
    (cloudinary.exceptions.AlreadyExists, 409),
)
ERRORS = ErrorKinds(other=CloudinaryError, not_found=CloudinaryNotFound, auth=CloudinaryAuthError,
                    rejected=CloudinaryRejected)


_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")
_URL_SIGNATURE = re.compile(r"/s--[A-Za-z0-9_-]{8,32}--/")
# What an ordinary HTTP client accepts unescaped in a URL (RFC 3986 reserved + unreserved + %).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def redact(text: str) -> str:
    """Drop URL query strings and delivery signatures from a message: signed links (token URLs,
    ``s--SIG--`` URLs of authenticated masters) open what they point at and must not reach logs
    or reports."""
    return _URL_SIGNATURE.sub("/s--[redacted]--/", _URL_QUERY.sub(r"\1?[redacted]", text))


def safe_url(url: str) -> str:
    """A URL any standard client accepts: spaces and non-ASCII text (overlay text in eager URLs)
    percent-encoded, existing escapes kept, whatever form the service answered in."""
    return quote(url, safe=_URL_SAFE)


@dataclass(frozen=True)
class CloudinaryAccount:
    """What :meth:`CloudinaryHook.get_conn` reads from the connection (secrets masked in logs)."""

    conn_id: str
    cloud_name: str
    api: dict[str, Any] = field(repr=False)  # Admin and Upload API options (with the secret)
    delivery: dict[str, Any] = field(repr=False)  # delivery URL options
    auth_token_key: str | None = field(repr=False)
    timeout: float
    retry: RetryPolicy
    notification_base_url: str | None = None  # where Cloudinary can reach this project's receiver
    governance: str | None = None  # "structured": governance in structured metadata (a campaign may override)


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=4096)
def transformation_text(chain_json: str) -> str:
    """The URL text of a transformation (a dict, or a list of dicts chained with ``/``) as the
    SDK writes it; keyed by its JSON so a batch's thousands of URLs share one walk per spec."""
    chain = json.loads(chain_json)
    return cloudinary.utils.generate_transformation_string(
        transformation=chain if isinstance(chain, list) else [chain])[0]


class CloudinaryHook(BaseHook):
    """Uploads, transforms, lists, restricts and deletes assets; builds delivery URLs."""

    conn_name_attr = "cloudinary_conn_id"
    default_conn_name = "cloudinary_default"
    conn_type = "cloudinary"
    hook_name = "Cloudinary"

    def __init__(self, cloudinary_conn_id: str = default_conn_name, *, retry: RetryPolicy | None = None) -> None:
        super().__init__()
        self.cloudinary_conn_id = cloudinary_conn_id
        self._retry_override = retry

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The Connections form's labels and hidden fields (declared once, in ``provider.py``)."""
        from campaign_media.provider import CLOUDINARY, ui_field_behaviour

        return ui_field_behaviour(CLOUDINARY)

    def get_conn(self) -> CloudinaryClient:
        """The SDK bound to this account (``.upload.<fn>``, ``.admin.<fn>``), made on first use from
        the connection; :attr:`account` holds what was read from it."""
        return self._client

    @cached_property
    def _client(self) -> CloudinaryClient:
        return CloudinaryClient(self._account.api)

    @property
    def account(self) -> CloudinaryAccount:
        """The connection, read once (secrets kept out of repr)."""
        return self._account

    @cached_property
    def _account(self) -> CloudinaryAccount:
        conn = self.get_connection(self.cloudinary_conn_id)
        extras = conn.extra_dejson
        cloud_name = extras.get("cloud_name") or conn.host
        if not (cloud_name and conn.login and conn.password):
            raise CloudinaryAuthError(f"Connection {self.cloudinary_conn_id!r} needs host (the cloud name), login "
                                      "(API key) and password (API secret)")
        mask_secret(conn.password)
        token_key = extras.get("auth_token_key") or None
        if token_key:
            mask_secret(token_key)
        timeout = float(extras.get("timeout") or 60)
        auth = {"cloud_name": cloud_name, "api_key": conn.login, "api_secret": conn.password}
        api = dict(auth, timeout=timeout)
        if extras.get("upload_prefix"):
            api["upload_prefix"] = extras["upload_prefix"].rstrip("/")
        delivery = dict(auth, secure=True)
        if extras.get("delivery_host"):  # the emulator (or a CNAME): http, no subdomain sharding
            delivery.update(cname=extras["delivery_host"], secure=_flag(extras.get("secure", False)),
                            cdn_subdomain=False)
        if _flag(extras.get("private_cdn", "")):
            delivery["private_cdn"] = True  # a private CDN distribution: where token URLs work
        return CloudinaryAccount(self.cloudinary_conn_id, cloud_name, api, delivery, token_key, timeout,
                                 self._retry_override or RetryPolicy.from_extras(extras),
                                 (extras.get("notification_base_url") or "").strip() or None,
                                 (extras.get("governance") or "").strip() or None)

    @property
    def cloud_name(self) -> str:
        return self._account.cloud_name

    @property
    def auth_token_key(self) -> str | None:
        return self._account.auth_token_key

    @property
    def timeout(self) -> float:
        return self._account.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self._account.retry

    @property
    def _api(self) -> dict[str, Any]:
        return self._account.api

    @property
    def _delivery(self) -> dict[str, Any]:
        return self._account.delivery

    @cached_property
    def _http(self) -> httpx.Client:
        """One client for every download and probe of this hook: reused connections, and the TLS
        set-up (tens of milliseconds of CPU) done once rather than per rendition."""
        return http_client(timeout=self.timeout, follow_redirects=True)

    @cached_property
    def _sdk_headers(self) -> tuple[ResponseHeaders, ResponseHeaders]:
        """The SDK's two pools, wrapped once per process (``hooks/sdk.py``)."""
        return install_header_recorders()

    def test_connection(self) -> tuple[bool, str]:
        """The UI's *Test* button: one Admin API ``ping`` with the connection's credentials."""
        try:
            ok = self.ping()
        except (CloudinaryError, RetryBudgetExceeded) as exc:
            return False, str(exc)
        return ok, f"Cloudinary cloud {self.cloud_name!r} answered the ping" if ok else "ping did not answer ok"

    def verify_notification(self, body: bytes, timestamp: str, signature: str | None) -> bool:
        """Whether ``X-Cld-Signature`` is this account's over *body + timestamp* (the hash the SDK's
        ``verify_notification_signature`` computes, SHA-1 or SHA-256 told by its length; compared
        in constant time, and with this connection's secret rather than the SDK's global config).
        The timestamp's age is :func:`campaign_media.domain.notifications.timestamp_problem`'s."""
        from campaign_media.domain.notifications import canonical_signature, signature_problem

        if signature_problem(signature):  # not hex of the right length: never compared (nor stripped)
            return False
        given = canonical_signature(signature or "")
        algorithm = cloudinary.utils.SIGNATURE_SHA256 if len(given) == 64 else cloudinary.utils.SIGNATURE_SHA1
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        expected = cloudinary.utils.compute_hex_hash(f"{text}{timestamp}{self._api['api_secret']}", algorithm)
        return hmac.compare_digest(expected, given)

    # ------------------------------------------------------------------ plumbing
    def _run(self, what: str, fn: Callable[[], T], *, already_done: Callable[[], T | None] | None = None) -> T:
        """Call the SDK with the retry policy; translate its errors into the hook's own.
        ``already_done`` (for writes) is asked before each re-send: a failure may come after
        Cloudinary carried the call out, and its answer then stands in for the re-send."""
        def attempt() -> T:
            for recorder in self._sdk_headers:
                recorder.clear(active=True)  # only this call's headers may steer the wait
            try:
                return fn()
            except TRANSIENT_SDK_ERRORS as exc:
                headers = {**self._sdk_headers[0].last(), **self._sdk_headers[1].last()}
                limited = isinstance(exc, cloudinary.exceptions.RateLimited)
                raise TransientError(redact(str(exc)), retry_hint(headers), rate_limited=limited) from exc
            except cloudinary.exceptions.Error as exc:
                if "Unexpected error" in str(exc) or "Socket error" in str(exc):  # dropped connection
                    raise TransientError(redact(str(exc))) from exc
                if SERVER_ERROR_PAGE.search(str(exc)):  # a 5xx whose body is not JSON (a proxy's page)
                    raise TransientError(redact(str(exc))) from exc
                if "Error in loading" in str(exc) and not REMOTE_SOURCE_FINAL.search(str(exc)):  # fetch failed
                    raise TransientError(redact(str(exc))) from exc
                status = next((code for theirs, code in _SDK_STATUS if isinstance(exc, theirs)), None)
                raise ERRORS.for_status(status)(f"Cloudinary {what} failed: {redact(str(exc))}") from exc
            finally:
                for recorder in self._sdk_headers:
                    recorder.local.active = False

        once = send_once(f"Cloudinary {what}", attempt, already_done, self.log) if already_done else attempt
        try:
            return self.retry.call(f"Cloudinary {what}", once)
        except RetryBudgetExceeded as exc:
            if exc.rate_limited:
                raise exc.carried_by(CloudinaryRateLimited(str(exc))) from exc
            raise

    @staticmethod
    def rate_limit(response: Any) -> dict[str, Any]:
        """The Admin API quota figures of a response (limit, remaining, reset)."""
        return {"limit": getattr(response, "rate_limit_allowed", None),
                "remaining": getattr(response, "rate_limit_remaining", None),
                "reset_at": getattr(response, "rate_limit_reset_at", None)}

    # ------------------------------------------------------------------ upload
    def upload(self, file: str | os.PathLike[str] | BinaryIO, public_id: str, *, overwrite: bool = True,
               tags: list[str] | None = None, context: dict[str, str] | None = None,
               metadata: dict[str, Any] | None = None, eager: list[dict[str, Any]] | None = None,
               access_control: list[dict[str, Any]] | None = None, delivery_type: str = "upload",
               resource_type: str = "image", invalidate: bool = True, **extra: Any) -> dict[str, Any]:
        """Upload a local file, a stream or a remote URL under a deterministic ``public_id``.

        A local file larger than 20 MB, and any local video, goes up in chunks (``upload_large``,
        ``Content-Range``), so memory stays at one chunk.
        ``overwrite=False`` returns the stored asset (``existing: true``) instead of replacing it.
        Once only: after a failure with an unknown outcome, an asset already stored under
        ``public_id`` with this ``context`` is taken as the upload's result (no second upload).

        :param file: a local path, an open binary stream, or an ``http(s)://`` / ``data:`` URL
        :param public_id: the asset's ID (deterministic: derived from the PhotoShelter master)
        :param overwrite: replace an asset already stored under ``public_id``
        :param tags: tags to set on the asset
        :param context: contextual metadata (``key -> text``); also how a lost reply is recognised
        :param metadata: structured metadata (``external field ID -> value``)
        :param eager: derivatives to make with the upload (each a transformation dict)
        :param access_control: delivery rules (``[{"access_type": "anonymous", "start": …, "end": …}]``)
        :param delivery_type: ``upload``, ``authenticated`` or ``private``
        :param resource_type: ``image`` or ``video``
        :param invalidate: purge the CDN's cached copies when replacing
        :param extra: any other Upload API parameter, passed as it is (``eager_async``…)
        """
        options: dict[str, Any] = dict(
            public_id=public_id, overwrite=overwrite, type=delivery_type,
            resource_type=resource_type, invalidate=invalidate, **extra)
        for key, value in (("tags", tags), ("context", context), ("metadata", metadata), ("eager", eager),
                           ("access_control", access_control)):
            if value:
                options[key] = value
        is_path = isinstance(file, (str, os.PathLike)) and not str(file).startswith(("http://", "https://", "data:"))

        def already_done() -> dict[str, Any] | None:
            """The asset as an earlier attempt stored it (its context is ours), with its eager
            derivatives from an idempotent ``explicit`` — or None: send again."""
            if not context:
                return None
            stored = self.resource(public_id, delivery_type, resource_type)
            custom = ((stored or {}).get("context") or {}).get("custom") or {}
            if not stored or any(custom.get(k) != str(v) for k, v in context.items()):
                return None
            again = {"access_control": access_control} if access_control else {}
            return self.explicit(public_id, eager=eager, delivery_type=delivery_type, resource_type=resource_type,
                                 **again)

        if is_path and (resource_type == "video"
                        or Path(file).stat().st_size > LARGE_FILE_BYTES):  # type: ignore[arg-type]
            return self._clean_urls(self._run(f"upload_large {public_id}", lambda: self.get_conn().upload.upload_large(
                str(file), chunk_size=LARGE_FILE_BYTES, **options), already_done=already_done))

        def call() -> dict[str, Any]:
            if hasattr(file, "seek"):
                file.seek(0)  # type: ignore[union-attr]
            return self.get_conn().upload.upload(str(file) if is_path else file, **options)

        return self._clean_urls(self._run(f"upload {public_id}", call, already_done=already_done))

    @staticmethod
    def _clean_urls(result: dict[str, Any]) -> dict[str, Any]:
        """URLs in an upload answer, as any HTTP client accepts them (see :func:`safe_url`)."""
        for item in [result, *result.get("eager", [])]:
            for key in ("url", "secure_url"):
                if isinstance(item.get(key), str):
                    item[key] = safe_url(item[key])
        return result

    def explicit(self, public_id: str, *, eager: list[dict[str, Any]] | None = None,
                 delivery_type: str = "upload", **extra: Any) -> dict[str, Any]:
        """Apply actions to a stored asset: eager derivatives, tags, context, metadata."""
        return self._run(f"explicit {public_id}", lambda: self.get_conn().upload.explicit(
            public_id, type=delivery_type, **({"eager": eager} if eager else {}), **extra))

    # ------------------------------------------------------------------ governance
    def update_access_control(self, public_id: str, rules: list[dict[str, Any]],
                              delivery_type: str = "upload") -> dict[str, Any]:
        """Replace an asset's ``access_control`` rules (anonymous windows, token)."""
        return self._run(f"update access_control {public_id}", lambda: self.get_conn().admin.update(
            public_id, type=delivery_type, access_control=rules))

    def set_access_control(self, public_id: str, rules: list[dict[str, Any]], *, invalidate: bool = False,
                           delivery_type: str = "upload", resource_type: str = "image") -> dict[str, Any]:
        """Replace an asset's ``access_control`` through the Upload API (``explicit``: no hourly
        Admin quota); ``invalidate`` purges the CDN so a closed asset stops being served.

        :param public_id: the asset
        :param rules: the complete new rules (they replace the old ones)
        :param invalidate: purge the CDN's cached copies
        :param delivery_type: the asset's delivery type
        :param resource_type: ``image`` or ``video``
        """
        return self.explicit(public_id, delivery_type=delivery_type, access_control=rules, invalidate=invalidate,
                             resource_type=resource_type)

    def add_tags(self, public_ids: list[str], tags: list[str]) -> list[str]:
        result = self._run("add tags", lambda: self.get_conn().upload.add_tag(tags, public_ids))
        return result.get("public_ids", [])

    def remove_tags(self, public_ids: list[str], tags: list[str]) -> list[str]:
        result = self._run("remove tags", lambda: self.get_conn().upload.remove_tag(tags, public_ids))
        return result.get("public_ids", [])

    def add_context(self, public_ids: list[str], context: dict[str, str]) -> list[str]:
        result = self._run("add context", lambda: self.get_conn().upload.add_context(context, public_ids))
        return result.get("public_ids", [])

    def update_metadata(self, public_ids: list[str], metadata: dict[str, Any], *, delivery_type: str = "upload",
                        resource_type: str = "image") -> list[str]:
        """Set structured metadata values (``external ID -> value``; "" clears a field) on assets."""
        result = self._run("update metadata", lambda: self.get_conn().upload.update_metadata(
            metadata, public_ids, type=delivery_type, resource_type=resource_type))
        return result.get("public_ids", [])

    def metadata_fields(self) -> dict[str, dict[str, Any]]:
        """The account's structured metadata fields (``external ID -> definition``, datasources included)."""
        listed = self._run("list metadata fields", lambda: self.get_conn().admin.list_metadata_fields())
        return {f["external_id"]: f for f in listed.get("metadata_fields", [])}

    def add_metadata_field(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Define one structured metadata field (changes the account)."""
        return self._run(f"add metadata field {definition['external_id']}",
                         lambda: self.get_conn().admin.add_metadata_field(definition))

    def add_datasource_entries(self, external_id: str, entries: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Add (or rename) entries of a list field's datasource; returns the datasource's entries."""
        result = self._run(f"update datasource of {external_id}",
                           lambda: self.get_conn().admin.update_metadata_field_datasource(external_id, entries))
        return result.get("values", [])

    # ------------------------------------------------------------------ lookup
    def resource(self, public_id: str, delivery_type: str = "upload",
                 resource_type: str = "image") -> dict[str, Any] | None:
        """An asset's details, or None when it does not exist."""
        try:
            return self._run(f"resource {public_id}", lambda: self.get_conn().admin.resource(
                public_id, type=delivery_type, resource_type=resource_type))
        except CloudinaryNotFound:
            return None

    def iter_resources(self, *, prefix: str | None = None, tag: str | None = None,
                       delivery_type: str = "upload", resource_type: str = "image",
                       page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every asset under a public-ID prefix or with a tag, following ``next_cursor``.

        :param prefix: public-ID prefix to list (a market's copies: ``<campaign>/<market>/``)
        :param tag: list by tag instead of prefix
        :param delivery_type: the delivery type listed
        :param resource_type: ``image`` or ``video``
        :param page_size: assets per Admin API call (each call counts against the hourly quota)
        """
        cursor: str | None = None
        while True:
            options = dict(max_results=page_size, tags=True, context=True, metadata=True,
                           resource_type=resource_type, **({"next_cursor": cursor} if cursor else {}))
            if tag:
                page = self._run(f"resources by tag {tag}",
                                 lambda o=options: self.get_conn().admin.resources_by_tag(tag, **o))
            else:
                page = self._run("resources", lambda o=options: self.get_conn().admin.resources(
                    type=delivery_type, **({"prefix": prefix} if prefix else {}), **o))
            yield from page.get("resources", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # ------------------------------------------------------------------ delete
    def destroy(self, public_id: str, *, delivery_type: str = "upload", invalidate: bool = True,
                resource_type: str = "image") -> bool:
        """Delete one asset and its derivatives (CDN invalidated); False if it did not exist."""
        result = self._run(f"destroy {public_id}", lambda: self.get_conn().upload.destroy(
            public_id, type=delivery_type, invalidate=invalidate, resource_type=resource_type))
        return result.get("result") == "ok"

    def rename(self, from_public_id: str, to_public_id: str, *, resource_type: str = "image",
               invalidate: bool = True) -> dict[str, Any]:
        """Give an asset a new public ID (its derivatives follow), purging the CDN's copies of the
        old one: URLs made for the old ID, token URLs included, stop working. Once only: after a
        lost reply, an asset already under ``to_public_id`` is taken as the result."""
        return self._run(f"rename {from_public_id}", lambda: self.get_conn().upload.rename(
            from_public_id, to_public_id, resource_type=resource_type, invalidate=invalidate, overwrite=False),
            already_done=lambda: self.resource(to_public_id, resource_type=resource_type))

    def delete_resources(self, public_ids: list[str] | None = None, *, prefix: str | None = None,
                         delivery_type: str = "upload", keep_original: bool = False,
                         invalidate: bool = True) -> dict[str, str]:
        """Delete by IDs (in chunks of 100) or by prefix; returns ``public_id -> status``.

        :param public_ids: the assets to delete
        :param prefix: delete everything under this public-ID prefix instead
        :param delivery_type: the delivery type deleted
        :param keep_original: delete only the derivatives
        :param invalidate: purge the CDN's cached copies
        """
        deleted: dict[str, str] = {}
        options = dict(type=delivery_type, keep_original=keep_original, invalidate=invalidate)
        if public_ids:
            for start in range(0, len(public_ids), 100):
                chunk = public_ids[start:start + 100]
                deleted.update(self._run("delete resources", lambda c=chunk: self.get_conn().admin.delete_resources(
                    c, **options))["deleted"])
        elif prefix:
            while True:
                result = self._run(f"delete prefix {prefix}", lambda: self.get_conn().admin.delete_resources_by_prefix(
                    prefix, **options))
                deleted.update(result["deleted"])
                if not result.get("partial"):
                    break
        return deleted

    # ------------------------------------------------------------------ events
    def triggers(self) -> list[dict[str, Any]]:
        """The account's notification triggers (one Admin API call)."""
        return list(self._run("triggers", lambda: self.get_conn().admin.triggers()).get("triggers", []))

    def create_trigger(self, uri: str, event_type: str, uri_type: str = "poll") -> dict[str, Any]:
        """A notification trigger: ``event_type`` events to ``uri`` (``poll://<channel>``)."""
        return dict(self._run(f"create trigger {event_type}", lambda: self.get_conn().admin.create_trigger(
            uri, event_type, uri_type=uri_type)))

    def delete_trigger(self, trigger_id: str) -> None:
        self._run(f"delete trigger {trigger_id}", lambda: self.get_conn().admin.delete_trigger(trigger_id))

    def notifications(self, channel: str, *, wait_seconds: int = 20, max_messages: int = 100,
                      visibility_timeout: int = 120) -> list[dict[str, Any]]:
        """Messages of a poll channel, long-polled up to ``wait_seconds`` (the HTTP timeout is made
        longer than the wait, or the client would cut the poll off); each stays invisible for
        ``visibility_timeout`` seconds, then comes back unless acknowledged."""
        return list(self._run(f"notifications of {channel}", lambda: self.get_conn().admin.notifications(
            channel=channel, wait_seconds=wait_seconds, max_messages=max_messages,
            visibility_timeout=visibility_timeout, timeout=max(self.timeout, wait_seconds + 15))).get("messages", []))

    def ack_notifications(self, receipt_handles: list[str]) -> dict[str, str]:
        """Delete claimed messages (100 a call): ``receipt handle -> status`` (``acked``, or not)."""
        out: dict[str, str] = {}
        for start in range(0, len(receipt_handles), 100):
            chunk = receipt_handles[start:start + 100]
            answer = self._run("ack notifications", lambda c=chunk: self.get_conn().admin.ack_notifications(c))
            out.update({r.get("receipt_handle"): r.get("status") for r in answer.get("results", [])})
        return out

    # ------------------------------------------------------------------ delivery
    def delivery_url(self, public_id: str, *, transformation: list[dict[str, Any]] | dict[str, Any] | None = None,
                     raw_transformation: str | None = None, format: str | None = None, sign: bool = False,
                     delivery_type: str = "upload", version: int | None = None,
                     token_expires_at: datetime | None = None, token_ttl: int | None = None,
                     resource_type: str = "image") -> str:
        """A delivery URL (signed with ``s--SIG--`` when ``sign`` or the type needs it).

        ``token_ttl`` (seconds) or ``token_expires_at`` append an expiring ``__cld_token__``,
        which opens restricted assets (``access_control``) until it expires; it needs the
        connection's ``auth_token_key``.

        :param public_id: the asset
        :param transformation: a transformation dict, or a list of them chained with ``/``
        :param raw_transformation: transformation text appended as it is
        :param format: the delivered format (file extension), e.g. ``jpg``, ``mp4``, ``m3u8``
        :param sign: add the ``s--SIG--`` signature (always for authenticated and private types)
        :param delivery_type: ``upload``, ``authenticated`` or ``private``
        :param version: the asset's version, to defeat stale caches
        :param token_expires_at: when an expiring token should end
        :param token_ttl: or how long it should last, in seconds
        :param resource_type: ``image`` or ``video``
        """
        options: dict[str, Any] = dict(self._delivery, type=delivery_type, resource_type=resource_type,
                                       sign_url=sign or delivery_type in ("authenticated", "private"))
        if transformation:  # the chain's text is made once per spec: the SDK's walk costs ms per URL
            chain = transformation_text(json.dumps(transformation, sort_keys=True))
            raw_transformation = f"{chain}/{raw_transformation}" if raw_transformation else chain
        if raw_transformation:
            options["raw_transformation"] = raw_transformation
        if format:
            options["format"] = format
        if version:
            options["version"] = version
        if token_ttl is not None or token_expires_at is not None:
            if not self.auth_token_key:
                raise CloudinaryError(f"connection {self.cloudinary_conn_id!r} has no auth_token_key in its extras; "
                                      "token URLs need the account's token key (Settings → Security)")
            expires = int(token_expires_at.timestamp()) if token_expires_at else int(time.time()) + int(token_ttl or 0)
            options.update(sign_url=True, auth_token={"key": self.auth_token_key, "expiration": expires})
        url, _ = cloudinary.utils.cloudinary_url(public_id, **options)
        return url

    def download(self, url: str, dest: str | os.PathLike[str], *, chunk_size: int = 1024 * 1024,
                 expected_size: int | None = None) -> Fetched:
        """Stream a delivery or archive URL to ``dest``; returns its size and SHA-256. The stream
        is stopped past ``expected_size`` plus 10 % (unknown: ``[campaign_media] max_download_mb``)."""
        dest = Path(dest)
        limit = download_limit(expected_size, settings.get("max_download_mb") * 1024 * 1024)

        def consume(response: httpx.Response) -> Fetched:
            try:
                return stream_to_file(response.iter_bytes(chunk_size), dest, limit)
            except TooLarge as exc:
                raise CloudinaryRejected(f"Cloudinary download {redact(url)}: passed {exc.limit} bytes (expected: "
                                         f"{expected_size or 'unknown'}) and was stopped") from exc

        return self._get(url, consume)

    def fetch(self, url: str, *, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        """A delivery URL's body in memory (a rendition on its way back to PhotoShelter: no
        temporary file); a body larger than ``max_bytes`` is refused rather than held."""
        def read(response: httpx.Response) -> bytes:
            body = bytearray()
            for block in response.iter_bytes(1024 * 1024):
                body += block
                if len(body) > max_bytes:
                    raise CloudinaryRejected(f"Cloudinary download {redact(url)}: larger than {max_bytes} bytes; "
                                             "use download() to a file")
            return bytes(body)

        return self._get(url, read)

    def _get(self, url: str, consume: Callable[[httpx.Response], T]) -> T:
        """GET a delivery or archive URL with the retry policy; ``consume`` reads a 2xx body."""
        def fetch() -> T:
            try:
                with self._http.stream("GET", url) as response:
                    status = response.status_code
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    if status in (420, 429) or status >= 500:
                        raise TransientError(f"HTTP {status}", retry_hint(headers), rate_limited=status < 500)
                    if status == 423:  # an add-on (background removal) still working on it
                        raise TransientError("HTTP 423: the derivative is still being processed",
                                             retry_hint(headers) or 2.0)
                    if status >= 400:
                        shown = redact(url)  # never log a token or a signature
                        reason = response.headers.get("x-cld-error", "")
                        if status == 403 and ADDON_EFFECT in url:
                            reason += (" — the background removal add-on refused it: its monthly quota is most "
                                       "likely used up (Cloudinary Console → Add-ons), or it is not enabled")
                        kind = {404: CloudinaryNotFound, 401: CloudinaryAuthError, 403: CloudinaryAuthError}.get(
                            status, CloudinaryRejected)
                        raise kind(f"Cloudinary download {shown} failed: {status} {reason}".strip())
                    return consume(response)
            except httpx.TransportError as exc:
                raise TransientError(f"connection problem ({exc})") from exc

        return self.retry.call("Cloudinary download", fetch)

    def archive_url(self, *, public_ids: list[str] | None = None, prefixes: list[str] | None = None,
                    tags: list[str] | None = None, resource_type: str = "image") -> str:
        """A signed URL that streams a ZIP of the selected originals (``generate_archive``)."""
        options = dict(self._api, resource_type=resource_type)
        for key, value in (("public_ids", public_ids), ("prefixes", prefixes), ("tags", tags)):
            if value:
                options[key] = value
        options.pop("timeout", None)
        return cloudinary.utils.download_zip_url(**options)

    def download_archive(self, dest: str | os.PathLike[str], **selection: Any) -> int:
        """Stream a ZIP of the selected originals to ``dest``; returns its size."""
        return self.download(self.archive_url(**selection), dest).size

    def probe(self, url: str) -> int:
        """The HTTP status a delivery URL answers (a GET, body discarded): for the account check.
        A 5xx or 429 says nothing of access: it is retried like any call, within the budget."""
        def fetch() -> int:
            try:
                with self._http.stream("GET", url) as response:
                    for _ in response.iter_bytes(64 * 1024):
                        pass
            except httpx.TransportError as exc:
                raise TransientError(f"connection problem ({exc})") from exc
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientError(f"the delivery host answered {response.status_code}",
                                     retry_hint(dict(response.headers)), rate_limited=response.status_code == 429)
            return response.status_code

        return self.retry.call("Cloudinary probe", fetch)

    def account_status(self) -> dict[str, Any]:
        """The plan and the Admin API's hourly quota, from one usage call."""
        response = self._run("usage", lambda: self.get_conn().admin.usage())
        return {"plan": response.get("plan"), "rate_limit": self.rate_limit(response),
                "credits": response.get("credits")}

    def usage(self, day: date | None = None) -> dict[str, Any]:
        """The account's usage report (storage, bandwidth, transformations), for a day or overall."""
        return dict(self._run("usage", lambda: self.get_conn().admin.usage(**({"date": day} if day else {}))))

    def ping(self) -> bool:
        return self._run("ping", lambda: self.get_conn().admin.ping()).get("status") == "ok"
