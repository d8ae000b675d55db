"""Cloudinary's pulled events, the parts without I/O: the triggers a channel needs, what a
verified event says a person changed, and what that calls for."""

from __future__ import annotations

import base64
import json

import pytest

from campaign_media.domain.events import (
    EVENT_TYPES,
    HandEdit,
    MessageRefused,
    channel_name,
    eager_copy,
    hand_edits,
    path_of,
    repairs,
    signed_bytes,
    signed_event,
    trigger_plan,
)

COPY = "campaigns/spring/markets/fr/I0000abc"
KEY = "our-api-key"


def by(source: str, who: str) -> dict:
    return {"notification_context": {"triggered_by": {"source": source, "id": who}}}


def test_a_channel_gets_one_poll_trigger_per_event_type_and_nothing_else_is_touched() -> None:
    uri = "poll://campaign-media-x"
    existing = [{"id": "a", "uri": uri, "event_type": "eager", "created_at": "1"},
                {"id": "b", "uri": uri, "event_type": "eager", "created_at": "2"},  # doubled: goes
                {"id": "c", "uri": uri, "event_type": "moderation", "created_at": "1"},  # not ours any more
                {"id": "d", "uri": "https://example.com/hook", "event_type": "delete"},  # someone else's
                {"id": "e", "uri": "poll://other", "event_type": "rename"}]
    plan = trigger_plan(existing, "campaign-media-x")
    assert [t["id"] for t in plan.keep] == ["a"]
    assert sorted(t["id"] for t in plan.delete) == ["b", "c"]
    assert [t["event_type"] for t in plan.create] == [k for k in EVENT_TYPES if k != "eager"]
    assert all(t == {"uri": uri, "event_type": t["event_type"], "uri_type": "poll"} for t in plan.create)
    done = trigger_plan([*plan.keep, *({"id": str(i), "uri": uri, "event_type": t["event_type"]}
                                       for i, t in enumerate(plan.create))], "campaign-media-x")
    assert (done.create, done.delete) == ([], [])


def test_a_channel_name_is_checked_and_defaults_to_the_connection() -> None:
    assert channel_name("cloudinary_default") == "campaign-media-cloudinary_default"
    assert channel_name("cloudinary_default", " brand-eu ") == "brand-eu"
    with pytest.raises(ValueError, match="events_channel"):
        channel_name("cloudinary_default", "has space")


def test_the_event_is_read_from_the_signed_bytes_only() -> None:
    raw = json.dumps({"notification_type": "delete", "public_id": "é"}, ensure_ascii=False).encode()
    encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert signed_bytes({"signed_payload": encoded}) == raw  # unpadded, as the service sends it
    assert signed_event(raw)["public_id"] == "é"
    for bad in ({}, {"signed_payload": ""}, {"signed_payload": "%%%"}):
        with pytest.raises(MessageRefused):
            signed_bytes(bad)
    for bad_raw in (b"[1]", b"not json", b"\xff"):
        with pytest.raises(MessageRefused):
            signed_event(bad_raw)


def test_a_person_s_edits_to_market_copies_are_hand_edits_and_the_pipeline_s_own_are_not() -> None:
    deleted = {"notification_type": "delete", "resources": [{"public_id": COPY}, {"public_id": "elsewhere/x"}],
               **by("ui", "person@example.com")}
    [edit] = hand_edits(deleted, KEY)
    assert (edit.kind, edit.campaign, edit.market, edit.image_id) == ("delete", "spring", "fr", "I0000abc")
    assert edit.by == "ui: person@example.com" and "deleted by hand" in edit.found()
    assert hand_edits({**deleted, **by("api", KEY)}, KEY) == []  # the pipeline's own delete
    assert len(hand_edits({**deleted, **by("api", "another-key")}, KEY)) == 1  # another system's API call
    renamed = {"notification_type": "rename", "from_public_id": COPY, "to_public_id": "mine/x", **by("ui", "p")}
    assert [(e.public_id, e.renamed_to) for e in hand_edits(renamed, KEY)] == [(COPY, "mine/x")]
    rotated = {"notification_type": "rename", "from_public_id": COPY + "--r1", "to_public_id": "x", **by("ui", "p")}
    assert hand_edits(rotated, KEY)[0].image_id == "I0000abc"
    metadata = {"notification_type": "resource_metadata_changed", "resources": {"asset1": {"public_id": COPY}},
                **by("ui", "p")}
    assert [e.kind for e in hand_edits(metadata, KEY)] == ["resource_metadata_changed"]
    assert hand_edits({"notification_type": "upload", "public_id": COPY, **by("ui", "p")}, KEY) == []
    assert HandEdit.from_dict(edit.as_dict()) == edit


def test_an_eager_event_names_the_copy_it_finished() -> None:
    assert eager_copy({"notification_type": "eager", "public_id": COPY}) == COPY
    assert eager_copy({"notification_type": "upload", "public_id": COPY}) is None


def test_edits_call_for_the_runs_that_repair_them_or_for_an_alert() -> None:
    def edit(kind: str, campaign: str = "spring", market: str = "fr") -> HandEdit:
        return HandEdit(kind, f"campaigns/{campaign}/markets/{market}/I0000abc", campaign, market, "I0000abc", "ui: p")

    plan = repairs([edit("delete"), edit("delete"), edit("delete", market="jp"), edit("access_control_changed"),
                    edit("delete", campaign="quiet"), edit("rename", campaign="gone")],
                   {"spring": "repair", "quiet": "alert"})
    assert plan.markets == ["fr", "jp"] and plan.windows
    assert len(plan.repaired) == 3 and [e.campaign for e in plan.alerted] == ["quiet"]
    assert [e.campaign for e in plan.unknown] == ["gone"]
    assert not repairs([edit("delete")], {"spring": "repair"}).windows


def test_the_event_path_and_why() -> None:
    assert path_of("cloudinary_default", True, "pull")[0] == "webhook"
    assert path_of("cloudinary_default", False, "pull")[0] == "pull"
    assert path_of("cloudinary_other", False, "pull")[0] == "admin"
    assert path_of("cloudinary_default", False, "admin") == (
        "admin", "[campaign_media] cloudinary_events = admin: transcodes are polled through the Admin API")
