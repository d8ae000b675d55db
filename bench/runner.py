"""One benchmark worker: a process that runs DAGs with ``dag.test()`` (the project's real operators
and hooks, in-process) and prints one JSON line per DAG: wall time, the process's peak RSS, the
largest XCom the run wrote and its task states.

    python -m bench.runner DAG_ID [DAG_ID ...] [--conf JSON]
    python -m bench.runner --parse      # the DAG folder's parse times, per file (DagBag's own)

The DAG folder is parsed before the clock starts; each DAG's wall time is its ``dag.test()`` only.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any


def max_xcom_bytes(run_id: str) -> int:
    """The largest XCom value (serialised) the run wrote."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func

    with create_session() as session:
        size = session.query(func.max(func.length(XComModel.value))).filter(XComModel.run_id == run_id).scalar()
    return int(size or 0)


def warm_up() -> float:
    """Build ``dag.test()``'s in-process Execution API (cached per process) before any clock
    starts: seconds of one-time start-up that a deployment's API server pays once when it
    starts, not per task or run. Returns its seconds."""
    import httpx
    from airflow.sdk.execution_time.supervisor import in_process_api_server  # cached: one per process

    started = time.perf_counter()
    with httpx.Client(transport=in_process_api_server().transport, base_url="http://in-process.invalid") as client:
        client.get("/execution/health")  # the first request builds the versioned routes (seconds)
    return time.perf_counter() - started


def run(dag_ids: list[str], conf: dict[str, Any]) -> list[dict[str, Any]]:
    from airflow.dag_processing.dagbag import DagBag

    warm_up()
    bag = DagBag()
    if bag.import_errors:
        raise SystemExit(f"DAG folder import errors: {bag.import_errors}")
    out = []
    for dag_id in dag_ids:
        dag = bag.get_dag(dag_id)
        params = {name: value for name, value in conf.items() if name in dag.params}
        started, cpu0, began = time.perf_counter(), cpu(), time.time()
        result = dag.test(run_conf=params or None)
        wall, ended = time.perf_counter() - started, time.time()
        states = {f"{ti.task_id}[{ti.map_index}]": str(getattr(ti.state, "value", ti.state))
                  for ti in result.get_task_instances()}
        out.append({"dag_id": dag_id, "wall_s": round(wall, 3), "began": began, "ended": ended,
                    "state": str(getattr(result.state, "value", result.state)), "states": states,
                    "max_xcom_bytes": max_xcom_bytes(result.run_id),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    "worker_cpu_s": round(cpu() - cpu0, 2)})
    return out


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse() -> dict[str, Any]:
    """Parse the DAG folder; per-file durations as the DagBag measured them."""
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag()
    wall = time.perf_counter() - started
    if bag.import_errors:
        raise SystemExit(f"DAG folder import errors: {bag.import_errors}")
    seconds = {Path(stat.file).name: getattr(stat.duration, "total_seconds", lambda d=stat.duration: d)()
               for stat in bag.dagbag_stats}
    slowest = max(seconds, key=seconds.get)
    return {"parse_s_max": round(seconds[slowest], 3), "parse_s_total": round(sum(seconds.values()), 3),
            "slowest_file": slowest, "dags": len(bag.dags), "wall_s": round(wall, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.runner")
    parser.add_argument("dag_ids", nargs="*")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--parse", action="store_true")
    args = parser.parse_args()
    lines = [parse()] if args.parse else run(args.dag_ids, json.loads(args.conf))
    for line in lines:
        print("BENCH " + json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
