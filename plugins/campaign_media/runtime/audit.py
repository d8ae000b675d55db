"""The audit trail: one record per action that changes what the world can see or what is kept.

A master published, replaced or re-described; a market copy made; a rendition written back; a
window opened, closed, repaired or restricted (with the rule before and after, and the reason);
a CDN purge; an archive item verified; a copy or master deleted. Each record says when, which
campaign, market, master and version, and which DAG run, task, try and trigger (run type and
user) did it.

Records are JSON Lines in the project's object storage, partitioned by campaign and by the day
the run was scheduled for (``<storage>/<campaign>/audit/<YYYY-MM-DD>/<task file>.jsonl``), one
file per task instance. Append-only and idempotent: a record's key is made from the run, the
action and its subject, so a retried or cleared task that redoes work writes no duplicate (the
earlier try's records are kept as they were). The operators open the trail for their task
(:func:`recording`); steps call :func:`record`, which does nothing outside a task (a step called
from a notebook or a unit test). Records are written with the steps' progress, so a killed task
loses none of what it finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from campaign_media.runtime import storage

log = logging.getLogger(__name__)
ACTIONS = ("master_published", "master_replaced", "master_described", "copy_made", "written_back",
           "window_opened", "window_closed", "window_repaired", "restricted", "cdn_purge", "token_urls_revoked",
           "archive_verified",
           "copy_deleted", "master_deleted", "metadata_entries_added",
           "signoff_asked", "signoff_approved", "signoff_refused", "signoff_overdue", "signoff_answer_refused",
           "signoff_request_mismatch", "hand_edit_found", "copy_described")
FLUSH_EVERY = 25  # records held in memory at most between two writes (also written with progress)


@dataclass(frozen=True)
class RunInfo:
    """Who is acting: the task instance and what started its run."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    run_type: str  # scheduled, manual, backfill, asset_triggered
    user: str  # who triggered it (manual runs and backfills), "" otherwise
    day: str  # the day the run was scheduled for: a retry on another day writes to the same place

    @classmethod
    def from_context(cls, context: Any) -> RunInfo | None:
        """The task instance of an Airflow context (None when there is none: a hand-made context)."""
        ti, dag_run = context.get("ti"), context.get("dag_run")
        if ti is None or dag_run is None:
            return None
        when = getattr(dag_run, "run_after", None) or getattr(dag_run, "logical_date", None) or datetime.now(UTC)
        run_type = getattr(dag_run, "run_type", "") or ""
        return cls(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=int(ti.map_index),
                   try_number=int(ti.try_number or 1), run_type=str(getattr(run_type, "value", run_type)),
                   user=getattr(dag_run, "triggering_user_name", None) or "", day=when.strftime("%Y-%m-%d"))


def task_file(campaign: str, run: RunInfo) -> Any:
    """The one file a task instance's records for a campaign go to (all its tries)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{run.dag_id}__{run.run_id}__{run.task_id}__{run.map_index}")
    return storage.path(campaign, "audit", run.day, f"{name}.jsonl")


class Trail:
    """A task instance's records, by campaign, merged with what earlier tries wrote."""

    def __init__(self, run: RunInfo) -> None:
        self.run = run
        self._records: dict[str, dict[str, dict[str, Any]]] = {}  # campaign -> key -> record
        self._dirty: set[str] = set()
        self._pending = 0
        self._lock = threading.Lock()

    def _loaded(self, campaign: str) -> dict[str, dict[str, Any]]:
        if campaign not in self._records:
            path = task_file(campaign, self.run)
            earlier = {}
            if path.exists():
                for line in path.read_text().splitlines():
                    if line.strip():
                        record = json.loads(line)
                        earlier[record["key"]] = record
            self._records[campaign] = earlier
        return self._records[campaign]

    def add(self, campaign: str, action: str, *, market: str = "", master: str = "", version: str = "",
            before: Any = None, after: Any = None, reason: str = "", details: dict[str, Any] | None = None) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}; one of {', '.join(ACTIONS)}")
        run = self.run
        subject = [run.dag_id, run.run_id, campaign, market, master, version, action, after]
        key = hashlib.sha1(json.dumps(subject, sort_keys=True, default=str).encode()).hexdigest()[:24]
        with self._lock:
            records = self._loaded(campaign)
            if key in records:  # a retried try redoing it: the first record stands
                return
            records[key] = {
                "key": key, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "campaign": campaign,
                "market": market, "master": master, "version": version, "action": action,
                "before": before, "after": after, "reason": reason, "details": details or {},
                "dag_id": run.dag_id, "run_id": run.run_id, "task_id": run.task_id, "map_index": run.map_index,
                "try_number": run.try_number, "run_type": run.run_type, "triggered_by": run.user}
            self._dirty.add(campaign)
            self._pending += 1
            full = self._pending >= FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        """Write every campaign file with new records (the whole file: object stores do not append)."""
        with self._lock:
            dirty, self._dirty, self._pending = self._dirty, set(), 0
            for campaign in sorted(dirty):
                lines = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n"
                                for r in self._records[campaign].values())
                storage.write_bytes(task_file(campaign, self.run), lines.encode())


_current: Trail | None = None


@contextlib.contextmanager
def recording(run: RunInfo | None) -> Iterator[Trail | None]:
    """Open the trail for one task; whatever it recorded is written when it ends, however it ends.
    Without a task instance (``run`` None) nothing is recorded."""
    global _current
    if run is None:
        yield None
        return
    trail = _current = Trail(run)
    try:
        yield trail
    finally:
        _current = None
        trail.flush()


def record(campaign: str, action: str, **fields: Any) -> None:
    """Add a record to the running task's trail (nothing outside a task)."""
    if _current is not None:
        _current.add(campaign, action, **fields)


def flush() -> None:
    """Write what the running task recorded so far (called with its progress)."""
    if _current is not None:
        _current.flush()


def read(campaign: str, *, since: str | None = None, until: str | None = None) -> list[dict[str, Any]]:
    """Every record of a campaign (days ``since``..``until`` inclusive, ``YYYY-MM-DD``), oldest first."""
    base = storage.path(campaign, "audit")
    records = []
    if not base.exists():
        return records
    for day in sorted(p for p in base.iterdir() if p.is_dir()):
        if (since and day.name < since) or (until and day.name > until):
            continue
        for path in sorted(day.iterdir()):
            if path.name.endswith(".jsonl"):
                records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(records, key=lambda r: (r["time"], r["key"]))


COLUMNS = ["time", "campaign", "market", "master", "version", "action", "reason", "before", "after", "dag_id",
           "run_id", "task_id", "try_number", "run_type", "triggered_by", "key"]


def select(records: list[dict[str, Any]], *, master: str | None = None, market: str | None = None,
           action: str | None = None) -> list[dict[str, Any]]:
    """The records about one master, one market and/or one kind of action."""
    return [r for r in records if (master is None or r["master"] == master)
            and (market is None or r["market"] == market) and (action is None or r["action"] == action)]


def counts(records: list[dict[str, Any]]) -> dict[str, int]:
    """How many records of each action."""
    out: dict[str, int] = {}
    for r in records:
        out[r["action"]] = out.get(r["action"], 0) + 1
    return dict(sorted(out.items()))


def table(records: list[dict[str, Any]]):  # -> pandas.DataFrame (imported lazily: a DAG file never needs it)
    """The records as a table (rules as compact JSON), for a screen or a CSV file."""
    import pandas as pd

    rows = [{**r, "before": _compact(r.get("before")), "after": _compact(r.get("after"))} for r in records]
    return pd.DataFrame(rows, columns=COLUMNS)


EXPORTS = ("json", "csv", "counts")


def export(records: list[dict[str, Any]], fmt: str) -> str:
    """The records as ``json``, ``csv`` or ``counts`` text (the CLI's and the campaign page's output)."""
    if fmt == "csv":
        return table(records).to_csv(index=False)
    body = counts(records) if fmt == "counts" else records
    return json.dumps(body, indent=1, ensure_ascii=False, default=str) + "\n"


def _compact(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
