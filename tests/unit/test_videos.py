"""Pure video logic: which video records ship, durations, video outputs as the SDK writes them,
derivative keys matched across the eager and Admin API forms, and the market file's rules."""

from __future__ import annotations

import json

import cloudinary.utils
import pytest
from pydantic import ValidationError

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.config.models import Approval, Market, VideoRendition
from campaign_media.domain.masters import classify, media_id, parse_duration
from campaign_media.domain.renditions import derivative_key, market_video_specs, missing_derivatives, video_outputs
from campaign_media.hooks.cloudinary import transformation_text
from campaign_media.hooks.photoshelter import PhotoShelterNotFound
from campaign_media.runtime.sources import MediaListingMissing, SourceListing


def video_record(status: str = "Approved", *, strict: bool = False, **fields) -> dict:
    governance = {"CustomMetadata": [{"name": "Approval Status", "value": status}],
                  "License": {"license_etime": "2027-01-01 00:00:00 GMT"}}
    video = {"video_id": "VD000ab.c_d__e", "file_name": "hero.mp4", "width": "1280", "height": "720",
             "duration": "12.480", "file_size": "123456", "updated_at": "2026-11-20 10:00:00 GMT", **fields,
             **(governance if strict else {})}
    return {"video_id": "VD000ab.c_d__e", "media_type": "video", "Video": video, **({} if strict else governance)}


def test_approved_readable_videos_ship_wherever_the_listing_puts_their_metadata() -> None:
    for strict in (False, True):
        master, reason = classify(video_record(strict=strict), Approval())
        assert master and not reason, reason
        assert (master.image_id, master.media_type, master.resource_type) == ("VD000ab.c_d__e", "video", "video")
        assert (master.duration, master.width, master.file_size) == (12.48, 1280, 123456)
        assert master.licence_expiry == "2027-01-01T00:00:00+00:00"
    assert classify(video_record("Pending"), Approval())[1] == "not approved (Approval Status=Pending)"
    assert classify(video_record(file_name="clip.jpg"), Approval())[1] == "not a video file (clip.jpg)"
    assert "no duration" in classify(video_record(duration=""), Approval())[1]
    assert "no pixel size" in classify(video_record(width="0"), Approval())[1]
    assert media_id(video_record()) == "VD000ab.c_d__e" and media_id({}) == "?"


@pytest.mark.parametrize(("text", "seconds"), [("12.5", 12.5), (12, 12.0), ("00:01:02.5", 62.5), ("1:00", 60.0),
                                               ("", 0.0), (None, 0.0), ("n/a", 0.0), ("-3", 0.0)])
def test_durations_are_read_in_seconds_or_clock_form(text, seconds) -> None:
    assert parse_duration(text) == seconds


def test_video_outputs_are_sdk_transformations_with_a_timed_headline() -> None:
    loaded = load_markets()
    markets = loaded.items
    campaign = load_campaigns(markets=loaded).items["spring-launch-2026"]
    outputs, spec_hash = market_video_specs(campaign, markets["fr"])
    assert [(o.name, o.kind, o.spec["format"], o.written_back) for o in outputs] == [
        ("film", "video", "mp4", True), ("film-poster", "poster", "jpg", True), ("film-hls", "stream", "m3u8", False),
        ("reel", "video", "webm", True), ("reel-poster", "poster", "jpg", True)]
    by_name = {o.name: o for o in outputs}
    film = transformation_text(json.dumps(by_name["film"].spec["transformation"], sort_keys=True))
    assert film.startswith("ar_16:9,c_fill,g_auto,w_1280/")
    assert ",so_0.5," in film and ",eo_3.5," in film and "l_text:Arial_48_bold:" in film and film.endswith("/q_auto")
    assert transformation_text(json.dumps(by_name["reel-poster"].spec["transformation"])) == "so_2/ar_9:16,c_fill," \
        "g_auto,w_720"
    assert transformation_text(json.dumps(by_name["film-hls"].spec["transformation"])).endswith("/sp_auto")
    url, _ = cloudinary.utils.cloudinary_url("campaigns/c/markets/fr/VD1", resource_type="video", format="webm",
                                             transformation=by_name["reel"].spec["transformation"], cloud_name="d")
    assert "/video/upload/ar_9:16,c_fill,g_auto,w_720/" in url and "/q_70/" in url and url.endswith(".webm")
    assert ",so_0," in url and "eo_" not in url  # the default headline: from the start to the end
    # The spec hash changes with the video renditions, and only with them.
    other = markets["fr"].model_copy(update={"video_renditions": markets["fr"].video_renditions[:1]})
    assert market_video_specs(campaign, other)[1] != spec_hash
    assert market_video_specs(campaign, markets["fr"].model_copy(update={"breakpoints": [100]}))[1] == spec_hash


def test_no_headline_when_the_rendition_or_the_market_says_none() -> None:
    market = load_markets().items["fr"]
    quiet = VideoRendition(name="quiet", width=640, headline=None, poster=None)
    assert [o.name for o in video_outputs(quiet, market, "Bonjour")] == ["quiet"]
    assert not any("overlay" in step for step in video_outputs(quiet, market, "Bonjour")[0].spec["transformation"])
    plain = market.model_copy(update={"overlay": "none"})
    film = video_outputs(VideoRendition(name="film", width=640), plain, "Bonjour")[0]
    assert not any("overlay" in step for step in film.spec["transformation"])


def test_derivative_keys_match_across_the_eager_and_admin_forms() -> None:
    eager = "ar_16:9,c_fill,g_auto,w_1280/co_white,eo_3.5,l_text:Arial_48_bold:Le%20printemps,so_0.5/q_auto/mp4"
    admin = {"transformation": "ar_16:9,c_fill,g_auto,w_1280/so_0.5,l_text:Arial_48_bold:Le printemps,co_white,eo_3.5"
                               "/q_auto", "format": "mp4"}
    key = derivative_key(eager, "mp4")
    assert key == derivative_key(admin["transformation"], admin["format"])
    assert missing_derivatives([key], [admin]) == []
    assert missing_derivatives([key], [{**admin, "format": "webm"}]) == [key]
    assert missing_derivatives([key, derivative_key("so_2/w_720/jpg", "jpg")], [admin]) == ["so_2/w_720.jpg"]


def test_market_file_video_rules_name_the_fix() -> None:
    base = {"code": "xx", "locales": ["en-GB"], "timezone": "Europe/London", "usage_rights": "any"}
    assert [r.name for r in Market.model_validate(base).video_renditions] == ["film", "reel"]
    with pytest.raises(ValidationError, match="has no size. Fix: add width: 1280"):
        Market.model_validate({**base, "video_renditions": [{"name": "film"}]})
    with pytest.raises(ValidationError, match=r"headline.end \(1.0\) must be after headline.start \(2.0\)"):
        Market.model_validate({**base, "video_renditions": [{"name": "f", "width": 640,
                                                             "headline": {"start": 2, "end": 1}}]})
    with pytest.raises(ValidationError, match="rendition names must be unique"):
        Market.model_validate({**base, "video_renditions": [{"name": "f", "width": 640}, {"name": "f", "width": 320}]})
    with pytest.raises(ValidationError, match="9:16"):  # the unquoted-ratio mistake, named as for images
        Market.model_validate({**base, "video_renditions": [{"name": "f", "width": 640, "aspect_ratio": 556}]})


class NoMediaRoute:
    """A PhotoShelter account without the (inferred) media listing: its galleries exist."""

    def __init__(self, galleries: set[str]) -> None:
        self.galleries = galleries

    def iter_gallery_media(self, gallery_id: str, **_: object):
        raise PhotoShelterNotFound(f"GET mem/gallery/{gallery_id}/media", 404, "NotFound", "no such route")

    def gallery_page(self, gallery_id: str, **_: object) -> dict:
        if gallery_id not in self.galleries:
            raise PhotoShelterNotFound(f"GET mem/gallery/{gallery_id}/images", 404, "NotFound", "gone")
        return {"GalleryImage": [], "Paging": {"total": 0}}


def test_a_missing_media_listing_is_named_not_taken_for_a_deleted_gallery() -> None:
    base = load_campaigns(markets=load_markets()).items["spring-launch-2026"]
    campaign = base.model_copy(update={"source": base.source.model_copy(update={
        "gallery_ids": ["G0000exists.abc", "G0000deleted.ab"], "collection_name": None})})
    with pytest.raises(MediaListingMissing, match=r"media listing of gallery G0000exists\.abc .* source\.media: "
                                                  r"\[image\]"):
        list(SourceListing(NoMediaRoute({"G0000exists.abc"}), campaign))
    gone = SourceListing(NoMediaRoute(set()), campaign)
    assert list(gone) == [] and gone.missing == ["G0000exists.abc", "G0000deleted.ab"]
