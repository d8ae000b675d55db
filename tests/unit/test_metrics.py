"""The metrics join and its HTML page (pure pandas, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from campaign_media.reports.frame import build, transformation_figures
from campaign_media.reports.html import bar_chart, human_bytes, render

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MASTERS = [
    {"image_id": "A", "file_name": "a.jpg", "owner": "studio", "approval": "Approved", "usage_rights": "ww",
     "licence_expiry": "2026-06-10T00:00:00+00:00", "source": "staff"},
    {"image_id": "B", "file_name": "b.jpg", "owner": "agency", "approval": "Approved", "usage_rights": "ww",
     "licence_expiry": "unreadable", "source": "agency"},
    {"image_id": "C", "file_name": "c.jpg", "owner": "ugc", "approval": "Pending", "usage_rights": "",
     "licence_expiry": "", "source": "ugc"},
]
COPIES = [
    {"image_id": "A", "market": "fr", "stored_bytes": 100, "requests": 7, "bandwidth_bytes": 7000,
     "by_transformation": {"c_fill,w_1600/q_auto": {"requests": 5, "bytes": 5000},
                           "c_fill,f_auto,q_auto,w_640": {"requests": 2, "bytes": 2000}}},
    {"image_id": "A", "market": "jp", "stored_bytes": 100, "requests": 1, "bandwidth_bytes": 300,
     "by_transformation": {"original": {"requests": 1, "bytes": 300}}},
    {"image_id": "B", "market": "fr", "stored_bytes": 90, "requests": 0, "bandwidth_bytes": 0,
     "by_transformation": {}},
]
RENDITIONS = [{"image_id": "A", "market": "fr", "rendition": n, "bytes": 1} for n in ("hero", "square")] + \
    [{"image_id": "B", "market": "fr", "rendition": "hero", "bytes": 1}]
USAGE = {"bandwidth": {"usage": 9999}, "transformations": {"usage": 12}, "storage": {"usage": 5}, "requests": 30,
         "date_requested": "2026-06-01"}


def test_unoptimised_requests_are_those_without_f_auto_or_q_auto() -> None:
    figures = transformation_figures(COPIES[0]["by_transformation"])
    assert figures == {"transformations": 2, "requests_without_f_auto": 5, "requests_without_q_auto": 0}
    assert transformation_figures({"original": {"requests": 3}})["requests_without_q_auto"] == 3


def test_the_join_adds_up() -> None:
    report = build(MASTERS, COPIES, RENDITIONS, USAGE, NOW)
    t = report.totals
    assert (t["requests"], t["bandwidth_bytes"], t["renditions"], t["market_copies"]) == (8, 7300, 3, 3)
    assert (t["account_bandwidth_bytes"], t["approved_masters"], t["per_asset_figures"]) == (9999, 2, True)
    assert report.by_market.set_index("market")["requests"].to_dict() == {"fr": 7, "jp": 1}
    assert report.by_owner.set_index("owner")["bandwidth_bytes"].to_dict() == {"studio": 7300, "agency": 0}
    assert report.top_assets.iloc[0]["image_id"] == "A" and report.top_assets.iloc[0]["markets"] == "fr, jp"
    assert set(report.near_expiry["image_id"]) == {"A", "B"}  # 9 days left; unreadable
    assert list(report.optimisation["image_id"]) == ["A", "A"]


def test_missing_per_asset_figures_are_said_not_invented() -> None:
    copies = [{**c, "requests": None, "bandwidth_bytes": None, "by_transformation": None} for c in COPIES]
    report = build(MASTERS, copies, RENDITIONS, USAGE, NOW)
    assert report.totals["per_asset_figures"] is False and report.totals["requests"] == 0
    assert "not available from this account" in render("C", "c", report, {})


def test_when_some_copies_have_figures_the_report_says_which_read_zero_not_that_none_exist() -> None:
    copies = [{**COPIES[0], "requests": None, "bandwidth_bytes": None, "by_transformation": None}, *COPIES[1:]]
    report = build(MASTERS, copies, RENDITIONS, USAGE, NOW)
    assert report.totals["per_asset_figures"] is True and report.totals["copies_without_figures"] == 1
    html = render("C", "c", report, {})
    assert "not available from this account" not in html and "1 of 3 market copies carry no per-asset figure" in html
    assert "carry no per-asset figure" not in render("C", "c", build(MASTERS, COPIES, RENDITIONS, USAGE, NOW), {})


def test_page_has_every_section_and_escapes_text() -> None:
    masters = [{**MASTERS[0], "file_name": "<script>.jpg"}, *MASTERS[1:]]
    html = render("Spring <Launch>", "c", build(masters, COPIES, RENDITIONS, USAGE, NOW), {"csv": "/x.csv"})
    for heading in ("Summary", "Most-used assets", "By market", "By owner", "Licences expiring",
                    "Optimisation opportunities", "Data"):
        assert f">{heading}" in html
    assert "<script>" not in html and "&lt;script&gt;.jpg" in html and html.count("<svg") == 4
    assert "no data yet" in bar_chart("Empty", [], []) and human_bytes(1536) == "1.5 KB"


def test_the_most_used_assets_are_shown_as_embedded_pictures() -> None:
    report = build(MASTERS, COPIES, RENDITIONS, USAGE, NOW)
    top = list(report.top_assets["image_id"])
    picture = "data:image/jpeg;base64,/9j/4AAQ"
    html = render("C", "c", report, {}, thumbnails={top[0]: picture, "elsewhere": "https://x/y.jpg"})
    assert html.count("<img ") == 1 and f"src='{picture}'" in html  # embedded: the page stays one file
    assert html.count("no picture") == len(top) - 1 and "https://x/y.jpg" not in html
    assert "<img " not in render("C", "c", report, {})
