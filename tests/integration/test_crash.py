"""Crash safety: the task process is killed (SIGKILL) in the middle of ingest, of a market's
renditions, of its write-backs and of the archive; each time the run is cleared and run again as
an operator would from the UI. The end state equals a run that was never killed.

Each DAG runs in its own process (``dag.test()`` there, on the test's metadata database), so the
kill hits a real task mid-work; a second ``dag.test()`` for the same logical date clears the run
and runs it again. The kill is timed by the emulators' own counters.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign_media.runtime.parallel import render_threads
from emulators.runner import EmulatorProcess, start_cloudinary, start_photoshelter
from tests.conftest import ROOT
from tests.integration.worlds import (
    CAMPAIGN,
    LIFECYCLE,
    differences,
    lifecycle,
    point_at,
    run_worlds,
    snapshot,
)

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
RUN_DAG = """
import json, sys
from datetime import datetime
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).get_dag(sys.argv[2])
run = dag.test(logical_date=datetime.fromisoformat(sys.argv[3]), run_conf=json.loads(sys.argv[4]) or None)
print("STATE", run.state)
"""
CLD_UPLOAD = "POST /v1_1/{cloud}/{rt}/upload"
KILLS = 4
MAX_TRANSFORMATIONS_PER_COPY = 6  # a market's renditions plus the write-back reads of one master
PS_UPLOAD = "POST /psapi/v3/mem/image/upload"


def run_dag(dag_id: str, logical: datetime, conf: dict, *, kill_when=None) -> str:
    """Run one DAG in its own process; with ``kill_when``, SIGKILL it as soon as that is true."""
    import json

    proc = subprocess.Popen([sys.executable, "-c", RUN_DAG, str(ROOT / "dags"), dag_id, logical.isoformat(),
                             json.dumps(conf)], env={**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
                                                     "AIRFLOW__CAMPAIGN_MEDIA__RETRY_DELAY_SECONDS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    if kill_when is not None:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not kill_when():
            time.sleep(0.05)
        assert proc.poll() is None, f"{dag_id} finished before the kill point: the test would prove nothing"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        return "killed"
    out, _ = proc.communicate(timeout=600)
    assert "STATE success" in out, out[-3000:]
    return "success"


def reached(proc: EmulatorProcess, route: str, count: int):
    return lambda: proc.calls().get(route, 0) >= count


def killed_lifecycle(dagbag, base: Path, ended: Path, mp: pytest.MonkeyPatch) -> dict:
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    try:
        point_at(mp, base, ps, cld)
        logical = datetime.now(UTC).replace(microsecond=0)
        # ingest: killed after two masters reached Cloudinary, then cleared and run again
        assert run_dag(LIFECYCLE[0], logical, {"force": True}, kill_when=reached(cld, CLD_UPLOAD, 2)) == "killed"
        run_dag(LIFECYCLE[0], logical, {"force": True})
        # fr: killed after two market copies (renditions); jp: killed after two write-backs
        uploads = cld.calls().get(CLD_UPLOAD, 0)
        assert run_dag(LIFECYCLE[1], logical, {}, kill_when=reached(cld, CLD_UPLOAD, uploads + 2)) == "killed"
        run_dag(LIFECYCLE[1], logical, {})
        writebacks = ps.calls().get(PS_UPLOAD, 0)
        assert run_dag(LIFECYCLE[2], logical, {}, kill_when=reached(ps, PS_UPLOAD, writebacks + 2)) == "killed"
        run_dag(LIFECYCLE[2], logical, {})
        for dag_id in LIFECYCLE[3:5]:  # usage windows, metrics
            run_dag(dag_id, logical, {})
        live = snapshot(base)
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(ended))
        archived = ps.calls().get(PS_UPLOAD, 0)
        assert run_dag(LIFECYCLE[5], logical, {}, kill_when=reached(ps, PS_UPLOAD, archived + 3)) == "killed"
        run_dag(LIFECYCLE[5], logical, {})
        return {"live": live, "archived": snapshot(base)}
    finally:
        ps.stop()
        cld.stop()


def latest_report(stored: dict) -> dict:
    """The newest day's report totals (the day is the run's, not the test session's: a suite that
    starts before midnight UTC runs this after it)."""
    days = sorted(k for k in stored if k.startswith(f"{CAMPAIGN}/reports/") and k.endswith("/totals.json"))
    return stored[days[-1]]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, airflow_db, dagbag):
    return run_worlds(tmp_path_factory, dagbag, "crash", {"quiet": lifecycle, "killed": killed_lifecycle})


def test_killed_runs_cleared_and_rerun_end_where_an_unkilled_run_ends(worlds) -> None:
    for stage in ("live", "archived"):
        quiet, killed = worlds["quiet"][stage], worlds["killed"][stage]
        # What a kill costs: the masters in flight (one per thread) are made again (their copies
        # re-uploaded, their derivatives transformed again); everything finished before is kept.
        totals = [latest_report(w["storage"]) for w in (quiet, killed)]
        extra = totals[1].pop("account_transformations") - totals[0].pop("account_transformations")
        assert 0 <= extra <= KILLS * render_threads() * MAX_TRANSFORMATIONS_PER_COPY, extra
        if stage == "archived":
            for w in (quiet, killed):
                w["storage"][f"{CAMPAIGN}/archive/report/totals.json"].pop("account_transformations")
        found = differences(quiet, killed)
        assert not found, f"{stage}:\n" + "\n".join(found[:40])
