"""``campaign-media doctor`` on a real Airflow metadata database, a real triggerer process and the
emulators: it passes on a deployment that can run the pipelines, and fails with the named fix for
each of: no pools, no triggerer, storage not shared, an approver unknown, a connection of the
wrong type, emulator leftovers beside real credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from campaign_media.cli import main as cli
from tests.conftest import ROOT
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
CAMPAIGN = "spring-launch-2026"


def findings(capsys) -> tuple[int, dict[str, list[dict]]]:
    code = cli(["doctor", "--json"])
    out: dict[str, list[dict]] = {}
    for f in json.loads(capsys.readouterr().out):
        out.setdefault(f["check"], []).append(f)
    return code, out


def failed(found: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {check: [f for f in fs if not f["ok"]] for check, fs in found.items() if any(not f["ok"] for f in fs)}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, airflow_db, dagbag):
    """The emulators, the pools, and one API-health run (a task noting in storage which run wrote
    there); ``triggerer`` holds the triggerer process a test started."""
    from campaign_media.pools import create

    base = tmp_path_factory.mktemp("doctor")
    include = base / "include"
    shutil.copytree(ROOT / "include", include)
    with seeded_world(base, images=3) as world:
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
        create()
        run = dagbag.get_dag("campaign_media_api_health").test()
        assert run.state == "success"
        held: dict = {"process": None, "log": base / "triggerer.log"}
        try:
            yield {**world, "include": include, "triggerer": held, "run_id": run.run_id}
        finally:
            stop_triggerer(held)


def start_triggerer(held: dict) -> None:
    """A real ``airflow triggerer`` on this test process's metadata database (once)."""
    if held["process"] is None or held["process"].poll() is not None:
        held["process"] = subprocess.Popen([sys.executable, "-m", "airflow", "triggerer"],
                                           stdout=held["log"].open("ab"), stderr=subprocess.STDOUT,
                                           env={**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"},
                                           start_new_session=True)


def stop_triggerer(held: dict) -> None:
    if held["process"] is not None and held["process"].poll() is None:
        held["process"].terminate()
        held["process"].wait(30)


def wait_for_triggerer(capsys, alive: bool, timeout: float = 90) -> dict[str, list[dict]]:
    deadline = time.monotonic() + timeout
    while True:
        _, found = findings(capsys)
        if found["triggerer"][0]["ok"] is alive or time.monotonic() > deadline:
            return found
        time.sleep(2)


def test_a_deployment_that_can_run_the_pipelines_passes(deployment, capsys) -> None:
    start_triggerer(deployment["triggerer"])
    found = wait_for_triggerer(capsys, alive=True)
    assert not failed(found), failed(found)
    assert cli(["doctor"]) == 0
    said = {check: fs[0]["found"] for check, fs in found.items()}
    assert said["storage shared"].startswith(f"campaign_media_api_health run {deployment['run_id']} wrote here")
    assert said["pool photoshelter_api"].startswith("4 slots") and said["triggerer"].startswith("alive")
    assert said["connection photoshelter_default"].startswith("logged in")


def test_missing_pools_are_named_with_the_command_that_makes_them(deployment, capsys) -> None:
    from airflow.models.pool import Pool

    from campaign_media.pools import create

    Pool.delete_pool("cloudinary_api")
    try:
        code, found = findings(capsys)
        assert code == 1
        [problem] = failed(found)["pool cloudinary_api"]
        assert "missing" in problem["found"] and problem["fix"] == "campaign-media pools --create"
    finally:
        create()


def test_storage_this_machine_does_not_share_with_the_workers_is_named(deployment, capsys, tmp_path,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (tmp_path / "elsewhere").as_uri())
    _, found = findings(capsys)
    [problem] = failed(found)["storage shared"]
    assert f"run {deployment['run_id']} succeeded, but what its task wrote is not in" in problem["found"]
    assert "one location they all share" in problem["fix"]
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")  # a local folder under Celery
    _, found = findings(capsys)
    [problem] = failed(found)["storage shared"]
    assert "a local folder" in problem["found"] and "CeleryExecutor" in problem["found"]


def test_an_approver_the_auth_manager_does_not_know_is_named(deployment, capsys, monkeypatch) -> None:
    campaign_file = deployment["include"] / "campaigns" / f"{CAMPAIGN}.yaml"
    original = campaign_file.read_text()
    data = yaml.safe_load(original)
    data["signoff"] = {"approvers": ["admin", "brand-lead"]}
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER",
                       "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    try:
        _, found = findings(capsys)
        [problem] = failed(found)["sign-off approvers"]
        assert problem["found"].startswith("brand-lead named in a campaign file but unknown")
        monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,brand-lead:user")
        _, found = findings(capsys)
        assert found["sign-off approvers"][0]["ok"]
    finally:
        campaign_file.write_text(original)


def test_a_connection_of_another_type_is_named(deployment, capsys, monkeypatch) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_PHOTOSHELTER_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", json.dumps({**conn, "conn_type": "http"}))
    _, found = findings(capsys)
    [problem] = failed(found)["connection photoshelter_default"]
    assert problem["found"] == "is of type 'http', not 'photoshelter'" and "--conn-type photoshelter" in problem["fix"]


def test_emulator_leftovers_beside_real_credentials_are_named(deployment, capsys, monkeypatch) -> None:
    from campaign_media.account.deployment import EMULATOR_TOKEN_KEY

    real = {"conn_type": "cloudinary", "host": "brand", "login": "123456789012345", "password": "a-real-secret",
            "extra": {"auth_token_key": EMULATOR_TOKEN_KEY}}
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", json.dumps(real))
    code, found = findings(capsys)
    assert code == 1
    problems = failed(found)["emulator leftovers"]
    assert any("token key" in p["found"] for p in problems), problems
    assert "a-real-secret" not in json.dumps(found)


def test_no_triggerer_is_named_with_how_to_run_one(deployment, capsys) -> None:
    stop_triggerer(deployment["triggerer"])
    found = wait_for_triggerer(capsys, alive=False)
    [problem] = failed(found)["triggerer"]
    assert problem["found"].startswith("none alive") and problem["fix"].startswith("run one: airflow triggerer")


def test_setup_says_each_step_before_doing_it_and_makes_what_doctor_checks(deployment, capsys, monkeypatch) -> None:
    from airflow.models.pool import Pool

    from campaign_media.account.capabilities import report_path
    from campaign_media.runtime import storage

    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__CLOUDINARY_EVENTS", "pull")
    Pool.delete_pool("photoshelter_api")
    report_path().unlink(missing_ok=True)
    assert cli(["setup"]) == 0
    out = capsys.readouterr().out
    assert out.index("[1/3] creating or updating the pools") < out.index("photoshelter_api: 4 slots")
    assert out.index("[2/3] making the Cloudinary event channel's triggers") < out.index("created")
    assert "[3/3] checking both accounts" in out and out.rstrip().endswith("checks the rest (a triggerer running, "
                                                                           "shared storage)")
    assert Pool.get_pool("photoshelter_api").slots == 4 and storage.read_json(report_path())["cloudinary"]["ping"]
    # a step that fails is said in one line, and the others still run
    monkeypatch.delenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT")
    Pool.delete_pool("photoshelter_api")
    assert cli(["setup"]) == 1
    out = capsys.readouterr().out
    assert "  failed: The conn_id `cloudinary_default` isn't defined" in out and "Traceback" not in out
    assert Pool.get_pool("photoshelter_api") is not None and "set-up incomplete: step(s) 2, 3 failed" in out
