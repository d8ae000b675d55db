"""The sign-off task's answer handling, without a human: a missed deadline (the event Airflow's
``awaiting_input`` timeout resumes the task with) keeps the market closed, marks the request
overdue and alerts; the stored answers then decide every copy. The full path, with answers from
the REST API and from Chromium, is ``tests/e2e/test_signoff.py``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException

from campaign_media.config.loader import current_campaign
from campaign_media.config.models import Signoff
from campaign_media.domain.signoff import request
from campaign_media.runtime import signoffs
from campaign_media.steps.shared.signoff import standing_in
from tests.integration.test_alerts import body

pytestmark = pytest.mark.integration


def test_no_answer_by_the_deadline_keeps_the_market_closed_and_alerts(inbox, tmp_path, monkeypatch) -> None:
    from campaign_media.operators.signoff import SignoffOperator

    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", tmp_path.as_uri())
    base, markets = current_campaign("spring-launch-2026")
    campaign = base.model_copy(update={"signoff": Signoff(approvers=["brand-lead"])})
    fr = next(m for m in markets if m.code == "fr")
    monkeypatch.setattr("campaign_media.config.loader.current_campaign", lambda cid: (campaign, markets))
    req = request(campaign, fr, {"I1": "v1"}, 3, datetime.now(UTC), "r1", "http://af", None)
    req["deadline"] = "2026-01-01T00:00:00Z"  # passed
    signoffs.save_request(campaign, "fr", req)
    task = SignoffOperator(task_id="signoff", req=req)
    with pytest.raises(AirflowFailException, match="not answered by 2026-01-01T00:00:00Z"):
        task.execute_complete({}, {"error": "timed out", "error_type": "timeout"})
    (stored,) = signoffs.requests(campaign, "fr")
    assert stored["state"] == "overdue"
    assert not standing_in(campaign, fr)("I1", "v1").signed  # still closed
    (mail,) = inbox.messages
    assert mail["Subject"] == "[campaign media] sign-off overdue: spring-launch-2026 in market fr"
    assert "no answer by 2026-01-01T00:00:00Z" in body(mail) and "http://af/campaign-media/campaigns/" in body(mail)
