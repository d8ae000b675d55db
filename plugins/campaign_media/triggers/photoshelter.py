"""Watching PhotoShelter for approvals and new files: event-driven ingest, on the triggerer.

:class:`PhotoShelterChangeTrigger` is an event trigger (``BaseEventTrigger``) behind an
``AssetWatcher`` on one asset per watched PhotoShelter source. It runs in the triggerer (no
worker slot), lists the source every ``interval`` seconds (``campaign_media.steps.watch``, in a
thread: the hook is synchronous) and fires one event per poll that found something to ingest,
naming each campaign and its media. The ingest DAG is scheduled on these assets or its daily
timetable; an event-triggered run ingests exactly the media its events name.

A poll that fails (the hook has already retried it with its policy) fires nothing, records the
failure, and waits longer before the next one (doubling, at most ``MAX_BACKOFF``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from campaign_media.domain.watch import budgeted_interval
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.steps import watch

MAX_BACKOFF = 900.0  # seconds between polls at most while PhotoShelter keeps failing


class PhotoShelterChangeTrigger(BaseEventTrigger):
    """Fires ``{"source", "campaigns": {campaign: [media IDs]}, "media", "poll"}`` whenever a poll
    of the source finds media that changed or appeared and are approved by a campaign's rule.

    :param source: the source's key (``campaign_media.domain.watch.source_key``)
    :param campaigns: the campaigns reading that source
    :param interval: seconds between polls
    :param photoshelter_conn_id: the PhotoShelter connection
    :param max_polls: stop after this many polls (tests; None: forever, as the triggerer expects)
    :param calls_per_hour: the source's call budget: after a poll of ``c`` calls the next waits at
        least ``3600 c / calls_per_hour`` seconds (0: the interval always)
    """

    def __init__(self, *, source: str, campaigns: list[str], interval: float = 15.0,
                 photoshelter_conn_id: str = "photoshelter_default", max_polls: int | None = None,
                 calls_per_hour: float = 0.0) -> None:
        super().__init__()
        self.source, self.campaigns, self.interval = source, list(campaigns), float(interval)
        self.photoshelter_conn_id, self.max_polls = photoshelter_conn_id, max_polls
        self.calls_per_hour = float(calls_per_hour)
        self.wait = self.interval  # the interval the last poll's cost allows

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("campaign_media.triggers.photoshelter.PhotoShelterChangeTrigger",
                {"source": self.source, "campaigns": self.campaigns, "interval": self.interval,
                 "photoshelter_conn_id": self.photoshelter_conn_id, "max_polls": self.max_polls,
                 "calls_per_hour": self.calls_per_hour})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = PhotoShelterHook(self.photoshelter_conn_id)
        polls, failures = 0, 0
        while self.max_polls is None or polls < self.max_polls:
            polls += 1
            campaigns = watch.campaigns_of(self.campaigns)
            if not campaigns:
                self.log.warning("source %s: none of %s is in the include folder any more; not polled",
                                 self.source, self.campaigns)
            else:
                try:
                    result, record = await asyncio.to_thread(watch.poll, hook, campaigns, self.source)
                except Exception as exc:  # noqa: BLE001 - whatever went wrong, the poll is unsure: no event
                    failures += 1
                    await asyncio.to_thread(watch.failed, self.source, exc)
                    self.log.warning("source %s: poll failed (%s); no event; next poll in %.0f s", self.source,
                                     exc, self.pause(failures), exc_info=not isinstance(exc, CampaignMediaError))
                else:
                    failures = 0
                    self.wait = budgeted_interval(record["calls"], self.calls_per_hour, self.interval)
                    record["interval"] = round(self.wait, 1)
                    payload = result.event()
                    self.log.info("source %s: %d media, %d changed, %s (%d calls)", self.source, result.seen,
                                  result.changed, "baseline" if result.baseline else
                                  f"{payload['media'] if payload else 0} to ingest", record["calls"])
                    if payload:
                        yield TriggerEvent({"source": self.source, **payload, "poll": record["at"]})
                    await asyncio.to_thread(watch.commit, self.source, result, record)
            if self.max_polls is None or polls < self.max_polls:
                await asyncio.sleep(self.pause(failures))

    def pause(self, failures: int) -> float:
        """Seconds until the next poll: what the budget allows, doubled per failed poll in a row."""
        return min(MAX_BACKOFF, self.wait * 2 ** failures) if failures else self.wait
