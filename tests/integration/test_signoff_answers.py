"""The sign-off task's answer handling, without a human, in a campaign that asks for sign-off:
the market made by ``dag.test()`` against fresh emulators stays closed at the CDN through usage-
window runs while unsigned, and after a missed deadline (the event Airflow's ``awaiting_input``
timeout resumes the task with: the request is marked overdue and an alert sent); a yes then opens
it. The full path, with answers from the REST API and from Chromium, is ``tests/e2e/test_signoff.py``."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException

from campaign_media.config.loader import current_campaign
from campaign_media.domain.signoff import request
from campaign_media.runtime import audit, signoffs, storage
from tests.conftest import ROOT
from tests.integration.test_alerts import body
from tests.integration.test_lifecycle_dags import CAMPAIGN, run
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    """A campaign whose file asks ``brand-lead`` to sign off each market but Japan (``markets: {jp:
    none}``): ingested, France, Japan and Saudi Arabia made."""
    base = tmp_path_factory.mktemp("signoff")
    include = base / "include"
    shutil.copytree(ROOT / "include", include)
    path = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**data, "signoff": {"approvers": ["brand-lead"], "markets": {"jp": "none"}}},
                                   allow_unicode=True))
    with seeded_world(base, images=6) as world:
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


def test_no_answer_by_the_deadline_keeps_the_market_closed_and_alerts(world, dagbag, inbox) -> None:
    from campaign_media.operators.signoff import SignoffOperator

    campaign, markets = current_campaign(CAMPAIGN)
    fr = next(m for m in markets if m.code == "fr")
    # Inside its window, unsigned: every copy closed by the usage-window run.
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert served("fr") <= {401, 404}
    made = storage.read_json(storage.market_state(CAMPAIGN, "fr"))
    assert made, "the market made no copies: nothing here would be closed by sign-off"

    req = request(campaign, fr, {i: m["version"] for i, m in made.items()}, 3, datetime.now(UTC), "r1", "http://af",
                  None)
    req["deadline"] = "2026-01-01T00:00:00Z"  # passed
    signoffs.save_request(campaign, "fr", req)
    task = SignoffOperator(task_id="signoff", req=req)
    with pytest.raises(AirflowFailException, match="not answered by 2026-01-01T00:00:00Z"):
        task.execute_complete({}, {"error": "timed out", "error_type": "timeout"})
    (stored,) = [r for r in signoffs.requests(campaign, "fr") if r["id"] == "r1"]  # (the plan may have asked too)
    assert stored["state"] == "overdue"
    (mail,) = inbox.messages
    assert mail["Subject"] == "[campaign media] sign-off overdue: spring-launch-2026 in market fr"
    assert "no answer by 2026-01-01T00:00:00Z" in body(mail) and "http://af/campaign-media/campaigns/" in body(mail)

    # The next usage-window run: still closed at the CDN.
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert served("fr") <= {401, 404}

    # A yes (what the task records when the approver answers) opens them: the check above could fail.
    with audit.recording(audit.RunInfo.from_context({})):
        task.answered({}, "approved", "brand-lead", "")
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    assert 200 in served("fr")


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
