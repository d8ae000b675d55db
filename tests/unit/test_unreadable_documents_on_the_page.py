"""A damaged stored document hides its own campaign on the campaign page, never the page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi import HTTPException

from campaign_media.ui.access import GOVERNANCE_DAGS, Reader

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "spring-launch-2026"
# Reads every DAG: what the simple auth manager gives a signed-in user.
EVERYONE = Reader(frozenset({"campaign_media_ingest", "campaign_media_market_fr", "campaign_media_market_jp",
                             "campaign_media_market_sa", *GOVERNANCE_DAGS}))


@pytest.fixture
def two_campaigns(monkeypatch, tmp_path):
    include = tmp_path / "include"
    shutil.copytree(ROOT / "include", include)
    text = (include / "campaigns" / f"{CAMPAIGN}.yaml").read_text().replace(f"id: {CAMPAIGN}", "id: autumn-2026")
    (include / "campaigns" / "autumn-2026.yaml").write_text(text)
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (tmp_path / "storage").as_uri())
    state = tmp_path / "storage" / CAMPAIGN / "markets" / "fr" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"I0000abc": {"version": "2026-11')  # cut short
    return state


def test_the_list_shows_the_damaged_campaign_as_unreadable_and_the_other_as_usual(two_campaigns) -> None:
    from campaign_media.ui.app import index

    html = index(EVERYONE)
    assert "data-campaign='autumn-2026'>" in html  # read as usual
    row = html[html.index(f"data-campaign='{CAMPAIGN}'"):].split("</tr>")[0]
    assert "data-status='unreadable'" in row and f"unreadable: {two_campaigns.as_uri()}" in row


def test_the_damaged_campaign_s_page_names_the_file_and_what_to_do(two_campaigns) -> None:
    from campaign_media.ui.app import campaign_data, campaign_page

    html = campaign_page(CAMPAIGN, EVERYONE)
    assert two_campaigns.as_uri() in html and "Move it aside" in html
    with pytest.raises(HTTPException) as refused:
        campaign_data(CAMPAIGN, EVERYONE)
    assert refused.value.status_code == 409 and "is not readable JSON" in refused.value.detail
