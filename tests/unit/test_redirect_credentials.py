"""PhotoShelter's credentials reach the configured origin only, also through redirects (real HTTP:
two local servers, one answering for PhotoShelter, one for wherever a download is sent)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.hooks.retry import RetryPolicy

BODY = b"\xff\xd8 an original \xff\xd9" * 100
KEY, TOKEN = "KEY-never-elsewhere-1", "TOKEN-never-elsewhere-2"


def server(answer) -> tuple[ThreadingHTTPServer, list[dict[str, str]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            answer(self)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, seen


@pytest.fixture
def servers(monkeypatch) -> Iterator[dict]:
    def storage_answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(len(BODY)))
        handler.end_headers()
        handler.wfile.write(BODY)

    storage, storage_seen = server(storage_answer)
    elsewhere = f"http://127.0.0.1:{storage.server_address[1]}/bucket/original.jpg?signature=abc"

    def photoshelter_answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/psapi/v3/mem/image/I1/download"):
            target = elsewhere
        elif handler.path.startswith("/psapi/v3/mem/image/I2/download"):
            target = "/psapi/v3/mem/image/I2/original"  # same origin: credentials stay
        else:
            return storage_answer(handler)
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    photoshelter, ps_seen = server(photoshelter_answer)
    conn = {"conn_type": "photoshelter", "host": f"http://127.0.0.1:{photoshelter.server_address[1]}",
            "login": "a@example.com", "password": "a-long-password-123", "extra": {"api_key": KEY}}
    monkeypatch.setenv("AIRFLOW_CONN_PS_REDIRECT", json.dumps(conn))
    yield {"ps_seen": ps_seen, "storage_seen": storage_seen}
    for httpd in (photoshelter, storage):
        httpd.shutdown()
        httpd.server_close()


def hook() -> PhotoShelterHook:
    h = PhotoShelterHook("ps_redirect", retry=RetryPolicy(sleep=lambda s: None, base_delay=0))
    h._token = TOKEN  # logged in already
    return h


def test_a_download_redirected_to_another_host_carries_no_credentials(servers, tmp_path) -> None:
    got = hook().download_original("I1", tmp_path / "a.jpg")
    assert (tmp_path / "a.jpg").read_bytes() == BODY and got.size == len(BODY)
    (asked,) = servers["ps_seen"]
    assert asked["x-ps-api-key"] == KEY and asked["x-ps-auth-token"] == TOKEN  # PhotoShelter: both
    (fetched,) = servers["storage_seen"]
    assert fetched["path"].startswith("/bucket/original.jpg?signature=abc")  # the redirect was followed
    assert not {k for k in fetched if k.startswith("x-ps-")}, fetched  # ... without any credential
    assert KEY not in json.dumps(fetched) and TOKEN not in json.dumps(fetched)


def test_a_redirect_within_photoshelter_keeps_them(servers, tmp_path) -> None:
    hook().download_original("I2", tmp_path / "b.jpg")
    first, second = servers["ps_seen"]
    assert second["path"] == "/psapi/v3/mem/image/I2/original"
    assert second["x-ps-api-key"] == KEY and second["x-ps-auth-token"] == TOKEN
    assert servers["storage_seen"] == []
