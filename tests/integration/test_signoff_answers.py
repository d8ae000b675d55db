"""The sign-off task's answer handling, without a human, in a campaign that asks for sign-off:
the market made by ``dag.test()`` against fresh emulators stays closed at the CDN through usage-
window runs while unsigned, and after a missed deadline (the event Airflow's ``awaiting_input``
timeout resumes the task with: the request is marked overdue and an alert sent); a yes then opens
it. The full path, with answers from the REST API and from Chromium, is ``tests/e2e/test_signoff.py``."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException

from campaign_media.config.loader import current_campaign
from campaign_media.domain.signoff import ready, request
from campaign_media.runtime import audit, signoffs, storage
from tests.conftest import ROOT
from tests.integration.test_alerts import body
from tests.integration.test_lifecycle_dags import CAMPAIGN, run
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    """A campaign whose file asks ``brand-lead`` to sign off each market but Japan (``markets: {jp:
    none}``): ingested, France, Japan and Saudi Arabia made."""
    base = tmp_path_factory.mktemp("signoff")
    include = base / "include"
    shutil.copytree(ROOT / "include", include)
    path = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "signoff": {"approvers": ["brand-lead"], "markets": {"jp": "none"},
                                                        "settle": "0s"}}, allow_unicode=True))
    with seeded_world(base, images=6) as world:
        world["campaign_file"] = path
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
        for dag_id, conf in (("campaign_media_ingest", {"force": True}), *((f"campaign_media_market_{m}", {})
                                                                            for m in ("fr", "jp", "sa"))):
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        yield world


def served(market: str) -> set[int]:
    """What the CDN answers anonymously for every rendition of the market's delivery manifest."""
    manifest = storage.read_json(storage.path(CAMPAIGN, "delivery", f"{market}.json"))["masters"]
    return {httpx.get(r["url"], timeout=30).status_code for m in manifest.values() for r in m["renditions"].values()}


RUN = "manual__signoff-answers"


def answer_context(map_index: int = 0) -> dict:
    """What Airflow hands the task when an answer resumes it (the parts the task reads)."""
    ti = SimpleNamespace(dag_id="campaign_media_signoff", run_id=RUN, task_id="signoff", map_index=map_index,
                         try_number=1)
    return {"ti": ti, "run_id": RUN, "dag_run": SimpleNamespace(run_after=datetime.now(UTC), run_type="manual")}


def answer(user: str, option: str = "Approve", reason: str | None = None) -> dict:
    """The event Airflow resumes a Human-in-the-loop task with after an answer."""
    return {"chosen_options": [option], "params_input": {"reason": reason}, "responded_at": datetime.now(UTC),
            "responded_by_user": {"id": user, "name": user}}


@pytest.fixture
def fr_request(world):
    """A stored, sealed request for France showing every master made there."""
    campaign, markets = current_campaign(CAMPAIGN)
    fr = next(m for m in markets if m.code == "fr")
    made = storage.read_json(storage.market_state(CAMPAIGN, "fr"))
    assert made, "the market made no copies: nothing here would be closed by sign-off"
    req = request(campaign, fr, ready(made), 3, datetime.now(UTC),
                  f"{RUN}|{CAMPAIGN}|fr", "http://af", None)
    signoffs.save_request(campaign, "fr", req)
    return campaign, req


def test_no_answer_by_the_deadline_keeps_the_market_closed_and_alerts(world, fr_request, dagbag, inbox) -> None:
    from campaign_media.operators.signoff import SignoffOperator

    campaign, req = fr_request
    req = {**req, "deadline": "2026-01-01T00:00:00Z"}  # passed
    signoffs.save_request(campaign, "fr", req)
    # Inside its window, unsigned: every copy closed by the usage-window run.
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert served("fr") <= {401, 404}

    task = SignoffOperator(task_id="signoff", req=req)
    with pytest.raises(AirflowFailException, match="not answered by 2026-01-01T00:00:00Z"):
        task.execute_complete(answer_context(), {"error": "timed out", "error_type": "timeout"})
    assert signoffs.find(campaign, "fr", req["id"])["state"] == "overdue"
    (mail,) = inbox.messages
    assert mail["Subject"] == "[campaign media] sign-off overdue: spring-launch-2026 in market fr"
    assert "no answer by 2026-01-01T00:00:00Z" in body(mail) and "http://af/campaign-media/campaigns/" in body(mail)

    # The next usage-window run: still closed at the CDN.
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert served("fr") <= {401, 404}

    # The approver's yes, as Airflow resumes the task with it, opens them: the check above could fail.
    assert task.execute_complete(answer_context(), answer("brand-lead"))["answer"] == "Approve"
    stored = signoffs.find(campaign, "fr", req["id"])
    assert (stored["state"], stored["by"], stored["task"]["run_id"]) == ("approved", "brand-lead", RUN)
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert 200 in served("fr")


def test_an_answer_from_someone_not_named_in_the_campaign_file_is_refused_and_asked_again(
        world, fr_request, monkeypatch) -> None:
    from airflow.providers.standard.operators.hitl import HITLOperator

    from campaign_media.operators.signoff import SignoffOperator

    campaign, req = fr_request
    asked_again: list[list] = []

    class AskedAgain(Exception):
        pass

    def ask(self, context):  # what Airflow's HITLOperator.execute does next: park the task again
        asked_again.append(self.assigned_users)
        raise AskedAgain

    monkeypatch.setattr(HITLOperator, "execute", ask)
    # The XCom names the intruder as approver: the campaign file decides, not the XCom.
    task = SignoffOperator(task_id="signoff", req={**req, "assignees": ["mallory"]})
    with pytest.raises(AskedAgain):
        task.execute_complete(answer_context(), answer("mallory"))
    assert signoffs.find(campaign, "fr", req["id"])["state"] == "awaiting"  # nothing recorded
    assert asked_again == [[{"id": "brand-lead", "name": "brand-lead"}]]  # re-asked of the file's approver
    refused = [r for r in audit.read(CAMPAIGN) if r["action"] == "signoff_answer_refused"]
    assert refused and refused[-1]["after"]["by"] == "mallory" and "brand-lead" in refused[-1]["reason"]


@pytest.mark.parametrize("edit", ["masters", "market"])
def test_a_rewritten_request_is_answered_as_stored(world, fr_request, edit) -> None:
    """The XCom a user rewrote (another market, a forged master): the yes covers what is stored."""
    from campaign_media.domain.signoff import standing
    from campaign_media.operators.signoff import SignoffOperator

    campaign, req = fr_request
    forged = "I0000forgedmaster"
    rewritten = {"masters": {**req, "masters": {**req["masters"], forged: "v1"}},
                 "market": {**req, "market": "sa"}}[edit]
    task = SignoffOperator(task_id="signoff", req=rewritten)
    assert task.execute_complete(answer_context(), answer("brand-lead"))["market"] == "fr"
    stored = signoffs.find(campaign, "fr", req["id"])
    assert stored["state"] == "approved" and stored["masters"] == req["masters"]
    assert not standing(campaign, "fr", signoffs.requests(campaign, "fr"), forged, "v1").signed
    assert not any(r.get("state") == "approved" for r in signoffs.requests(campaign, "sa"))
    mismatch = [r for r in audit.read(CAMPAIGN) if r["action"] == "signoff_request_mismatch"]
    assert mismatch and edit in mismatch[-1]["after"]["fields"]


def test_a_request_of_another_run_records_nothing(world, fr_request) -> None:
    from campaign_media.operators.signoff import SignoffOperator

    campaign, req = fr_request
    task = SignoffOperator(task_id="signoff", req={**req, "id": f"scheduled__other|{CAMPAIGN}|fr"})
    with pytest.raises(AirflowFailException, match="it is another run's"):
        task.execute_complete(answer_context(), answer("brand-lead"))
    assert signoffs.find(campaign, "fr", req["id"])["state"] == "awaiting"


def test_a_market_opted_out_goes_live_without_a_request_while_its_sibling_waits(world, dagbag) -> None:
    from campaign_media.operators.signoff import PlanSignoffsOperator

    campaign, _ = current_campaign(CAMPAIGN)
    with audit.recording(audit.RunInfo.from_context({})):
        asked = PlanSignoffsOperator(task_id="plan").run({"run_id": "manual__plan-check"})
    assert "jp" not in {r["market"] for r in asked} and signoffs.requests(campaign, "jp") == []
    assert signoffs.requests(campaign, "sa")  # asked now, or by an earlier run of this world: never answered
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert 200 in served("jp")  # live in its window, no yes needed
    assert served("sa") <= {401, 404}  # waiting for one


@pytest.fixture
def settle_two_minutes(world):
    """The campaign file with ``signoff.settle: 2m`` for one test."""
    path = world["campaign_file"]
    before = path.read_text()
    data = yaml.safe_load(before)
    path.write_text(yaml.safe_dump({**data, "signoff": {**data["signoff"], "settle": "2m"}}, allow_unicode=True))
    yield
    path.write_text(before)


def test_three_approvals_minutes_apart_make_one_request_per_market(world, settle_two_minutes, monkeypatch) -> None:
    """Masters made 5, 3 and 1 minutes ago with a 2-minute settle: the plan defers until the burst
    has settled (no request), then asks once per market for all of them; a run planning again
    meanwhile asks nothing (one request per market at a time)."""
    from airflow.sdk.exceptions import TaskDeferred

    from campaign_media.operators.signoff import PlanSignoffsOperator

    campaign, _ = current_campaign(CAMPAIGN)
    monkeypatch.setattr(signoffs, "record_path", lambda c, m: storage.path("burst", m, "signoff.json"))
    monkeypatch.setattr(storage, "market_state", lambda c, m: storage.path("burst", m, "state.json"))
    made = storage.read_json(storage.path(CAMPAIGN, "markets", "fr", "state.json"))  # the world's French copies
    masters = sorted(made)[:3]
    assert len(masters) == 3

    def made_ago(minutes: list[int]) -> None:
        for market in ("fr", "sa"):
            stamp = {i: {**made[i], "made_at": (datetime.now(UTC) - timedelta(minutes=m)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")} for i, m in zip(masters, minutes, strict=True)}
            storage.write_json(storage.path("burst", market, "state.json"), stamp)

    made_ago([5, 3, 1])
    plan = PlanSignoffsOperator(task_id="plan")
    context = answer_context() | {"run_id": "asset_triggered__burst-1"}
    with pytest.raises(TaskDeferred) as deferred:
        plan.execute(context)
    moment = deferred.value.trigger.moment
    assert timedelta(seconds=50) < moment - datetime.now(UTC) < timedelta(minutes=2, seconds=10)
    assert signoffs.requests(campaign, "fr") == []  # nothing asked while the burst may go on

    made_ago([7, 5, 3])  # the same masters, the settle time later
    asked = plan.execute(context)
    assert sorted(r["market"] for r in asked) == ["fr", "sa"]  # jp needs none
    assert all(sorted(r["masters"]) == masters for r in asked)
    again = PlanSignoffsOperator(task_id="plan").execute(answer_context() | {"run_id": "asset_triggered__burst-2"})
    assert again == [] and len(signoffs.requests(campaign, "fr")) == 1


def test_under_fab_the_answer_is_matched_by_username(world, fr_request, monkeypatch) -> None:
    """FAB's user IDs are numbers, so no assignees are handed to Airflow there (it would match
    nobody): the task checks the answer's username against the campaign file."""
    from airflow.providers.standard.operators.hitl import HITLOperator

    from campaign_media.operators.signoff import SignoffOperator

    campaign, req = fr_request
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", FAB)
    handed: list = []

    class Parked(Exception):
        pass

    def park(self, context):
        handed.append(self.assigned_users)
        raise Parked

    monkeypatch.setattr(HITLOperator, "execute", park)
    task = SignoffOperator(task_id="signoff", req=req)
    with pytest.raises(Parked):
        task.execute(answer_context())
    with pytest.raises(Parked):  # another Op user of the DAG answered: refused, asked again
        task.execute_complete(answer_context(), {**answer("bob"), "responded_by_user": {"id": "7", "name": "bob"}})
    assert handed == [[], []]
    yes = {**answer("brand-lead"), "responded_by_user": {"id": "3", "name": "brand-lead"}}
    assert task.execute_complete(answer_context(), yes)["answer"] == "Approve"
    stored = signoffs.find(campaign, "fr", req["id"])
    assert (stored["state"], stored["by"], stored["by_id"]) == ("approved", "brand-lead", "3")


def test_the_cli_lists_the_requests_waiting(world, fr_request, capsys) -> None:
    from campaign_media.cli import main

    assert main(["signoff", "pending", "--campaign", CAMPAIGN]) == 0
    out = capsys.readouterr().out
    assert f"{CAMPAIGN} fr: awaiting since" in out and "asked of brand-lead" in out and f"run {RUN}" in out
    assert "hitlDetails?response_received=false" in out
