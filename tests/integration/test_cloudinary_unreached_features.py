"""The Cloudinary features the pipeline uses that the SDK's own suite does not reach, asserted in
that suite's style: the exact shape of each answer as the SDK returns it, and what delivery then
does. Facts from docs/api-notes.md: ``eager_async``, ``access_control`` on upload and update,
``destroy`` and ``explicit`` with ``invalidate``, ``delete_resources``, authenticated assets with
signed URLs, token URLs, and video.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import cloudinary.exceptions
import httpx
import pytest
from PIL import Image

from campaign_media.hooks import CloudinaryHook
from tests.integration.test_cloudinary_sdk_facts import png, uid

pytestmark = pytest.mark.integration


def window(days: int) -> list[dict[str, str]]:
    now = datetime.now(UTC)
    return [{"access_type": "anonymous", "start": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "end": (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")}]


def test_access_control_is_echoed_by_upload_update_and_explicit_and_governs_delivery(sdk) -> None:
    pid, rules = uid(), window(3)
    uploaded = sdk.upload.upload(png(), public_id=pid, access_control=rules)
    assert uploaded["access_control"] == rules and uploaded["access_mode"] == "public"
    assert httpx.get(uploaded["secure_url"]).status_code == 200  # inside its window
    closed = [{"access_type": "token"}]
    assert sdk.admin.update(pid, access_control=closed)["access_control"] == closed
    assert httpx.get(uploaded["secure_url"]).status_code == 401  # token only now
    assert sdk.upload.explicit(pid, type="upload", access_control=rules)["access_control"] == rules
    assert sdk.admin.resource(pid)["public_id"] == pid and httpx.get(uploaded["secure_url"]).status_code == 200


def test_eager_async_answers_processing_with_a_batch_then_the_derivative_appears(sdk) -> None:
    pid = uid()
    answer = sdk.upload.upload(png(), public_id=pid, eager=[{"width": 16, "crop": "scale"}], eager_async=True)
    (item,) = answer["eager"]
    assert item["status"] == "processing" and len(item["batch_id"]) >= 16
    assert item["transformation"] == "c_scale,w_16" and "/c_scale,w_16/" in item["secure_url"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the emulator's queue waits a second before it starts
        derived = sdk.admin.resource(pid).get("derived", [])
        if derived:
            break
        time.sleep(0.25)
    assert [d["transformation"] for d in derived] == ["c_scale,w_16"]
    assert Image.open(io.BytesIO(httpx.get(item["secure_url"]).content)).size == (16, 12)


def test_destroy_answers_ok_then_not_found_and_invalidate_purges(sdk, connections) -> None:
    pid = uid()
    url = sdk.upload.upload(png(), public_id=pid)["secure_url"]
    assert sdk.upload.destroy(pid, invalidate=True)["result"] == "ok"
    assert pid in connections[1].control("GET", "purges")["purged"]
    assert sdk.upload.destroy(pid, invalidate=True)["result"] == "not found"  # a result, not an error
    assert httpx.get(url).status_code == 404


def test_delete_resources_names_each_id_deleted_or_not_found(sdk) -> None:
    kept, gone = uid(), uid()
    sdk.upload.upload(png(), public_id=kept, eager=[{"width": 8, "crop": "scale"}])
    answer = sdk.admin.delete_resources([kept, gone])
    assert answer["deleted"] == {kept: "deleted", gone: "not_found"} and answer["partial"] is False
    assert answer["deleted_counts"][kept] == {"original": 1, "derived": 1}
    with pytest.raises(cloudinary.exceptions.NotFound):
        sdk.admin.resource(kept)


def test_an_authenticated_asset_is_served_only_through_a_signed_url(sdk) -> None:
    pid = uid()
    stored = sdk.upload.upload(png(), public_id=pid, type="authenticated")
    assert stored["type"] == "authenticated" and "/image/authenticated/" in stored["secure_url"]
    hook = CloudinaryHook()
    signed = hook.delivery_url(pid, delivery_type="authenticated", format="png")
    assert "/s--" in signed and httpx.get(signed).status_code == 200
    assert httpx.get(stored["secure_url"]).status_code == 401  # its unsigned URL is refused
    thumb = hook.delivery_url(pid, delivery_type="authenticated", format="jpg",
                              transformation={"width": 10, "crop": "scale"})
    assert httpx.get(thumb).status_code == 200
    assert httpx.get(thumb.replace(thumb.split("/s--")[1].split("--/")[0], "AAAAAAAA")).status_code == 401


def test_a_token_url_opens_until_it_expires_and_only_its_own_url(sdk, connections) -> None:
    pid = uid()
    sdk.upload.upload(png(), public_id=pid, access_control=[{"access_type": "token"}])
    hook = CloudinaryHook()
    url = hook.delivery_url(pid, format="png", token_ttl=60)
    assert "__cld_token__=" in url and httpx.get(url).status_code == 200
    other = uid()
    sdk.upload.upload(png(), public_id=other, access_control=[{"access_type": "token"}])
    assert httpx.get(url.replace(pid, other)).status_code == 401  # a token opens one URL
    connections[1].control("POST", "clock", {"offset_seconds": 120})
    try:
        assert httpx.get(url).status_code == 401  # expired
    finally:
        connections[1].control("POST", "clock", {})


def test_a_video_upload_answers_video_fields_and_its_poster_is_a_jpeg(sdk, tmp_path) -> None:
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: scripts/system-deps.sh installs it")
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=10:duration=1",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    pid = uid()
    stored = sdk.upload.upload_large(str(clip), public_id=pid, resource_type="video", chunk_size=5 * 1024 * 1024)
    assert stored["resource_type"] == "video" and (stored["width"], stored["height"]) == (160, 90)
    assert abs(float(stored["duration"]) - 1.0) < 0.3 and stored["format"] == "mp4"
    poster = CloudinaryHook().delivery_url(pid, resource_type="video", format="jpg")
    answer = httpx.get(poster)
    assert answer.status_code == 200 and Image.open(io.BytesIO(answer.content)).format == "JPEG"
