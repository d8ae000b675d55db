"""One run at a time per DAG where runs would do the same work twice.

Airflow keeps a DAG's scheduled runs one at a time (``max_active_runs=1``), but backfill runs
count apart from them and up to a backfill's own ``max_active_runs`` run side by side. Two
market runs planning at the same moment would both find the same masters missing, both render
them and both write the same renditions back to PhotoShelter. So a run's plan first *claims* its
DAG; a run that finds the claim held by another run that is still going waits (deferred) and
plans afresh once it has ended — by then there is nothing left to do twice. The claim is let go
when the run publishes; a run that died never lets go, but a claim whose run is no longer
running is simply taken over.

A claim is a sequence of generations, ``<root>/_claims/<dag_id>/<generation>.json``; the highest
is in force. Claiming, taking over a stale claim and letting go each *create* the next
generation, and creating a file that exists fails (``storage.create_json``: a hard link on local
disk, which fails when the name exists; a conditional put on an object store). Of any number of
runs that read generation *n* at the same moment and try to create *n + 1*, exactly one
succeeds; the others read again and find it held.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign_media import settings
from campaign_media.exceptions import ComeBackLater
from campaign_media.runtime import storage

log = logging.getLogger(__name__)
LIVE_STATES = ("queued", "running")
GENERATION = re.compile(r"^(\d{12})\.json$")
KEEP = 1  # only the generation in force is kept: the one that claims or lets go removes older ones
ROUNDS = 20  # races lost in a row before a run waits like any other


def poll_interval() -> timedelta:
    """How long a run waiting for another run's claim waits before it looks again."""
    return timedelta(seconds=settings.get("claim_poll_seconds"))


class RunInProgress(ComeBackLater, RuntimeError):
    """Another run of the DAG holds its claim; ``retry_at`` is when to look again."""


def generations(dag_id: str) -> list[int]:
    folder = storage.claim_folder(dag_id)
    try:
        names = [p.name for p in folder.iterdir()]
    except (FileNotFoundError, NotADirectoryError):  # never claimed
        return []
    return sorted(int(m.group(1)) for name in names if (m := GENERATION.match(name)))


def current(dag_id: str) -> tuple[int, dict[str, Any] | None]:
    """The generation in force and its record (``run_id`` None once let go), or ``(0, None)``."""
    held = generations(dag_id)
    if not held:
        return 0, None
    return held[-1], storage.read_json(storage.claim_file(dag_id, held[-1]))


def holder(dag_id: str) -> str | None:
    """The run that holds the DAG's claim now, if any."""
    return (current(dag_id)[1] or {}).get("run_id")


def claim(dag_id: str, run_id: str, state_of: Callable[[str], str]) -> None:
    """Claim ``dag_id`` for ``run_id`` or raise :class:`RunInProgress`. ``state_of(run_id)`` is the
    Airflow state of another run of the DAG (how a stale claim is recognised)."""
    for _ in range(ROUNDS):
        generation, held = current(dag_id)
        other = (held or {}).get("run_id")
        if other == run_id:
            return  # a cleared or retried task of the run that holds it
        if other and state_of(other) in LIVE_STATES:
            raise busy(dag_id, held or {})
        record = {"run_id": run_id, "since": now(), **({"took_over": other} if other else {})}
        if storage.create_json(storage.claim_file(dag_id, generation + 1), record):
            log.info("%s: claimed by this run (%s)%s", dag_id, run_id, f", taken over from {other}" if other else "")
            prune(dag_id, generation + 1)
            return
    raise busy(dag_id, current(dag_id)[1] or {"run_id": "another run", "since": "just now"})


def release(dag_id: str, run_id: str) -> None:
    """Let go of the claim, if this run holds it."""
    generation, held = current(dag_id)
    if held and held.get("run_id") == run_id and storage.create_json(
            storage.claim_file(dag_id, generation + 1), {"run_id": None, "released_by": run_id, "since": now()}):
        prune(dag_id, generation + 1)


def prune(dag_id: str, newest: int) -> None:
    for generation in generations(dag_id):
        if generation <= newest - KEEP:
            storage.claim_file(dag_id, generation).unlink(missing_ok=True)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def busy(dag_id: str, held: dict[str, Any]) -> RunInProgress:
    return RunInProgress(f"{dag_id}: run {held.get('run_id')} (since {held.get('since')}) is doing this DAG's work; "
                         "this run plans once it has ended, so nothing is made or written back twice",
                         datetime.now(UTC) + poll_interval())
