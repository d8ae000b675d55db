"""Every DAG file imports cleanly, fast, without network or database, and is well described."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").rglob("*.py"))
MARKET_CODES = sorted(p.stem for p in (ROOT / "include" / "markets").glob("*.yaml") if not p.stem.startswith("_"))
# Every DAG the shipped files define; a DAG missing from the bag fails its own test by name.
DAG_IDS = ["campaign_media_api_health", "campaign_media_archive", "campaign_media_deadlines",
           "campaign_media_hand_edits", "campaign_media_ingest",
           "campaign_media_metrics", "campaign_media_signoff",
           "campaign_media_usage_windows", "example_cloudinary_upload_and_window", "example_gallery_to_market",
           *(f"campaign_media_market_{code}" for code in MARKET_CODES)]


def test_no_import_errors_and_no_unexpected_dag(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dags) == sorted(DAG_IDS)


def test_the_campaign_page_links_to_dags_that_exist() -> None:
    from campaign_media.config.loader import load_campaigns
    from campaign_media.ui.access import dag_ids

    for campaign in load_campaigns(ROOT / "include" / "campaigns").items.values():
        assert set(dag_ids(campaign)) <= set(DAG_IDS), campaign.id


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_dag_has_owner_tags_retries_pools_and_doc(dagbag, dag_id: str) -> None:
    from campaign_media.pools import POOLS

    dag = dagbag.dags.get(dag_id)
    assert dag is not None, f"{dag_id} is not in the DAG bag: {dagbag.import_errors}"
    assert dag.doc_md and len(dag.doc_md.strip()) > 80, f"{dag_id}: doc_md must tell an operator what it does"
    assert dag.tags, f"{dag_id}: needs tags"
    for task in dag.tasks:
        assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id}: set default_args owner"
        assert task.retries >= 1, f"{dag_id}.{task.task_id}: needs retries"
        assert task.pool in (*POOLS, "default_pool"), f"{dag_id}.{task.task_id}: unknown pool {task.pool}"
        # a task that opens a PhotoShelter session is in its pool (the per-user session cap)
        opens_session = getattr(task, "opens_photoshelter_session", False) or \
            task.task_id in ("photoshelter", "account_check")
        if opens_session:
            assert task.pool == "photoshelter_api", f"{dag_id}.{task.task_id} opens PhotoShelter sessions"


GUARD = """
import socket, sys
def refuse(*args, **kwargs):
    raise RuntimeError("network access at DAG parse time")
socket.socket.connect = refuse
socket.create_connection = refuse
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
print(len(bag.dags))
"""


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parses_without_network_or_database(dag_file: Path, tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/dir/no.db",
           "PYTHONPATH": str(ROOT / "plugins")}
    env.pop("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", None)
    env.pop("AIRFLOW_CONN_CLOUDINARY_DEFAULT", None)
    result = subprocess.run([sys.executable, "-c", GUARD, str(dag_file)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip().splitlines()[-1]) >= 1


BAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dags), "errors": bag.import_errors}))
"""


def bag_with(include: Path, tmp_path: Path) -> dict:
    import json

    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include),
           "PYTHONPATH": str(ROOT / "plugins")}
    result = subprocess.run([sys.executable, "-c", BAG, str(ROOT / "dags")], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_market_file_adds_a_dag_and_a_broken_one_is_a_clear_import_error(tmp_path: Path) -> None:
    import shutil

    include = tmp_path / "include"
    shutil.copytree(ROOT / "include", include)
    (include / "markets" / "nl.yaml").write_text(
        "code: nl\nlocales: [nl-NL]\ntimezone: Europe/Amsterdam\nusage_rights: any\n")
    (include / "markets" / "de.yaml").write_text(
        "code: de\nlocales: [de-DE]\ntimezone: Europe/Berlinn\nusage_rights: any\n")
    bag = bag_with(include, tmp_path)
    assert {"campaign_media_market_fr", "campaign_media_market_jp", "campaign_media_market_sa",
            "campaign_media_market_nl", "campaign_media_ingest"} <= set(bag["dags"])
    assert "campaign_media_market_de" not in bag["dags"]
    (path, message), = bag["errors"].items()
    assert path.endswith("campaign_media_markets.py")
    assert "de.yaml" in message and "timezone = 'Europe/Berlinn'" in message and \
        "Fix: did you mean 'Europe/Berlin'? Write timezone: Europe/Berlin." in message


def test_a_campaign_listing_a_broken_market_runs_on_in_the_others(tmp_path: Path, monkeypatch) -> None:
    """The broken market and the campaign's problem are shown as import errors; the campaign's
    other markets keep their DAGs and its governance tasks still find it."""
    import shutil

    include = tmp_path / "include"
    shutil.copytree(ROOT / "include", include)
    (include / "markets" / "de.yaml").write_text("code: de\nlocales: [de-DE]\ntimezone: Europe/Berlinn\n")
    campaign = include / "campaigns" / "spring-launch-2026.yaml"
    campaign.write_text(campaign.read_text().replace("markets: [fr, jp, sa]", "markets: [fr, jp, sa, de]"))
    bag = bag_with(include, tmp_path)
    assert {"campaign_media_market_fr", "campaign_media_market_jp", "campaign_media_market_sa"} <= set(bag["dags"])
    (message,) = bag["errors"].values()
    assert "de.yaml" in message and "spring-launch-2026.yaml" in message
    assert "markets = 'de': unknown market. Fix: fix" in message
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
    from campaign_media.config.loader import current_campaign

    found, markets = current_campaign("spring-launch-2026")
    assert [m.code for m in markets] == ["fr", "jp", "sa"]
