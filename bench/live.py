"""The "approval to live" scenario: a person approves masters in PhotoShelter; how long until each
is in Cloudinary, and until every market's delivery manifest lists it with its renditions written
back — with nobody touching Airflow.

It runs ``airflow standalone`` (real scheduler, triggerer and API server; SQLite) against the
emulators with latency added to every call and the watcher at the default interval. After the
first ingest and the watcher's first (baseline) poll, N masters are approved at random moments
over ``spread`` seconds (PhotoShelter's control route: what a person's edit does). Observed from
storage only (the ingest's result files, the manifests, the write-back records), so the observer
makes no API call of its own. Video masters among them time *transcode finished* (the Cloudinary
emulator's log of its eager jobs) → *written back* (the write-back record), with Cloudinary's
webhook notifications (``on``: the API server's receiver) or its events pulled by the triggerer
(``off``: no public endpoint, the default).

    python -m bench.live [--approvals 20] [--videos 2] [--spread 180] [--notifications on|off]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import api_of
from campaign_media import settings
from campaign_media.domain.masters import copy_identity
from campaign_media.runtime import storage
from emulators.photoshelter.seed import CAMPAIGN, seed
from emulators.runner import (
    cloudinary_connection,
    free_port,
    photoshelter_connection,
    start_cloudinary,
    start_photoshelter,
)
from scripts.demo import wait_for_dags, wait_until_quiet
from scripts.standalone import Standalone

ROOT = Path(__file__).resolve().parent.parent
INGEST = "campaign_media_ingest"
HAND_EDITS = "campaign_media_hand_edits"  # its asset watcher pulls Cloudinary's events


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)], 1)


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "max": round(max(values), 1) if values else None}


def admin_calls(calls: dict[str, int]) -> int:
    """The Cloudinary emulator's counted calls that are Admin API calls (as the other scenarios count them)."""
    return sum(n for route, n in calls.items() if api_of("cloudinary", route) == "cloudinary_admin")


def ingested(storage_dir: Path) -> set[str]:
    """Media IDs an ingest run recorded as uploaded (its result files, written as each upload answers)."""
    out: set[str] = set()
    for result in (storage_dir / CAMPAIGN / "ingest").glob("*/result-*.json"):
        try:
            out |= {o["image_id"] for o in json.loads(result.read_text()).get("uploaded", [])}
        except (OSError, ValueError):
            continue  # being replaced right now: read at the next look
    return out


def live_in(market: str, media_id: str) -> bool:
    """The market's manifest lists the master with nothing pending, and its write-back is recorded."""
    entry = (storage.read_json(storage.delivery_manifest(CAMPAIGN, market), {}) or {}).get("masters", {}).get(media_id)
    if not entry or any(r.get("pending") for r in entry.get("renditions", {}).values()):
        return False
    return storage.writeback_record(CAMPAIGN, market, media_id).exists()


def scenario(base: Path, *, approvals: int, videos: int, spread: float, latency_ms: float, notifications: bool,
             seed_value: int = 11, timeout: float = 1500) -> dict[str, Any]:
    """One world, one run of the scenario; its figures."""
    rng = random.Random(seed_value)
    data = seed(base / "ps", images=36, galleries=1, videos=videos)
    include = base / "include"
    shutil.copytree(ROOT / "include", include)
    fault = ["--latency-ms", str(latency_ms)]
    ps, cld = start_photoshelter(base / "ps", args=fault), start_cloudinary(base / "cld", args=fault)
    port = free_port()
    extra = {"notification_base_url": f"http://127.0.0.1:{port}"} if notifications else {}
    storage_dir = base / "storage"
    af = Standalone(base / "airflow", port, {
        "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": photoshelter_connection(ps),
        "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cloudinary_connection(cld, extra=extra),
        "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": storage_dir.as_uri(), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include)})
    os.environ["AIRFLOW__CAMPAIGN_MEDIA__STORAGE"] = storage_dir.as_uri()  # this process reads the same storage
    os.environ["AIRFLOW__CAMPAIGN_MEDIA__INCLUDE"] = str(include)
    try:
        # Most approved masters are set back to pending before Airflow starts: they are the ones a
        # person approves later (with the seed's pending and rejected ones, not an expired licence).
        expired = set(data["expired_licence"])
        later = [m for m in data["approved"] if m not in expired][4:]
        for media_id in later:
            ps.control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": "Pending"})
        pending_videos = data["videos"]
        for media_id in pending_videos:
            ps.control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": "Pending"})
        candidates = [m for m in later + data["pending"] + data["rejected"] if m not in expired]
        chosen = rng.sample(candidates, min(approvals, len(candidates))) + pending_videos

        af.start()
        from campaign_media.config.loader import load_markets

        markets = sorted(load_markets().items)
        dag_ids = [INGEST, *(f"campaign_media_market_{m}" for m in markets)]
        wait_for_dags(af, set(dag_ids))
        # Without the webhook, events are pulled: Airflow runs the watcher only for an unpaused DAG.
        for dag_id in dag_ids + ([] if notifications else [HAND_EDITS]):
            af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
        af.trigger(INGEST, {})  # the first ingest (what a backfill or the daily run did before)
        wait_until_quiet(af, dag_ids, settle=10, timeout=900)
        watch_files = lambda: list((storage_dir / "_watch").glob("*.json"))  # noqa: E731
        deadline = time.monotonic() + 300
        while not any(json.loads(p.read_text()).get("last_poll") for p in watch_files()):
            if time.monotonic() > deadline:
                raise RuntimeError("the watcher made no poll within 5 minutes (is the triggerer running?)")
            time.sleep(2)

        # Idle polls: the watcher alone, two intervals at the pace its call budget allows;
        # Cloudinary must see nothing.
        interval = settings.get("watch_poll_seconds")  # the default: the bench sets none
        last = json.loads(watch_files()[0].read_text()).get("last_poll") or {}
        pace = float(last.get("interval") or interval)
        before = sum(cld.calls().values())
        polls_before = len(json.loads(watch_files()[0].read_text()).get("polls", []))
        time.sleep(2 * pace + 5)
        idle = json.loads(watch_files()[0].read_text())
        idle_polls = idle.get("polls", [])[:max(0, len(idle.get("polls", [])) - polls_before)]
        idle_cloudinary = sum(cld.calls().values()) - before

        admin_before = admin_calls(cld.calls())
        moments = sorted(rng.uniform(0, spread) for _ in chosen)
        started = time.monotonic()
        approved_at: dict[str, float] = {}
        seen: dict[str, dict[str, float]] = {m: {} for m in chosen}
        queue = list(zip(moments, chosen, strict=True))
        while time.monotonic() - started < timeout:
            now = time.monotonic() - started
            while queue and queue[0][0] <= now:
                _, media_id = queue.pop(0)
                ps.control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": "Approved"})
                approved_at[media_id] = time.monotonic()
            uploaded = ingested(storage_dir)
            for media_id, at in approved_at.items():
                marks = seen[media_id]
                if "master" not in marks and media_id in uploaded:
                    marks["master"] = time.monotonic() - at
                for market in markets:
                    if market not in marks and live_in(market, media_id):
                        marks[market] = time.monotonic() - at
            if not queue and all(len(m) == 1 + len(markets) for m in seen.values()):
                break
            time.sleep(0.5)
        done = {m: v for m, v in seen.items() if len(v) == 1 + len(markets)}
        images = [m for m in chosen if m not in pending_videos]
        jobs = [e for e in cld.control("GET", "notifications")["sent"] if "/markets/" in (e.get("public_id") or "")]
        video_waits = []
        for media_id in pending_videos:
            for market in markets:
                job = next((e for e in jobs if f"/markets/{market}/" in e["public_id"]
                            and copy_identity(e["public_id"].rsplit("/", 1)[1])[0] == media_id), None)
                record = storage.writeback_record(CAMPAIGN, market, media_id)
                if job and record.exists():
                    video_waits.append(record.stat().st_mtime - job["queued_at"])
        polls = json.loads(watch_files()[0].read_text()).get("polls", [])
        return {
            "scenario": "approval_to_live", "n_masters": 0, "notifications": notifications,
            "events": "webhook" if notifications else "pull", "latency_ms": latency_ms,
            "approvals": len(chosen), "images": len(images), "videos": len(pending_videos), "spread_s": spread,
            "markets": markets, "watch_interval_s": interval, "watch_pace_s": pace, "finished": len(done),
            "to_master": summary([seen[m]["master"] for m in chosen if "master" in seen[m]]),
            "to_every_market": summary([max(v.values()) for v in done.values()]),
            "video_transcoded_to_written_back": summary(video_waits),
            "calls_per_poll": percentile([p.get("calls", 0) for p in polls if p.get("result") == "ok"], 0.5),
            "cloudinary_calls_in_idle_polls": idle_cloudinary, "idle_polls": len(idle_polls),
            "admin_calls_during_approvals": admin_calls(cld.calls()) - admin_before,
            "ingest_runs": len(af.api("GET", f"dags/{INGEST}/dagRuns", params={"limit": 200})["dag_runs"]),
        }
    finally:
        af.stop()
        ps.stop()
        cld.stop()


def polling_cost(base: Path, media: int = 2345) -> dict[str, Any]:
    """What one poll of a gallery of ``media`` costs, measured: calls per poll and per hour at the
    default interval (60 s), the gallery named by ID (the cheapest source: no collection walk)."""
    from campaign_media.config.loader import load_campaigns
    from campaign_media.hooks import PhotoShelterHook
    from campaign_media.steps import watch

    data = seed(base / "ps-big", images=media, galleries=1)
    ps = start_photoshelter(base / "ps-big")
    try:
        os.environ["AIRFLOW_CONN_PHOTOSHELTER_DEFAULT"] = photoshelter_connection(ps)
        os.environ["AIRFLOW__CAMPAIGN_MEDIA__STORAGE"] = (base / "storage-big").as_uri()
        campaign = next(iter(load_campaigns().items.values()))
        campaign = campaign.model_copy(update={"source": campaign.source.model_copy(
            update={"gallery_ids": data["gallery_ids"], "collection_name": None, "collection_id": None})})
        hook = PhotoShelterHook()
        watch.poll(hook, [campaign], "bench")  # the first: logs in, and sets the baseline
        before = ps.calls()
        watch.poll(hook, [campaign], "bench")  # a poll as every later one is (the session is kept)
        routes = {k: v - before.get(k, 0) for k, v in ps.calls().items() if v - before.get(k, 0)}
    finally:
        ps.stop()
    calls = sum(routes.values())
    return {"scenario": "watch_poll_cost", "n_masters": 0, "media": media, "calls_per_poll": calls, "routes": routes,
            "calls_per_hour_at_60s": calls * 60}


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop Airflow and the emulators on kill, too
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approvals", type=int, default=20)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--spread", type=float, default=180.0, help="seconds the approvals are spread over")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--notifications", choices=["on", "off", "both"], default="both")
    parser.add_argument("--poll-cost-media", type=int, default=2345, help="media in the gallery whose poll is costed")
    opts = parser.parse_args()
    modes = ["on", "off"] if opts.notifications == "both" else [opts.notifications]
    with tempfile.TemporaryDirectory(prefix="campaign-media-live-") as tmp:
        for row in run_all(Path(tmp), approvals=opts.approvals, videos=opts.videos, spread=opts.spread,
                           latency_ms=opts.latency_ms, modes=modes, poll_cost_media=opts.poll_cost_media):
            print("BENCH " + json.dumps(row), flush=True)
    return 0


def run_all(base: Path, *, approvals: int = 20, videos: int = 2, spread: float = 180.0, latency_ms: float = 50.0,
            modes: tuple[str, ...] | list[str] = ("on", "off"), poll_cost_media: int = 2345) -> list[dict[str, Any]]:
    """The poll's cost, then the scenario with notifications (all approvals) and without (the
    videos only: what notifications change)."""
    rows = [polling_cost(base, poll_cost_media)]
    for mode in modes:
        rows.append(scenario(base / f"live-{mode}", approvals=approvals if mode == "on" else 0, videos=videos,
                             spread=spread, latency_ms=latency_ms, notifications=mode == "on"))
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
