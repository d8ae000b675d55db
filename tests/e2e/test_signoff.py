"""Nothing goes live unsigned, on ``airflow standalone`` with its own stack and a real SMTP server.

A campaign of two markets (fr, jp) asks for a launch sign-off. After the market runs, both stay
closed inside their window. A second user, ``mallory`` (role Op, not an approver), rewrites the
French request's XCom over the REST API to name Japan's masters and herself, clears the task and
answers: refused by Airflow, and the task asks again what is stored. The French one is then
approved over the REST API (Japan stays closed), the Japanese one is refused from the UI's
Required Actions in Chromium. The approved market serves and the refused
one does not; both answers are in the audit trail and on the campaign page, and the request and
refusal e-mails arrive with links that work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import yaml

from emulators.runner import free_port
from scripts.standalone import PASSWORD_FILE
from tests.browser import ARTIFACTS as browser_artifacts
from tests.browser import launch
from tests.conftest import Inbox
from tests.e2e.conftest import running_stack
from tests.e2e.support import CAMPAIGN, INGEST, quiet, run_once, sign_in, wait_for
from tests.integration.test_alerts import body
from tests.system import require_system_packages

pytestmark = [pytest.mark.e2e]
ARTIFACTS = browser_artifacts / "signoff"
SIGNOFF = "campaign_media_signoff"
MARKETS = ["campaign_media_market_fr", "campaign_media_market_jp"]


def two_markets_signed_off(include: Path) -> None:
    campaign_file = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(campaign_file.read_text())
    data["markets"] = ["fr", "jp"]
    data["signoff"] = {"approvers": ["admin"], "deadline": "1h", "settle": "0s"}  # ask as soon as a market is made
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    from aiosmtpd.controller import Controller

    require_system_packages()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {"AIRFLOW__CAMPAIGN_MEDIA__WATCH_POLL_SECONDS": "0", "AIRFLOW__CAMPAIGN_MEDIA__ALERTS": "smtp",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,mallory:op",
           "AIRFLOW__CAMPAIGN_MEDIA__ALERT_TO": "brand-ops@example.com",
           "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
               "conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
               "extra": {"from_email": "pipelines@brand.example", "disable_ssl": True, "disable_tls": True,
                         "timeout": 5, "retry_limit": 0}})}
    try:
        with running_stack(tmp_path_factory.mktemp("signoff"), images=6, env=env,
                           edit_include=two_markets_signed_off) as stack:
            yield {**stack, "inbox": inbox}
    finally:
        smtp.stop()


def pending(af) -> dict[str, dict]:
    """The sign-off tasks waiting for an answer, by market (one each: a second would be an error here)."""
    details = [d for d in af.api("GET", f"dags/{SIGNOFF}/dagRuns/~/hitlDetails")["hitl_details"]
               if not d["response_received"]]
    markets = [d["task_instance"]["rendered_map_index"].split()[-1] for d in details]
    assert len(markets) == len(set(markets)), f"more than one request per market: {markets}"
    return dict(zip(markets, details, strict=True))


def answered(af, asked: dict) -> dict | None:
    """The request's HITL record once Airflow has its answer (``None`` before)."""
    ti = asked["task_instance"]
    detail = af.api("GET", f"dags/{SIGNOFF}/dagRuns/{ti['dag_run_id']}/taskInstances/signoff/{ti['map_index']}"
                           "/hitlDetails")
    return detail if detail["response_received"] else None


def token_of(af, user: str) -> dict[str, str]:
    """A bearer token for one of the simple auth manager's users (their passwords are in its file)."""
    password = json.loads((af.home / PASSWORD_FILE).read_text())[user]
    response = httpx.post(f"{af.url}/auth/token", json={"username": user, "password": password}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def rewrite_and_answer_as_mallory(af, asked: dict) -> None:
    """The attack: an Op user rewrites the plan's XCom so France's request names Japan's masters,
    Japan, and herself as approver; clears France's sign-off task; answers it. Airflow refuses her
    answer (the task asked the campaign file's approver again), and nothing is recorded."""
    mallory = token_of(af, "mallory")

    def plan_of(market: str) -> list[dict]:  # the plan task's XCom of the run that asked the market
        run_id = asked[market]["task_instance"]["dag_run_id"]
        xcom = httpx.get(f"{af.url}/api/v2/dags/{SIGNOFF}/dagRuns/{run_id}/taskInstances/plan/xcomEntries/"
                         "return_value", headers=mallory, timeout=30, params={"deserialize": True, "stringify": False})
        assert xcom.status_code == 200, xcom.text
        return xcom.json()["value"]

    ti = asked["fr"]["task_instance"]
    run = f"{af.url}/api/v2/dags/{SIGNOFF}/dagRuns/{ti['dag_run_id']}"
    plan = plan_of("fr")
    jp = next(r for r in plan_of("jp") if r["market"] == "jp")
    forged = [{**r, "market": "jp", "masters": jp["masters"], "assignees": ["mallory"]} if r["market"] == "fr" else r
              for r in plan]
    edit = httpx.patch(f"{run}/taskInstances/plan/xcomEntries/return_value", headers=mallory, timeout=30,
                       json={"value": forged, "map_index": -1})
    assert edit.status_code == 200, edit.text  # an Op user may: that is the point
    clear = httpx.post(f"{af.url}/api/v2/dags/{SIGNOFF}/clearTaskInstances", headers=mallory, timeout=30,
                       json={"dag_run_id": ti["dag_run_id"], "task_ids": [["signoff", ti["map_index"]]],
                             "dry_run": False, "only_failed": False})
    assert clear.status_code == 200, clear.text
    wait_for(lambda: "fr" in pending(af) and af.api("GET", f"dags/{SIGNOFF}/dagRuns/{ti['dag_run_id']}/"
                                                           f"taskInstances/signoff/{ti['map_index']}")["state"]
             == "awaiting_input" or None, timeout=180)
    detail = pending(af)["fr"]
    assert [u["name"] for u in detail["assigned_users"]] == ["admin"]  # from the campaign file
    answer = httpx.patch(f"{run}/taskInstances/signoff/{ti['map_index']}/hitlDetails", headers=mallory, timeout=30,
                         json={"chosen_options": ["Approve"], "params_input": {"reason": ""}})
    assert answer.status_code == 403, answer.text


def served(storage: Path, market: str) -> set[int]:
    """What the CDN answers anonymously for each of the market's hero renditions now."""
    manifest = json.loads((storage / CAMPAIGN / "delivery" / f"{market}.json").read_text())["masters"]
    return {httpx.get(m["renditions"]["hero"]["url"], timeout=30).status_code for m in manifest.values()
            if "hero" in m.get("renditions", {})}


def test_a_launch_is_closed_until_signed_approved_by_api_refused_in_the_ui(signed) -> None:
    from playwright.sync_api import sync_playwright

    af, storage, inbox = signed["af"], signed["storage"], signed["inbox"]
    token = {"Authorization": f"Bearer {af.token}"}
    af.api("PATCH", f"dags/{SIGNOFF}", json={"is_paused": False})
    # The markets are unpaused once every master is in Cloudinary: unpausing starts a market run
    # at once, and one made while ingest was still uploading would be asked about first (a yes
    # covers what it showed: the rest would be a second request, as it should).
    assert run_once(af, INGEST, {"campaign": CAMPAIGN}) == "success"
    for dag_id in MARKETS:
        af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
    quiet(af, [INGEST, *MARKETS], settle=5)
    def both_asked() -> dict[str, dict] | None:
        waiting = pending(af)
        return waiting if set(waiting) == {"fr", "jp"} else None

    asked = wait_for(both_asked, timeout=300)

    # Inside their window, unsigned: both markets closed, also after a usage-window run.
    assert run_once(af, "campaign_media_usage_windows") == "success"
    assert served(storage, "fr") <= {401, 404} and served(storage, "jp") <= {401, 404}
    requests = [m for m in inbox.messages if m["Subject"].startswith("[campaign media] Sign off")]
    assert sorted(m["Subject"].split(" in market ")[1].split(":")[0] for m in requests) == ["fr", "jp"]
    by_market = {m["Subject"].split(" in market ")[1].split(":")[0]: re.findall(
        r'href="([^"]+)"', m.get_body(("html",)).get_content()) for m in requests}
    jp_links = by_market["jp"]
    for links in by_market.values():
        assert len(links) == 3, links  # Required Actions, the contact sheet, the campaign page
        for link in links:
            assert link.startswith(af.url), link
            assert httpx.get(link, headers=token, timeout=30).status_code == 200, link  # the links work

    rewrite_and_answer_as_mallory(af, asked)

    # France: approved over the REST API; Japan stays closed (the rewritten XCom named it).
    fr = asked["fr"]["task_instance"]
    answer = httpx.patch(f"{af.url}/api/v2/dags/{SIGNOFF}/dagRuns/{fr['dag_run_id']}/taskInstances/signoff/"
                         f"{fr['map_index']}/hitlDetails", headers=token, timeout=30,
                         json={"chosen_options": ["Approve"], "params_input": {"reason": ""}})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: any(r["action"] == "signoff_approved" for r in audit_trail(af)) or None, timeout=180)
    assert run_once(af, "campaign_media_usage_windows") == "success"
    assert served(storage, "jp") <= {401, 404}

    # Japan: refused from the UI's Required Actions (the page the request's e-mail links to), in Chromium.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            sign_in(page, af)
            link = next(u for u in jp_links if "required_actions" in u)  # from the request's e-mail
            page.goto(link)
            page.get_by_role("button", name="Refuse").wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "required-action.png"), full_page=True)
            page.locator("input[name=reason], textarea[name=reason], #element_reason").first.fill(
                "the headline is cut off on the square")
            page.get_by_role("button", name="Refuse").click()
            detail = wait_for(lambda: answered(af, asked["jp"]), timeout=120)  # what the click sent Airflow
            assert detail["chosen_options"] == ["Refuse"], detail
            assert detail["params_input"]["reason"] == "the headline is cut off on the square", detail
            assert set(pending(af)) == set()
            page.screenshot(path=str(ARTIFACTS / "answered.png"), full_page=True)
        finally:
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()

    # The answers take effect: the sign-off DAG's reconcile applies the windows.
    wait_for(lambda: all(r["state"] in ("success", "failed") for r in af.api("GET", f"dags/{SIGNOFF}/dagRuns")
                         ["dag_runs"]) or None, timeout=300)
    assert 200 in served(storage, "fr")
    assert served(storage, "jp") <= {401, 404}
    trail = audit_trail(af)
    mismatch = [r for r in trail if r["action"] == "signoff_request_mismatch"]
    assert mismatch and {"market", "masters", "assignees"} <= set(mismatch[0]["after"]["fields"]), mismatch
    answers = {(r["market"], r["action"]): r for r in trail if r["action"] in ("signoff_approved", "signoff_refused")}
    assert answers[("fr", "signoff_approved")]["after"]["by"] == "admin"
    refusal = answers[("jp", "signoff_refused")]
    assert refusal["after"]["by"] == "admin" and refusal["reason"] == "the headline is cut off on the square"
    data = httpx.get(f"{af.url}/campaign-media/campaigns/{CAMPAIGN}", headers=token, timeout=30).text
    assert "signed off by admin" in data and "refused by admin" in data and "the headline is cut off" in data
    refused_mail = [m for m in inbox.messages if m["Subject"].startswith("[campaign media] sign-off refused")]
    assert len(refused_mail) == 1 and "the headline is cut off on the square" in body(refused_mail[0])


def audit_trail(af) -> list[dict]:
    return httpx.get(f"{af.url}/campaign-media/campaigns/{CAMPAIGN}/audit?format=json",
                     headers={"Authorization": f"Bearer {af.token}"}, timeout=30).json()
