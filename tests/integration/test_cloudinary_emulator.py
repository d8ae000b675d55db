"""The real ``cloudinary`` SDK (through CloudinaryHook) against the Cloudinary emulator, over HTTP."""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import cloudinary.api
import cloudinary.uploader
import httpx
import pytest
from PIL import Image

from campaign_media.hooks import cloudinary as cloudinary_module
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook, CloudinaryRateLimited
from campaign_media.hooks.photoshelter import PhotoShelterHook
from emulators.runner import STRICT

pytestmark = pytest.mark.integration


def jpeg(size: tuple[int, int] = (1200, 800), color: tuple[int, int, int] = (20, 120, 200)) -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    buf.seek(0)
    return buf


def fetch_image(url: str, **headers: str) -> tuple[httpx.Response, Image.Image | None]:
    response = httpx.get(url, headers=headers, timeout=30)
    image = Image.open(io.BytesIO(response.content)) if response.status_code == 200 else None
    return response, image


def uid(prefix: str = "t") -> str:
    return f"tests/{prefix}-{uuid.uuid4().hex[:8]}"


def test_upload_stream_with_governance_and_eager(connections) -> None:
    hook = CloudinaryHook()
    if "ps_owner" not in hook.metadata_fields():
        hook.add_metadata_field({"external_id": "ps_owner", "label": "Owner", "type": "string"})
    pid = uid("master")
    result = hook.upload(jpeg(), pid, tags=["campaign:spring", "market:fr"],
                         context={"ps_id": "I0000abc", "rights": "web|print=yes"},
                         metadata={"ps_owner": "brand-studio"},
                         eager=[{"width": 400, "height": 300, "crop": "fill", "gravity": "auto"},
                                {"width": 100, "crop": "scale", "format": "webp"}])
    assert result["public_id"] == pid and (result["width"], result["height"]) == (1200, 800)
    assert [(e["width"], e["height"], e["format"]) for e in result["eager"]] == [(400, 300, "jpg"), (100, 67, "webp")]
    for eager in result["eager"]:
        response, image = fetch_image(eager["url"])
        assert response.status_code == 200 and image.size == (eager["width"], eager["height"])
    stored = hook.resource(pid)
    assert set(stored["tags"]) == {"campaign:spring", "market:fr"}
    assert stored["context"]["custom"] == {"ps_id": "I0000abc", "rights": "web|print=yes"}
    assert stored["metadata"] == {"ps_owner": "brand-studio"}
    assert hook.resource(uid("absent")) is None


def test_unknown_metadata_field_is_refused(connections) -> None:
    with pytest.raises(CloudinaryError, match="Metadata External IDs do not exist"):
        CloudinaryHook().upload(jpeg(), uid(), metadata={"never_defined": "x"})


def test_upload_from_photoshelter_url_and_explicit(connections, ps_seed) -> None:
    """Cloudinary fetches a remote URL. PhotoShelter's ``auth_link`` is a *rendering* link: the
    strict emulator serves 500 px from it, which is why masters come from the download route."""
    ps, cld = PhotoShelterHook(), CloudinaryHook()
    image_id = ps_seed[1]["approved"][0]
    link = ps.image_link(image_id)["auth_link"]
    original = ps.get_image(image_id)
    pid = uid("fromurl")
    result = cld.upload(link, pid)
    ratio = int(original["width"]) / int(original["height"])
    if STRICT:
        assert max(result["width"], result["height"]) == 500
        assert abs(result["width"] / result["height"] - ratio) < 0.01
    else:
        assert (result["width"], result["height"]) == (int(original["width"]), int(original["height"]))
        assert result["bytes"] == int(original["file_size"])
    explicit = cld.explicit(pid, eager=[{"width": 200, "height": 200, "crop": "thumb", "gravity": "center"}])
    assert (explicit["eager"][0]["width"], explicit["eager"][0]["height"]) == (200, 200)


@pytest.mark.parametrize(("transformation", "fmt", "size", "pil_format"), [
    ({"width": 320, "height": 200, "crop": "fill", "gravity": "auto"}, "webp", (320, 200), "WEBP"),
    ({"width": 300, "height": 300, "crop": "fit"}, "png", (300, 200), "PNG"),
    ({"width": 300, "height": 300, "crop": "pad", "background": "white"}, "jpg", (300, 300), "JPEG"),
    ({"width": 5000, "crop": "limit"}, "jpg", (1200, 800), "JPEG"),
    ({"width": 800, "aspect_ratio": "16:9", "crop": "fill"}, "jpg", (800, 450), "JPEG"),
    ({"width": 200, "crop": "scale", "dpr": 2.0}, "jpg", (400, 267), "JPEG"),
])
def test_delivery_applies_transformations(connections, transformation, fmt, size, pil_format) -> None:
    hook = CloudinaryHook()
    pid = uid("delivery")
    hook.upload(jpeg(), pid)
    response, image = fetch_image(hook.delivery_url(pid, transformation=transformation, format=fmt))
    assert response.status_code == 200, response.headers.get("x-cld-error")
    assert image.size == size and image.format == pil_format


def test_f_auto_q_auto_follow_accept_and_text_overlay_draws(connections) -> None:
    hook = CloudinaryHook()
    pid = uid("auto")
    hook.upload(jpeg((600, 400), (0, 0, 0)), pid)
    url = hook.delivery_url(pid, transformation={"width": 300, "fetch_format": "auto", "quality": "auto"})
    assert fetch_image(url, accept="image/webp,*/*")[1].format == "WEBP"
    assert fetch_image(url, accept="image/jpeg")[1].format == "JPEG"
    overlay = hook.delivery_url(pid, format="png", transformation=[
        {"overlay": {"font_family": "Arial", "font_size": 48, "text": "Bonjour, Paris / مرحبا"},
         "color": "white", "gravity": "center"}])
    plain, text = fetch_image(hook.delivery_url(pid, format="png"))[1], fetch_image(overlay)[1]
    assert plain.convert("L").getextrema() == (0, 0)  # a black image
    assert text.convert("L").getextrema()[1] > 200  # white glyphs were drawn


def test_background_removal_keys_uniform_background(connections) -> None:
    hook = CloudinaryHook()
    im = Image.new("RGB", (200, 200), (255, 255, 255))
    im.paste((200, 0, 0), (50, 50, 150, 150))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    buf.seek(0)
    pid = uid("product")
    hook.upload(buf, pid)
    url = hook.delivery_url(pid, format="png", transformation={"effect": "background_removal"})
    if STRICT:  # the add-on works asynchronously on the fly: 423 the first time
        assert httpx.get(url).status_code == 423
    _, out = fetch_image(url)
    assert out.mode == "RGBA"
    assert out.getpixel((5, 5))[3] == 0 and out.getpixel((100, 100))[3] == 255


def test_signatures_are_verified(connections) -> None:
    ps_proc, cld_proc = connections
    hook = CloudinaryHook()
    pid = uid("secure")
    hook.upload(jpeg(), pid, delivery_type="authenticated")
    signed = hook.delivery_url(pid, transformation={"width": 100, "crop": "scale"}, delivery_type="authenticated")
    assert "/s--" in signed and fetch_image(signed)[0].status_code == 200
    tampered = signed.replace("w_100", "w_101")
    assert fetch_image(tampered)[0].status_code == 401
    unsigned = signed.replace(signed.split("/")[6] + "/", "")
    assert fetch_image(unsigned)[0].status_code == 401
    options = {"cloud_name": "democloud", "api_key": "123456789012345", "api_secret": "not-the-secret",
               "upload_prefix": cld_proc.base_url}
    with pytest.raises(cloudinary.exceptions.AuthorizationRequired, match="Invalid Signature"):
        cloudinary.uploader.upload(jpeg(), public_id=uid(), **options)
    with pytest.raises(cloudinary.exceptions.AuthorizationRequired):
        cloudinary.api.ping(**options)


def test_access_control_window_is_enforced_at_delivery(connections) -> None:
    _, cld_proc = connections
    hook = CloudinaryHook()
    start = datetime.now(UTC) + timedelta(days=1)
    end = start + timedelta(days=7)
    pid = uid("window")
    hook.upload(jpeg(), pid, access_control=[{"access_type": "anonymous", "start": start.isoformat(),
                                              "end": end.isoformat()}])
    url = hook.delivery_url(pid, transformation={"width": 50, "crop": "scale"})
    before = fetch_image(url)[0]
    assert before.status_code == 401 and before.headers["x-cld-error"]
    cld_proc.set_clock(now=(start + timedelta(hours=1)).isoformat())
    assert fetch_image(url)[0].status_code == 200
    cld_proc.set_clock(now=(end + timedelta(seconds=1)).isoformat())
    assert fetch_image(url)[0].status_code == 401
    # Reopen by rules alone (the DAG's repair path): an open-ended window.
    hook.update_access_control(pid, [{"access_type": "anonymous", "start": start.isoformat()}])
    assert fetch_image(url)[0].status_code == 200


def test_listing_with_cursors_tags_and_deletes(connections) -> None:
    hook = CloudinaryHook()
    prefix = uid("list")
    ids = [f"{prefix}/m{i}" for i in range(7)]
    for pid in ids:
        hook.upload(jpeg((64, 64)), pid, tags=[prefix.replace("/", "_")])
    listed = [r["public_id"] for r in hook.iter_resources(prefix=prefix + "/", page_size=3)]
    assert listed == sorted(ids)
    by_tag = [r["public_id"] for r in hook.iter_resources(tag=prefix.replace("/", "_"), page_size=2)]
    assert sorted(by_tag) == sorted(ids)
    assert hook.destroy(ids[0]) is True and hook.destroy(ids[0]) is False
    deleted = hook.delete_resources(ids[1:3])
    assert deleted == {ids[1]: "deleted", ids[2]: "deleted"}
    assert set(hook.delete_resources(prefix=prefix + "/")) == set(ids[3:])
    assert list(hook.iter_resources(prefix=prefix + "/")) == []


def test_usage_counts_storage_bandwidth_and_transformations(connections) -> None:
    hook = CloudinaryHook()
    before = hook.usage()
    pid = uid("usage")
    hook.upload(jpeg(), pid)
    url = hook.delivery_url(pid, transformation={"width": 150, "crop": "scale"})
    first, second = httpx.get(url), httpx.get(url)
    after = hook.usage()
    assert after["bandwidth"]["usage"] - before["bandwidth"]["usage"] == len(first.content) + len(second.content)
    assert after["transformations"]["usage"] - before["transformations"]["usage"] == 1  # the second was cached
    assert after["storage"]["usage"] > before["storage"]["usage"]
    assert after["resources"] == before["resources"] + 1
    assert hook.usage(datetime.now(UTC).date())["requests"] >= 2


def test_archive_download_contains_the_originals(connections, tmp_path) -> None:
    hook = CloudinaryHook()
    prefix = uid("zip")
    for i in range(3):
        hook.upload(jpeg((50 + i, 50)), f"{prefix}/a{i}")
    size = hook.download_archive(tmp_path / "a.zip", prefixes=[prefix + "/"])
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert sorted(zf.namelist()) == [f"{prefix}/a{i}.jpg" for i in range(3)]
    assert size == (tmp_path / "a.zip").stat().st_size


def test_overwrite_false_returns_existing(connections) -> None:
    hook = CloudinaryHook()
    pid = uid("idem")
    first = hook.upload(jpeg(), pid)
    again = hook.upload(jpeg((10, 10)), pid, overwrite=False)
    assert again["existing"] is True and again["version"] == first["version"] and again["width"] == 1200
    replaced = hook.upload(jpeg((10, 10)), pid)
    assert replaced["version"] > first["version"] and replaced["width"] == 10


def test_rename_moves_the_asset_and_its_derivatives_and_old_urls_stop(connections) -> None:
    hook = CloudinaryHook()
    pid, taken = uid("old"), uid("taken")
    result = hook.upload(jpeg(), pid, eager=[{"width": 100, "crop": "scale"}])
    old_url = result["eager"][0]["url"]
    assert fetch_image(old_url)[0].status_code == 200
    moved = hook.rename(pid, f"{pid}--r1")
    assert moved["public_id"] == f"{pid}--r1" and moved["asset_id"] == result["asset_id"]
    assert fetch_image(old_url)[0].status_code == 404
    assert fetch_image(old_url.replace(pid, f"{pid}--r1"))[0].status_code == 200
    assert hook.resource(pid) is None and hook.resource(f"{pid}--r1")["derived"]
    assert pid in connections[1].control("GET", "purges")["purged"]
    hook.upload(jpeg((10, 10)), taken)
    with pytest.raises(CloudinaryError, match="already exists"):  # never over another asset
        hook.rename(f"{pid}--r1", taken)
    with pytest.raises(CloudinaryError, match="not found"):
        hook.rename(uid("absent"), uid("anywhere"))


@pytest.mark.parametrize(("payload", "message"), [(b"", "Empty file"), (b"%PDF-1.4 not an image", "Invalid image")])
def test_bad_files_are_refused_and_nothing_is_stored(connections, payload, message) -> None:
    hook = CloudinaryHook()
    pid = uid("bad")
    with pytest.raises(CloudinaryError, match=message):
        hook.upload(io.BytesIO(payload), pid)
    assert hook.resource(pid) is None


def test_chunked_upload_of_a_large_file(connections, tmp_path, monkeypatch) -> None:
    chunk = 5 * 1024 * 1024  # the smallest part Cloudinary takes (but the last)
    monkeypatch.setattr(cloudinary_module, "LARGE_FILE_BYTES", chunk)
    path = tmp_path / "big.png"  # incompressible: 17 MB, four parts
    Image.frombytes("RGB", (2400, 2400), os.urandom(2400 * 2400 * 3)).save(path, "PNG", compress_level=1)
    assert path.stat().st_size > 3 * chunk
    hook = CloudinaryHook()
    pid = uid("chunked")
    result = hook.upload(path, pid)
    assert (result["width"], result["bytes"]) == (2400, path.stat().st_size)
    _, cld_proc = connections
    assert cld_proc.calls()["POST /v1_1/{cloud}/{rt}/upload"] >= 4


def test_state_survives_a_restart(connections) -> None:
    _, cld_proc = connections
    hook = CloudinaryHook()
    pid = uid("persist")
    hook.upload(jpeg(), pid, tags=["keep"])
    cld_proc.restart()
    assert hook.resource(pid)["tags"] == ["keep"]


def test_admin_rate_limit_headers_and_exhaustion(connections) -> None:
    _, cld_proc = connections
    hook = CloudinaryHook()
    cld_proc.control("POST", "admin-limit", {"limit": 3})
    try:
        first = cloudinary.api.ping(**hook._api)
        assert (first.rate_limit_allowed, first.rate_limit_remaining) == (3, 2)
        hook.ping()
        hook.ping()
        with pytest.raises(CloudinaryRateLimited, match=r"Cloudinary ping failed after \d+ attempt") as caught:
            hook.ping()  # Retry-After points at the next hour: beyond the retry budget
        # ... so the error names the reset, and the operator defers the task until then
        assert caught.value.retry_at - datetime.now(UTC) <= timedelta(hours=1, seconds=2)
    finally:
        cld_proc.control("POST", "admin-limit", {"limit": 500})


def test_tag_context_and_metadata_updates(connections) -> None:
    hook = CloudinaryHook()
    if "ps_version" not in hook.metadata_fields():
        hook.add_metadata_field({"external_id": "ps_version", "label": "Version", "type": "string"})
    a, b = uid("upd"), uid("upd")
    for pid in (a, b):
        hook.upload(jpeg((32, 32)), pid, tags=["base"])
    assert sorted(hook.add_tags([a, b], ["market:de", "market:jp"])) == sorted([a, b])
    assert hook.remove_tags([b], ["market:jp"]) == [b]
    assert hook.add_context([a], {"approved_by": "legal=yes|brand"}) == [a]
    assert hook.update_metadata([a], {"ps_version": "3"}) == [a]
    first, second = hook.resource(a), hook.resource(b)
    assert set(first["tags"]) == {"base", "market:de", "market:jp"} and set(second["tags"]) == {"base", "market:de"}
    assert first["context"]["custom"] == {"approved_by": "legal=yes|brand"}
    assert first["metadata"] == {"ps_version": "3"}


HEADLINES = ["Spring, at last", "A/B 50% off?", "#1 & more: now; go", 'She said "yes"', "L'été 🌸", "Two\nlines"]


@pytest.mark.parametrize("headline", HEADLINES)
def test_text_overlay_urls_answer_whatever_the_headline_holds(connections, headline) -> None:
    """Text layers follow Cloudinary's rule for special characters: a comma or slash in the text is
    escaped twice (``%252C``, ``%252F``) in a URL, which is decoded once before it is split into
    components. The eager URLs the upload answers and the hook's (the SDK's text) answer 200; the
    same text escaped once (``%2C``) splits the component and answers 400, as Cloudinary does."""
    hook = CloudinaryHook()
    pid = uid("headline")
    spec = [{"overlay": {"font_family": "Arial", "font_size": 40, "text": headline}, "color": "white"},
            {"width": 300, "crop": "scale"}]
    result = hook.upload(jpeg((600, 400), (0, 0, 0)), pid, eager=[{"transformation": spec, "format": "jpg"}])
    (eager,) = result["eager"]
    # the hook's URL is the SDK's transformation text (cloudinary.utils.generate_transformation_string)
    urls = {"eager answer": eager["secure_url"], "hook": hook.delivery_url(pid, transformation=spec, format="jpg")}
    for name, url in urls.items():
        response, image = fetch_image(url)
        assert response.status_code == 200, (name, url, response.headers.get("x-cld-error"))
        assert image.convert("L").getextrema()[1] > 200, name  # the headline was drawn
    if "," in headline:
        once = eager["secure_url"].replace("%252C", "%2C")
        answer = httpx.get(once, timeout=30)
        assert answer.status_code == 400 and "Invalid transformation component" in answer.headers["x-cld-error"]
