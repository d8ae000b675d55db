"""PhotoShelterHook against the PhotoShelter emulator, over real HTTP."""

from __future__ import annotations

import io
import os
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from campaign_media.domain.masters import LICENCE_UNREADABLE, custom_fields, licence_of, parse_ps_time
from campaign_media.hooks.photoshelter import (
    EmptyOriginalError,
    PhotoShelterAuthError,
    PhotoShelterError,
    PhotoShelterHook,
    PhotoShelterNotFound,
)
from emulators.photoshelter.seed import seed
from emulators.runner import STRICT, start_photoshelter
from tests.conftest import ps_connection

pytestmark = pytest.mark.integration


def hook_with(monkeypatch: pytest.MonkeyPatch, proc, **overrides) -> PhotoShelterHook:
    monkeypatch.setenv("AIRFLOW_CONN_PS_VARIANT", ps_connection(proc, **overrides))
    return PhotoShelterHook("ps_variant")


def test_token_and_organisation_login(connections, ps_seed) -> None:
    ps_proc, _ = connections
    hook = PhotoShelterHook()
    hook.login()
    assert hook.org_id == ps_seed[1]["account"]["org_id"]
    session = hook._call("GET", "mem/user/session")["Session"]
    assert session["org_id"] == hook.org_id
    calls = ps_proc.calls()
    assert calls["POST /psapi/v3/mem/authenticate"] == 1
    assert calls["POST /psapi/v3/mem/organization/{org_id}/authenticate"] == 1


@pytest.mark.parametrize(("overrides", "code"), [
    ({"extra": {"api_key": "WRONGKEY123"}}, "ApiKeyInvalid"),
    ({"password": "not-the-password"}, "InvalidCredentials"),
    ({"extra": {"org_id": "O0000nottheorg00"}}, "NotOrganizationMember"),
])
def test_bad_credentials_are_clear_errors(connections, monkeypatch, overrides, code) -> None:
    hook = hook_with(monkeypatch, connections[0], **overrides)
    with pytest.raises(PhotoShelterAuthError, match=code):
        hook.login()


def test_collections_galleries_and_paging(connections, ps_seed) -> None:
    ps_proc, _ = connections
    seed = ps_seed[1]
    hook = PhotoShelterHook()
    galleries = list(hook.walk_galleries())
    in_campaign = [g["gallery_id"] for path, g in galleries if path == ("Spring Launch 2026",)]
    # the seeded ones, in order (other tests of this session add galleries to the collection)
    assert [g for g in in_campaign if g in seed["gallery_ids"]] == seed["gallery_ids"]
    gallery_id = seed["gallery_ids"][0]
    ps_proc.control("POST", "calls/reset")
    images = list(hook.iter_gallery_images(gallery_id, per_page=3))
    first_gallery = {i["image_id"] for i in images}
    assert len(images) == len(first_gallery) >= 10  # 8 masters + 4 broken records, at least
    assert ps_proc.calls()["GET /psapi/v3/mem/gallery/{gallery_id}/images"] == -(-len(images) // 3)
    record = next(i for i in images if i["image_id"] == seed["approved"][0])
    assert record["Image"]["file_name"].endswith(".jpg") and record["Image"]["Iptc"]["credit"] == "Brand Studio"
    fields = custom_fields(record)  # top level or inside Image, wherever the listing put them
    assert fields["Approval Status"] == "Approved" and fields["Campaign"] == "spring-launch-2026"
    assert licence_of(record, hook.session_timezone()) not in ("", LICENCE_UNREADABLE)


def test_a_person_approving_in_photoshelter_changes_the_listing(connections, ps_seed) -> None:
    """The emulator's stand-in for an edit in PhotoShelter's UI: the field and ``updated_at`` move."""
    ps_proc, _ = connections
    hook = PhotoShelterHook()
    pending = ps_seed[1]["pending"][0]

    def listed() -> dict:
        return next(r for g in ps_seed[1]["gallery_ids"] for r in hook.iter_gallery_images(g)
                    if r["image_id"] == pending)

    before = listed()
    assert custom_fields(before)["Approval Status"] != "Approved"
    # PhotoShelter's times are to the second: an edit in the same second as the last one could not show
    edited_last = parse_ps_time(before["Image"]["updated_at"])
    while datetime.now(UTC) < edited_last + timedelta(seconds=1):
        time.sleep(0.1)
    try:
        ps_proc.control("POST", f"images/{pending}/custom-metadata", {"Approval Status": "Approved"})
        after = listed()
        assert custom_fields(after)["Approval Status"] == "Approved"
        assert parse_ps_time(after["Image"]["updated_at"]) > edited_last  # it moved
        assert custom_fields(after)["Owner"] == custom_fields(before)["Owner"]  # the other fields stay
    finally:
        ps_proc.control("POST", f"images/{pending}/custom-metadata",
                        {"Approval Status": custom_fields(before)["Approval Status"]})
    with pytest.raises(Exception, match="404"):
        ps_proc.control("POST", "images/I0000nosuch/custom-metadata", {"Approval Status": "Approved"})


def test_unknown_gallery_is_not_found(connections) -> None:
    with pytest.raises(PhotoShelterNotFound, match="G0000doesnotexist"):
        list(PhotoShelterHook().iter_gallery_images("G0000doesnotexist"))


def test_expired_session_logs_in_again_once(connections, ps_seed) -> None:
    ps_proc, _ = connections
    hook = PhotoShelterHook()
    hook.get_gallery(ps_seed[1]["gallery_ids"][0])
    ps_proc.control("POST", "sessions/expire")
    assert hook.get_gallery(ps_seed[1]["gallery_ids"][0])["gallery_id"] == ps_seed[1]["gallery_ids"][0]
    assert ps_proc.calls()["POST /psapi/v3/mem/authenticate"] == 2


def big_jpeg(path, side: int = 3000) -> None:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, "JPEG", quality=95)


def test_upload_then_streamed_download_keeps_memory_flat(connections, ps_seed, tmp_path) -> None:
    hook = PhotoShelterHook()
    gallery = hook.ensure_gallery(f"uploads-{uuid.uuid4().hex[:6]}", ps_seed[1]["collection_id"])
    source = tmp_path / "large original ü.jpg"
    big_jpeg(source)
    size = source.stat().st_size
    assert size > 8 * 1024 * 1024
    image = hook.upload_image(gallery["gallery_id"], source)
    assert image["file_name"] == source.name and int(image["file_size"]) == size
    assert hook.count_images(gallery["gallery_id"], source.name) == 1

    tracemalloc.start()
    download = hook.download_original(image["image_id"], tmp_path / "copy.jpg", chunk_size=256 * 1024)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert download.size == size and (tmp_path / "copy.jpg").read_bytes() == source.read_bytes()
    assert peak < 3 * 1024 * 1024, f"peak {peak} bytes while streaming a {size}-byte original"


def test_ensure_gallery_is_idempotent(connections, ps_seed) -> None:
    hook = PhotoShelterHook()
    name = f"renditions-{uuid.uuid4().hex[:6]}"
    first = hook.ensure_gallery(name, ps_seed[1]["collection_id"])
    assert hook.ensure_gallery(name, ps_seed[1]["collection_id"])["gallery_id"] == first["gallery_id"]
    assert len(hook.find_galleries(name)) == 1


@pytest.mark.parametrize(("payload", "name"), [(b"", "empty.jpg"), (b"plain text, not a picture", "note.jpg")])
def test_bad_uploads_are_refused_and_nothing_is_written(connections, ps_seed, tmp_path, payload, name) -> None:
    hook = PhotoShelterHook()
    gallery = hook.ensure_gallery(f"bad-{uuid.uuid4().hex[:6]}", ps_seed[1]["collection_id"])
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(PhotoShelterError, match="InvalidFile"):
        hook.upload_image(gallery["gallery_id"], path)
    assert list(hook.iter_gallery_images(gallery["gallery_id"])) == []


def test_upload_to_unknown_gallery(connections, tmp_path) -> None:
    path = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8)).save(path)
    with pytest.raises(PhotoShelterNotFound):
        PhotoShelterHook().upload_image("G0000doesnotexist", path)


def test_broken_originals_fail_clearly_and_leave_no_file(connections, ps_seed, tmp_path) -> None:
    broken = ps_seed[1]["broken"]
    hook = PhotoShelterHook()
    with pytest.raises(EmptyOriginalError, match="zero bytes"):
        hook.download_original(broken["zero_byte"], tmp_path / "zero.jpg")
    with pytest.raises(PhotoShelterNotFound, match="FileNotFound"):
        hook.download_original(broken["missing_original"], tmp_path / "missing.jpg")
    assert list(tmp_path.iterdir()) == []


def test_metadata_writes_only_where_the_connection_enables_them(connections, ps_seed, monkeypatch,
                                                                tmp_path) -> None:
    """No public route is documented: off by default; the strict emulator has none; a
    permissive one (an account that has such routes) takes them when the connection says so."""
    image_id = ps_seed[1]["pending"][0]
    with pytest.raises(PhotoShelterError, match="MetadataWriteDisabled"):
        PhotoShelterHook().update_metadata(image_id, custom={"Published Market": "fr-FR"})
    if STRICT:
        hook = hook_with(monkeypatch, connections[0], extra={"metadata_write": True})
        with pytest.raises(PhotoShelterNotFound):
            hook.update_metadata(image_id, custom={"Published Market": "fr-FR"})
    data = seed(tmp_path / "ps", images=6, galleries=1)
    permissive = start_photoshelter(tmp_path / "ps", strict=False)
    try:
        hook = hook_with(monkeypatch, permissive, extra={"metadata_write": True})
        image_id = data["pending"][0]
        hook.update_metadata(image_id, iptc={"headline": "Printemps"}, custom={"Published Market": "fr-FR"})
        image = hook.get_image(image_id, extend={"Iptc": {}, "CustomMetadata": {}})
        assert image["Iptc"]["headline"] == "Printemps"
        assert {"name": "Published Market", "value": "fr-FR"}.items() <= \
            next(m for m in image["CustomMetadata"] if m["name"] == "Published Market").items()
    finally:
        permissive.stop()


def test_strict_times_are_local_and_read_as_the_same_instant(monkeypatch, tmp_path) -> None:
    """The same record served permissive (GMT) and strict (the account's zone, no marker) reads
    as the same instant once the session's zone is applied."""
    data = seed(tmp_path / "ps", images=2, galleries=1)
    image_id = data["approved"][0]
    read = {}
    for strict in (False, True):
        proc = start_photoshelter(tmp_path / "ps", strict=strict)
        try:
            hook = hook_with(monkeypatch, proc)
            record = hook.get_image(image_id, extend={"License": {}})
            tz = hook.session_timezone()
            read[strict] = (record["updated_at"], tz, parse_ps_time(record["updated_at"], tz),
                            parse_ps_time(record["License"]["license_etime"], tz))
        finally:
            proc.stop()
    assert read[False][0].endswith(" GMT") and read[False][1] == "GMT"
    assert not read[True][0].endswith("GMT") and read[True][1] == "America/New_York"
    assert read[True][0] != read[False][0]  # the text differs ...
    assert read[True][2:] == read[False][2:]  # ... the instants do not


def test_non_ascii_names_round_trip(connections, ps_seed, tmp_path) -> None:
    hook = PhotoShelterHook()
    image_id = ps_seed[1]["non_ascii"][0]
    name = hook.get_image(image_id)["file_name"]
    assert not name.isascii()
    download = hook.download_original(image_id, tmp_path / "x.jpg")
    assert Image.open(io.BytesIO((tmp_path / "x.jpg").read_bytes())).size[0] > 0 and download.size > 0
