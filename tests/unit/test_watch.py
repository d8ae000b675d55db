"""The PhotoShelter watcher's decisions (pure): what one poll names, and what it remembers."""

from __future__ import annotations

import pytest

from campaign_media.config.models import Approval, Campaign, Source
from campaign_media.domain.watch import compare, named_media, source_key, watched_sources


def record(mid: str, approval: str = "Approved", updated: str = "2026-12-01 10:00:00 GMT", size: int = 1000,
           field: str = "Approval Status") -> dict:
    return {"image_id": mid, "Image": {"file_name": f"{mid}.jpg", "file_size": size, "updated_at": updated,
                                       "width": 10, "height": 10},
            "CustomMetadata": [{"name": field, "value": approval}]}


def campaign(cid: str, **source) -> Campaign:
    return Campaign.model_validate({"id": cid, "name": cid, "markets": ["fr"],
                                    "source": {"gallery_ids": ["G1"], **source}, "window": {}})


SPRING = campaign("spring")
LISTING = [record("I0000a"), record("I0000b", "Pending"), record("I0000c")]


def test_the_first_poll_sets_the_baseline_and_names_nothing() -> None:
    result = compare(LISTING, [SPRING], None)
    assert result.baseline and result.event() is None and set(result.watermark) == {"I0000a", "I0000b", "I0000c"}


def test_an_approval_or_a_new_file_is_named_an_unapproval_is_not() -> None:
    before = compare(LISTING, [SPRING], None).watermark
    now = [record("I0000a", size=2000),  # a new file
           record("I0000b"),  # approved
           record("I0000c", "Rejected"),  # un-approved: the usage-window DAG closes its copies
           record("I0000d")]  # new, approved
    result = compare(now, [SPRING], before)
    assert result.named == {"spring": ["I0000a", "I0000b", "I0000d"]} and result.changed == 4
    assert result.event() == {"campaigns": {"spring": ["I0000a", "I0000b", "I0000d"]}, "media": 3}
    assert compare(now, [SPRING], result.watermark).event() is None  # the next poll: nothing new


def test_approved_and_unapproved_between_two_polls_names_nothing() -> None:
    before = compare(LISTING, [SPRING], None).watermark
    again = [LISTING[0], record("I0000b", "Pending", updated="2026-12-01 10:01:00 GMT"), LISTING[2]]
    result = compare(again, [SPRING], before)
    assert result.changed == 1 and result.event() is None


def test_each_campaign_on_a_shared_source_gets_its_own_approval_rule() -> None:
    legal = campaign("legal", ).model_copy(update={"approval": Approval(field="Legal", value="Cleared")})
    before = compare(LISTING, [SPRING, legal], None).watermark
    now = [record("I0000b"), record("I0000e", "Cleared", field="Legal")]
    named = compare(now, [SPRING, legal], before).named
    assert named == {"spring": ["I0000b"], "legal": ["I0000e"]}


def test_a_gallery_that_could_not_be_read_does_not_make_its_media_new_later() -> None:
    before = compare(LISTING, [SPRING], None).watermark
    partial = compare(LISTING[:1], [SPRING], before, complete=False)
    assert set(partial.watermark) == set(before) and partial.event() is None
    assert compare(LISTING, [SPRING], partial.watermark).event() is None  # it came back unchanged


def test_ids_of_another_shape_are_never_named() -> None:
    result = compare([record("../etc"), *LISTING], [SPRING], {})
    assert "../etc" not in result.watermark and result.named == {"spring": ["I0000a", "I0000c"]}


def test_campaigns_reading_the_same_galleries_share_one_watcher_at_the_shortest_interval() -> None:
    a, b = campaign("a", watch={"interval": "30s"}), campaign("b", gallery_ids=["G1"])
    other, off = campaign("c", gallery_ids=["G2"]), campaign("d", watch="off")
    sources = watched_sources([b, a, other, off], "photoshelter_default", 60)
    assert sources == {source_key("photoshelter_default", a.source): {"campaigns": ["a", "b"], "interval": 30.0},
                       source_key("photoshelter_default", other.source): {"campaigns": ["c"], "interval": 60}}
    assert watched_sources([a, b], "photoshelter_default", 0) == {}  # the deployment turned it off
    assert source_key("ps", Source(gallery_ids=["G2", "G1"])) == source_key("ps", Source(gallery_ids=["G1", "G2"]))


@pytest.mark.parametrize("value", ["5s", "2 hours", "soon"])
def test_a_watch_interval_out_of_range_or_unreadable_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        campaign("x", watch={"interval": value})


def test_events_merged_into_one_run_name_the_union_and_other_runs_name_none() -> None:
    extras = [{"from_trigger": True, "payload": {"campaigns": {"spring": ["I0000a"]}}},
              {"from_trigger": True, "payload": {"campaigns": {"spring": ["I0000b"], "autumn": ["I0000c"]}}}]
    assert named_media(extras) == {"spring": {"I0000a", "I0000b"}, "autumn": {"I0000c"}}
    assert named_media([{}, {"from_rest_api": True}]) is None


def test_a_source_polls_as_often_as_its_call_budget_allows() -> None:
    from campaign_media.domain.watch import budgeted_interval

    assert budgeted_interval(1, 240, 15.0) == 15.0  # a small source: the shortest interval
    assert budgeted_interval(3, 240, 15.0) == 45.0  # 2,345 media in one gallery
    assert budgeted_interval(100, 240, 15.0) == 1500.0  # 100,000 media: every 25 minutes
    assert budgeted_interval(100, 0, 15.0) == 15.0  # no budget
