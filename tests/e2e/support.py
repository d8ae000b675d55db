"""Helpers shared by the e2e suites: REST polling and reading the emulators' state."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

from scripts.standalone import Standalone

CAMPAIGN = "spring-launch-2026"
INGEST = "campaign_media_ingest"
MARKETS = ["campaign_media_market_fr", "campaign_media_market_jp", "campaign_media_market_sa"]


def runs(af: Standalone, dag_id: str) -> list[dict]:
    return af.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]


def wait_for(predicate, timeout: float = 300, every: float = 3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout}s")


def quiet(af: Standalone, dag_ids: list[str], settle: float = 10, timeout: float = 420) -> None:
    """Every run of these DAGs finished, and nothing new started for ``settle`` seconds."""
    since: list[float] = []

    def done() -> bool:
        open_runs = [r for d in dag_ids for r in runs(af, d) if r["state"] not in ("success", "failed")]
        if open_runs:
            since.clear()
            return False
        since.append(time.monotonic())
        return since[-1] - since[0] >= settle

    wait_for(done, timeout)


def published_masters(stack) -> dict[str, int]:
    cld = stack["cld"]
    out: dict[str, int] = {}
    cursor = None
    while True:
        params = {"prefix": f"campaigns/{CAMPAIGN}/masters/", "max_results": 500,
                  **({"next_cursor": cursor} if cursor else {})}
        page = httpx.get(f"{cld.base_url}/v1_1/democloud/resources/image/authenticated", params=params,
                         auth=(cld.credentials["api_key"], cld.credentials["api_secret"]), timeout=30).json()
        out.update({r["public_id"].rsplit("/", 1)[1]: r["version"] for r in page["resources"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def image_updated(stack, image_id: str) -> str:
    ps = stack["ps"]
    headers = {"X-PS-Api-Key": ps.credentials["api_key"]}
    login = httpx.post(f"{ps.base_url}/psapi/v3/mem/authenticate", headers=headers, data={
        "email": ps.credentials["email"], "password": ps.credentials["password"], "mode": "token"}).json()["data"]
    headers["X-PS-Auth-Token"] = login["token"]
    httpx.post(f"{ps.base_url}/psapi/v3/mem/organization/{login['org'][0]['id']}/authenticate", headers=headers)
    return httpx.get(f"{ps.base_url}/psapi/v3/mem/image/{image_id}", headers=headers).json()["data"]["Image"][
        "updated_at"]


def unsuccessful(af: Standalone, dag_ids: list[str], lines: int = 15) -> list[str]:
    """Each run of these DAGs that did not succeed: its state, its tasks that did not, and the end
    of their last attempt's log (what an assertion names when a run failed on a loaded machine)."""
    out = []
    for dag_id in dag_ids:
        for run in runs(af, dag_id):
            if run["state"] == "success":
                continue
            out.append(f"{dag_id} {run['dag_run_id']} ({run['run_type']}): {run['state']}")
            tis = af.api("GET", f"dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
            for ti in tis:
                if ti["state"] in ("success", "skipped"):
                    continue
                out.append(f"  {ti['task_id']}: {ti['state']} after try {ti['try_number']}")
                logs = sorted(af.home.glob(f"logs/dag_id={dag_id}/run_id={run['dag_run_id']}/task_id={ti['task_id']}/"
                                           "**/attempt=*.log"))
                if logs:
                    out += ["    " + line for line in log_errors(logs[-1])[-lines:]]
    return out


def log_errors(path: Path) -> list[str]:
    """A task log's warnings and errors, with the exceptions they carry (the log is JSON lines)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            out.append(line[:300])
            continue
        if entry.get("level") in ("warning", "error", "critical"):
            out.append(f"{entry['level']}: {str(entry.get('event'))[:300]}")
            out += [f"  {e.get('exc_type')}: {str(e.get('exc_value'))[:400]}" for e in entry.get("error_detail") or []]
    return out


def run_once(af: Standalone, dag_id: str, conf: dict | None = None, timeout: float = 300) -> str:
    """Unpause ``dag_id``, trigger one run and wait for it to finish; its final state."""
    return af.run_once(dag_id, conf, timeout)


def end_campaign(include: Path) -> None:
    """The business ends the campaign a minute ago (in the test's copy of include/), archive without grace."""
    campaign_file = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(campaign_file.read_text())
    data["window"]["end"] = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    data["archive"] = {**data["archive"], "grace_days": 0}
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))


def sign_in(page, af: Standalone) -> None:
    """Log a Playwright page into the Airflow UI as admin (the simple auth manager's form)."""
    page.goto(f"{af.url}/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", af.password())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{af.url}/", timeout=30_000)
