"""The API health DAG, run by real Airflow (``dag.test()``) against both emulators."""

from __future__ import annotations

import pytest

from emulators.runner import STRICT
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def test_api_health_dag_runs_against_the_emulators(tmp_path, airflow_db, dagbag) -> None:
    from campaign_media.account.capabilities import report_path
    from campaign_media.runtime import storage

    with seeded_world(tmp_path, images=3) as world:  # an account of its own: its calls are this test's
        ps_proc, cld_proc = world["ps"], world["cld"]
        run = dagbag.get_dag("campaign_media_api_health").test()
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
        assert run.state == "success", states
        assert states == {"photoshelter": "success", "cloudinary": "success", "account_check": "success"}
        assert cld_proc.calls()["GET /v1_1/{cloud}/ping"] == 2
        report = storage.read_json(report_path())
        assert report["photoshelter"]["login"] and report["cloudinary"]["ping"]
        assert report["photoshelter"]["api_versions"]["answers"] == [3, 4]  # both answer: name v4
        # v3 logins: the health task, the account check and its v3 probe; on the strict emulator
        # the v4 probe's v3 session too (its sample gallery holds media, whose custom fields come
        # from v3's page: the strict v4 children carry none)
        assert ps_proc.calls()["POST /psapi/v3/mem/organization/{org_id}/authenticate"] == 3 + int(STRICT)
        assert ps_proc.calls()["POST /psapi/v4.0/organization/authenticate"] == 1


def test_api_health_dag_fails_clearly_on_a_bad_secret(connections, airflow_db, dagbag, monkeypatch,
                                                     capfd) -> None:
    """A wrong API secret fails the Cloudinary task at its first try (its two retries are not
    spent on it), names the call and the refusal, and the account check never runs."""
    from tests.conftest import cld_connection

    _, cld_proc = connections
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld_proc, password="wrong-secret"))
    dag = dagbag.get_dag("campaign_media_api_health")
    assert dag.get_task("cloudinary").retries == 2
    run = dag.test()
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    states = {task_id: ti.state for task_id, ti in tis.items()}
    assert states == {"photoshelter": "success", "cloudinary": "failed", "account_check": "upstream_failed"}
    assert tis["cloudinary"].try_number == 1
    log = capfd.readouterr()
    output = log.out + log.err
    assert "AirflowFailException" in output and "not retried: retrying cannot fix this" in output
    assert "Cloudinary usage failed: Error 401 - Invalid credentials" in output and "wrong-secret" not in output
