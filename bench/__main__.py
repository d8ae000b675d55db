"""``make bench``: the project's real code path against the emulators with latency injected, next to
a naive baseline, printing one JSON line per scenario, a table, and ``bench/RESULTS.md``.

    python -m bench [--quick] [--latency-ms 50] [--repeats 3] [--only ingest,variants,windows,parse,live,logs,include]

Scenarios (each a fresh world per repeat; medians over repeats):

* ``ingest`` — N approved masters from PhotoShelter into Cloudinary (``campaign_media_ingest``).
* ``variants`` — the same N masters × M markets of six renditions, write-back included: the M
  market DAGs run on ``--slots`` worker processes at once (the ``photoshelter_api`` pool's slots).
* ``windows_nochange`` / ``windows_5pct`` — ``campaign_media_usage_windows`` over every copy,
  with nothing to change, then after 5 % of the licences ended.
* ``parse`` — the DAG folder with 50 market files.
* ``include`` — the one-file DAG folder with its campaign files local, or on S3 cold and warm
  (``bench/include.py``).
* ``live`` — approval to live on ``airflow standalone`` (``bench/live.py``): 20 approvals with
  Cloudinary's notifications, the video part again without; and the cost of a poll of 2,345
  media. Run once (its figures are percentiles over the approvals), not repeated.
* ``edits`` — hand edits in the Cloudinary console repaired on ``airflow standalone``
  (``bench/edits.py``): 20 of each kind (5 with ``--quick``), and the event channel's idle cost.
  Run once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import edits, include, live, logs
from bench.measure import Meter, Traffic, limit_seconds, median_row
from bench.report import print_table, targets, write_results
from bench.world import ROOT, World, airflow_env, airflow_template, build, slot_home, write_config
from campaign_media.runtime.parallel import ingest_threads, render_threads

PARSE_MARKETS = 50


def runner(world: World, slot: int, args: list[str]) -> list[dict[str, Any]]:
    """Run ``python -m bench.runner`` (or ``bench.naive``) in runner slot ``slot``; its BENCH lines."""
    home = slot_home(world.base.parent, airflow_template(world.base.parent), slot)
    env = {**os.environ, **airflow_env(home), **world.env}
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [json.loads(line[6:]) for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"{' '.join(args)} failed (exit {done.returncode}):\n{tail}")
    return lines


def run_dags(world: World, dag_ids: list[str], slots: int, conf: dict[str, Any]) -> tuple[float, list[dict]]:
    """The DAGs on ``slots`` worker processes at once (round-robin); their wall time — from the
    first run's start to the last one's end, process start-up left out — and their lines."""
    groups = [dag_ids[i::slots] for i in range(min(slots, len(dag_ids)))]
    # Each worker writes to its own file: pipes read one after another would block the others
    # once their log passed the pipe's buffer (64 KB) — they stalled until the first finished.
    logs = [world.base / f"runner-{slot}-{group[0].rsplit('_', 1)[-1]}.log" for slot, group in enumerate(groups)]
    procs = []
    for slot, group in enumerate(groups):
        home = slot_home(world.base.parent, airflow_template(world.base.parent), slot)
        with open(logs[slot], "w") as out:
            procs.append(subprocess.Popen([sys.executable, "-m", "bench.runner", *group, "--conf", json.dumps(conf)],
                                          cwd=ROOT, env={**os.environ, **airflow_env(home), **world.env},
                                          stdout=out, stderr=subprocess.STDOUT))
    for proc in procs:
        proc.wait()
    outputs = [log.read_text() for log in logs]
    lines = [json.loads(line[6:]) for out in outputs for line in out.splitlines() if line.startswith("BENCH ")]
    failed = [line["dag_id"] for line in lines if line["state"] != "success"]
    if len(lines) != len(dag_ids) or failed:
        tail = "\n".join(outputs[0].splitlines()[-30:]) if outputs else ""
        raise RuntimeError(f"DAG runs failed or missing ({failed or 'no output'}; logs: {logs[0].parent}):\n{tail}")
    return max(line["ended"] for line in lines) - min(line["began"] for line in lines), lines


def figures(scenario: str, world: World, n: int, m: int, latency: float, concurrency: int, wall: float,
            traffic: Traffic, lines: list[dict], baseline_s: float | None, sample: int | None,
            items: int) -> dict[str, Any]:
    """One scenario's row: the JSON keys are a stable interface (docs/benchmarks.md)."""
    calls = sum(traffic.calls.values())
    limit = limit_seconds(calls, latency, concurrency)
    return {
        "scenario": scenario, "n_masters": n, "n_markets": m, "latency_ms": latency, "wall_s": round(wall, 2),
        "baseline_wall_s": round(baseline_s, 1) if baseline_s is not None else None,
        "speedup": round(baseline_s / wall, 2) if baseline_s else None,
        "limit_s": round(limit, 2), "efficiency": round(limit / wall, 3) if wall else None,
        "calls_per_master": round(calls / n, 3), "admin_calls_per_master":
            round(traffic.calls.get("cloudinary_admin", 0) / n, 4),
        "worker_bytes": traffic.bytes, "peak_rss_mb": max(line["peak_rss_mb"] for line in lines),
        "max_xcom_bytes": max(line["max_xcom_bytes"] for line in lines),
        # beyond the stable keys
        "masters_per_s": round(n / wall, 2), "items": items, "concurrency": concurrency,
        "calls": dict(sorted(traffic.calls.items())),
        "upload_calls_per_item": round(traffic.calls.get("cloudinary_upload", 0) / max(1, items), 3),
        "emulator_cpu_s": traffic.emulator_cpu_s, "worker_cpu_s": round(sum(x["worker_cpu_s"] for x in lines), 2),
        "baseline_sample": sample,
    }


def baseline(world: World, scenario: str, sample: int, items: int) -> float:
    """The naive way's seconds for ``items`` items, from its seconds per item on a sample."""
    line = runner(world, 0, ["bench.naive", scenario, "--sample", str(sample)])[0]
    return line["fixed_s"] + line["per_item_s"] * items


def measured(world: World, meter: Meter, dag_ids: list[str], slots: int, conf: dict[str, Any]
             ) -> tuple[float, Traffic, list[dict]]:
    meter.start()
    wall, lines = run_dags(world, dag_ids, slots, conf)
    return wall, meter.stop(), lines


def world_scenarios(base: Path, n: int, m: int, opts: argparse.Namespace, variants: bool) -> list[dict[str, Any]]:
    """Ingest (and, for the variants size, the market and usage-window scenarios) in one world."""
    world = build(base, n, m, opts.latency_ms)
    meter, rows = Meter(world.ps, world.cld), []
    try:
        wall, traffic, lines = measured(world, meter, ["campaign_media_ingest"], 1, {"force": True})
        naive = baseline(world, "ingest", opts.sample, n) if "ingest" in opts.only else None
        if "ingest" in opts.only:
            rows.append(figures("ingest", world, n, 1, opts.latency_ms, ingest_threads(), wall, traffic, lines,
                                naive, opts.sample, n))
        if not variants:
            return rows
        markets = [f"campaign_media_market_{code}" for code in world.markets]
        slots = min(opts.slots, m)
        wall, traffic, lines = measured(world, meter, markets, slots, {})
        naive = baseline(world, "variants", opts.sample, n * m)
        rows.append(figures("variants", world, n, m, opts.latency_ms, slots * render_threads(), wall, traffic, lines,
                            naive, opts.sample, n * m))
        if "windows" in opts.only:
            naive = baseline(world, "windows", opts.sample, n * m)
            wall, traffic, lines = measured(world, meter, ["campaign_media_usage_windows"], 1, {})
            rows.append(figures("windows_nochange", world, n, m, opts.latency_ms, 1, wall, traffic, lines, naive,
                                opts.sample, n * m))
            ended = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S GMT")
            for image_id in world.masters[:: 20]:  # 5 %
                world.ps.control("POST", f"images/{image_id}/license", {"license_etime": ended})
            wall, traffic, lines = measured(world, meter, ["campaign_media_usage_windows"], 1, {})
            rows.append(figures("windows_5pct", world, n, m, opts.latency_ms, 1, wall, traffic, lines, naive,
                                opts.sample, n * m))
        return rows
    finally:
        world.stop()


def parse_scenario(base: Path) -> dict[str, Any]:
    """The DAG folder parsed with 50 market files (the DagBag's own per-file timings)."""
    include = write_config(base / "include-parse", PARSE_MARKETS, campaign_markets=8)
    home = airflow_template(base)
    env = {**os.environ, **airflow_env(home), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include)}
    done = subprocess.run([sys.executable, "-m", "bench.runner", "--parse"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    line = next(json.loads(x[6:]) for x in done.stdout.splitlines() if x.startswith("BENCH "))
    return {"scenario": "parse", "n_masters": 0, "n_markets": PARSE_MARKETS, **line}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N=200, M=4, one repeat (a few minutes)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every emulator call")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per scenario (default 3; quick 1)")
    parser.add_argument("--slots", type=int, default=4, help="market DAGs at once (the photoshelter_api pool)")
    parser.add_argument("--sample", type=int, default=None, help="items the naive baselines time (12; quick 6)")
    parser.add_argument("--only", default="ingest,variants,windows,parse,live,edits,logs,include")
    parser.add_argument("--keep", action="store_true", help="keep the worlds and runner logs (path printed)")
    parser.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"), help="'' to write none")
    opts = parser.parse_args()
    opts.only = set(opts.only.split(","))
    repeats = opts.repeats or (1 if opts.quick else 3)
    opts.sample = opts.sample or (6 if opts.quick else 12)
    sizes = [200] if opts.quick else [200, 2000]
    markets = 4 if opts.quick else 8
    started = time.perf_counter()
    by_scenario: dict[str, list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        tmp = tempfile.mkdtemp(prefix="campaign-media-bench-")
        if not opts.keep:
            stack.callback(shutil.rmtree, tmp, True)
        for repeat in range(repeats):
            rows = []
            if opts.keep:
                print(f"worlds kept in {tmp}", flush=True)
            for n in sizes:
                rows += world_scenarios(Path(tmp) / f"r{repeat}-n{n}", n, markets, opts,
                                        variants=n == sizes[-1] and "variants" in opts.only)
            if "parse" in opts.only:
                rows.append(parse_scenario(Path(tmp)))
            for row in rows:
                key = f"{row['scenario']}@{row['n_masters']}"
                by_scenario.setdefault(key, []).append(row)
                print(json.dumps({**row, "repeat": repeat + 1}), flush=True)
    results = [median_row(rows) for rows in by_scenario.values()]
    if "live" in opts.only:
        with tempfile.TemporaryDirectory(prefix="campaign-media-live-") as tmp:
            results += live.run_all(Path(tmp), latency_ms=opts.latency_ms)
        for row in results[-3:]:
            print(json.dumps(row), flush=True)
    if "edits" in opts.only:
        with tempfile.TemporaryDirectory(prefix="campaign-media-edits-") as tmp:
            results.append(edits.scenario(Path(tmp), per_kind=5 if opts.quick else 20, spread=120 if opts.quick
                                          else 240, latency_ms=opts.latency_ms, idle_seconds=60 if opts.quick else 180))
        print(json.dumps(results[-1]), flush=True)
    if "logs" in opts.only:  # printed, not tabled: a throughput of the report's log reader
        with tempfile.TemporaryDirectory(prefix="campaign-media-logs-") as tmp:
            for row in logs.run_all(Path(tmp), lines=100_000 if opts.quick else 500_000, repeats=repeats):
                print(json.dumps(row), flush=True)
    if "include" in opts.only:  # printed, not tabled: parse time with the campaign files on S3
        include.main(repeats=3 if opts.quick else 5)
    checks = targets(results)
    for row in results:
        print(json.dumps(row), flush=True)
    print_table(results, checks)
    if opts.results:
        write_results(Path(opts.results), results, checks, {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": f"{platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}", "quick": opts.quick,
            "repeats": repeats, "latency_ms": opts.latency_ms, "task_threads": ingest_threads(),
            "render_threads": render_threads(), "slots": opts.slots, "took_s": round(time.perf_counter() - started)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
