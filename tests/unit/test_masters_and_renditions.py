"""Pure domain logic: which records ship, public IDs, rendition transformations, manifests."""

from __future__ import annotations

from datetime import UTC, datetime

import cloudinary.utils
import pytest

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.config.models import Approval
from campaign_media.domain.masters import (
    ListingShapeError,
    Master,
    changed_in,
    check_listing_shape,
    classify,
    is_media_id,
    parse_ps_time,
)
from campaign_media.domain.renditions import (
    delivery_entry,
    eager_spec,
    headline_for,
    writeback_file_name,
    writebacks_by_master,
)


def record(status: str = "Approved", **image) -> dict:
    return {"image_id": "I0000abc.def_gh", "Image": {"image_id": "I0000abc.def_gh", "file_name": "a.jpg",
                                                    "width": "1600", "height": "1200",
                                                    "updated_at": "2026-11-20 10:00:00 GMT", **image},
            "CustomMetadata": [{"name": "Approval Status", "value": status}, {"name": "Owner", "value": "studio"}],
            "License": {"license_etime": "2027-01-01 00:00:00 GMT"}}


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/var/lib/airflow/x", "I0000abc/../../x", "I0000",
                                     "I0000abc def", "X0000abcdefghijk", "", "I0000" + "a" * 40])
def test_an_id_of_another_shape_is_skipped_before_it_reaches_a_path(hostile: str) -> None:
    """Media IDs are joined onto temporary and storage paths: one that is not PhotoShelter's shape
    (I0000/VD000, then letters, digits, '.' or '_') is reported and skipped like other bad media."""
    listed = record()
    listed["image_id"] = listed["Image"]["image_id"] = hostile
    master, reason = classify(listed, Approval())
    assert master is None and ("not a PhotoShelter media ID" in reason or "without an image_id" in reason), reason


def test_photoshelter_ids_with_dots_and_underscores_are_accepted() -> None:
    for media_id in ("I0000IcZL.qvRYv8", "VD000ab_c.DEF1234", "I0000abc.def_gh"):
        assert is_media_id(media_id), media_id


def test_only_approved_readable_images_ship() -> None:
    master, reason = classify(record(), Approval())
    assert master and not reason and master.licence_expiry == "2027-01-01T00:00:00+00:00"
    assert classify(record("Pending"), Approval())[1] == "not approved (Approval Status=Pending)"
    assert classify(record(status="approved"), Approval())[0]  # case-insensitive rule
    assert "not an image" in classify(record(file_name="brief.pdf"), Approval())[1]
    assert "unreadable" in classify(record(width=""), Approval())[1]
    custom = classify(record("Yes"), Approval(field="Approval Status", value="yes"))
    assert custom[0] is not None


def test_unreadable_licence_is_marked_not_dropped() -> None:
    rec = record()
    rec["License"] = {"license_etime": "sometime next spring"}
    assert classify(rec, Approval())[0].licence_expiry == "unreadable"


def test_interval_membership_and_timestamps() -> None:
    master = classify(record(), Approval())[0]
    assert parse_ps_time("2026-11-20 10:00:00 GMT") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert changed_in(master, datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))
    assert not changed_in(master, datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
    assert master.public_id("spring") == "campaigns/spring/masters/I0000abc.def_gh"
    assert Master.from_dict(master.to_dict()) == master


def test_rendition_specs_become_sdk_transformations() -> None:
    markets = load_markets().items
    campaign = load_campaigns(markets=load_markets()).items["spring-launch-2026"]
    fr = markets["fr"]
    headline = headline_for(campaign, fr)
    assert headline == "Le printemps est là"
    hero, _square, product = (eager_spec(r, fr, headline) for r in fr.renditions)
    eager = cloudinary.utils.build_eager([hero, product])
    assert eager.split("|")[0].startswith("ar_16:9,c_fill,g_auto,w_1600/")
    assert "l_text:Arial_48_bold:Le%20printemps%20est%20l%C3%A0" in eager
    assert eager.split("|")[1].startswith("e_background_removal/b_white,c_pad,g_center,h_800,w_800/")
    assert eager.endswith("/png") and "l_text" not in eager.split("|")[1]
    assert headline_for(campaign, markets["sa"]) == "وصل الربيع"


def test_writeback_names_are_keys() -> None:
    name = writeback_file_name("spring", "fr", "I0000abc", "hero", "9f86d081884c7d65", "jpg")
    assert name == "spring__fr__I0000abc__hero__v9f86d081884c7d65.jpg"


@pytest.mark.parametrize(("text", "tz", "utc"), [
    ("2026-11-20 10:00:00 GMT", "America/New_York", "2026-11-20T10:00:00"),  # its own zone wins
    ("2026-11-20 10:00:00 UTC", "Asia/Tokyo", "2026-11-20T10:00:00"),
    ("2026-11-20T10:00:00Z", "Asia/Tokyo", "2026-11-20T10:00:00"),
    ("2026-11-20T11:00:00+01:00", "UTC", "2026-11-20T10:00:00"),
    ("2026-11-20 05:00:00 America/New_York", "UTC", "2026-11-20T10:00:00"),
    ("2026-11-20 05:00:00", "America/New_York", "2026-11-20T10:00:00"),  # bare: the session's zone
    ("2026-07-20 06:00:00", "America/New_York", "2026-07-20T10:00:00"),  # daylight saving applies
    ("2026-11-20 10:00:00", "GMT", "2026-11-20T10:00:00"),
])
def test_photoshelter_times_are_read_with_their_zone(text, tz, utc) -> None:
    assert parse_ps_time(text, tz) == datetime.fromisoformat(utc).replace(tzinfo=UTC)


def test_both_listing_shapes_and_local_times_read_the_same() -> None:
    top = record()
    nested = record(updated_at="2026-11-20 05:00:00")
    image = nested["Image"]
    image["CustomMetadata"], image["License"] = nested.pop("CustomMetadata"), nested.pop("License")
    image["License"] = {"license_etime": "2026-12-31 19:00:00"}
    a, b = classify(top, Approval())[0], classify(nested, Approval(), "America/New_York")[0]
    assert a is not None and b is not None
    assert (a.version, a.licence_expiry, a.owner) == (b.version, b.licence_expiry, b.owner)
    assert classify(nested, Approval(), "Mars/Olympus")[0].licence_expiry == "unreadable"


def test_a_listing_that_reads_as_nothing_fails_loudly() -> None:
    check_listing_shape("c", 0, 0, 0)  # an empty source is not a shape problem
    check_listing_shape("c", 10, 4, 1)
    with pytest.raises(ListingShapeError, match="none reads as approved.*check-account"):
        check_listing_shape("c", 10, 0, 0)
    with pytest.raises(ListingShapeError, match="not one readable licence expiry"):
        check_listing_shape("c", 10, 4, 0)


def test_delivery_entry_has_channels_devices_and_srcset() -> None:
    fr = load_markets().items["fr"]
    urls = []

    def url_for(pid, spec):
        urls.append(spec)
        return cloudinary.utils.cloudinary_url(pid, cloud_name="c", transformation=spec)[0]

    entry = delivery_entry(url_for, "campaigns/s/masters/I1", fr, {"hero": {"url": "u"}})
    assert set(entry["channels"]) == {"web", "mobile", "ecommerce", "social"}
    assert "dpr_3.0" in entry["channels"]["mobile"]["app_hd"] and "f_auto" in entry["channels"]["web"]["mobile"]
    assert entry["srcset"].endswith("1600w") and entry["renditions"] == {"hero": {"url": "u"}}


def test_writebacks_are_grouped_by_their_master_and_other_markets_left_out() -> None:
    odd = "I0000a__b.__vQ"  # PhotoShelter IDs may hold "_" and "."
    hero = writeback_file_name("spring", "fr", odd, "hero", "v1", "jpg")
    thumb = writeback_file_name("spring", "fr", odd, "thumb", "v1", "webp")
    older = writeback_file_name("spring", "fr", odd, "hero", "v0", "jpg")
    other = writeback_file_name("spring", "fr", "I0000a", "hero", "v1", "jpg")
    german = writeback_file_name("spring", "de", odd, "hero", "v1", "jpg")
    names = {hero: "I1", thumb: "I2", older: "I6", other: "I3", german: "I4", "unrelated.jpg": "I5"}
    grouped = writebacks_by_master(names, "spring", "fr", [odd, "I0000a", "I0000none"], ["hero", "thumb"])
    assert grouped == {odd: {hero: "I1", thumb: "I2", older: "I6"}, "I0000a": {other: "I3"}}
