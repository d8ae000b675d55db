"""Waiting for Cloudinary's asynchronous video derivatives without holding a worker slot.

A market's video copies are uploaded with ``eager_async=true``: the upload answers at once and
Cloudinary transcodes in the background. :class:`VideoRenditionsTrigger` runs in the triggerer
(the task is *deferred*: no worker, no pool slot) and asks for each copy's derived files (Admin
API ``resource``, in a thread: the hook is synchronous) every ``poll_seconds`` until every
derivative it expects is listed, or the deadline passes. Its event names the copies that are
ready and those still pending; the operator does the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from campaign_media.domain.renditions import missing_derivatives
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.retry import RetryBudgetExceeded


class VideoRenditionsTrigger(BaseTrigger):
    """Fires when every copy in ``waiting`` (``public_id -> expected derivative keys``) has them all,
    or at ``deadline`` (ISO time) with whatever is still pending."""

    def __init__(self, *, waiting: dict[str, list[str]], deadline: str, poll_seconds: float = 30.0,
                 cloudinary_conn_id: str = "cloudinary_default") -> None:
        super().__init__()
        self.waiting, self.deadline, self.poll_seconds = waiting, deadline, poll_seconds
        self.cloudinary_conn_id = cloudinary_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("campaign_media.triggers.cloudinary.VideoRenditionsTrigger",
                {"waiting": self.waiting, "deadline": self.deadline, "poll_seconds": self.poll_seconds,
                 "cloudinary_conn_id": self.cloudinary_conn_id})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = CloudinaryHook(self.cloudinary_conn_id)
        pending = {pid: list(keys) for pid, keys in self.waiting.items()}
        errors: dict[str, str] = {}  # the last failed look at a copy still pending
        gone: list[str] = []
        deadline = datetime.fromisoformat(self.deadline)
        while True:
            for public_id, expected in list(pending.items()):
                try:
                    stored = await asyncio.to_thread(hook.resource, public_id, "upload", "video")
                except (CloudinaryError, RetryBudgetExceeded) as exc:  # asked again at the next poll
                    errors[public_id] = str(exc)
                    continue
                errors.pop(public_id, None)
                if stored is None:  # deleted meanwhile: nothing to wait for
                    gone.append(public_id)
                    del pending[public_id]
                elif not missing_derivatives(expected, stored.get("derived") or []):
                    del pending[public_id]
            if not pending or datetime.now(UTC) >= deadline:
                self.log.info("video derivatives: %d of %d copies ready", len(self.waiting) - len(pending),
                              len(self.waiting))
                yield TriggerEvent({"pending": sorted(pending), "gone": sorted(gone), "errors": errors})
                return
            self.log.info("video derivatives: %d copies still transcoding; next look in %.0f s", len(pending),
                          self.poll_seconds)
            await asyncio.sleep(self.poll_seconds)
