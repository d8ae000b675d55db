"""One run at a time per DAG where runs would do the same work twice.

Airflow keeps a DAG's scheduled runs one at a time (``max_active_runs=1``), but backfill runs
count apart from them and up to a backfill's own ``max_active_runs`` run side by side. Two
market runs planning at the same moment would both find the same masters missing, both render
them and both write the same renditions back to PhotoShelter. So a run's plan first *claims* its
DAG with a small record in storage (``<root>/_claims/<dag_id>.json``); a run that finds the claim
held by another run that is still going waits (deferred) and plans afresh once it has ended — by
then there is nothing left to do twice. The claim is let go when the run publishes; a run that
died never lets go, but a claim whose run is no longer running is simply taken over.

Object storage has no lock: after writing its claim a run waits :data:`SETTLE` seconds and reads
it back, and of two runs that wrote at nearly the same moment only the last writer goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from campaign_media import settings
from campaign_media.exceptions import CampaignMediaError
from campaign_media.runtime import storage

log = logging.getLogger(__name__)
LIVE_STATES = ("queued", "running")


def poll_interval() -> timedelta:
    """How long a run waiting for another run's claim waits before it looks again."""
    return timedelta(seconds=settings.get("claim_poll_seconds"))


class RunInProgress(CampaignMediaError, RuntimeError):
    """Another run of the DAG holds its claim; ``retry_at`` is when to look again."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def claim(dag_id: str, run_id: str, state_of: Callable[[str], str]) -> None:
    """Claim ``dag_id`` for ``run_id`` or raise :class:`RunInProgress`. ``state_of(run_id)`` is the
    Airflow state of another run of the DAG (how a stale claim is recognised)."""
    target = storage.claim_file(dag_id)
    held = storage.read_json(target)
    if held and held["run_id"] != run_id and state_of(held["run_id"]) in LIVE_STATES:
        raise busy(dag_id, held)
    storage.write_json(target, {"run_id": run_id, "since": datetime.now(UTC).isoformat(timespec="seconds")})
    time.sleep(settings.get("claim_settle_seconds"))
    held = storage.read_json(target)
    if held["run_id"] != run_id:
        raise busy(dag_id, held)
    log.info("%s: claimed by this run (%s)", dag_id, run_id)


def release(dag_id: str, run_id: str) -> None:
    """Let go of the claim, if this run holds it."""
    target = storage.claim_file(dag_id)
    held = storage.read_json(target)
    if held and held["run_id"] == run_id:
        target.unlink()


def busy(dag_id: str, held: dict[str, str]) -> RunInProgress:
    return RunInProgress(f"{dag_id}: run {held['run_id']} (since {held['since']}) is doing this DAG's work; this run "
                         "plans once it has ended, so nothing is made or written back twice",
                         datetime.now(UTC) + poll_interval())
