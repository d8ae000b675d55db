"""Legal deadlines (real Airflow, strict emulators over HTTP, a real SMTP server).

The French copies' window ends at a known midnight. The usage-window DAG then stays paused across
it: it is simply not run past that moment. The deadline DAG must alert once, after the tolerance,
through the deployment's e-mail. Cloudinary's own rule must still have closed delivery. Once a
usage-window run confirms the copies closed, nothing is missed any more.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import yaml

from campaign_media.config.loader import current_campaign
from campaign_media.runtime import storage
from campaign_media.steps import deadlines
from tests.conftest import ROOT, UI
from tests.integration.test_alerts import body
from tests.integration.test_lifecycle_dags import CAMPAIGN, run
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def world(tmp_path, airflow_db, dagbag):
    end_day = (datetime.now(UTC) + timedelta(days=2)).date()
    include = tmp_path / "include"
    shutil.copytree(ROOT / "include", include)
    campaign_file = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(campaign_file.read_text())
    data["window"] = {"start": str(end_day - timedelta(days=9)), "end": str(end_day), "timezone": "UTC"}
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    with seeded_world(tmp_path / "world", images=4) as world:
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
        for dag_id, conf in (("campaign_media_ingest", {"force": True}), ("campaign_media_market_fr", {}),
                             ("campaign_media_usage_windows", {})):
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        # an end date is inclusive: the window ends at the midnight after it
        world["end"] = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        yield world


def check(dagbag, at: datetime) -> dict:
    result, states = run(dagbag, "campaign_media_deadlines", as_of=stamp(at))
    assert result.state == "success", states
    return result


def test_a_paused_usage_window_dag_across_a_window_end_alerts_once_and_nothing_is_served(world, inbox,
                                                                                         dagbag) -> None:
    end, cld = world["end"], world["cld"]
    fr = storage.read_json(storage.path(CAMPAIGN, "delivery", "fr.json"))["masters"]
    served = [i for i, m in fr.items() if httpx.get(m["renditions"]["hero"]["url"]).status_code == 200]
    assert served, "some French copies are public inside the window"
    decided = storage.read_json(storage.market_access(CAMPAIGN, "fr"))
    assert {decided[i]["end"] for i in served} == {stamp(end)}

    check(dagbag, end + timedelta(minutes=10))  # within the tolerance (20 min): not missed yet
    assert inbox.messages == []
    check(dagbag, end + timedelta(minutes=30))  # no usage-window run since: missed
    assert len(inbox.messages) == 1, [m["Subject"] for m in inbox.messages]
    message = inbox.messages[0]
    assert message["Subject"] == f"[campaign media] deadline missed: campaign {CAMPAIGN} · market fr"
    text = body(message)
    assert f"{len(served)} copies had to close at {stamp(end)}" in text, text
    assert "unpause campaign_media_usage_windows" in text and f"{UI}/dags/campaign_media_usage_windows" in text
    assert f"{UI}/campaign-media/campaigns/{CAMPAIGN}" in text

    # Nothing is served all the same: Cloudinary's own rule ended the window at its end.
    cld.control("POST", "clock", {"now": stamp(end + timedelta(minutes=30))})
    try:
        assert {httpx.get(fr[i]["renditions"]["hero"]["url"]).status_code for i in served} == {401}
    finally:
        cld.control("POST", "clock", {})

    check(dagbag, end + timedelta(minutes=40))  # the same missed deadline: not sent twice
    assert len(inbox.messages) == 1

    # The usage-window DAG runs again (unpaused): it confirms the copies closed; nothing is missed.
    result, states = run(dagbag, "campaign_media_usage_windows", as_of=stamp(end + timedelta(minutes=45)))
    assert result.state == "success", states
    check(dagbag, end + timedelta(minutes=50))
    assert len(inbox.messages) == 1
    campaign, markets = current_campaign(CAMPAIGN)
    assert deadlines.check(campaign, markets, end + timedelta(minutes=50), timedelta(minutes=20)) == []
