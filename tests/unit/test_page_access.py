"""What one reader of the campaign page may see: each piece of data follows the DAG that made it."""

from __future__ import annotations

import pytest

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.ui.access import Reader, dag_ids, file_dag
from campaign_media.ui.status import Stored

FR_TEAM = Reader(frozenset({"campaign_media_ingest", "campaign_media_market_fr"}))
JP_GOVERNANCE = Reader(frozenset({"campaign_media_market_jp", "campaign_media_usage_windows",
                                  "campaign_media_archive"}))


@pytest.fixture(scope="module")
def campaign_and_markets():
    markets = load_markets().items
    campaign = next(iter(load_campaigns(markets=load_markets()).items.values()))
    return campaign, [markets[m] for m in campaign.markets]


def stored() -> Stored:
    return Stored(states={"fr": {"I0000a": {}}, "jp": {"I0000a": {}}, "sa": {}},
                  access={"fr": {"I0000a": {}}, "jp": {}}, manifests=["fr", "jp"], windows={"summary": {}},
                  reports=["2026-12-01"], archive={"done": None, "missing": None, "verified": 0},
                  watch={"source": "ps.galleries-G1.image", "interval": 60.0, "last_poll": None})


def test_markets_and_their_documents_need_the_market_s_dag(campaign_and_markets) -> None:
    _, markets = campaign_and_markets
    assert [m.code for m in FR_TEAM.markets(markets)] == ["fr"]
    seen = FR_TEAM.stored(stored())
    assert (set(seen.states), set(seen.access), seen.manifests) == ({"fr"}, {"fr"}, ["fr"])
    assert seen.windows is None and seen.reports == [] and seen.archive == {}  # governance DAGs' data
    assert seen.watch is not None and JP_GOVERNANCE.stored(stored()).watch is None  # the ingest DAG's watcher
    seen = JP_GOVERNANCE.stored(stored())
    assert (set(seen.states), seen.manifests, seen.windows, seen.reports) == ({"jp"}, ["jp"], {"summary": {}}, [])


def test_a_campaign_is_listed_when_any_of_its_dags_is_readable(campaign_and_markets) -> None:
    campaign, _ = campaign_and_markets
    assert FR_TEAM.campaign(campaign) and JP_GOVERNANCE.campaign(campaign)
    assert not Reader(frozenset({"some_other_dag"})).campaign(campaign)
    assert FR_TEAM.runs_of(campaign) == ["campaign_media_ingest", "campaign_media_market_fr"]
    assert set(dag_ids(campaign)) >= FR_TEAM.dags | JP_GOVERNANCE.dags


@pytest.mark.parametrize(("record", "fr_team", "jp_governance"), [
    ({"dag_id": "campaign_media_ingest", "market": None}, True, False),
    ({"dag_id": "campaign_media_market_fr", "market": "fr"}, True, False),
    ({"dag_id": "campaign_media_usage_windows", "market": "fr"}, False, False),  # fr's, by a DAG jp may read
    ({"dag_id": "campaign_media_usage_windows", "market": "jp"}, False, True),
    ({"dag_id": "campaign_media_archive", "market": None}, False, True),
])
def test_an_audit_record_needs_its_dag_and_its_market(record, fr_team, jp_governance) -> None:
    assert (FR_TEAM.record(record), JP_GOVERNANCE.record(record)) == (fr_team, jp_governance)


@pytest.mark.parametrize(("name", "dag"), [
    ("delivery/fr.json", "campaign_media_market_fr"), ("reports/2026-12-01/index.html", "campaign_media_metrics"),
    ("archive/report/index.html", "campaign_media_archive"), ("windows/latest.json", "campaign_media_usage_windows"),
    ("markets/fr/state.json", None)])
def test_each_served_file_belongs_to_one_dag(name, dag) -> None:
    assert file_dag(name) == dag


def test_a_contact_sheet_page_is_small_at_two_thousand_masters_and_pages_through_them() -> None:
    from campaign_media.config.loader import current_campaign
    from campaign_media.ui.page import SHEET_PAGE, contact_sheet

    campaign, markets = current_campaign("spring-launch-2026")
    market = markets[0]
    rendition = {"width": 1600, "height": 900, "format": "jpg"}
    made = {f"I{n:014d}": {"renditions": {r.name: rendition for r in market.renditions}} for n in range(2000)}
    decided = {"I00000000000003": {"mode": "restricted", "reason": "usage rights emea-web-only", "public": False}}
    first = contact_sheet(campaign, market, made, decided, 1, "/campaign-media")
    assert first.count("<section class='master") == SHEET_PAGE and "page 1 of 50" in first
    assert first.count("loading='lazy'") == SHEET_PAGE * len(market.renditions)
    assert len(first.encode()) < 120_000  # a page of 2,000 masters stays small: the pictures come lazily
    assert "restricted: usage rights emea-web-only" in first and "<a href='?page=50'>50</a>" in first
    last = contact_sheet(campaign, market, made, {}, 99, "/campaign-media")  # past the end: the last page
    assert "page 50 of 50" in last and "not yet checked by the usage-window run" in last
