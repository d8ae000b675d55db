"""The metrics report from CDN access logs (real Airflow, strict emulators over HTTP).

The Cloudinary emulator writes the CDN's log of its deliveries, as the distribution in front of
a delivery host would. The test delivers known renditions and channel URLs. To the same folder
it adds lines the report must not count: other campaigns' URLs, lines that cannot be read, a
refused request. Then, for each of two formats, the metrics DAG's per-asset figures must equal
what was delivered, and everything else must be counted apart by reason.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime

import httpx
import pandas as pd
import pytest

from campaign_media.runtime import storage
from tests.browser import ARTIFACTS, screenshot_page
from tests.integration.test_lifecycle_dags import CAMPAIGN, report_folder, run
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    with seeded_world(tmp_path_factory.mktemp("access-logs"), images=8) as world:
        for dag_id, conf in (("campaign_media_ingest", {"force": True}), ("campaign_media_market_fr", {})):
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        yield world


def deliver(fr: dict, plan: list[tuple[str, str, int]]) -> Counter:
    """Fetch each ``(image_id, rendition or "web", times)``; the bytes served per image ID."""
    served: Counter = Counter()
    for image_id, what, times in plan:
        url = fr[image_id]["channels"]["web"]["desktop"] if what == "web" else fr[image_id]["renditions"][what]["url"]
        for _ in range(times):
            response = httpx.get(url, headers={"accept": "image/webp"})
            assert response.status_code == 200, (url, response.status_code)
            served[image_id] += len(response.content)
    return served


def foreign_lines(fmt: str, host: str) -> list[str]:
    """Three other campaigns' deliveries and two lines no reader can parse, in ``fmt``."""
    other = [f"/demo/image/upload/c_fill,w_800/campaigns/autumn-2026/markets/fr/I0000other{i}.jpg" for i in range(3)]
    if fmt == "jsonl":
        return [json.dumps({"timestamp": datetime.now(UTC).isoformat(), "url": f"http://{host}{p}", "status": 200,
                            "response_bytes": 1234}) for p in other] + ["{truncated", "null"]
    day, clock = datetime.now(UTC).strftime("%Y-%m-%d"), datetime.now(UTC).strftime("%H:%M:%S")
    fields = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer)"
    return ["#Version: 1.0", fields, *(f"{day}\t{clock}\tEMU1\t1234\t192.0.2.9\tGET\t{host}\t{p}\t200\t-"
                                       for p in other), "a line cut short", f"{day}\t{clock}\tEMU1\tNaN"]


@pytest.mark.parametrize("fmt", ["cloudfront", "jsonl"])
def test_per_asset_figures_are_what_was_delivered_and_the_rest_is_counted_apart(world, dagbag, fmt) -> None:
    cld, mp = world["cld"], world["mp"]
    logs = world["base"] / "logs" / fmt
    fr = storage.read_json(storage.path(CAMPAIGN, "delivery", "fr.json"))["masters"]
    public = sorted(i for i, m in fr.items() if httpx.get(m["renditions"]["hero"]["url"]).status_code == 200)
    cld.control("POST", "access-log", {"folder": str(logs), "format": fmt})
    favourite, second = public[0], public[1]
    served = deliver(fr, [(favourite, "hero", 5), (favourite, "web", 2), (second, "square", 3)])
    refused = httpx.get(fr[second]["renditions"]["hero"]["url"].replace(second, "I0000nosuch"))
    assert refused.status_code == 404  # logged by the CDN; names no copy of this campaign
    cld.control("POST", "access-log", {"folder": None})
    foreign = foreign_lines(fmt, f"127.0.0.1:{cld.port}")
    name = "EOTHER.2026-01-01-00.1.gz" if fmt == "cloudfront" else "other.jsonl"
    data = ("\n".join(foreign) + "\n").encode()
    (logs / name).write_bytes(gzip.compress(data) if fmt == "cloudfront" else data)

    mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS", logs.as_uri())
    mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS_FORMAT", fmt)
    try:
        result, states = run(dagbag, "campaign_media_metrics")
    finally:
        mp.delenv("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS")
        mp.delenv("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS_FORMAT")
    assert result.state == "success", states
    folder = report_folder(result)
    totals = storage.read_json(folder / "totals.json")
    assets = pd.read_csv(str(folder / "assets.csv"))
    fr_assets = assets[assets.market == "fr"].set_index("image_id")
    assert fr_assets.loc[favourite, "requests"] == 7 and fr_assets.loc[second, "requests"] == 3
    assert fr_assets.loc[favourite, "bandwidth_bytes"] == served[favourite]
    assert fr_assets.loc[second, "bandwidth_bytes"] == served[second]
    others = fr_assets.drop(index=[favourite, second])
    assert (others["requests"] == 0).all() and (others["bandwidth_bytes"] == 0).all()  # never delivered: 0
    assert set(assets["figures_from"]) == {"access logs"}
    assert fr_assets.loc[favourite, "requests_without_f_auto"] == 5  # the hero, not the f_auto channel URL
    assert totals["requests"] == 10 and totals["bandwidth_bytes"] == served[favourite] + served[second]
    summary = totals["access_logs"]
    assert (summary["counted"], summary["other_campaigns"], summary["malformed"], summary["unknown_assets"]) == \
        (10, 3, 2, 1)
    assert summary["lines"] == 10 + 3 + 2 + 1 + summary["master_deliveries"] + summary["not_campaign_urls"] + \
        summary["failed_requests"] + summary["outside_window"]
    assert totals["figure_sources"]["per_asset"] == f"CDN access logs ({fmt})"
    html = (folder / "index.html").read_text()
    assert f"come from CDN access logs ({fmt})" in html and "3 other campaigns" in html and "2 malformed" in html
    assert "not available from this account" not in html
    if fmt == "cloudfront":  # the report's pictures, drawn by Chromium: the favourite leads
        drawn = screenshot_page((folder / "index.html").as_uri(), ARTIFACTS / "metrics-from-logs.png",
                                expect_text="Most-used assets", images=".thumb img")
        assert drawn and all(size == (96, 96) for size in drawn), drawn


def test_an_unreadable_log_location_fails_the_report_with_the_fix(world, dagbag) -> None:
    mp = world["mp"]
    mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS", (world["base"] / "no-such-logs").as_uri())
    try:
        result, states = run(dagbag, "campaign_media_metrics")
    finally:
        mp.delenv("AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS")
    assert result.state == "failed", states
    from campaign_media.runtime.access_logs import AccessLogsUnreadable, files

    with pytest.raises(AccessLogsUnreadable, match="Fix \\[campaign_media\\] access_logs"):
        files((world["base"] / "no-such-logs").as_uri())
