"""``make test``: the whole suite as a few pytest processes side by side, then a per-module table.

Most of the suite waits (on emulators, on Airflow's scheduler, on a browser), so the modules are
split into slots that run at once, each slot a fixed list of pytest processes with its own
Airflow home, SQLite database and emulators. The split is deterministic: modules are placed by
their recorded seconds (``tests/durations.json``, longest first, each into the slot with the
least so far), so a landing never depends on which module happened to run beside which.

What runs:

* **main**: every module once, each process running its tests in *reverse* order (``--order
  reverse``: a test that relies on an earlier neighbour runs before it and fails);
* **re-runs**, in file order: the modules whose outcome depends on an emulator's reading of the
  API, against permissive emulators; the lifecycle with storage on S3; on a PhotoShelter v4
  connection. Each keeps only the modules that prove something the main run does not.

Each process writes JUnit XML under ``.artifacts/suite/``; at the end the runner prints every
job's result, the modules by seconds, and one closing line ``suite: N passed, N failed``. It
exits non-zero when any test failed or errored, or a process ended without its report.

``python -m tests.suite --record`` writes the measured seconds back to ``tests/durations.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
OUT = ROOT / ".artifacts" / "suite"
DURATIONS = TESTS / "durations.json"
UNKNOWN_SECONDS = 30.0  # a module not in durations.json yet

# Modules sharing the e2e package's one ``airflow standalone`` stack: one process, or two stacks.
SHARED_STACK = ("tests/e2e/test_standalone.py", "tests/e2e/test_ui.py", "tests/e2e/test_ui_permissions.py",
                "tests/e2e/test_connections_ui.py", "tests/e2e/test_campaign_page.py")

STACKS = ("tests/e2e/",)  # modules that run a whole Airflow deployment (see plan())
# Deployment modules to run last in the other slots, once their own work is done: the Celery
# deployment (~200 s) and the sign-off stack (~130 s), which otherwise kept the first slot going
# ~460 s after the others had ended. (Tried earlier with the sign-off module while the re-runs still
# ran beside it: the overlapping-backfills test then took 111 s, 243 s, and once timed out.)
TAIL: tuple[str, ...] = ("tests/e2e/test_celery.py", "tests/e2e/test_signoff.py")

# The re-runs: (name, environment, modules). What each proves that the main run does not:
RERUNS = (
    # the pipeline under the permissive reading of what the docs leave open (the main run is strict)
    ("permissive", {"CAMPAIGN_MEDIA_EMULATORS": "permissive"},
     ("tests/integration/test_lifecycle_dags.py", "tests/integration/test_usage_windows.py",
      "tests/integration/test_video_lifecycle.py")),
    # storage on S3 (moto's server): create-only claims, manifests and reports through s3fs
    ("s3", {"CAMPAIGN_MEDIA_TEST_STORAGE": "s3"},
     ("tests/integration/test_lifecycle_dags.py", "tests/integration/test_archive_and_metrics.py")),
    # a PhotoShelter v4 connection through ingest, markets and write-backs, and videos (their originals
    # through v4's one download route); licences come from v3 on a v4 connection too, so the usage
    # windows read nothing new
    ("v4", {"CAMPAIGN_MEDIA_PHOTOSHELTER_API": "4"},
     ("tests/integration/test_lifecycle_dags.py", "tests/integration/test_video_lifecycle.py")),
)


@dataclass
class Job:
    name: str
    modules: list[str]
    env: dict[str, str] = field(default_factory=dict)
    order: str = "forward"
    estimate: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None

    @property
    def log(self) -> Path:
        return OUT / f"{self.name}.log"

    @property
    def xml(self) -> Path:
        return OUT / f"{self.name}.xml"


def modules() -> list[str]:
    return sorted(p.relative_to(ROOT).as_posix() for p in TESTS.rglob("test_*.py"))


def recorded() -> dict[str, float]:
    return json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}


def plan(slots: int, only: list[str] | None = None) -> list[list[Job]]:
    """The jobs, in ``slots`` lists run side by side (each list one job after another)."""
    seconds = recorded()
    main_units: list[list[str]] = []
    shared = [m for m in modules() if m in SHARED_STACK]
    if shared:
        main_units.append(shared)
    main_units += [[m] for m in modules() if m not in SHARED_STACK and m not in TAIL]
    tail = [m for m in modules() if m in TAIL]
    if only:  # modules, or folders of them
        wanted = [w.rstrip("/") for w in only]
        main_units = [[m for m in u if any(m == w or m.startswith(w + "/") for w in wanted)] for u in main_units]
        main_units = [u for u in main_units if u]
        tail = [m for m in tail if any(m == w or m.startswith(w + "/") for w in wanted)]

    def cost(mods: list[str], prefix: str = "") -> float:
        return sum(seconds.get(prefix + m, UNKNOWN_SECONDS) for m in mods)

    reruns = [] if only else [Job(name, list(mods), dict(env), estimate=cost(list(mods), f"{name}:"))
                              for name, env, mods in RERUNS]
    loads = [0.0] * slots
    placed: list[list[Job]] = [[] for _ in range(slots)]
    shards: list[list[str]] = [[] for _ in range(slots)]
    # The modules that start an Airflow deployment of their own (standalone, Celery) share the first
    # slot, one after another: two at once beside the other slots' work saturate the two cores, and
    # their schedulers fall behind the tests' waits (measured: runs not quiet within 420 s).
    stack_slots = 1
    for unit in sorted((u for u in main_units if u[0].startswith(STACKS)), key=lambda u: (-cost(u), u)):
        n = loads.index(min(loads[:stack_slots]))
        shards[n] += unit
        loads[n] += cost(unit)
    for job in sorted(reruns, key=lambda j: -j.estimate):
        n = loads.index(min(loads))
        placed[n].append(job)
        loads[n] += job.estimate
    for unit in sorted((u for u in main_units if not u[0].startswith(STACKS)), key=lambda u: (-cost(u), u)):
        n = loads.index(min(loads))
        shards[n] += unit
        loads[n] += cost(unit)
    for n, shard in enumerate(shards):
        if shard:  # the main shard first in its slot: the re-runs are shorter
            # Given so that, reversed, a deployment's modules (the longest) start first and the rest fill in.
            given = sorted(shard, key=lambda m: (m.startswith(STACKS), m))
            placed[n].insert(0, Job(f"main-{n + 1}", given, order="reverse", estimate=cost(shard)))
    # Each last in the slot that frees first, but never the deployments' slot while it has work.
    for k, module in enumerate(sorted(tail, key=lambda m: (-cost([m]), m)), 1):
        others = [n for n in range(slots) if n > 0 or not shards[0]] or [0]
        n = min(others, key=lambda i: loads[i])
        placed[n].append(Job(f"tail-{k}", [module], order="reverse", estimate=cost([module])))
        loads[n] += cost([module])
    return [slot for slot in placed if slot]


def command(job: Job) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--order", job.order,
            f"--junitxml={job.xml}", "-o", "junit_family=xunit1", *job.modules]


def run_slots(slots: list[list[Job]], template_home: Path) -> None:
    """Start each slot's jobs one after another, the slots side by side; wait for all."""
    running: dict[int, tuple[Job, subprocess.Popen, float]] = {}
    queues = [list(slot) for slot in slots]
    while any(queues) or running:
        for n, queue in enumerate(queues):
            if n not in running and queue:
                job = queue.pop(0)
                home = Path(tempfile.mkdtemp(prefix=f"airflow-{job.name}-"))
                env = {**os.environ, **job.env, "AIRFLOW_HOME": str(home),
                       "CAMPAIGN_MEDIA_TEST_DB_TEMPLATE": str(template_home / "airflow.db")}
                job.log.unlink(missing_ok=True)
                job.xml.unlink(missing_ok=True)
                handle = job.log.open("w")
                print(f"[{stamp()}] start {job.name}: {len(job.modules)} modules, about {job.estimate:.0f} s",
                      flush=True)
                running[n] = (job, subprocess.Popen(command(job), cwd=ROOT, env=env, stdout=handle,
                                                    stderr=subprocess.STDOUT), time.monotonic())
        for n, (job, proc, started) in list(running.items()):
            if proc.poll() is not None:
                job.returncode, job.seconds = proc.returncode, time.monotonic() - started
                passed, failed, skipped = counts(job)
                print(f"[{stamp()}] done  {job.name}: {passed} passed, {failed} failed, {skipped} skipped "
                      f"in {job.seconds:.0f} s (exit {job.returncode}; log {job.log.relative_to(ROOT)})", flush=True)
                if job.returncode != 0:
                    print(job.log.read_text(errors="replace")[-20000:], flush=True)
                del running[n]
        time.sleep(1)


STARTED = time.monotonic()


def stamp() -> str:
    elapsed = int(time.monotonic() - STARTED)
    return f"{elapsed // 60:02d}:{elapsed % 60:02d}"


def cases(job: Job) -> list[ET.Element]:
    if not job.xml.exists():
        return []
    return list(ET.parse(job.xml).getroot().iter("testcase"))


def counts(job: Job) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for case in cases(job):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def module_of(case: ET.Element) -> str:
    """``tests/integration/test_x.py`` from a JUnit test case (its file, else its class path)."""
    if case.get("file"):
        return case.get("file")
    parts = (case.get("classname") or "").split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (ROOT / candidate).exists():
            return candidate
    return ".".join(parts)


def module_seconds(jobs: list[Job]) -> dict[str, tuple[str, int, float]]:
    """``{key: (job, tests, seconds)}``: a main module by its path, a re-run's as ``name:path``."""
    out: dict[str, list] = defaultdict(lambda: ["", 0, 0.0])
    for job in jobs:
        for case in cases(job):
            key = module_of(case) if job.name.startswith(("main", "tail")) else f"{job.name}:{module_of(case)}"
            entry = out[key]
            entry[0], entry[1], entry[2] = job.name, entry[1] + 1, entry[2] + float(case.get("time") or 0)
    return {k: tuple(v) for k, v in out.items()}


def template_database() -> Path:
    """One migrated Airflow database that every process copies (a migration costs ~15 s of CPU)."""
    home = Path(tempfile.mkdtemp(prefix="airflow-template-"))
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                   env={**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                        "PYTHONPATH": str(ROOT / "plugins")})
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=int(os.environ.get("TEST_SLOTS", "3")),
                        help="pytest processes at once (default 3, or TEST_SLOTS)")
    parser.add_argument("--record", action="store_true", help="write the measured seconds to tests/durations.json")
    parser.add_argument("--plan", action="store_true", help="print the jobs and stop")
    parser.add_argument("modules", nargs="*", help="only these main-run modules or folders (no re-runs)")
    args = parser.parse_args(argv)
    slots = plan(args.slots, args.modules or None)
    for n, slot in enumerate(slots, 1):
        print(f"slot {n}: " + " then ".join(f"{j.name} ({len(j.modules)} modules, ~{j.estimate:.0f} s)" for j in slot))
    if args.plan:
        for job in (j for slot in slots for j in slot):
            env = " ".join(f"{k}={v}" for k, v in job.env.items())
            print(f"{job.name} [{job.order}] {env}: {' '.join(job.modules)}")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    run_slots(slots, template_database())
    jobs = [j for slot in slots for j in slot]
    table = sorted(module_seconds(jobs).items(), key=lambda kv: -kv[1][2])
    print("\nseconds per module (setup, tests and teardown; the modules of one job ran one after another):")
    for key, (job, tests, seconds) in table:
        print(f"{seconds:8.1f}  {tests:4d} tests  {job:12s} {key}")
    wall = time.monotonic() - STARTED
    print("\njobs: " + ", ".join(f"{j.name} {j.seconds:.0f} s" for j in jobs) + f"; wall time {wall:.0f} s")
    if args.record:
        DURATIONS.write_text(json.dumps({k: round(v[2], 1) for k, v in sorted(table)}, indent=1) + "\n")
        print(f"recorded {DURATIONS.relative_to(ROOT)}")
    totals = [counts(j) for j in jobs]
    passed, failed, skipped = (sum(t[i] for t in totals) for i in range(3))
    lost = [j.name for j in jobs if j.returncode != 0 and counts(j)[1] == 0]  # died, or collected nothing
    if lost:
        print(f"jobs that ended without a result: {', '.join(lost)} (see their logs)")
    print(f"suite: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or lost or not passed else 0


if __name__ == "__main__":
    raise SystemExit(main())
