"""The benchmark's own arithmetic: which API a call belongs to, the latency-bound limit, medians
over repeats and the verdicts against the targets (bench/, run by ``make bench``)."""

from __future__ import annotations

from bench.measure import api_of, limit_seconds, median_row
from bench.report import table, targets


def test_calls_are_split_by_api() -> None:
    assert api_of("photoshelter", "POST /psapi/v3/mem/image/upload") == "photoshelter"
    assert api_of("cloudinary", "POST /v1_1/{cloud}/{rt}/upload") == "cloudinary_upload"
    assert api_of("cloudinary", "POST /v1_1/{cloud}/{rt}/explicit") == "cloudinary_upload"
    assert api_of("cloudinary", "GET /v1_1/{cloud}/resources/{rt}/{dtype}") == "cloudinary_admin"
    assert api_of("cloudinary", "POST /v1_1/{cloud}/triggers") == "cloudinary_admin"
    assert api_of("cloudinary", "GET /v2/notifications/{cloud}/messages") == "cloudinary_admin"
    assert api_of("cloudinary", "GET /v1_1/{cloud}/usage") == "cloudinary_admin"
    assert api_of("cloudinary", "GET /{cloud}/{rt}/{dtype}/{rest:anypath}") == "cloudinary_delivery"
    assert api_of("cloudinary", "(service) GET /{cloud}/{rt}/{dtype}/{rest:anypath}") == "service"


def test_the_limit_is_calls_times_latency_over_concurrency() -> None:
    assert limit_seconds(1000, 50, 4) == 12.5
    assert limit_seconds(10, 100, 0) == 1.0


def test_medians_over_repeats_keep_the_labels() -> None:
    rows = [{"scenario": "ingest", "wall_s": w, "calls": {"x": 1}} for w in (3.0, 1.0, 2.0)]
    assert median_row(rows) == {"scenario": "ingest", "wall_s": 2.0, "calls": {"x": 1}, "repeats": 3}


def row(scenario: str, **figures: object) -> dict:
    base = {"scenario": scenario, "n_masters": 2000, "n_markets": 8, "wall_s": 100.0, "speedup": 25.0,
            "efficiency": 0.6, "upload_calls_per_item": 1.0, "admin_calls_per_master": 0.01,
            "peak_rss_mb": 250.0, "max_xcom_bytes": 900, "calls": {}}
    return {**base, **figures}


def test_targets_judge_the_measured_figures() -> None:
    rows = [row("ingest", n_masters=200, peak_rss_mb=200.0), row("ingest", peak_rss_mb=260.0),
            row("variants", speedup=12.0), row("windows_nochange", admin_calls_per_master=0.02,
                                               calls={"cloudinary_upload": 3}),
            {"scenario": "parse", "n_masters": 0, "n_markets": 50, "parse_s_max": 2.5, "parse_s_total": 4.0,
             "slowest_file": "campaign_media_markets.py", "dags": 57}]
    verdicts = {check.target.split(" (")[0].split(":")[0]: check.met for check in targets(rows)}
    assert verdicts["variants ≥ 20× the naive baseline"] is False
    assert verdicts["no-change usage-window run over 16000 copies"] is False  # 3 Upload calls
    assert verdicts["peak RSS at N=2000 ≤ 1.25× N=200"] is False  # 1.3×
    assert verdicts["DAG folder with 50 markets"] is False  # 2.5 s for one file
    assert verdicts["no XCom over 64 KB"] is True
    assert "| variants | 2000 | 8 |" in "\n".join(table(rows))


def live(**figures: object) -> dict:
    base = {"scenario": "approval_to_live", "n_masters": 0, "notifications": True, "latency_ms": 50.0,
            "approvals": 22, "images": 20, "videos": 2, "spread_s": 180.0, "watch_interval_s": 60.0, "finished": 22,
            "to_master": {"n": 22, "p50": 40.0, "p95": 85.0, "max": 88.0},
            "to_every_market": {"n": 22, "p50": 30.0, "p95": 55.0, "max": 58.0},
            "video_transcoded_to_written_back": {"n": 6, "p50": 8.0, "p95": 12.0, "max": 13.0},
            "calls_per_poll": 3, "cloudinary_calls_in_idle_polls": 0, "idle_polls": 2,
            "admin_calls_during_approvals": 40, "ingest_runs": 5}
    return {**base, **figures}


def test_the_approval_to_live_targets_judge_the_percentiles() -> None:
    cost = {"scenario": "watch_poll_cost", "n_masters": 0, "media": 2345, "calls_per_poll": 3, "routes": {},
            "calls_per_hour_at_60s": 180}
    met = {c.target: c.met for c in targets([live(), cost])}
    assert all(met.values()) and len(met) == 5, met
    slow = {c.target.split(" ≤")[0]: c.met for c in targets([live(
        to_master={"n": 22, "p50": 60.0, "p95": 95.0, "max": 99.0}, finished=21,
        to_every_market={"n": 21, "p50": 40.0, "p95": 75.0, "max": 80.0},
        cloudinary_calls_in_idle_polls=1, video_transcoded_to_written_back={"n": 6, "p50": 9.0, "p95": 31.0,
                                                                            "max": 31.0})])}
    assert not any(slow.values()), slow  # 95 > 90; one approval never live; a Cloudinary call; 31 > 15
    lines = "\n".join(table([live()]))
    assert "to Cloudinary p50/p95/max 40.0/85.0/88.0 s" in lines and "0 Cloudinary calls in 2 idle polls" in lines
