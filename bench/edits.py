"""The "hand edit → repaired" scenario: people change market copies in the Cloudinary console; how
long until each is as the rights say again — with nobody touching Airflow and no public endpoint.

It runs ``airflow standalone`` (real scheduler, triggerer and API server; SQLite) against the
emulators with latency added to every call, Cloudinary's events pulled by the triggerer (the
default). After the first ingest and every market's run, ``per_kind`` edits of each kind —
delete, rename, access opened, governance field changed — are made on distinct market copies at
random moments over ``spread`` seconds (the emulator's console route: what a person's edit does).
Each is *repaired* when the copy is back under its own ID with the rule and the description it had.

The observer reads the copies through the Admin API (the emulator's quota is raised for it, and
its own calls are subtracted from the pipeline's). It also measures the event channel's idle cost:
Admin calls per hour while nothing happens.

    python -m bench.edits [--per-kind 20] [--spread 240] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.live import INGEST, admin_calls, summary
from bench.report import EDIT_KINDS
from emulators import runner
from emulators.photoshelter.seed import CAMPAIGN, seed
from scripts.demo import wait_for_dags, wait_until_quiet
from scripts.standalone import Standalone

ROOT = Path(__file__).resolve().parent.parent
KINDS = EDIT_KINDS  # what bench/report.py judges
OPENED = [{"access_type": "anonymous", "start": "2020-01-01T00:00:00Z", "end": "2035-01-01T00:00:00Z"}]
EDITS = ("campaign_media_hand_edits", "campaign_media_usage_windows")


class Observer:
    """Reads copies through the Admin API and counts its own calls."""

    def __init__(self) -> None:
        from campaign_media.hooks import CloudinaryHook

        self.cld, self.calls = CloudinaryHook(), 0

    def resource(self, public_id: str) -> dict[str, Any] | None:
        self.calls += 1
        return self.cld.resource(public_id)

    def triggers(self) -> list[dict[str, Any]]:
        self.calls += 1
        return self.cld.triggers()


def look(res: dict[str, Any] | None) -> tuple[Any, Any] | None:
    """What repaired means for a copy: its rule and its description."""
    return None if res is None else (res.get("access_control"), (res.get("context") or {}).get("custom"))


def edit(cld: Any, kind: str, public_id: str) -> None:
    body: dict[str, Any] = {"public_id": public_id}
    if kind == "delete":
        body["action"] = "delete"
    elif kind == "rename":
        body.update(action="rename", to_public_id=f"{public_id}-by-hand")
    elif kind == "access":
        body.update(action="access_control", access_control=json.dumps(OPENED))
    else:
        body.update(action="context", context="usage_rights=worldwide-everything|owner=someone-else")
    cld.control("POST", "console", body)


def scenario(base: Path, *, per_kind: int, spread: float, latency_ms: float, idle_seconds: float = 180.0,
             seed_value: int = 13, timeout: float = 1800) -> dict[str, Any]:
    rng = random.Random(seed_value)
    seed(base / "ps", images=48, galleries=1)
    include = base / "include"
    shutil.copytree(ROOT / "include", include)
    fault = ["--latency-ms", str(latency_ms)]
    ps, cld = runner.start_photoshelter(base / "ps", args=fault), runner.start_cloudinary(base / "cld", args=fault)
    storage_dir = base / "storage"
    connection = runner.cloudinary_connection(cld)
    af = Standalone(base / "airflow", runner.free_port(), {
        "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": runner.photoshelter_connection(ps),
        "AIRFLOW_CONN_CLOUDINARY_DEFAULT": connection,
        "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": storage_dir.as_uri(), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include),
        "AIRFLOW__CAMPAIGN_MEDIA__WATCH_POLL_SECONDS": "0"})
    os.environ.update(AIRFLOW_CONN_CLOUDINARY_DEFAULT=connection, AIRFLOW__CAMPAIGN_MEDIA__INCLUDE=str(include),
                      AIRFLOW__CAMPAIGN_MEDIA__STORAGE=storage_dir.as_uri())
    try:
        af.start()
        from campaign_media.config.loader import load_markets

        markets = sorted(load_markets().items)
        dag_ids = [INGEST, *(f"campaign_media_market_{m}" for m in markets), *EDITS]
        wait_for_dags(af, set(dag_ids))
        for dag_id in dag_ids:
            af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
        af.trigger(INGEST, {})
        wait_until_quiet(af, dag_ids, settle=15, timeout=1200)
        cld.control("POST", "admin-limit", {"limit": 1_000_000})  # the observer's reads must not spend the quota
        seen = Observer()
        deadline = time.monotonic() + 300
        while len([t for t in seen.triggers() if t["uri"].startswith("poll://")]) < 6:
            if time.monotonic() > deadline:
                raise RuntimeError("the events watcher made no triggers within 5 minutes (is the triggerer running?)")
            time.sleep(3)
        # Idle: the channel's long polls alone.
        before, observer_before, started = admin_calls(cld.calls()), seen.calls, time.monotonic()
        time.sleep(idle_seconds)
        idle = admin_calls(cld.calls()) - before - (seen.calls - observer_before)
        idle_per_hour = idle * 3600 / (time.monotonic() - started)

        copies = sorted(entry["public_id"] for m in markets
                        for entry in json.loads((storage_dir / CAMPAIGN / "markets" / m / "state.json").read_text())
                        .values())
        rng.shuffle(copies)
        wanted = [(kind, copies.pop()) for kind in KINDS for _ in range(per_kind) if copies]
        rng.shuffle(wanted)
        original = {pid: look(seen.resource(pid)) for _, pid in wanted}
        moments = sorted(rng.uniform(0, spread) for _ in wanted)
        queue = list(zip(moments, wanted, strict=True))
        made: dict[tuple[str, str], float] = {}
        repaired: dict[tuple[str, str], float] = {}
        admin_before, observer_before, started = admin_calls(cld.calls()), seen.calls, time.monotonic()
        while time.monotonic() - started < timeout and (queue or len(repaired) < len(wanted)):
            now = time.monotonic() - started
            while queue and queue[0][0] <= now:
                _, (kind, pid) = queue.pop(0)
                edit(cld, kind, pid)
                made[(kind, pid)] = time.monotonic()
            for key, at in made.items():
                kind, pid = key
                if key in repaired:
                    continue
                back = look(seen.resource(pid)) == original[pid]
                if back and kind == "rename":
                    back = seen.resource(f"{pid}-by-hand") is None
                if back:
                    repaired[key] = time.monotonic() - at
            time.sleep(1.0)
        pipeline_admin = admin_calls(cld.calls()) - admin_before - (seen.calls - observer_before)
        runs = {d: len(af.api("GET", f"dags/{d}/dagRuns", params={"limit": 200})["dag_runs"]) for d in dag_ids}
        return {
            "scenario": "hand_edit_repaired", "n_masters": 0, "latency_ms": latency_ms, "spread_s": spread,
            "edits": len(wanted), "repaired": len(repaired),
            **{f"{kind}_repaired": summary([v for (k, _), v in repaired.items() if k == kind]) for kind in KINDS},
            "all_repaired": summary(list(repaired.values())),
            "unrepaired": sorted(f"{k}:{p}" for k, p in wanted if (k, p) not in repaired)[:10],
            "idle_admin_calls_per_hour": round(idle_per_hour, 1), "idle_measured_s": idle_seconds,
            "pipeline_admin_calls_during_edits": pipeline_admin, "runs": runs,
        }
    finally:
        af.stop()
        ps.stop()
        cld.stop()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(prog="python -m bench.edits", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--spread", type=float, default=240.0, help="seconds the edits are spread over")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--idle-seconds", type=float, default=180.0)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="campaign-media-edits-") as tmp:
        row = scenario(Path(tmp), per_kind=opts.per_kind, spread=opts.spread, latency_ms=opts.latency_ms,
                       idle_seconds=opts.idle_seconds)
        print("BENCH " + json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
