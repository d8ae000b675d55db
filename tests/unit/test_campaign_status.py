"""The campaign page's model and HTML, from stored documents (pure: no storage, no Airflow)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.windows import CLOSED, Rights, decide
from campaign_media.ui import page
from campaign_media.ui.access import dag_ids
from campaign_media.ui.status import Stored, archive_status, as_dict, build, market_status

CAMPAIGN = Campaign.model_validate({
    "id": "c", "name": "C & Co", "source": {"gallery_ids": ["G1"]}, "markets": ["fr", "jp"],
    "window": {"start": "2026-03-01", "end": "2026-03-31"}, "archive": {"grace_days": 7},
    "signed_urls": {"usage_rights": ["press-only"], "ttl_hours": 12}})
FR = Market(code="fr", locales=["fr-FR"], timezone="Europe/Paris", usage_rights="any")
JP = Market(code="jp", locales=["ja-JP"], timezone="Asia/Tokyo", usage_rights=["worldwide"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def decided(market: Market, rights: Rights | None, now: datetime) -> dict:
    """An access.json entry as the usage-window DAG writes it."""
    access = decide(CAMPAIGN, market, rights, now)
    return {**access.to_dict(), "public": access.public_now, "rules": access.rules,
            "licence_expiry": rights.licence_expiry if rights else None}


def world(now: datetime) -> Stored:
    """fr: A public (licence ends 2026-03-20), B signed-only; jp: A public, B restricted (rights)."""
    a, b = Rights("2026-03-20T12:00:00+00:00", "worldwide"), Rights("", "press-only")
    made = {"A": {"rules": decide(CAMPAIGN, FR, a, now).rules}, "B": {"rules": CLOSED}}
    return Stored(states={"fr": made, "jp": made},
                  access={"fr": {"A": decided(FR, a, now), "B": decided(FR, b, now)},
                          "jp": {"A": decided(JP, a, now), "B": decided(JP, b, now)}},
                  manifests=["fr"])


def test_markets_are_live_opening_or_closed_with_their_next_change_in_their_own_zone() -> None:
    now = at("2026-03-10T12:00:00")
    status = build(CAMPAIGN, [FR, JP], world(now), now)
    fr, jp = status.markets
    assert (fr.status, fr.copies, fr.public, fr.signed, fr.restricted) == ("live", 2, 1, 1, 0)
    assert (jp.status, jp.public, jp.restricted) == ("live", 1, 1)
    # A's licence ends before the window: that is fr's next change, not the window's end.
    assert fr.next_change.at == at("2026-03-20T12:00:00") and "licence" in fr.next_change.what
    before = at("2026-02-28T12:00:00")
    jp_before = market_status(CAMPAIGN, JP, world(before).states["jp"], {}, before)
    assert jp_before.status == "opens" and jp_before.next_change.at == at("2026-02-28T15:00:00")  # Tokyo midnight
    assert as_dict(build(CAMPAIGN, [JP], world(before), before))["markets"][0]["next_change"]["local"] == \
        "2026-03-01 00:00 JST"
    after = at("2026-04-01T00:00:00")
    assert [m.status for m in build(CAMPAIGN, [FR, JP], world(after), after).markets] == ["closed", "closed"]


def test_a_market_whose_copies_are_all_held_is_restricted_and_one_without_copies_not_published() -> None:
    now = at("2026-03-10T12:00:00")
    held = {"B": decided(FR, Rights("", "press-only"), now)}
    assert market_status(CAMPAIGN, FR, {"B": {"rules": CLOSED}}, held, now).status == "restricted"
    assert market_status(CAMPAIGN, FR, {}, {}, now).status == "not published"
    # A copy made since the last windows run is judged by the rules it was made with.
    fresh = market_status(CAMPAIGN, FR, {"A": {"rules": [{"access_type": "anonymous"}]}}, {}, now)
    assert (fresh.status, fresh.checked) == ("live", False)


def test_held_masters_and_licences_ending_within_thirty_days() -> None:
    now = at("2026-03-10T12:00:00")
    status = build(CAMPAIGN, [FR, JP], world(now), now)
    assert [(h.master, h.mode, h.markets) for h in status.held] == [("B", "restricted", ("jp",)),
                                                                     ("B", "signed", ("fr",))]
    assert "not cleared for market jp" in status.held[0].reason
    assert [(x.master, x.markets) for x in status.licences] == [("A", ("fr", "jp"))]
    later = now - timedelta(days=30)  # 40 days before A's licence ends: not listed
    assert build(CAMPAIGN, [FR, JP], world(now), later).licences == []


def test_archive_progress() -> None:
    now = at("2026-04-20T00:00:00")
    stored = world(at("2026-03-10T12:00:00"))
    assert archive_status(CAMPAIGN, stored, at("2026-03-10T00:00:00")).state == "not due"
    assert archive_status(CAMPAIGN, stored, now).state == "due"
    partial = Stored(stored.states, stored.access, archive={"verified": 3})
    assert archive_status(CAMPAIGN, partial, now).state == "in progress"
    missing = Stored(stored.states, stored.access, archive={"missing": {"fr/A/hero": "gone"}, "verified": 3})
    assert archive_status(CAMPAIGN, missing, now).state == "incomplete"
    done = Stored(stored.states, stored.access, archive={"done": {"verified": 5, "copies_deleted": 4,
                                                                 "gallery": "C archive"}})
    assert archive_status(CAMPAIGN, done, now).detail.startswith("5 renditions verified in C archive")


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-market" in a:
            self.rows[a["data-market"]] = a["data-status"]
        if tag == "a":
            self.links.append(a["href"])

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_escapes_names_and_links_runs_into_the_grid() -> None:
    now = at("2026-03-10T12:00:00")
    status = build(CAMPAIGN, [FR, JP], world(now), now)
    runs = [{"dag_id": "campaign_media_market_fr", "run_id": "manual__2026-03-10T12:00:00+00:00",
             "run_type": "manual", "state": "success", "start": now}]
    html = page.campaign(status, runs, "/campaign-media")
    parsed = Collect()
    parsed.feed(html)
    assert parsed.rows == {"fr": "live", "jp": "live"}
    assert "C & Co" in "".join(parsed.text) and "<h1>C & Co" not in html  # escaped
    assert "/dags/campaign_media_market_fr/runs/manual__2026-03-10T12%3A00%3A00%2B00%3A00" in parsed.links
    assert "/campaign-media/campaigns/c/files/delivery/fr.json" in parsed.links  # fr has a manifest, jp not
    assert "/campaign-media/campaigns/c/files/delivery/jp.json" not in parsed.links
    assert html.count("<rect") == 2 and "licence of A ends" in html


def test_the_campaigns_dags() -> None:
    assert dag_ids(CAMPAIGN) == ["campaign_media_ingest", "campaign_media_market_fr", "campaign_media_market_jp",
                                 "campaign_media_usage_windows", "campaign_media_metrics", "campaign_media_archive"]


def test_long_lists_are_cut_on_the_page_and_licence_marks_grouped_by_day() -> None:
    now = at("2026-03-10T12:00:00")
    rights = {f"M{i:03d}": Rights((now + timedelta(days=1 + i % 3)).isoformat(), "worldwide") for i in range(60)}
    stored = Stored(states={"fr": {m: {"rules": decide(CAMPAIGN, FR, r, now).rules} for m, r in rights.items()}},
                    access={"fr": {m: decided(FR, r, now) for m, r in rights.items()}})
    status = build(CAMPAIGN, [FR], stored, now)
    assert len(status.licences) == 60
    html = page.campaign(status, [], "/campaign-media")
    assert html.count("days left") == page.LISTED and "… and 10 more" in html
    assert html.count("<path") == 3  # three days of licence ends, one mark each


@pytest.mark.parametrize(("watch", "shown"), [
    (None, "Not watched"),
    ({"source": "ps.galleries-G1.image", "interval": 60.0, "last_poll": None}, "no poll yet"),
    ({"source": "ps.galleries-G1.image", "interval": 30.0, "last_poll": {
        "at": "2026-12-03T10:02:00Z", "result": "ok", "seen": 2345, "changed": 3, "calls": 3,
        "named": {"spring-launch-2026": 2}}}, "2345 media seen, 3 changed, 2 sent to ingest, 3 PhotoShelter calls"),
    ({"source": "ps.galleries-G1.image", "interval": 15.0, "last_poll": {
        "at": "2026-12-03T10:02:00Z", "result": "ok", "seen": 2345, "changed": 0, "calls": 3, "interval": 45.0}},
     "every 45 s (240 PhotoShelter calls an hour)"),  # the call budget's pace, and its cost
    ({"source": "ps.galleries-G1.image", "interval": 60.0, "last_poll": {
        "at": "2026-12-03T10:02:00Z", "result": "failed", "error": "PhotoShelter <list> failed: 503"}},
     "PhotoShelter &lt;list&gt; failed: 503 — no event was fired"),
])
def test_the_page_shows_the_watcher_s_last_poll(watch, shown) -> None:
    status = build(CAMPAIGN, [FR, JP], Stored(states={}, access={}, watch=watch), at("2026-12-03T10:05:00Z"))
    assert shown in page.watch_section(status)


POLLED = {"source": "ps.galleries-G1.image", "interval": 60.0, "last_poll": {
    "at": "2026-12-03T10:02:00Z", "result": "ok", "seen": 40, "changed": 1, "calls": 1, "named": {}}}


@pytest.mark.parametrize(("events", "shown"), [
    ({"queued": 0, "since": None, "runs": 0}, "Events waiting: none"),
    ({"queued": 3, "since": at("2026-12-03T10:03:00Z"), "runs": 1},
     "<b>3</b> events waiting since <time class='viewer' datetime='2026-12-03T10:03:00Z'>"),
    ({"queued": 0, "since": None, "runs": 1}, "<b>1</b> event-triggered ingest run not finished"),
])
def test_the_page_shows_the_watcher_s_events_waiting(events, shown) -> None:
    status = build(CAMPAIGN, [FR], Stored(states={}, access={}, watch={**POLLED, "events": events}),
                   at("2026-12-03T10:05:00Z"))
    html = page.watch_section(status)
    assert shown in html
    assert ("one run at a time" in html) == bool(events["queued"])


def test_the_watcher_shown_is_the_shared_poll_of_the_source(tmp_path, monkeypatch) -> None:
    """Two running campaigns on one PhotoShelter source share one poll at the shorter interval:
    the page of the campaign at the default says so too; an ended one does not pull it down."""
    import shutil

    import yaml

    from campaign_media.config.loader import current_config
    from campaign_media.ui.status import watcher
    from tests.conftest import ROOT

    include = tmp_path / "include"
    shutil.copytree(ROOT / "include", include)
    base = yaml.safe_load((include / "campaigns" / "spring-launch-2026.yaml").read_text())
    for name, interval, end in (("summer-teaser", "20s", "2027-02-28"), ("old-teaser", "10s", "2026-01-31")):
        other = {**base, "id": name, "name": name, "source": {**base["source"], "watch": {"interval": interval}},
                 "window": {"start": "2025-12-01", "end": end}}
        (include / "campaigns" / f"{name}.yaml").write_text(yaml.safe_dump(other, allow_unicode=True))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (tmp_path / "storage").as_uri())
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__WATCH_POLL_SECONDS", "60")
    campaigns = current_config()[1]
    shown = watcher(campaigns["spring-launch-2026"], campaigns.values())
    assert shown is not None and shown["interval"] == 20.0  # summer's 20 s, not its own 60 s nor the ended 10 s


def test_the_data_carries_each_market_s_signoff_and_an_unknown_state_reads_as_awaiting() -> None:
    """awaiting (of whom, since, until), overdue, signed (by, when), refused (by, why); a state
    written by hand that this version does not know ("Approved") reads as awaiting: never signed,
    never a page error."""
    from campaign_media.config.models import Signoff

    now = at("2026-03-10T12:00:00")
    signed_off = CAMPAIGN.model_copy(update={"signoff": Signoff(approvers=["brand-lead"])})
    asked = {"state": "awaiting", "asked_at": "2026-03-10T08:00:00Z", "assignees": ["brand-lead"],
             "deadline": "2026-03-11T00:00:00Z", "masters": 3}
    cases = {
        "awaiting": (asked, {"state": "awaiting", "asked_of": ["brand-lead"], "asked_at": "2026-03-10T08:00:00Z",
                             "deadline": "2026-03-11T00:00:00Z", "masters": 3}),
        "overdue": ({**asked, "deadline": "2026-03-10T10:00:00Z"},
                    {"state": "overdue", "asked_of": ["brand-lead"], "asked_at": "2026-03-10T08:00:00Z",
                     "deadline": "2026-03-10T10:00:00Z", "masters": 3}),
        "signed": ({**asked, "state": "approved", "by": "brand-lead", "at": "2026-03-10T09:00:00Z"},
                   {"state": "signed", "by": "brand-lead", "at": "2026-03-10T09:00:00Z", "masters": 3}),
        "refused": ({**asked, "state": "refused", "by": "brand-lead", "at": "2026-03-10T09:00:00Z",
                     "reason": "cut off"},
                    {"state": "refused", "by": "brand-lead", "at": "2026-03-10T09:00:00Z", "masters": 3,
                     "reason": "cut off"}),
        "unknown": ({**asked, "state": "Approved", "by": "someone"},
                    {"state": "awaiting", "asked_of": ["brand-lead"], "asked_at": "2026-03-10T08:00:00Z",
                     "deadline": "2026-03-11T00:00:00Z", "masters": 3}),
    }
    for name, (request, expected) in cases.items():
        status = build(signed_off, [FR, JP], Stored(states={}, access={}, signoffs={"fr": request, "jp": None}), now)
        markets = {m["market"]: m for m in as_dict(status)["markets"]}
        assert markets["fr"]["signoff"] == expected, name
        assert markets["jp"]["signoff"] == {"state": "not asked"}, name
        html = page.campaign(status, [], "/campaign-media")  # renders, whatever the record says
        assert f"data-signoff='{expected['state']}'" in html, name
    ignored = {"ignored": ["request 'x': unsigned"]}  # an entry the record's check left out is named
    status = build(signed_off, [FR, JP], Stored(states={}, access={}, signoffs={"fr": ignored}), now)
    assert {m["market"]: m for m in as_dict(status)["markets"]}["fr"]["signoff"] == {"state": "not asked", **ignored}
    assert "a sign-off record was ignored: request &#x27;x&#x27;: unsigned" in page.campaign(status, [], "/c")
    plain = build(CAMPAIGN, [FR], Stored(states={}, access={}), now)
    assert as_dict(plain)["markets"][0]["signoff"] is None  # a campaign that asks for none
