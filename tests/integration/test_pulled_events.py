"""Cloudinary's events pulled from a poll channel, over real HTTP, with no public address.

The events trigger runs here as the triggerer runs it (its async generator, in its own event
loop), against the Cloudinary emulator's ``/triggers`` and ``/v2/notifications`` routes:

* it puts the channel's triggers in place, once (a second start changes nothing);
* a market run's video copy finishes on its pulled ``eager`` event (the fallback poll is set to ten
  minutes, the connection has no ``notification_base_url``, nothing is POSTed anywhere);
* a signature is checked on ``signed_payload``: a message whose unsigned ``payload`` copy was
  changed is read from what was signed; one whose signed bytes were re-serialised is refused,
  not acted on and not acknowledged;
* a message recorded but not acknowledged (the triggerer killed in between) comes back after its
  visibility timeout, is recorded once and acted on again, harmlessly;
* a person's delete, rename, access change and governance edit in the console are found and
  repaired; the pipeline's own changes are not hand edits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from campaign_media.domain.events import EVENT_TYPES, HandEdit
from campaign_media.domain.masters import market_public_id
from campaign_media.hooks import CloudinaryHook
from campaign_media.runtime import audit, notices
from campaign_media.steps import events, hand_edits
from campaign_media.triggers.events import CloudinaryEventsTrigger
from tests.integration.test_lifecycle_dags import CAMPAIGN, returned, run
from tests.integration.test_notifications import video_copy, video_looks
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
CHANNEL = "campaign-media-tests"
MESSAGES = "GET /v2/notifications/{cloud}/messages"


class Watcher(threading.Thread):
    """The events trigger run the way the triggerer runs it, until stopped; what it fired."""

    def __init__(self, channel: str, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.trigger = CloudinaryEventsTrigger(channel=channel, **kwargs)
        self.fired: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task | None = None

    def run(self) -> None:
        async def consume() -> None:
            async for event in self.trigger.run():
                self.fired.append(event.payload)

        self.task = self.loop.create_task(consume())
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.join(30)


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag) -> Iterator[dict[str, Any]]:
    """One image and one video master, ingested and published in Japan (the Admin API polled for
    its video); then events pulled (no notification_base_url). The emulator waits 3 s before
    transcoding, so a video wait starts with the copy unmade."""
    with seeded_world(tmp_path_factory.mktemp("pulled"), images=1, videos=1,
                      cld_args=["--eager-delay", "3"]) as world:
        for dag_id in ("campaign_media_ingest", "campaign_media_market_jp"):  # jp's copies: the hand edits'
            result, states = run(dagbag, dag_id, force=True)
            assert result.state == "success", states
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__CLOUDINARY_EVENTS", "pull")
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__VIDEO_FALLBACK_POLL_SECONDS", "600")
        yield world


def ours(cld: CloudinaryHook, channel: str = CHANNEL) -> list[tuple[str, str]]:
    return sorted((t["uri"], t["event_type"]) for t in cld.triggers() if t["uri"] == f"poll://{channel}")


def test_the_channel_s_triggers_are_put_in_place_once_and_others_left_alone(world) -> None:
    cld = CloudinaryHook()
    other = cld.create_trigger("https://example.com/hook", "upload", uri_type="webhook")
    stale = cld.create_trigger(f"poll://{CHANNEL}", "moderation")
    first = events.ensure_triggers(cld, CHANNEL)
    assert (len(first.create), len(first.delete)) == (len(EVENT_TYPES), 1)
    assert ours(cld) == sorted((f"poll://{CHANNEL}", kind) for kind in EVENT_TYPES)
    again = events.ensure_triggers(cld, CHANNEL)
    assert (again.create, again.delete, len(again.keep)) == ([], [], len(EVENT_TYPES))
    listed = {t["id"] for t in cld.triggers()}
    assert other["id"] in listed and stale["id"] not in listed
    cld.delete_trigger(other["id"])


@pytest.fixture
def channel(world, request) -> Iterator[str]:
    """A channel of the test's own (each channel gets its copy of every event: what one test left
    unacknowledged never reaches another), its triggers removed at the end."""
    name = f"{CHANNEL}-{request.node.name[5:40].replace('_', '-')}"
    yield name
    events.remove_triggers(CloudinaryHook(), name)
    for entry, _ in notices.queued_edits("cloudinary_default"):  # what the test pulled and left unhandled
        entry.unlink(missing_ok=True)


@pytest.fixture
def watcher(channel) -> Iterator[Watcher]:
    started = Watcher(channel, wait_seconds=1, visibility_timeout=5)
    started.start()
    deadline = time.monotonic() + 20
    while len(ours(CloudinaryHook(), channel)) < len(EVENT_TYPES) and time.monotonic() < deadline:
        time.sleep(0.2)
    yield started
    started.stop()


def test_a_video_copy_finishes_on_its_pulled_event_with_no_public_address(world, dagbag, watcher) -> None:
    cld = world["cld"]
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    counts = video_looks(result)
    # Looked at once before deferring (not made: the emulator waits 3 s), then once after its
    # pulled event; the fallback poll (ten minutes) never came.
    assert counts["completed"] == 1 and counts["looks"] == {"poll": 0, "notified": 1}, counts
    entry = video_copy(world, "fr")
    assert not any(r.get("pending") for r in entry["renditions"].values())
    # Nothing was POSTed: the upload named no notification URL.
    assert all(job["url"] is None for job in cld.control("GET", "notifications")["sent"])
    assert cld.calls().get(MESSAGES, 0) >= 1
    # The pipeline's own uploads, eager jobs and access rules fired nothing.
    assert watcher.fired == []


def pulled(cld: CloudinaryHook, channel: str, *, visibility_timeout: int = 5) -> events.Pulled:
    """One poll, waiting for what was just raised to arrive."""
    deadline = time.monotonic() + 15
    while True:
        got = events.pull(cld, channel, wait_seconds=1, visibility_timeout=visibility_timeout)
        if got.messages or time.monotonic() > deadline:
            return got


def image_copy(world) -> str:
    """Japan's copy of the approved image (made by the world's first market run)."""
    return market_public_id(CAMPAIGN, "jp", world["seed"]["approved"][0])


def test_a_signature_is_checked_on_the_signed_bytes_and_a_refused_message_comes_back(world, channel,
                                                                                    monkeypatch) -> None:
    cld = CloudinaryHook()
    events.ensure_triggers(cld, channel)
    copy = image_copy(world)
    world["cld"].control("POST", "console", {"action": "context", "public_id": copy,
                                             "context": "note=edited by hand"})
    real = cld.notifications

    def tampered(channel: str, **kwargs: Any) -> list[dict[str, Any]]:
        messages = real(channel, **kwargs)
        for message in messages:  # the unsigned copy says another asset: it must not be believed
            message["payload"] = {**message["payload"], "public_id": "campaigns/x/markets/fr/other"}
        return messages

    monkeypatch.setattr(cld, "notifications", tampered)
    got = pulled(cld, channel)
    assert [e.public_id for e in got.edits] == [copy] and got.refused == []
    cld.ack_notifications(got.handles)

    world["cld"].control("POST", "console", {"action": "context", "public_id": copy,
                                             "context": "note=edited again"})

    def reserialised(channel: str, **kwargs: Any) -> list[dict[str, Any]]:
        messages = real(channel, **kwargs)
        for message in messages:  # what a client re-encoding the parsed payload would check
            raw = json.dumps(message["payload"]).encode()
            message["signed_payload"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return messages

    monkeypatch.setattr(cld, "notifications", reserialised)
    refused = pulled(cld, channel, visibility_timeout=2)
    assert refused.messages == 1 and refused.edits == [] and refused.handles == []
    assert "signed_payload" in refused.refused[0]
    monkeypatch.setattr(cld, "notifications", real)
    time.sleep(2.5)  # its visibility timeout: not acknowledged, so it comes back, and now checks
    back = pulled(cld, channel)
    assert [e.public_id for e in back.edits] == [copy] and back.refused == []
    cld.ack_notifications(back.handles)


def test_a_message_recorded_but_not_acknowledged_comes_back_and_is_recorded_once(world, channel) -> None:
    cld = CloudinaryHook()
    events.ensure_triggers(cld, channel)
    copy = image_copy(world)
    world["cld"].control("POST", "console", {"action": "context", "public_id": copy, "context": "note=third"})
    first = pulled(cld, channel, visibility_timeout=2)  # recorded; the triggerer "dies" before acknowledging
    assert (first.messages, first.new, len(first.edits)) == (1, 1, 1)
    assert events.pull(cld, channel, wait_seconds=0).messages == 0  # invisible meanwhile
    time.sleep(2.5)
    again = pulled(cld, channel)
    assert (again.messages, again.new, again.edits) == (1, 0, first.edits)  # kept once, acted on again
    acked = cld.ack_notifications(again.handles)
    assert list(acked.values()) == ["acked"]
    assert cld.ack_notifications(first.handles) == {first.handles[0]: "not_found"}  # the stale handle
    time.sleep(2.5)
    assert events.pull(cld, channel, wait_seconds=0).messages == 0  # gone for good


def audit_found(kind: str) -> list[dict[str, Any]]:
    return [r for r in audit.read(CAMPAIGN) if r["action"] == "hand_edit_found" and kind in r["before"]]


def handled(dagbag, cld: CloudinaryHook, got: events.Pulled) -> dict[str, Any]:
    """The hand-edits DAG run on what was pulled (its sort task reads the edits the pull queued in
    storage: ``dag.test()`` has no triggering asset events); what the sort task returned."""
    outcome, states = run(dagbag, "campaign_media_hand_edits")
    assert outcome.state == "success", states
    cld.ack_notifications(got.handles)
    [result] = returned(outcome, "sort_edits")
    return result


def test_each_kind_of_hand_edit_is_found_and_repaired_and_the_pipeline_s_own_are_not(world, dagbag, channel) -> None:
    cld, emu = CloudinaryHook(), world["cld"]
    events.ensure_triggers(cld, channel)
    copy = image_copy(world)

    # Renamed by a person: renamed back by the sort task itself.
    emu.control("POST", "console", {"action": "rename", "public_id": copy, "to_public_id": f"{copy}-mine"})
    result = handled(dagbag, cld, got := pulled(cld, channel))
    assert [(e.kind, e.renamed_to) for e in got.edits] == [("rename", f"{copy}-mine")]
    assert cld.resource(copy) is not None and cld.resource(f"{copy}-mine") is None
    assert audit_found("renamed")[-1]["after"] == "renamed back"
    # ... and the rename back is the pipeline's own: no hand edit.
    assert pulled(cld, channel).edits == []

    # Deleted by a person: the market's run makes it again.
    emu.control("POST", "console", {"action": "delete", "public_id": copy})
    result = handled(dagbag, cld, pulled(cld, channel))
    assert result["markets"] == ["jp"] and cld.resource(copy) is None
    outcome, states = run(dagbag, "campaign_media_market_jp")
    assert outcome.state == "success", states
    assert cld.resource(copy) is not None
    assert audit_found("deleted")[-1]["after"] == "made again by the market's run"
    remade = pulled(cld, channel)
    assert remade.edits == []  # the pipeline's upload and eager jobs are its own
    cld.ack_notifications(remade.handles)

    # Access opened beyond the rights: the usage-window run puts the rule back.
    before = cld.resource(copy)["access_control"]
    opened = [{"access_type": "anonymous", "start": "2020-01-01T00:00:00Z", "end": "2035-01-01T00:00:00Z"}]
    emu.control("POST", "console", {"action": "access_control", "public_id": copy,
                                    "access_control": json.dumps(opened)})
    result = handled(dagbag, cld, pulled(cld, channel))
    assert result["windows"] and result["markets"] == []
    outcome, states = run(dagbag, "campaign_media_usage_windows")
    assert outcome.state == "success", states
    assert cld.resource(copy)["access_control"] == before
    assert pulled(cld, channel).edits == []  # the repair is the pipeline's own

    # Governance fields changed by hand: the usage-window run puts the copy's description back.
    described = (cld.resource(copy).get("context") or {}).get("custom") or {}
    emu.control("POST", "console", {"action": "context", "public_id": copy,
                                    "context": "usage_rights=worldwide-everything|owner=someone-else"})
    result = handled(dagbag, cld, pulled(cld, channel))
    assert result["windows"]
    assert (cld.resource(copy).get("context") or {}).get("custom") != described
    outcome, states = run(dagbag, "campaign_media_usage_windows")
    assert outcome.state == "success", states
    assert (cld.resource(copy).get("context") or {}).get("custom") == described
    assert audit_found("governance fields (context)")[-1]["after"] == "put back by the usage-window run"
    assert pulled(cld, channel).edits == []

    # Nothing here was alerted: the campaign repairs (on_hand_edit: repair, the default).
    assert all(r["after"] != "alerted (on_hand_edit: alert)" for r in audit_found(""))


def test_a_campaign_that_asks_for_alerts_gets_one_and_nothing_is_repaired(world) -> None:
    from campaign_media.config.models import Campaign
    from campaign_media.dags.support import load_config

    campaign = load_config()[1].items[CAMPAIGN]
    alerting = {CAMPAIGN: Campaign.model_validate({**campaign.model_dump(by_alias=True), "on_hand_edit": "alert"})}
    edit = HandEdit("delete", image_copy(world), CAMPAIGN, "jp", world["seed"]["approved"][0], "ui: person@example.com")
    result = hand_edits.handle(CloudinaryHook(), alerting, [edit])
    assert (result["markets"], result["windows"], result["repaired"]) == ([], False, 0)
    alert = hand_edits.alert(result["alerted"])
    assert edit.public_id in alert.text and "PhotoShelter" in alert.text


def test_the_events_command_compares_makes_and_removes_the_channel_s_triggers(world, capsys) -> None:
    from campaign_media import cli

    world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__EVENTS_CHANNEL", "campaign-media-cli")
    try:
        assert cli.main(["events"]) == 0
        said = capsys.readouterr().out
        assert said.count("  missing ") == len(EVENT_TYPES) and "--apply" in said
        assert ours(CloudinaryHook(), "campaign-media-cli") == []  # comparing changes nothing
        assert cli.main(["events", "--apply"]) == 0
        assert capsys.readouterr().out.count("  created ") == len(EVENT_TYPES)
        assert len(ours(CloudinaryHook(), "campaign-media-cli")) == len(EVENT_TYPES)
        assert cli.main(["events"]) == 0
        said = capsys.readouterr().out
        assert said.count("  in place ") == len(EVENT_TYPES) and "60 calls an hour while idle" in said
        assert cli.main(["events", "--remove"]) == 0
        assert f"{len(EVENT_TYPES)} trigger(s) deleted" in capsys.readouterr().out
        assert ours(CloudinaryHook(), "campaign-media-cli") == []
    finally:
        world["mp"].delenv("AIRFLOW__CAMPAIGN_MEDIA__EVENTS_CHANNEL")


def test_a_duplicated_or_lost_message_is_recorded_once_and_comes_back(world, channel) -> None:
    cld, emu = CloudinaryHook(), world["cld"]
    events.ensure_triggers(cld, channel)
    copy = image_copy(world)
    try:
        emu.control("POST", "notifications", {"p_duplicate": 1.0, "seed": 1})  # every event buffered twice
        emu.control("POST", "console", {"action": "context", "public_id": copy, "context": "note=twice"})
        twice = pulled(cld, channel)
        assert (twice.messages, twice.new, len(twice.edits)) == (2, 1, 2)  # kept once; acting twice is harmless
        assert set(cld.ack_notifications(twice.handles).values()) == {"acked"}
        emu.control("POST", "notifications", {"p_duplicate": 0.0, "p_drop": 1.0})  # the answer carrying it is lost
        emu.control("POST", "console", {"action": "context", "public_id": copy, "context": "note=lost"})
        time.sleep(1)
        assert events.pull(cld, channel, wait_seconds=1, visibility_timeout=2).messages == 0
    finally:
        emu.control("POST", "notifications", {"p_duplicate": 0.0, "p_drop": 0.0})
    time.sleep(2.5)  # its visibility timeout: delivered again
    back = pulled(cld, channel)
    assert (back.messages, back.new, [e.public_id for e in back.edits]) == (1, 1, [copy])
    cld.ack_notifications(back.handles)
