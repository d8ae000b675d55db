"""VideoRenditionsTrigger on its own: what the triggerer stores and rebuilds, and each way it ends.

The trigger's only I/O is ``CloudinaryHook.resource``; here a stand-in answers it from a script
(the lifecycle tests run the trigger against the emulator over HTTP).
"""

from __future__ import annotations

import asyncio
import importlib
import types
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_media.domain.renditions import derivative_key
from campaign_media.hooks.cloudinary import CloudinaryError
from campaign_media.triggers import VideoRenditionsTrigger
from campaign_media.triggers import cloudinary as trigger_module

HLS, FILM = ("sp_auto", "m3u8"), ("c_fill,h_720,w_1280", "mp4")  # (transformation, format) as the Admin API lists
WAITING = {"spring/fr/VD1": [derivative_key(*HLS), derivative_key(*FILM)], "spring/fr/VD2": [derivative_key(*FILM)]}


class ScriptedHook:
    """Answers ``resource`` per copy from a list of answers, one per look (an exception is raised)."""

    looks: list[str] = []

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script

    def __call__(self, conn_id: str) -> ScriptedHook:
        assert conn_id == "cld_test"
        return self

    def resource(self, public_id: str, delivery_type: str, resource_type: str) -> dict[str, Any] | None:
        assert (delivery_type, resource_type) == ("upload", "video")
        self.looks.append(public_id)
        answers = self.script[public_id]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def derived(*outputs: tuple[str, str]) -> dict[str, Any]:
    return {"derived": [{"transformation": transformation, "format": fmt} for transformation, fmt in outputs]}


def first_event(trigger: VideoRenditionsTrigger) -> tuple[dict[str, Any], float]:
    """The trigger's first event and the seconds it took."""
    async def first() -> tuple[dict[str, Any], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async for event in trigger.run():
            return event.payload, loop.time() - started
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(first(), timeout=20))


def run(trigger: VideoRenditionsTrigger) -> dict[str, Any]:
    """The trigger's first event, without its ``looks`` figures (tested on their own below)."""
    return {k: v for k, v in first_event(trigger)[0].items() if k != "looks"}


def trigger(deadline: datetime | None = None) -> VideoRenditionsTrigger:
    return VideoRenditionsTrigger(waiting=WAITING, deadline=(deadline or datetime.now(UTC) + timedelta(hours=1))
                                  .isoformat(), poll_seconds=0.01, cloudinary_conn_id="cld_test",
                                  min_deferred_seconds=0)


def test_serialize_round_trip_rebuilds_the_same_trigger_from_its_classpath() -> None:
    original = trigger()
    classpath, kwargs = original.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert classpath == "campaign_media.triggers.cloudinary.VideoRenditionsTrigger"
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {"waiting": WAITING, "deadline": original.deadline, "poll_seconds": 0.01,
                      "cloudinary_conn_id": "cld_test", "notified_since": None, "notice_seconds": 1.0,
                      "looked": False, "min_deferred_seconds": 0}
    # the 0.8 classpath (campaign_media.triggers) still resolves, for triggers stored before the move
    assert importlib.import_module("campaign_media.triggers").VideoRenditionsTrigger is VideoRenditionsTrigger


def test_fires_once_every_expected_derivative_is_listed(monkeypatch) -> None:
    hook = ScriptedHook({"spring/fr/VD1": [derived(HLS), derived(HLS, FILM)],
                         "spring/fr/VD2": [derived(), derived(FILM)]})
    hook.looks = []
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    assert run(trigger()) == {"pending": [], "gone": [], "errors": {}}
    assert hook.looks.count("spring/fr/VD1") == 2 and hook.looks.count("spring/fr/VD2") == 2


def test_the_deadline_fires_with_what_is_still_pending(monkeypatch) -> None:
    hook = ScriptedHook({"spring/fr/VD1": [derived(HLS)], "spring/fr/VD2": [derived(FILM)]})
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    assert run(trigger(deadline=datetime.now(UTC) - timedelta(seconds=1))) == {
        "pending": ["spring/fr/VD1"], "gone": [], "errors": {}}


def test_a_copy_deleted_meanwhile_is_gone_not_waited_for(monkeypatch) -> None:
    hook = ScriptedHook({"spring/fr/VD1": [None], "spring/fr/VD2": [derived(FILM)]})
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    assert run(trigger()) == {"pending": [], "gone": ["spring/fr/VD1"], "errors": {}}


def test_an_api_error_is_asked_again_and_reported_only_while_it_lasts(monkeypatch) -> None:
    hook = ScriptedHook({"spring/fr/VD1": [CloudinaryError("Cloudinary resource failed: 500"),
                                           derived(HLS, FILM)],
                         "spring/fr/VD2": [derived(FILM)]})
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    assert run(trigger()) == {"pending": [], "gone": [], "errors": {}}  # the second look succeeded

    still_failing = ScriptedHook({"spring/fr/VD1": [CloudinaryError("Cloudinary resource failed: 500")],
                                  "spring/fr/VD2": [derived(FILM)]})
    monkeypatch.setattr(trigger_module, "CloudinaryHook", still_failing)
    event = run(trigger(deadline=datetime.now(UTC) - timedelta(seconds=1)))
    assert event["pending"] == ["spring/fr/VD1"]
    assert event["errors"] == {"spring/fr/VD1": "Cloudinary resource failed: 500"}


@pytest.mark.parametrize("keys", [[HLS], []])
def test_a_partly_transcoded_copy_stays_pending(monkeypatch, keys) -> None:
    hook = ScriptedHook({"spring/fr/VD1": [derived(*keys)], "spring/fr/VD2": [derived(FILM)]})
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    assert run(trigger(deadline=datetime.now(UTC) + timedelta(seconds=0.3)))["pending"] == ["spring/fr/VD1"]


def test_with_notifications_a_copy_is_looked_at_when_notified_and_a_duplicate_adds_no_look(monkeypatch) -> None:
    """Fallback poll far away: the first look (at the start) finds both copies unmade; VD2's
    notification brings one look that finds it made; VD1's arrives twice with the same arrival
    (a duplicate: one record), and a newer one after a look that still found it unmade."""
    hook = ScriptedHook({"spring/fr/VD1": [derived(), derived(HLS), derived(HLS, FILM)],
                         "spring/fr/VD2": [derived(), derived(FILM)]})
    hook.looks = []
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    arrivals = iter([{"spring/fr/VD2": 10.0}, {"spring/fr/VD1": 11.0}, {"spring/fr/VD1": 11.0},
                     {"spring/fr/VD1": 12.0}])
    asked: list[tuple[str, list[str], float]] = []

    def notified(conn_id: str, public_ids: list[str], after: float) -> dict[str, float]:
        asked.append((conn_id, sorted(public_ids), after))
        return next(arrivals, {})

    monkeypatch.setattr(trigger_module.notices, "notified", notified)
    waiting = VideoRenditionsTrigger(waiting=WAITING, deadline=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                                     poll_seconds=3600, cloudinary_conn_id="cld_test", notified_since=5.0,
                                     notice_seconds=0.0, min_deferred_seconds=0)

    payload, _ = first_event(waiting)
    assert payload["pending"] == [] and payload["looks"] == {"poll": 2, "notified": 3}
    assert hook.looks == ["spring/fr/VD1", "spring/fr/VD2", "spring/fr/VD2", "spring/fr/VD1", "spring/fr/VD1"]
    assert asked[0] == ("cld_test", ["spring/fr/VD1", "spring/fr/VD2"], 5.0) and asked[-1][1] == ["spring/fr/VD1"]


def test_a_trigger_that_looked_before_deferring_polls_an_interval_later_and_never_fires_at_once(monkeypatch) -> None:
    """``looked``: no look at the start; and however soon the copies are ready, the event waits
    ``min_deferred_seconds`` (Airflow's race with a task resumed within seconds of deferring)."""
    hook = ScriptedHook({"spring/fr/VD1": [derived(HLS, FILM)], "spring/fr/VD2": [derived(FILM)]})
    hook.looks = []
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    waiting = VideoRenditionsTrigger(waiting=WAITING, deadline=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                                     poll_seconds=0.3, cloudinary_conn_id="cld_test", looked=True,
                                     min_deferred_seconds=0.8)

    payload, took = first_event(waiting)
    assert payload["pending"] == [] and payload["looks"] == {"poll": 2, "notified": 0}
    assert took >= 0.8  # ready at the first poll (0.3 s), held until 0.8 s


def test_a_notified_copy_not_listed_as_made_yet_is_looked_at_again_seconds_later(monkeypatch) -> None:
    """A real account's Admin API may lag behind its own notification: the copy is asked again
    2 s later (then 4, 8) rather than left to the fallback poll minutes away."""
    one = {"spring/fr/VD1": WAITING["spring/fr/VD1"]}
    hook = ScriptedHook({"spring/fr/VD1": [derived(), derived(HLS, FILM)]})
    hook.looks = []
    monkeypatch.setattr(trigger_module, "CloudinaryHook", hook)
    arrivals = iter([{"spring/fr/VD1": 10.0}])
    monkeypatch.setattr(trigger_module.notices, "notified",
                        lambda conn_id, public_ids, after: next(arrivals, {"spring/fr/VD1": 10.0}))
    waiting = VideoRenditionsTrigger(waiting=one, deadline=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                                     poll_seconds=3600, cloudinary_conn_id="cld_test", notified_since=5.0,
                                     notice_seconds=0.05, looked=True, min_deferred_seconds=0)
    clock = VirtualClock(monkeypatch)  # the trigger's seconds, counted rather than waited

    payload, _ = first_event(waiting)
    assert payload["pending"] == [] and payload["looks"] == {"poll": 0, "notified": 2}
    assert hook.looks == ["spring/fr/VD1", "spring/fr/VD1"]  # the same notification, no more
    assert 2.0 <= clock.now < 2.0 + 0.05 + 1e-6  # looked at again at the first notice check 2 s on, not an hour


class VirtualClock:
    """The video trigger's clock: ``time.monotonic`` reads it and ``asyncio.sleep`` moves it on
    at once, so what the trigger waits for is measured exactly, whatever the machine's load."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0

        async def sleep(seconds: float) -> None:
            self.now += seconds
            await asyncio.sleep(0)

        monkeypatch.setattr(trigger_module, "time", types.SimpleNamespace(monotonic=lambda: self.now))
        monkeypatch.setattr(trigger_module, "asyncio", types.SimpleNamespace(sleep=sleep, to_thread=asyncio.to_thread))
