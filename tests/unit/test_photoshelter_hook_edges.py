"""PhotoShelterHook edge cases that the emulator does not produce (respx mocks, no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from campaign_media.hooks.photoshelter import PhotoShelterAuthError, PhotoShelterError, PhotoShelterHook
from campaign_media.hooks.retry import RetryPolicy, retry_after_seconds

BASE = "https://ps.example.test/psapi/v3/"
CONN = {"conn_type": "http", "host": "https://ps.example.test", "login": "a@example.com",
        "password": "a-long-password-123", "extra": {"api_key": "KEY12345678"}}


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> PhotoShelterHook:
    monkeypatch.setenv("AIRFLOW_CONN_PS_MOCK", json.dumps(CONN))
    h = PhotoShelterHook("ps_mock", retry=RetryPolicy(sleep=lambda s: None, base_delay=0))
    h._token = "tok"  # logged in already
    return h


def ok(data: dict) -> httpx.Response:
    return httpx.Response(200, json={"status": "ok", "data": data})


@respx.mock
def test_paging_without_paging_block_stops_on_a_short_page(hook) -> None:
    route = respx.get(BASE + "mem/gallery/G1/images").mock(side_effect=[
        ok({"GalleryImage": [{"image_id": "a"}, {"image_id": "b"}]}),
        ok({"GalleryImage": [{"image_id": "c"}]}),
    ])
    assert [r["image_id"] for r in hook.iter_gallery_images("G1", per_page=2)] == ["a", "b", "c"]
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]
    assert route.calls[0].request.headers["X-PS-Api-Key"] == "KEY12345678"
    assert route.calls[0].request.headers["X-PS-Auth-Token"] == "tok"


@respx.mock
def test_a_body_that_is_not_json_names_the_call(hook) -> None:
    respx.get(BASE + "mem/gallery/G1").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(PhotoShelterError, match=r"GET mem/gallery/G1 failed: 200 BadResponse: not JSON"):
        hook.get_gallery("G1")


@respx.mock
def test_error_envelope_with_ok_status_code_is_still_an_error(hook) -> None:
    respx.get(BASE + "mem/gallery/G1").mock(return_value=httpx.Response(
        200, json={"status": "error", "error": {"code": "Weird", "message": "soft failure"}}))
    with pytest.raises(PhotoShelterError, match="Weird: soft failure"):
        hook.get_gallery("G1")


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("7") == 7.0
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= retry_after_seconds(soon) <= 31
    assert retry_after_seconds("soon-ish") is None and retry_after_seconds(None) is None


def test_connection_is_read_lazily_and_without_api_key_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PS_NOKEY", json.dumps({**CONN, "extra": {}}))
    hook = PhotoShelterHook("ps_nokey")  # building a hook (e.g. at DAG parse time) reads nothing
    with pytest.raises(PhotoShelterAuthError, match="needs login \\(email\\), password and the API key"):
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok and "API key" in message


@respx.mock
def test_secrets_are_registered_with_the_masker(hook) -> None:
    """Reading the connection masks the password and API key (Airflow's connection loading masks
    them too: the hook's own calls are a second line); a login masks its session token, which only
    the hook knows. The masker is emptied first, so only what this test's hook registers redacts."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact, reset_secrets_masker

    reset_secrets_masker()
    hook._token = None
    line = f"login with {CONN['password']} and key {CONN['extra']['api_key']}, session LIVE-TOKEN-9876"
    assert redact(line) == line  # nothing registered yet
    hook.get_conn()  # reads the connection
    redacted = redact(line)
    assert CONN["password"] not in redacted and CONN["extra"]["api_key"] not in redacted
    assert "LIVE-TOKEN-9876" in redacted  # not known yet: no login so far
    respx.post(BASE + "mem/authenticate").mock(return_value=ok({"token": "LIVE-TOKEN-9876", "org": []}))
    hook.login()
    assert "LIVE-TOKEN-9876" not in redact(line)


@respx.mock
def test_threads_sharing_a_session_never_send_before_its_organisation_login_finished(hook) -> None:
    """A batch's threads share one session: none may use the token until the organisation login
    completes (PhotoShelter refuses a token without its organisation). The first thread logs in;
    while its organisation login is under way the other three start, and the organisation login
    is held until each of them has either waited for the session or sent a request."""
    import threading

    hook._token = None
    org_done = threading.Event()
    moved = threading.Condition()  # another thread asked for the session or sent a request
    asking: list[str] = []
    sent_early: list[bool] = []
    real_login_once = hook._login_once

    def login_once(stale: str | None) -> None:  # a thread that found no usable session
        with moved:
            asking.append(threading.current_thread().name)
            moved.notify_all()
        real_login_once(stale)

    hook._login_once = login_once  # type: ignore[method-assign]
    others = [threading.Thread(target=hook.get_gallery, args=("G1",)) for _ in range(3)]
    respx.post(BASE + "mem/authenticate").mock(return_value=ok({"token": "T1", "org": [{"id": "O1"}]}))

    def org_login(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-PS-Auth-Token"] == "T1"
        for thread in others:  # they start while the session is half made
            thread.start()
        with moved:
            assert moved.wait_for(lambda: len(asking) - 1 + len(sent_early) >= 3, timeout=30)
        org_done.set()
        return ok({})

    respx.post(BASE + "mem/organization/O1/authenticate").mock(side_effect=org_login)

    def gallery(request: httpx.Request) -> httpx.Response:
        with moved:
            sent_early.append(not org_done.is_set() or request.headers["X-PS-Auth-Token"] != "T1")
            moved.notify_all()
        return ok({"Gallery": {"gallery_id": "G1"}})

    galleries = respx.get(BASE + "mem/gallery/G1").mock(side_effect=gallery)
    first = threading.Thread(target=hook.get_gallery, args=("G1",))
    first.start()
    for thread in (first, *others):
        thread.join(timeout=60)
    assert galleries.call_count == 4 and sent_early == [False] * 4
    assert len(asking) == 4  # the three waited for the session the first one was making
    assert respx.calls.call_count == 2 + 4  # one login for the four threads


@respx.mock
def test_a_download_past_its_listed_size_is_stopped_with_both_figures(hook, tmp_path) -> None:
    from campaign_media.hooks.photoshelter import PhotoShelterRejected

    body = b"x" * (3 * 1024 * 1024)  # a server that keeps sending: three times the listed size
    respx.get(BASE + "mem/image/I0000abcdefghijk/download").mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(PhotoShelterRejected, match=r"passed 2097152 bytes \(listed: 1048576 bytes\) and was stopped"):
        hook.download_original("I0000abcdefghijk", tmp_path / "a.jpg", listed_size=1024 * 1024)
    assert list(tmp_path.iterdir()) == []  # nothing that looks finished is left
    got = hook.download_original("I0000abcdefghijk", tmp_path / "b.jpg", listed_size=len(body))
    assert got.size == len(body)
