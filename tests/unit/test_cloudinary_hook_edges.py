"""CloudinaryHook edge cases that need no server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import cloudinary.exceptions
import httpx
import pytest
import respx

from campaign_media.hooks.cloudinary import CloudinaryAuthError, CloudinaryError, CloudinaryHook
from campaign_media.hooks.retry import RetryPolicy, retry_hint
from campaign_media.hooks.sdk import CloudinaryClient

CONN = {"conn_type": "cloudinary", "host": "democloud", "login": "123456789012345", "password": "a-long-secret"}


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> tuple[CloudinaryHook, list[float]]:
    monkeypatch.setenv("AIRFLOW_CONN_CLD_MOCK", json.dumps(CONN))
    recorded: list[float] = []
    policy = RetryPolicy(sleep=recorded.append, base_delay=0.01, max_delay=0.01)
    return CloudinaryHook("cld_mock", retry=policy), recorded


def failing_then(result, errors):
    queue = list(errors)

    def fn():
        if queue:
            raise queue.pop(0)
        return result

    return fn


def test_stale_rate_limit_headers_of_an_earlier_call_are_ignored(waits) -> None:
    hook, recorded = waits
    far = format_datetime(datetime.now(UTC) + timedelta(minutes=40), usegmt=True)
    hook._sdk_headers[1].local.headers = {"x-featureratelimit-remaining": "0", "x-featureratelimit-reset": far}
    assert hook._run("upload x", failing_then("ok", [cloudinary.exceptions.GeneralError("503")])) == "ok"
    assert recorded and max(recorded) <= 0.01


def test_busy_remote_source_is_transient_but_bad_input_is_not(waits) -> None:
    hook, recorded = waits
    busy = cloudinary.exceptions.BadRequest("Error in loading http://ps/img - 503 Service Unavailable")
    assert hook._run("upload x", failing_then("ok", [busy])) == "ok"
    with pytest.raises(CloudinaryError, match="upload x failed: Invalid image file"):
        hook._run("upload x", failing_then("ok", [cloudinary.exceptions.BadRequest("Invalid image file")] * 5))


def test_retry_hint_reads_retry_after_and_quota_reset() -> None:
    assert retry_hint({"retry-after": "3"}) == 3.0
    reset = format_datetime(datetime.now(UTC) + timedelta(seconds=100), usegmt=True)
    assert 95 <= retry_hint({"x-featureratelimit-remaining": "0", "x-featureratelimit-reset": reset}) <= 101
    assert retry_hint({"x-featureratelimit-remaining": "7", "x-featureratelimit-reset": reset}) is None


def test_connection_is_read_lazily_and_without_secret_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CLD_BAD", json.dumps({**CONN, "password": None}))
    hook = CloudinaryHook("cld_bad")  # building a hook reads nothing
    with pytest.raises(CloudinaryAuthError, match="API secret"):
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok and "API secret" in message


def test_delivery_urls_follow_the_connection(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CLD_REAL", json.dumps(CONN))
    real = CloudinaryHook("cld_real").delivery_url("a/b", format="jpg", transformation={"width": 10, "crop": "scale"})
    assert real == "https://res.cloudinary.com/democloud/image/upload/c_scale,w_10/v1/a/b.jpg"
    monkeypatch.setenv("AIRFLOW_CONN_CLD_EMU", json.dumps({**CONN, "extra": {"delivery_host": "127.0.0.1:9"}}))
    signed = CloudinaryHook("cld_emu").delivery_url("a", format="jpg", delivery_type="authenticated")
    assert signed.startswith("http://127.0.0.1:9/democloud/image/authenticated/s--")


def test_an_addon_still_processing_is_waited_for_and_an_exhausted_one_is_named(waits, tmp_path) -> None:
    """Background removal on the fly answers 423 while it works (retried within the budget);
    403 for an exhausted add-on is a clear error that names it."""
    import httpx
    import respx

    hook, recorded = waits
    url = "https://res.cloudinary.com/democloud/image/authenticated/s--abcdefgh--/e_background_removal/v1/a.png"
    with respx.mock:
        respx.get(url).mock(side_effect=[httpx.Response(423), httpx.Response(423), httpx.Response(200, content=b"png")])
        assert hook.download(url, tmp_path / "a.png").size == 3
    assert len(recorded) == 2 and recorded[0] == pytest.approx(2.0)
    with respx.mock:
        respx.get(url).mock(return_value=httpx.Response(403, headers={"x-cld-error": "quota exceeded"}))
        with pytest.raises(CloudinaryError, match="background removal add-on.*quota") as caught:
            hook.download(url, tmp_path / "b.png")
    assert "abcdefgh" not in str(caught.value)  # the signature that opens the master is never shown


def test_urls_are_made_safe_and_secrets_redacted() -> None:
    from campaign_media.hooks.cloudinary import redact, safe_url

    raw = "http://h/democloud/image/upload/l_text:Arial_48:Le printemps est là/v1/a.jpg"
    assert safe_url(raw) == "http://h/democloud/image/upload/l_text:Arial_48:Le%20printemps%20est%20l%C3%A0/v1/a.jpg"
    assert safe_url(safe_url(raw)) == safe_url(raw)  # already-encoded URLs are left alone
    assert safe_url(raw).isascii() and " " not in safe_url(raw)  # what http.client accepts in a request line
    text = "fetch https://res.cloudinary.com/c/image/authenticated/s--AbC123xy--/v1/m.jpg?__cld_token__=exp=1 failed"
    assert redact(text) == \
        "fetch https://res.cloudinary.com/c/image/authenticated/s--[redacted]--/v1/m.jpg?[redacted] failed"


def test_get_conn_is_the_sdk_bound_to_the_connection_s_account(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CLD_REAL", json.dumps(CONN))
    hook = CloudinaryHook("cld_real")
    client = hook.get_conn()
    assert isinstance(client, CloudinaryClient) and hook.get_conn() is client  # made once
    for bound in (client.upload.upload, client.admin.ping):
        assert bound.keywords["cloud_name"] == "democloud" and bound.keywords["api_secret"] == CONN["password"]
    assert "api_secret" not in repr(hook.account) and CONN["password"] not in repr(hook.account)


@respx.mock
def test_a_download_past_its_expected_size_is_stopped(monkeypatch, tmp_path) -> None:
    from campaign_media.hooks.cloudinary import CloudinaryRejected

    monkeypatch.setenv("AIRFLOW_CONN_CLD_REAL", json.dumps(CONN))
    respx.get("https://res.cloudinary.com/democloud/image/upload/a.jpg").mock(
        return_value=httpx.Response(200, content=b"y" * (4 * 1024 * 1024)))
    with pytest.raises(CloudinaryRejected, match=r"passed 1049576 bytes \(expected: 1000\) and was stopped"):
        CloudinaryHook("cld_real").download("https://res.cloudinary.com/democloud/image/upload/a.jpg",
                                            tmp_path / "a.jpg", expected_size=1000)
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__MAX_DOWNLOAD_MB", "1")  # unknown size: the deployment's ceiling
    with pytest.raises(CloudinaryRejected, match=r"passed 1048576 bytes \(expected: unknown\)"):
        CloudinaryHook("cld_real").download("https://res.cloudinary.com/democloud/image/upload/a.jpg",
                                            tmp_path / "b.jpg")
