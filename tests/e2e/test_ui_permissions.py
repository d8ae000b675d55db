"""The campaign page under FAB's auth manager: two users whose roles read different DAGs each see
only those DAGs' data (markets, runs, files, audit records), a third sees no campaign at all. And
the launch sign-off under FAB, where Airflow cannot match approvers by name: two users whose role
may answer the sign-off DAG's Required Actions, one named in the campaign file (``dave``): the
other's answer is refused and asked again, dave's yes is recorded.

Reads the storage the shared stack's pipeline runs wrote (after ``test_standalone.py``, or runs
them itself when it runs alone), served
by a second API server of its own with FAB's auth manager, its own SQLite database, an admin made
with Airflow's CLI, roles and users made by that admin over FAB's REST API, and tokens from
``/auth/token`` as any tool would get them.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from campaign_media.runtime import audit
from emulators.runner import free_port
from scripts.standalone import Standalone
from tests.e2e.support import CAMPAIGN, INGEST, run_once, wait_for

pytestmark = [pytest.mark.e2e]
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
FR, JP, WINDOWS = "campaign_media_market_fr", "campaign_media_market_jp", "campaign_media_usage_windows"
ROLES = {"alice": ("fr_team", [INGEST, FR]), "bob": ("jp_team", [JP, WINDOWS]), "carol": ("nobody", [])}
PAGE = "/campaign-media"
SIGNOFF = "campaign_media_signoff"
# dave and erin may both answer the sign-off DAG's Required Actions in Airflow; the file names dave
ANSWERERS = {"dave": "signoff_team", "erin": "signoff_team"}
SIGNOFF_PERMISSIONS = [(action, resource) for action in ("can_read", "can_edit")
                       for resource in (f"DAG:{SIGNOFF}", "HITL Detail")] + [("can_read", "DAG Runs"),
                                                                              ("can_read", "Task Instances")]


def copy_if_there(source: str, target: str) -> None:
    """Copy a file that a writer may have just replaced (gone: skipped, its successor is copied)."""
    with contextlib.suppress(FileNotFoundError):
        shutil.copy2(source, target)


def signed_off_by_dave(include: Path) -> None:
    campaign_file = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(campaign_file.read_text())
    data["signoff"] = {"approvers": ["dave"], "settle": "0s",  # France only: the others as the stack left them
                       "markets": {code: "none" for code in data["markets"] if code != "fr"}}
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.fixture(scope="module")
def fab(stack, tmp_path_factory):
    storage = stack["storage"]
    if not (storage / CAMPAIGN / "windows" / "latest.json").exists():  # this module alone: run what it reads
        for dag_id in (INGEST, FR, JP, WINDOWS):
            assert run_once(stack["af"], dag_id) == "success", dag_id
    assert (storage / CAMPAIGN / "delivery" / "fr.json").exists() and \
        (storage / CAMPAIGN / "delivery" / "jp.json").exists(), "the stack's pipeline has not published fr and jp"
    base = tmp_path_factory.mktemp("fab")
    include = base / "include"  # the stack's campaign, asking this deployment's users for sign-off
    shutil.copytree(stack["include"], include)
    signed_off_by_dave(include)
    # What the stack's pipeline wrote, as it stands now: this deployment's own sign-off runs write
    # here, and nothing the stack's scheduler writes meanwhile changes what the pages show.
    storage = base / "storage"
    shutil.copytree(stack["storage"], storage, ignore=shutil.ignore_patterns(".*"),  # a writer's temporary files
                    copy_function=copy_if_there)
    server = Standalone(base / "home", free_port(), {
        **stack["af"].env_extra, "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": storage.as_uri(), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"})  # only the sign-off DAG is unpaused here
    server.home.mkdir(parents=True, exist_ok=True)
    server.airflow("db", "migrate")  # Airflow's tables and FAB's
    server.airflow("dags", "reserialize")  # the DAGs, and FAB's per-DAG permissions for them
    server.airflow("users", "create", "-u", "admin", "-p", "admin-password", "-r", "Admin",
                   "-e", "admin@brand.example", "-f", "admin", "-l", "Test")
    processes = []
    for component in (["api-server", "--port", str(server.port)], ["scheduler"], ["dag-processor"]):
        log = open(server.home / f"{component[0]}.log", "ab")  # noqa: SIM115 - lives as long as the process
        processes.append(subprocess.Popen([sys.executable, "-m", "airflow", *component], env=server.env(),
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.url}/api/v2/version", timeout=2).status_code in (200, 401, 403):
                    break
            except httpx.TransportError:
                time.sleep(1)
        else:
            raise RuntimeError(f"the FAB API server did not answer; see {server.home / 'api-server.log'}")
        admin = client(server.url, "admin")  # the roles, users and runs made as an admin would, over REST
        for name, (role, dags) in ROLES.items():
            made = admin.post("/auth/fab/v1/roles", json={"name": role, "actions": [
                {"action": {"name": "can_read"}, "resource": {"name": f"DAG:{d}"}} for d in dags]})
            assert made.status_code == 200, made.text
            made = admin.post("/auth/fab/v1/users", json={
                "username": name, "password": f"{name}-password", "email": f"{name}@brand.example",
                "first_name": name, "last_name": "Test", "roles": [{"name": role}]})
            assert made.status_code == 200, made.text
        made = admin.post("/auth/fab/v1/roles", json={"name": "signoff_team", "actions": [
            {"action": {"name": a}, "resource": {"name": r}} for a, r in SIGNOFF_PERMISSIONS]})
        assert made.status_code == 200, made.text
        for name, role in ANSWERERS.items():
            made = admin.post("/auth/fab/v1/users", json={
                "username": name, "password": f"{name}-password", "email": f"{name}@brand.example",
                "first_name": name, "last_name": "Test", "roles": [{"name": role}]})
            assert made.status_code == 200, made.text
        for dag_id in (FR, JP):  # a run each (queued: their DAGs stay paused on this server)
            made = admin.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
            assert made.status_code == 200, made.text
        users = [*ROLES, *ANSWERERS, "admin"]
        yield {name: client(server.url, name) for name in users} | {"anonymous": httpx.Client(base_url=server.url),
                                                                     "storage": storage, "include": include}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)


def client(url: str, user: str) -> httpx.Client:
    response = httpx.post(f"{url}/auth/token", json={"username": user, "password": f"{user}-password"}, timeout=30)
    response.raise_for_status()
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {response.json()['access_token']}"},
                        timeout=60)


def test_each_user_sees_the_markets_runs_and_reports_of_their_dags_only(fab) -> None:
    alice, bob = fab["alice"].get(f"{PAGE}/api/campaigns/{CAMPAIGN}").json(), \
        fab["bob"].get(f"{PAGE}/api/campaigns/{CAMPAIGN}").json()
    assert [m["market"] for m in alice["markets"]] == ["fr"] and alice["manifests"] == ["fr"]
    assert [m["market"] for m in bob["markets"]] == ["jp"] and bob["manifests"] == ["jp"]
    assert alice["windows"] is None and bob["windows"] is not None  # the usage-window report is its DAG's
    assert {r["dag_id"] for r in alice["runs"]} == {FR} and {r["dag_id"] for r in bob["runs"]} == {JP}
    assert alice["archive"]["state"] == bob["archive"]["state"] == "not shown"
    page = fab["alice"].get(f"{PAGE}/campaigns/{CAMPAIGN}").text
    assert "delivery/fr.json" in page and "delivery/jp.json" not in page and FR in page and JP not in page
    listing = fab["bob"].get(f"{PAGE}/").text
    assert f"data-campaign='{CAMPAIGN}'" in listing and "jp <span" in listing and "fr <span" not in listing


@pytest.mark.parametrize(("user", "name", "code"), [
    ("alice", "delivery/fr.json", 200), ("alice", "delivery/jp.json", 403), ("alice", "windows/latest.json", 403),
    ("bob", "delivery/jp.json", 200), ("bob", "delivery/fr.json", 403), ("bob", "windows/latest.json", 200),
    ("carol", "delivery/fr.json", 403), ("anonymous", "delivery/fr.json", 401)])
def test_files_need_read_access_to_the_dag_that_wrote_them(fab, user, name, code) -> None:
    response = fab[user].get(f"{PAGE}/campaigns/{CAMPAIGN}/files/{name}")
    assert response.status_code == code, response.text
    if code == 403:
        assert "ask an Airflow admin for read access" in response.json()["detail"]


def test_audit_records_are_those_of_readable_dags_and_markets(fab, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", fab["storage"].as_uri())
    everything = audit.read(CAMPAIGN)
    for user, (_, dags) in ROLES.items():
        if not dags:
            continue
        markets = {d.removeprefix("campaign_media_market_") for d in dags if d.startswith("campaign_media_market_")}
        expected = sorted(r["key"] for r in everything if r["dag_id"] in dags and (not r["market"]
                                                                                   or r["market"] in markets))
        seen = fab[user].get(f"{PAGE}/campaigns/{CAMPAIGN}/audit", params={"format": "json"}).json()
        assert expected and sorted(r["key"] for r in seen) == expected, user
    assert {r["dag_id"] for r in everything} - set(ROLES["alice"][1])  # alice really has records not to see


def test_a_user_who_reads_none_of_its_dags_is_told_what_to_ask_for(fab) -> None:
    listing = fab["carol"].get(f"{PAGE}/").text
    assert f"data-campaign='{CAMPAIGN}'" not in listing and "whose DAGs you may not read" in listing
    refused = fab["carol"].get(f"{PAGE}/api/campaigns/{CAMPAIGN}")
    assert refused.status_code == 403 and INGEST in refused.json()["detail"]
    assert fab["anonymous"].get(f"{PAGE}/api/campaigns/{CAMPAIGN}").status_code == 401


def waiting_request(fab) -> dict | None:
    """The sign-off DAG's Required Action for France waiting for an answer, as admin lists it."""
    listed = fab["admin"].get(f"/api/v2/dags/{SIGNOFF}/dagRuns/~/hitlDetails")
    assert listed.status_code == 200, listed.text
    return next((d for d in listed.json()["hitl_details"] if not d["response_received"]
                 and d["task_instance"]["rendered_map_index"].endswith(" fr")), None)


def answer(fab, user: str, detail: dict) -> int:
    ti = detail["task_instance"]
    return fab[user].patch(f"/api/v2/dags/{SIGNOFF}/dagRuns/{ti['dag_run_id']}/taskInstances/signoff/"
                           f"{ti['map_index']}/hitlDetails",
                           json={"chosen_options": ["Approve"], "params_input": {"reason": ""}}).status_code


def test_under_fab_only_the_approver_the_campaign_file_names_can_sign_off(fab, monkeypatch) -> None:
    from campaign_media.config.loader import current_campaign
    from campaign_media.runtime import signoffs

    admin = fab["admin"]
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", fab["storage"].as_uri())
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(fab["include"]))
    campaign, _ = current_campaign(CAMPAIGN)
    assert admin.patch(f"/api/v2/dags/{SIGNOFF}", json={"is_paused": False}).status_code == 200
    assert admin.post(f"/api/v2/dags/{SIGNOFF}/dagRuns", json={"logical_date": None}).status_code == 200
    asked = wait_for(lambda: waiting_request(fab), timeout=300)
    assert asked["assigned_users"] == []  # FAB's user IDs are numbers: the task checks names instead
    assert answer(fab, "erin", asked) == 200  # Airflow lets her: her role may answer this DAG's actions

    def refused() -> list[str]:
        return [r["after"]["by"] for r in audit.read(CAMPAIGN) if r["action"] == "signoff_answer_refused"]

    seen: list = []

    def approved() -> dict | None:
        seen[:] = [signoffs.read(campaign, "fr")]
        return next((r for r in seen[0].requests if r["state"] == "approved"), None)

    answering_until(fab, "erin", refused)  # refused by the task, audited, and asked again
    try:
        found = answering_until(fab, "dave", approved)
    except AssertionError as exc:  # what the record held, and why each entry was not believed
        raise AssertionError(f"{exc}: {seen[0] if seen else 'never read'}") from None
    assert found["by"] == "dave" and found["by_id"] not in ("dave", None)  # FAB's numeric ID, kept
    assert set(refused()) == {"erin"}


def answering_until(fab, user: str, done, timeout: float = 300):
    """``done()``'s value once it has one, answering each waiting request as ``user`` meanwhile.
    An answer can be lost on a loaded machine: when it arrives while the task's first process is
    still ending, Airflow 3.3 records that end as a change made elsewhere, retries the task, and the
    retry asks again (seen in CI). A person then answers again; so does this."""
    def step():
        if value := done():
            return value
        pending = waiting_request(fab)
        if pending and not done():
            answer(fab, user, pending)  # a 409 (answered meanwhile) is fine: the loop looks again
        return None

    return wait_for(step, timeout, every=3)
