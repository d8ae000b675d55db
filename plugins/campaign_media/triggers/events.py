"""Cloudinary's events on the triggerer: the deployment's poll channel, long-polled.

:class:`CloudinaryEventsTrigger` is an event trigger behind an ``AssetWatcher`` (the hand-edits
asset, ``dags.support.hand_edits_asset``). It runs in the triggerer: no public endpoint, no worker
slot. On start it puts the channel's triggers in place (one listing call; a creation per missing
one). Then, for ever: one long poll (``steps.events.pull``: verified, recorded), one event fired
when people changed market copies by hand, then the acknowledgement — so a triggerer killed
before it acknowledges gets the same messages again after their visibility timeout, and fires
again (the repair is idempotent). An ``eager`` event needs no firing: its recorded notice wakes
the video wait. A failed poll fires nothing and waits longer (doubling, at most ``MAX_BACKOFF``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.steps import events

MAX_BACKOFF = 300.0


class CloudinaryEventsTrigger(BaseEventTrigger):
    """Fires ``{"channel", "edits": [HandEdit.as_dict()...]}`` when pulled events name market
    copies changed by a person.

    :param channel: the poll channel (``domain.events.channel_name``)
    :param cloudinary_conn_id: the Cloudinary connection
    :param wait_seconds: the long poll's hold (0–60): at 60, an idle channel costs 60 calls an hour
    :param visibility_timeout: how long a pulled message stays invisible before it comes back
    :param max_polls: stop after this many polls (tests; None: for ever, as the triggerer expects)
    """

    def __init__(self, *, channel: str, cloudinary_conn_id: str = "cloudinary_default", wait_seconds: int = 60,
                 visibility_timeout: int = 120, max_polls: int | None = None) -> None:
        super().__init__()
        self.channel, self.cloudinary_conn_id = channel, cloudinary_conn_id
        self.wait_seconds, self.visibility_timeout, self.max_polls = wait_seconds, visibility_timeout, max_polls

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("campaign_media.triggers.events.CloudinaryEventsTrigger",
                {"channel": self.channel, "cloudinary_conn_id": self.cloudinary_conn_id,
                 "wait_seconds": self.wait_seconds, "visibility_timeout": self.visibility_timeout,
                 "max_polls": self.max_polls})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = CloudinaryHook(self.cloudinary_conn_id)
        try:
            plan = await asyncio.to_thread(events.ensure_triggers, hook, self.channel)
            self.log.info("Cloudinary events on poll://%s: triggers %s", self.channel, plan.summary())
        except Exception as exc:  # noqa: BLE001 - polling goes on: triggers made by hand still deliver
            self.log.warning("Cloudinary events on poll://%s: could not put the triggers in place (%s); polling "
                             "anyway (campaign-media events --apply makes them)", self.channel, exc)
        polls, failures = 0, 0
        while self.max_polls is None or polls < self.max_polls:
            polls += 1
            try:
                pulled = await asyncio.to_thread(events.pull, hook, self.channel, wait_seconds=self.wait_seconds,
                                                 visibility_timeout=self.visibility_timeout)
            except Exception as exc:  # noqa: BLE001 - an unsure poll fires nothing
                failures += 1
                pause = min(MAX_BACKOFF, 5.0 * 2 ** failures)
                self.log.warning("Cloudinary events on poll://%s: poll failed (%s); next in %.0f s", self.channel,
                                 exc, pause, exc_info=not isinstance(exc, CampaignMediaError))
                await asyncio.sleep(pause)
                continue
            failures = 0
            if pulled.messages:
                self.log.info("Cloudinary events on poll://%s: %d messages (%d new), %d transcoded, %d hand edits, "
                              "%d refused", self.channel, pulled.messages, pulled.new, len(pulled.transcoded),
                              len(pulled.edits), len(pulled.refused))
            if pulled.edits:
                yield TriggerEvent({"channel": self.channel, "edits": [e.as_dict() for e in pulled.edits]})
            if pulled.handles:
                try:
                    await asyncio.to_thread(hook.ack_notifications, pulled.handles)
                except Exception as exc:  # noqa: BLE001 - not acknowledged: delivered again, harmlessly
                    self.log.warning("Cloudinary events on poll://%s: acknowledgement failed (%s); the messages "
                                     "come back after %d s", self.channel, exc, self.visibility_timeout)
