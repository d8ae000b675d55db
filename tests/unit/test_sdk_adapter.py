"""The one reach into the Cloudinary SDK (``hooks/sdk.py``) against the SDK actually installed.

The hook wraps the SDK's module-level urllib3 pools to read response headers and to switch off
urllib3's own retries. Should an SDK release rename those pools or stop sending through them,
these tests fail (rather than rate limits silently losing their ``Retry-After``): each makes a
real SDK call over HTTP to a local server and checks what the wrapper saw.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cloudinary.api
import cloudinary.api_client.call_api
import cloudinary.exceptions
import cloudinary.uploader
import pytest

from campaign_media.hooks.sdk import WRAPPED_MODULES, ResponseHeaders, install_header_recorders


class Handler(BaseHTTPRequestHandler):
    answers: list[int] = []  # statuses to answer, in order (200 once they run out)
    seen: list[str] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        self.seen.append(f"{self.command} {self.path}")
        status = self.answers.pop(0) if self.answers else 200
        body = json.dumps({"status": "ok", "public_id": "x"} if status == 200 else
                          {"error": {"message": "busy"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-FeatureRateLimit-Limit", "500")
        self.send_header("Retry-After", "7")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.answers, Handler.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def options(prefix: str) -> dict[str, str]:
    return {"cloud_name": "demo", "api_key": "k", "api_secret": "s", "upload_prefix": prefix}


def test_the_sdk_still_has_the_two_pools_the_hook_wraps() -> None:
    upload, admin = install_header_recorders()
    assert (upload, admin) == tuple(module._http for module in WRAPPED_MODULES)
    assert (cloudinary.uploader, cloudinary.api_client.call_api) == WRAPPED_MODULES
    for recorder in (upload, admin):
        assert isinstance(recorder, ResponseHeaders)
        assert callable(recorder._inner.request), "the SDK's pool no longer has urllib3's request()"


def test_headers_of_upload_and_admin_calls_are_seen_only_while_a_hook_call_is_active(server: str) -> None:
    upload, admin = install_header_recorders()
    for recorder in (upload, admin):
        recorder.clear(active=True)
    try:
        cloudinary.api.ping(**options(server))
        cloudinary.uploader.upload("data:image/png;base64,iVBORw0KGgo=", **options(server))
    finally:
        for recorder in (upload, admin):
            recorder.local.active = False
    assert admin.last().get("x-featureratelimit-limit") == "500", "Admin API calls no longer go through _http"
    assert upload.last().get("x-featureratelimit-limit") == "500", "Upload API calls no longer go through _http"
    for recorder in (upload, admin):
        recorder.clear(active=False)
    cloudinary.api.ping(**options(server))  # nobody's hook call: passed through, nothing kept
    assert admin.last() == {}
    assert Handler.seen[0].startswith("GET /v1_1/demo/ping") and Handler.seen[1].startswith("POST /v1_1/demo/")


def test_urllib3_makes_no_hidden_retry_during_a_hook_call(server: str) -> None:
    (_, admin) = install_header_recorders()
    Handler.answers = [503, 503]
    admin.clear(active=True)
    try:
        with pytest.raises(cloudinary.exceptions.Error):
            cloudinary.api.ping(**options(server))
    finally:
        admin.local.active = False
    assert len(Handler.seen) == 1, Handler.seen  # one request: the hook's RetryPolicy decides the rest
    assert admin.last().get("retry-after") == "7"
