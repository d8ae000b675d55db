"""Airflow in a process of its own, as a deployment runs it: started by a test with the environment
it wants (a fresh venv's Python for the installed distribution, or this venv's with OpenLineage on),
it prints one JSON object that the test judges. ``inspect``: providers, connection types, the DAG
folder's DAGs, plugins; ``run <dag_id>…``: each DAG once with ``dag.test()``."""

from __future__ import annotations

import json
import os
import sys
import time


def inspect() -> dict:
    from airflow import plugins_manager
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    pm.initialize_providers_hooks()
    started = time.perf_counter()
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    parse_seconds = time.perf_counter() - started
    plugins_manager.ensure_plugins_loaded()
    import campaign_media

    return {
        "package_file": campaign_media.__file__,
        "providers": sorted(pm.providers),
        "hooks": {t: pm.hooks[t].hook_class_name for t in ("cloudinary", "photoshelter") if pm.hooks.get(t)},
        "dags": sorted(bag.dag_ids),
        "filelocs": sorted({d.fileloc for d in bag.dags.values()}),
        "import_errors": bag.import_errors,
        "parse_seconds": parse_seconds,
        "plugins": [p.name for p in plugins_manager._get_plugins()[0]],
        "plugin_sources": [str(p.source) for p in plugins_manager._get_plugins()[0]],
        "plugin_errors": plugins_manager.get_import_errors(),
        "repository_on_path": [p for p in sys.path if os.environ["REPOSITORY"] in p],
    }


def run(dag_ids: list[str]) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    states = {}
    for dag_id in dag_ids:
        result = bag.get_dag(dag_id).test(run_conf={"campaign": "all", "force": True}
                                          if dag_id.endswith("ingest") else None)
        states[dag_id] = {"state": str(result.state), "tasks": {
            f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in result.get_task_instances()}}
    return states


if __name__ == "__main__":
    out = inspect() if sys.argv[1] == "inspect" else run(sys.argv[2:])
    print("RESULT " + json.dumps(out, default=str))
