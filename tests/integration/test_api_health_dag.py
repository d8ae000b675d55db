"""The API health DAG, run by real Airflow (``dag.test()``) against both emulators."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def test_api_health_dag_runs_against_the_emulators(connections, airflow_db, dagbag, ps_seed) -> None:
    ps_proc, cld_proc = connections
    dag = dagbag.get_dag("campaign_media_api_health")
    run = dag.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert states == {"photoshelter": "success", "cloudinary": "success", "account_check": "success"}
    assert ps_proc.calls()["POST /psapi/v3/mem/organization/{org_id}/authenticate"] == 2  # + the account check
    assert cld_proc.calls()["GET /v1_1/{cloud}/ping"] == 2
    from campaign_media.account.capabilities import report_path
    from campaign_media.runtime import storage

    report = storage.read_json(report_path())
    assert report["photoshelter"]["login"] and report["cloudinary"]["ping"]


def test_api_health_dag_fails_clearly_on_a_bad_secret(connections, airflow_db, dagbag, monkeypatch) -> None:
    from tests.conftest import cld_connection

    _, cld_proc = connections
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld_proc, password="wrong-secret"))
    dag = dagbag.get_dag("campaign_media_api_health")
    for task in dag.tasks:  # fail now rather than wait for the retry delay; restored afterwards
        monkeypatch.setattr(task, "retries", 0)
    run = dag.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["photoshelter"] == "success" and states["cloudinary"] != "success"
