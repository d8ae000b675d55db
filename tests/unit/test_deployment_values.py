"""The Helm values (deploy/helm/values.yaml) say what this package reads: no cluster is reachable
here, so what can be checked without one is checked against the package itself."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from campaign_media import __version__, settings
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook

ROOT = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text(encoding="utf-8"))


def test_the_image_is_this_version_and_the_executor_has_a_triggerer() -> None:
    assert VALUES["images"]["airflow"]["tag"] == __version__
    assert VALUES["executor"] == "CeleryExecutor" and VALUES["triggerer"]["enabled"] is True
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"FROM apache/airflow:{VALUES['airflowVersion']}-" in dockerfile
    # the distribution itself (its entry points: provider and plugin), not an editable link
    assert re.search(r"pip install [^\n]*--no-deps /opt/project\n", dockerfile)
    assert "COPY dags/ /opt/airflow/dags/" in dockerfile
    assert VALUES["config"]["core"]["dags_folder"] == "/opt/airflow/dags"


def test_every_campaign_media_variable_is_a_setting_and_storage_is_on_s3() -> None:
    env = {e["name"]: e["value"] for e in VALUES["env"]}
    keys = [name.removeprefix("AIRFLOW__CAMPAIGN_MEDIA__").lower() for name in env if "__CAMPAIGN_MEDIA__" in name]
    assert keys and all(key in settings.SETTINGS for key in keys), keys
    assert env["AIRFLOW__CAMPAIGN_MEDIA__STORAGE"].startswith("s3://")
    assert env["AIRFLOW__CAMPAIGN_MEDIA__INCLUDE"].startswith("s3://")


def test_the_connections_come_from_secrets_and_none_is_written_in_the_values() -> None:
    names = {s["envName"] for s in VALUES["secret"]}
    for hook in (PhotoShelterHook, CloudinaryHook):
        assert f"AIRFLOW_CONN_{hook.default_conn_name.upper()}" in names
    text = (ROOT / "deploy" / "helm" / "values.yaml").read_text()
    assert "AIRFLOW_CONN_" not in str(VALUES["env"]) and "password" not in text.lower()


def test_the_migration_job_makes_the_pools_the_dags_run_in() -> None:
    """Without the pools every task waits in the queue: the chart's migration job makes them after
    migrating (the chart runs its ``args`` as the job's command)."""
    from campaign_media.pools import POOLS

    command = VALUES["migrateDatabaseJob"]["args"]
    assert command[:2] == ["bash", "-c"]
    migrate, pools = command[2].split(" && ")
    assert migrate == "airflow db migrate" and pools == "exec campaign-media pools --create"
    assert {"photoshelter_api", "cloudinary_api"} <= set(POOLS)
