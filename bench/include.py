"""``python -m bench.include``: how long a DAG processor takes to parse the one-file DAG folder
(``campaign_media.dags.lifecycle_dags()``) with the campaign and market files in a local folder,
and on S3 (``moto`` in server mode: ``emulators/s3.py``), cold (no local copy yet: one listing and
every file fetched) and warm (the copy younger than ``include_cache_seconds``: no call to the store).
Each parse is a fresh process, as the DAG processor's are; medians over ``--repeats``. Part of
``make bench`` (``--only ...,include``); prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from emulators.s3 import S3Server

ROOT = Path(__file__).resolve().parents[1]
DAG_FILE = "# the campaign media DAGs, for airflow\nfrom campaign_media.dags import lifecycle_dags\n\n" \
           "globals().update(lifecycle_dags())\n"
PARSE = ("import json, sys, time\nt = time.perf_counter()\nfrom airflow.dag_processing.dagbag import DagBag\n"
         "bag = DagBag(dag_folder=sys.argv[1])\nassert not bag.import_errors, bag.import_errors\n"
         "print(json.dumps({'seconds': time.perf_counter() - t, 'dags': len(bag.dag_ids)}))\n")


def parse(base: Path, include: str, env: dict[str, str]) -> dict[str, Any]:
    run_env = {**os.environ, **env, "AIRFLOW_HOME": str(base / "home"), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": include,
               "AIRFLOW__CORE__DAGS_FOLDER": str(base / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "PYTHONPATH": str(ROOT / "plugins")}
    done = subprocess.run([sys.executable, "-c", PARSE, str(base / "dags")], env=run_env, capture_output=True,
                          text=True, check=True, cwd=base)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(repeats: int = 5) -> list[dict[str, Any]]:
    base = Path(tempfile.mkdtemp(prefix="bench-include-"))
    (base / "dags").mkdir()
    (base / "dags" / "campaign_media.py").write_text(DAG_FILE)
    s3 = S3Server().start()
    try:
        s3.upload_include(ROOT / "include", "include")
        env = {"AIRFLOW_CONN_AWS_DEFAULT": s3.connection(), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE_CACHE_SECONDS": "3600"}
        cases: dict[str, list[dict[str, Any]]] = {"local folder": [], "S3, cold": [], "S3, warm": []}
        for _ in range(repeats):
            cases["local folder"].append(parse(base, str(ROOT / "include"), env))
            shutil.rmtree(base / "home" / "campaign-media-include", ignore_errors=True)
            cases["S3, cold"].append(parse(base, s3.url("include"), env))
            cases["S3, warm"].append(parse(base, s3.url("include"), env))
    finally:
        s3.stop()
        shutil.rmtree(base, ignore_errors=True)
    local = statistics.median(r["seconds"] for r in cases["local folder"])
    rows = []
    for case, runs in cases.items():
        median = statistics.median(r["seconds"] for r in runs)
        rows.append({"scenario": "include", "case": case, "dags": runs[0]["dags"], "repeats": repeats,
                     "median_s": round(median, 3), "vs_local": round(median / local, 2)})
        print("BENCH " + json.dumps(rows[-1]))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)
