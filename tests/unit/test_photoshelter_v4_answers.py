"""v4's JSON:API-like answers read into the v3 records the steps read (``hooks/photoshelter_v4.py``)."""

from __future__ import annotations

from campaign_media.domain.masters import custom_fields, licence_of, media_id
from campaign_media.hooks import photoshelter_v4 as v4

IMAGE = {"id": "I0000abcDEF12345", "type": "image", "attributes": {
    "file_name": "hero.jpg", "file_size": 1200, "width": 1600, "height": 900, "updated_at": "2026-03-01 10:00:00",
    "caption": "not carried"}}
VIDEO = {"id": "VD000abcDEF1234", "type": "video", "attributes": {"file_name": "hero.mp4", "duration": "4.000"}}


def test_children_split_collections_and_galleries() -> None:
    body = {"data": [{"id": "C1", "type": "collection", "attributes": {"name": "Spring"}},
                     {"id": "G1", "type": "gallery", "attributes": {"name": "Hero", "mode": "private"}},
                     {"id": "X", "type": "something-else"}]}
    assert v4.children(body) == {"collections": [{"collection_id": "C1", "name": "Spring"}],
                                 "galleries": [{"gallery_id": "G1", "name": "Hero", "mode": "private"}]}


def test_custom_metadata_reads_a_resource_or_a_list_holding_one() -> None:
    fields = [{"name": "Approval Status", "value": "Approved"}, {"name": "Owner", "value": "studio"}]
    one = {"data": {"id": "I1", "attributes": {"custom_metadata": fields}}}
    assert v4.custom_metadata(one) == v4.custom_metadata({"data": [one["data"]]}) == fields
    assert v4.custom_metadata({"data": []}) == [] and v4.listed_custom(IMAGE) is None


def test_a_listing_record_reads_as_v3s_for_the_steps() -> None:
    custom = [{"name": "Approval Status", "value": "Approved"}]
    record = v4.listing_record(IMAGE, custom=custom, licence={"license_etime": "2026-06-30 23:59:59"})
    assert media_id(record) == IMAGE["id"] and record["Image"]["width"] == 1600 and "caption" not in record["Image"]
    assert custom_fields(record) == {"Approval Status": "Approved"}
    assert licence_of(record, "UTC") == "2026-06-30T23:59:59+00:00"
    video = v4.listing_record(VIDEO, custom=None, licence=v4.UNREAD_LICENCE)
    assert video["media_type"] == "video" and video["Video"]["video_id"] == VIDEO["id"]
    assert "CustomMetadata" not in video
    assert licence_of(video, "UTC") == "unreadable"  # a medium v3 did not name fails closed


def test_v3_pages_and_their_governance_wherever_it_lands() -> None:
    image, video = v4.listing_record(IMAGE, custom=None, licence=None), v4.listing_record(VIDEO, custom=None,
                                                                                        licence=None)
    media = v4.v3_page([image, video], media=True, next_page=3)
    assert media == {"GalleryMedia": [{"GalleryImage": image}, {"GalleryVideo": video}], "Paging": {"next": 3}}
    assert v4.v3_page([image, video], media=False, next_page=None) == {"GalleryImage": [image], "Paging": {}}
    page = {"GalleryMedia": [
        {"GalleryImage": {"image_id": "I1", "License": {"license_etime": "x"}, "CustomMetadata": []}},
        {"GalleryVideo": {"video_id": "V1", "Video": {"video_id": "V1", "License": {"license_etime": "y"}}}}]}
    assert v4.governance(page) == {"I1": {"License": {"license_etime": "x"}, "CustomMetadata": []},
                                   "V1": {"License": {"license_etime": "y"}}}


def test_errors_name_the_exception_and_its_title() -> None:
    body = {"errors": [{"id": "ApiKeyInvalidException", "title": "Invalid API key"}]}
    assert v4.error_of(body) == {"code": "ApiKeyInvalidException", "message": "Invalid API key"}
    assert v4.error_of({"unexpected": True}) == {"code": "Error", "message": "no message"}
