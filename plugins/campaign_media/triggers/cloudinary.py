"""Waiting for Cloudinary's asynchronous video derivatives without holding a worker slot.

A market's video copies are uploaded with ``eager_async=true``: the upload answers at once and
Cloudinary transcodes in the background. :class:`VideoRenditionsTrigger` runs in the triggerer
(the task is *deferred*: no worker, no pool slot) until every derivative it expects is listed,
or the deadline passes. Its event names the copies that are ready and those still pending; the
operator does the rest.

Two ways to learn that a copy is made:

* **Notifications** (``notified_since`` set: the connection has a ``notification_base_url`` and
  the uploads carried ``eager_notification_url``): the receiver records each verified
  notification in storage; the trigger looks there every ``notice_seconds`` (a storage read, no
  API call) and checks a notified copy at once with one Admin API ``resource`` call — the
  notification wakes it, the Admin API stays the source of truth, so a duplicate costs at most
  one call and changes nothing. It still asks for every pending copy every ``poll_seconds`` (the
  slow fallback: a notification can be lost).
* **Polling** only (no notifications): every pending copy every ``poll_seconds``.

``looked``: the task looked at every copy just before deferring (the first poll then waits an
interval). The event is never fired within ``min_deferred_seconds`` of the trigger's start:
Airflow 3.3 fails a task resumed before the scheduler has read its deferring attempt's exit
(apache/airflow#71580, #72716, open), which takes a few seconds with the LocalExecutor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from campaign_media.domain.renditions import missing_derivatives
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.retry import RetryBudgetExceeded
from campaign_media.runtime import notices


class VideoRenditionsTrigger(BaseTrigger):
    """Fires when every copy in ``waiting`` (``public_id -> expected derivative keys``) has them all,
    or at ``deadline`` (ISO time) with whatever is still pending. ``notified_since`` (Unix time):
    follow the notifications recorded from then on (see the module's text)."""

    def __init__(self, *, waiting: dict[str, list[str]], deadline: str, poll_seconds: float = 30.0,
                 cloudinary_conn_id: str = "cloudinary_default", notified_since: float | None = None,
                 notice_seconds: float = 1.0, looked: bool = False, min_deferred_seconds: float = 10.0) -> None:
        super().__init__()
        self.waiting, self.deadline, self.poll_seconds = waiting, deadline, poll_seconds
        self.cloudinary_conn_id = cloudinary_conn_id
        self.notified_since, self.notice_seconds = notified_since, notice_seconds
        self.looked, self.min_deferred_seconds = looked, min_deferred_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("campaign_media.triggers.cloudinary.VideoRenditionsTrigger",
                {"waiting": self.waiting, "deadline": self.deadline, "poll_seconds": self.poll_seconds,
                 "cloudinary_conn_id": self.cloudinary_conn_id, "notified_since": self.notified_since,
                 "notice_seconds": self.notice_seconds, "looked": self.looked,
                 "min_deferred_seconds": self.min_deferred_seconds})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = CloudinaryHook(self.cloudinary_conn_id)
        pending = {pid: list(keys) for pid, keys in self.waiting.items()}
        errors: dict[str, str] = {}  # the last failed look at a copy still pending
        gone: list[str] = []
        deadline = datetime.fromisoformat(self.deadline)
        heard: dict[str, float] = {}  # copy -> the arrival of the latest notification acted on
        # copy -> (when, how many so far): a notified copy the Admin API did not list as made yet
        # (a real account may lag behind its own notification) is looked at again 2, 4, 8 s later.
        again: dict[str, tuple[float, int]] = {}
        looks = {"poll": 0, "notified": 0}

        async def look(public_id: str) -> None:
            try:
                stored = await asyncio.to_thread(hook.resource, public_id, "upload", "video")
            except (CloudinaryError, RetryBudgetExceeded) as exc:  # asked again at the next poll
                errors[public_id] = str(exc)
                return
            errors.pop(public_id, None)
            if stored is None:  # deleted meanwhile: nothing to wait for
                gone.append(public_id)
                del pending[public_id]
            elif not missing_derivatives(pending[public_id], stored.get("derived") or []):
                del pending[public_id]

        started = time.monotonic()
        next_poll = started + (self.poll_seconds if self.looked else 0.0)  # looked at just before deferring
        while True:
            if time.monotonic() >= next_poll:
                for public_id in list(pending):
                    looks["poll"] += 1
                    await look(public_id)
                next_poll = time.monotonic() + self.poll_seconds
            elif self.notified_since is not None:
                arrived = await asyncio.to_thread(notices.notified, self.cloudinary_conn_id, list(pending),
                                                  self.notified_since)
                due = [pid for pid, (when, _) in again.items() if when <= time.monotonic() and pid in pending]
                fresh = [pid for pid, at in sorted(arrived.items()) if at > heard.get(pid, -1.0)]
                for public_id in dict.fromkeys([*fresh, *due]):  # a duplicate is not newer: no second look
                    heard[public_id] = arrived.get(public_id, heard.get(public_id, 0.0))
                    tries = 0 if public_id in fresh else again[public_id][1]
                    looks["notified"] += 1
                    await look(public_id)
                    again.pop(public_id, None)
                    if public_id in pending and tries < 3:
                        again[public_id] = (time.monotonic() + 2.0 * 2 ** tries, tries + 1)
            if not pending or datetime.now(UTC) >= deadline:
                self.log.info("video derivatives: %d of %d copies ready (%d looks after a notification, %d polled)",
                              len(self.waiting) - len(pending), len(self.waiting), looks["notified"],
                              looks["poll"])
                # Not within seconds of the deferral: the scheduler may still hold the deferring
                # attempt's exit, and a task resumed before it is read is failed (apache/airflow#71580).
                await asyncio.sleep(max(0.0, started + self.min_deferred_seconds - time.monotonic()))
                yield TriggerEvent({"pending": sorted(pending), "gone": sorted(gone), "errors": errors,
                                    "looks": looks})
                return
            if self.notified_since is None:
                self.log.info("video derivatives: %d copies still transcoding; next look in %.0f s", len(pending),
                              self.poll_seconds)
                await asyncio.sleep(max(0.0, next_poll - time.monotonic()))
            else:
                await asyncio.sleep(max(0.0, min(self.notice_seconds, next_poll - time.monotonic())))
