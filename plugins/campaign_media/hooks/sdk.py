"""The one place the project reaches into the ``cloudinary`` SDK's internals: its two urllib3 pools.

The SDK raises on 420/429 without exposing ``Retry-After`` or the Admin API's
``X-FeatureRateLimit-*`` headers, and urllib3's default policy would retry Admin GETs on 429/503
behind the hook's back. :func:`install_header_recorders` wraps the module-level ``_http`` pools of
``cloudinary.uploader`` (Upload API) and ``cloudinary.api_client.call_api`` (Admin API) once per
process; the wrapper acts only while a hook call has switched it on for its thread, so any other
code in the process that uses the SDK sees its usual behaviour. ``tests/unit/test_sdk_adapter.py``
fails when an SDK release moves or renames what is wrapped here.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import cloudinary.api
import cloudinary.api_client.call_api
import cloudinary.uploader
import urllib3

from campaign_media.hooks.retry import POOL_CONNECTIONS

WRAPPED_MODULES = (cloudinary.uploader, cloudinary.api_client.call_api)


# urllib3's default policy would silently retry Admin GETs on 429/503 (sleeping on Retry-After)
# and connection errors; the hook's RetryPolicy is the only retry layer, so urllib3 gets none.
_NO_URLLIB3_RETRIES = urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5,
                                    respect_retry_after_header=False, raise_on_status=False)


class ResponseHeaders:
    """Wraps one of the SDK's urllib3 pools so that, *during the hook's own calls only* (``active``
    set on the thread), urllib3 makes no hidden retries and the last response headers are kept
    per thread; every other request passes through untouched."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self.local, "active", False):
            return self._inner.request(*args, **kwargs)
        self.local.headers = {}
        kwargs.setdefault("retries", _NO_URLLIB3_RETRIES)
        response = self._inner.request(*args, **kwargs)
        self.local.headers = {k.lower(): v for k, v in response.headers.items()}
        return response

    def clear(self, active: bool) -> None:
        self.local.headers = {}
        self.local.active = active

    def last(self) -> dict[str, str]:
        return getattr(self.local, "headers", {}) or {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install_header_recorders() -> tuple[ResponseHeaders, ResponseHeaders]:
    """Wrap the Upload and Admin API pools (once per process) and return their wrappers."""
    for module in WRAPPED_MODULES:
        if not isinstance(module._http, ResponseHeaders):
            # urllib3 keeps one connection per host by default: with several threads it would
            # open and drop one per call (and warn each time).
            getattr(module._http, "connection_pool_kw", {}).setdefault("maxsize", POOL_CONNECTIONS)
            module._http = ResponseHeaders(module._http)
    return cloudinary.uploader._http, cloudinary.api_client.call_api._http


class _Bound:
    """One SDK module with an account's options: ``bound.upload(file, public_id=...)``."""

    def __init__(self, module: Any, options: dict[str, Any]) -> None:
        self._module, self._options = module, options

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._module, name), **self._options)


class CloudinaryClient:
    """The SDK for one account, as :meth:`CloudinaryHook.get_conn` returns it: the Upload API's
    functions as ``client.upload.<fn>`` and the Admin API's as ``client.admin.<fn>``, each called
    with the account's options (never through the SDK's global ``cloudinary.config()``, so two
    accounts can share a process)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.upload = _Bound(cloudinary.uploader, options)
        self.admin = _Bound(cloudinary.api, options)
