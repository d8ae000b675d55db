"""``make demo`` (and ``make up``): the campaign lifecycle run by a real Airflow on the embedded default.

1. seeds the PhotoShelter emulator with a demo campaign and starts both emulators;
2. starts ``airflow standalone`` (SQLite, LocalExecutor) with the connections pointing at them;
3. unpauses the DAGs and, as the UI's Trigger → Backfill does, creates a backfill of the ingest
   DAG over the past week through the REST API; ingest's asset events start every market DAG;
   each market is then also triggered once by hand (which must find nothing left to do);
4. runs the usage-window DAG (what is public, restricted, signed-only) and probes delivery;
   sends some storefront traffic; runs the delivery metrics DAG (its per-asset figures from the
   CDN access log the Cloudinary emulator writes) and prints where the report is;
5. ends the campaign (its end moved to now in the demo's copy of include/, grace 0), runs the
   usage windows again (everything closes) and the archive (renditions into PhotoShelter,
   verified, then Cloudinary cleaned up);
6. shows progress while it waits (runs and mapped tasks done out of total), then prints a
   summary (masters ingested, renditions per market, write-backs, skipped media and why, API
   calls per master, the audit counts, the reports, the Airflow UI address and login, the campaign
   page's address and what it shows) and stops what it started
   — unless ``--keep`` (``make up``), which leaves Airflow and the emulators running.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import secrets
import shutil
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

import pandas as pd  # noqa: E402

from campaign_media.account.check import table  # noqa: E402
from campaign_media.runtime import audit, storage  # noqa: E402
from emulators.photoshelter.seed import seed  # noqa: E402
from emulators.runner import (  # noqa: E402
    STRICT,
    cloudinary_connection,
    free_port,
    photoshelter_connection,
    start_cloudinary,
    start_photoshelter,
)
from scripts.standalone import PASSWORD_FILE, Standalone  # noqa: E402

CAMPAIGN = "spring-launch-2026"
TERMINAL = {"success", "failed"}
UPLOAD = "POST /v1_1/{cloud}/{rt}/upload"
PS_UPLOAD = "POST /psapi/v3/mem/image/upload"
WINDOWS, METRICS, ARCHIVE = "campaign_media_usage_windows", "campaign_media_metrics", "campaign_media_archive"
HEALTH = "campaign_media_api_health"


STARTED = time.monotonic()
PHASES = ["seed", "airflow", "backfill", "approval", "by hand", "account check", "windows", "metrics", "end",
          "summary"]  # the phases main() announces, in order


def say(text: str) -> None:
    """A phase's progress line: which of the demo's phases, and the time since the start."""
    say.done = getattr(say, "done", 0) + 1
    elapsed = int(time.monotonic() - STARTED)
    print(f"\n==> [{min(say.done, len(PHASES))}/{len(PHASES)} · {elapsed // 60}:{elapsed % 60:02d}] {text}",
          flush=True)


def connections(ps, cld, airflow_url: str) -> dict[str, str]:
    """Both accounts; Cloudinary announces finished video transcodes to the API server's receiver."""
    return {"AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": photoshelter_connection(ps),
            # seals sign-off records; a deployment keeps its own in a secret (docs/signoff.md)
            "AIRFLOW_CONN_CAMPAIGN_MEDIA_SIGNOFF": json.dumps({"conn_type": "generic",
                                                               "password": secrets.token_hex(32)}),
            "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cloudinary_connection(cld,
                                                                     extra={"notification_base_url": airflow_url})}


def wait_for_dags(af: Standalone, expected: set[str], timeout: float = 180) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dags = {d["dag_id"] for d in af.api("GET", "dags", params={"limit": 100})["dags"]}
        if expected <= dags:
            return sorted(dags)
        time.sleep(3)
    raise RuntimeError(f"DAGs not parsed in {timeout}s: missing {sorted(expected - dags)}")


def progress(af: Standalone, dag_ids: list[str]) -> tuple[Counter, Counter]:
    runs: Counter = Counter()
    tasks: Counter = Counter()
    for dag_id in dag_ids:
        for run in af.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]:
            runs[run["state"]] += 1
        for ti in af.api("GET", f"dags/{dag_id}/dagRuns/~/taskInstances", params={"limit": 1000})["task_instances"]:
            tasks["done" if ti["state"] in ("success", "failed", "skipped", "upstream_failed") else "open"] += 1
    return runs, tasks


def wait_until_quiet(af: Standalone, dag_ids: list[str], settle: float = 20, timeout: float = 900) -> Counter:
    """Wait until every run is finished and nothing new has started for ``settle`` seconds."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    last = ""
    while time.monotonic() < deadline:
        runs, tasks = progress(af, dag_ids)
        open_runs = sum(n for state, n in runs.items() if state not in TERMINAL)
        line = (f"   runs {sum(runs.values()) - open_runs}/{sum(runs.values())} done "
                f"({dict(runs)}) · tasks {tasks['done']}/{sum(tasks.values())} done")
        if line != last:
            print(line, flush=True)
            last = line
        if open_runs == 0 and tasks["open"] == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return runs
        else:
            quiet_since = None
        time.sleep(2)
    raise RuntimeError(f"runs still open after {timeout}s")


def trigger(af: Standalone, dag_id: str, **conf) -> None:
    """One run of ``dag_id``, waited for (not the whole deployment: nothing else is started by it)."""
    started = time.monotonic()
    state = af.run_once(dag_id, conf)
    print(f"   {dag_id}: {state} in {time.monotonic() - started:.0f} s", flush=True)


def windows_report() -> dict:
    return storage.read_json(storage.path(CAMPAIGN, "windows", "latest.json"))


def delivery_probe(markets: list[str]) -> dict[str, tuple[str, int]]:
    """One rendition of each kind — public now, signed-only (and its token URL), restricted, and
    closed (a public master whose window or licence is over) — and what the CDN answers."""
    found: dict[str, tuple[str, int]] = {}
    for market in markets:
        manifest = storage.read_json(storage.path(CAMPAIGN, "delivery", f"{market}.json"))
        for image_id, entry in manifest["masters"].items():
            access = entry.get("access", {})
            mode = access.get("mode")
            kind = mode if mode != "public" or access.get("public") else f"closed ({access.get('reason')})"
            if mode == "signed" and access.get("signed"):
                token_url = next(iter(access["signed"]["renditions"].values()))
                found.setdefault("signed (token URL)", (f"{market}/{image_id}", httpx.get(token_url).status_code))
            if kind and kind not in found:
                url = next(iter(entry["renditions"].values()))["url"]
                found[kind] = (f"{market}/{image_id}", httpx.get(url).status_code)
    return found


def storefront_traffic(markets: list[str]) -> int:
    """A storefront and an app request the public renditions and channel URLs (some more than others)."""
    requests = 0
    for market in markets:
        manifest = storage.read_json(storage.path(CAMPAIGN, "delivery", f"{market}.json"))
        public = [e for e in manifest["masters"].values() if e.get("access", {}).get("public")]
        for rank, entry in enumerate(public[:6]):
            urls = list(itertools.chain([r["url"] for r in entry["renditions"].values()],
                                        entry.get("channels", {}).get("web", {}).values()))  # videos have none
            for url in urls[: max(1, 6 - rank)]:
                for _ in range(max(1, 4 - rank)):
                    requests += httpx.get(url, headers={"accept": "image/webp,image/*"}).status_code == 200
    return requests


def market_uploads(cld, storage_dir: Path, markets: list[str]) -> dict[str, int]:
    """Cloudinary uploads the market DAGs made (all uploads but ingest's) and the copies they hold."""
    reports = [json.loads(p.read_text()) for p in (storage_dir / CAMPAIGN / "ingest").glob("*/report.json")]
    return {"uploads": cld.calls().get(UPLOAD, 0) - sum(len(r["uploaded"]) for r in reports),
            "copies": sum(len(storage.read_json(storage.path(CAMPAIGN, "markets", m, "state.json"), {}))
                          for m in markets)}


WATCH_SECONDS = 5  # the demo's watcher interval (the default is 60 s): the demo waits less
SPACING_HOURS = 1  # between two seeded masters' last changes: the backfill covers the days they span


def approval_to_live(ps, cld, media_id: str, markets: list[str], timeout: float = 600) -> dict[str, float]:
    """A person approves ``media_id`` in PhotoShelter; seconds until it is in Cloudinary and until
    each market's delivery manifest lists it (nobody triggers anything in Airflow)."""
    public_id = f"campaigns/{CAMPAIGN}/masters/{media_id}"
    auth = (cld.credentials["api_key"], cld.credentials["api_secret"])
    started = time.monotonic()
    ps.control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": "Approved"})
    seen: dict[str, float] = {}
    while len(seen) < 1 + len(markets) and time.monotonic() - started < timeout:
        if "master" not in seen and httpx.get(
                f"{cld.base_url}/v1_1/{cld.credentials['cloud_name']}/resources/image/authenticated/{public_id}",
                auth=auth, timeout=30).status_code == 200:
            seen["master"] = time.monotonic() - started
        for market in markets:
            manifest = storage.read_json(storage.path(CAMPAIGN, "delivery", f"{market}.json"), {}) or {}
            if market not in seen and media_id in manifest.get("masters", {}):
                seen[market] = time.monotonic() - started
        time.sleep(1)
    return seen


def end_campaign(include: Path) -> str:
    """The business ends the campaign now (the demo's copy of include/ only), archive without grace."""
    path = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(path.read_text())
    end = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0)
    data["window"]["end"] = end.isoformat()
    data["archive"] = {**data.get("archive", {}), "grace_days": 0}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return end.isoformat()


def video_line(video_id: str, markets: list[str], reports: list[dict]) -> str:
    """One video master through every step: ingest (``reports``: the ingest reports), copies and
    derivatives per market, write-backs, the windows' verdict, the archive."""
    ingested = next((u for r in reports for u in r["uploaded"] if u["image_id"] == video_id), None)
    parts = [f"video master {video_id}: " + (f"ingested ({ingested['width']}x{ingested['height']}, "
                                              f"{ingested.get('duration', 0):.1f} s, {ingested['bytes']:,} bytes)"
                                              if ingested else "not ingested")]
    access = storage.read_json(storage.path(CAMPAIGN, "windows", "latest.json"), {})
    closed = {(c["market"], c["image_id"]) for c in access.get("closed", [])}
    archived = (storage.read_json(storage.path(CAMPAIGN, "archive", "done.json"), {}) or {}).get("items", {})
    for market in markets:
        entry = storage.read_json(storage.path(CAMPAIGN, "markets", market, "state.json"), {}).get(video_id)
        if not entry:
            parts.append(f"{market}: no copy")
            continue
        made = sorted(entry["renditions"])
        written = sum(bool(r.get("ps_image_id")) for r in entry["renditions"].values())
        kept = sum(1 for key in archived if key.startswith(f"{market}/{video_id}/"))
        parts.append(f"{market}: {', '.join(made)}; {written} written back; "
                     f"{'closed' if (market, video_id) in closed else 'open'} at the last windows run; "
                     f"{kept} archived and verified")
    return "\n   ".join(parts)


def summary(af: Standalone, ps, cld, storage_dir: Path, seeded: dict, markets: list[str], started: float,
            copies: dict[str, int]) -> None:
    reports = [json.loads(p.read_text()) for p in sorted((storage_dir / CAMPAIGN / "ingest").glob("*/report.json"))]
    uploaded = {u["image_id"] for r in reports for u in r["uploaded"]}
    failed = {k: v for r in reports for k, v in r["failed"].items() if k not in uploaded}
    skipped = {k: v for r in reports for k, v in r["skipped"].items() if k not in uploaded}  # approved later
    attempts = sum(len(r["uploaded"]) for r in reports)  # a failed master never reaches Cloudinary
    approved = len(seeded["approved"]) + len(seeded["broken"]) + len(seeded["videos"])
    print(f"masters ingested: {len(uploaded)} of {approved} approved "
          f"({len(reports)} ingest runs)")
    print("skipped or failed, and why:")
    for image_id, why in sorted({**skipped, **failed}.items(), key=lambda kv: kv[1]):
        print(f"   {image_id}: {why[:110]}")
    rows = []
    for market in markets:
        manifest = json.loads((storage_dir / CAMPAIGN / "delivery" / f"{market}.json").read_text())
        state = storage.read_json(storage.path(CAMPAIGN, "markets", market, "state.json"), {})
        renditions = [r for m in state.values() for r in m["renditions"].values()]
        rows.append({"market": market, "masters": len(manifest["masters"]), "renditions": len(renditions),
                     "written back": sum(bool(r.get("ps_image_id")) for r in renditions),
                     "delivery manifest": str(storage_dir / CAMPAIGN / "delivery" / f"{market}.json")})
    print(pd.DataFrame(rows).to_string(index=False))
    for video_id in seeded["videos"]:
        print(video_line(video_id, markets, reports))
    trail = audit.read(CAMPAIGN)
    print(f"audit trail: {len(trail)} records {audit.counts(trail)}; ask it: AIRFLOW__CAMPAIGN_MEDIA__STORAGE="
          f"{storage_dir.as_uri()} .venv/bin/python -m campaign_media.cli audit --campaign {CAMPAIGN} "
          "[--master ID] [--market CODE] [--format csv]")
    ps_calls, cld_calls = ps.calls(), cld.calls()
    n = max(1, len(uploaded))
    per_market = copies["uploads"] / max(1, copies["copies"])
    print(f"API calls: ingest {attempts} Cloudinary uploads for {n} masters ({attempts / n:.2f}/master; each original "
          f"streamed from PhotoShelter's download route); variants {copies['uploads']} uploads for "
          f"{copies['copies']} market copies "
          f"({per_market:.2f} per master per market, all renditions included); PhotoShelter uploads "
          f"{ps_calls.get(PS_UPLOAD, 0)} (write-backs and archive); total PhotoShelter calls "
          f"{sum(ps_calls.values())}, Cloudinary API calls {sum(v for k, v in cld_calls.items() if '/v1_1/' in k)}")
    print(f"Airflow UI: {af.url}  (user admin; its password is in {af.home / PASSWORD_FILE})")
    page = f"{af.url}/campaign-media/campaigns/{CAMPAIGN}"
    shown = httpx.get(page.replace("/campaigns/", "/api/campaigns/"), headers={"Authorization": f"Bearer {af.token}"},
                      timeout=60).json()
    print(f"campaign page: {page}  (in the UI: Browse → Campaigns; signed in only) — now "
          f"{', '.join(m['market'] + ' ' + m['status'] for m in shown['markets'])}; "
          f"archive {shown['archive']['state']}")
    print(f"demo wall time: {time.monotonic() - started:.0f}s")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on kill, too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave Airflow and the emulators running (make up)")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--videos", type=int, default=2, help="short generated hero videos (ffmpeg)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = ROOT / ".demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    storage_dir = work / "storage"
    os.environ["AIRFLOW__CAMPAIGN_MEDIA__STORAGE"] = storage_dir.as_uri()
    include = work / "include"  # the demo's copy: the demo ends the campaign by editing it
    shutil.copytree(ROOT / "include", include)

    say(f"Seeding the PhotoShelter emulator: campaign {CAMPAIGN}, {args.images} images and {args.videos} videos")
    seeded = seed(work / "photoshelter", images=args.images, galleries=2, videos=args.videos,
                  spacing_hours=SPACING_HOURS)
    print(f"{len(seeded['approved'])} approved, {len(seeded['pending'])} pending, {len(seeded['rejected'])} rejected, "
          f"{len(seeded['expired_licence'])} with an expired licence, {len(seeded['broken'])} deliberately broken; "
          f"{len(seeded['videos'])} approved hero videos")
    cdn_logs = work / "cdn-logs"  # the CDN's access log of every delivery, as a log bucket would hold it
    ps, cld = start_photoshelter(work / "photoshelter"), start_cloudinary(
        work / "cloudinary", args=["--access-log-dir", str(cdn_logs), "--access-log-format", "cloudfront"])
    print(f"emulators: PhotoShelter {ps.base_url}, Cloudinary {cld.base_url} "
          f"({'strict: the pessimistic reading of what the documentation leaves open' if STRICT else 'permissive'}"
          "; Cloudinary with a private CDN distribution, i.e. token access)")
    port = free_port()
    af = Standalone(work / "airflow", port, {**connections(ps, cld, f"http://127.0.0.1:{port}"),
                                                     "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": storage_dir.as_uri(),
                                                     "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include),
                                                     "AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS": cdn_logs.as_uri(),
                                                     "AIRFLOW__CAMPAIGN_MEDIA__WATCH_POLL_SECONDS":
                                                         str(WATCH_SECONDS)})
    try:
        say("Starting airflow standalone (SQLite, LocalExecutor)")
        af.start()
        print(f"Airflow {af.api('GET', 'version')['version']} at {af.url}")
        from campaign_media.config.loader import load_markets

        markets = sorted(load_markets().items)
        ingest = "campaign_media_ingest"
        dag_ids = [ingest, *(f"campaign_media_market_{m}" for m in markets), WINDOWS, METRICS, ARCHIVE]
        wait_for_dags(af, set(dag_ids))
        errors = af.api("GET", "importErrors")["import_errors"]
        print(f"DAGs: {', '.join(dag_ids)}; import errors: {len(errors)}")

        # The governance DAGs are unpaused when first used (their schedules would otherwise start
        # runs right now, competing with the backfill for SQLite's lock).
        for dag_id in dag_ids[:1 + len(markets)]:
            af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first = today - timedelta(days=math.ceil((SPACING_HOURS * (args.images - 1) + 5) / 24))  # the oldest change
        say(f"Backfill of {ingest} over {first.date()} .. {today.date()}, the days the approvals span "
            "(REST, as the UI does)")
        backfill = af.create_backfill({
            "dag_id": ingest, "from_date": first.isoformat(), "to_date": today.isoformat(),
            "reprocess_behavior": "none", "max_active_runs": 1, "run_backwards": False, "dag_run_conf": {}})
        print(f"backfill {backfill['id']} created; market DAGs start on ingest's asset events")
        wait_until_quiet(af, dag_ids, settle=5)


        media_id = seeded["pending"][0]
        say(f"A person approves {media_id} in PhotoShelter; nobody touches Airflow (the watcher polls every "
            f"{WATCH_SECONDS} s on the triggerer)")
        live = approval_to_live(ps, cld, media_id, markets)
        print(f"approval → master in Cloudinary: {live.get('master', float('nan')):.0f} s; → live in the delivery "
              "manifest of " + ", ".join(f"{m} {live[m]:.0f} s" if m in live else f"{m} not within 10 min"
                                         for m in markets))
        seeded["pending"].remove(media_id)
        seeded["approved"].append(media_id)
        wait_until_quiet(af, dag_ids, settle=5)
        copies = market_uploads(cld, storage_dir, markets)

        say("Each market once more by hand (must find nothing left to do)")
        before = cld.calls().get(UPLOAD, 0), ps.calls().get(PS_UPLOAD, 0)
        for market in markets:
            af.trigger(f"campaign_media_market_{market}", {"campaign": CAMPAIGN})
        wait_until_quiet(af, dag_ids, settle=5)
        after = cld.calls().get(UPLOAD, 0), ps.calls().get(PS_UPLOAD, 0)
        print(f"renditions made / written back by the extra runs: {after[0] - before[0]} / {after[1] - before[1]}")

        say("Read-only account check (the API health DAG): what the accounts do where the docs are silent")
        trigger(af, HEALTH)
        af.api("PATCH", f"dags/{HEALTH}", json={"is_paused": True})  # hourly: not needed again here
        print(table(storage.read_json(storage.path("_account", "capabilities.json"), {})))

        say("Usage windows: PhotoShelter rights → Cloudinary delivery rules")
        trigger(af, WINDOWS)
        report = windows_report()
        print(f"usage windows: {report['summary']}")
        for item in report["restricted"][:6]:
            print(f"   restricted {item['market']}/{item['image_id']}: {item['reason']}")
        for kind, (where, code) in delivery_probe(markets).items():
            print(f"   CDN answer for a {kind} rendition ({where}): HTTP {code}")

        say("Storefront traffic, then the delivery metrics report")
        print(f"{storefront_traffic(markets)} successful CDN requests")
        trigger(af, METRICS)
        daily = storage_dir / CAMPAIGN / "reports" / datetime.now(UTC).strftime("%Y-%m-%d") / "index.html"
        print(f"delivery report: {daily}")
        totals = storage.read_json(storage.path(CAMPAIGN, "reports", daily.parent.name, "totals.json")) or {}
        logs = totals.get("access_logs") or {}
        print(f"per-asset figures from {totals.get('figure_sources', {}).get('per_asset')}: {logs.get('lines')} "
              f"log lines, {logs.get('counted')} counted for the campaign's market copies, the rest apart "
              f"({', '.join(f'{k} {v}' for k, v in logs.items() if k not in ('lines', 'counted') and v)})")

        say("The campaign ends")
        print(f"campaign end moved to {end_campaign(include)} in {include / 'campaigns'} (archive grace 0 days)")
        trigger(af, WINDOWS)
        print(f"usage windows: {windows_report()['summary']}")
        for kind, (where, code) in delivery_probe(markets).items():
            print(f"   CDN answer for a {kind} rendition ({where}): HTTP {code}")
        trigger(af, ARCHIVE)
        done = storage.read_json(storage.path(CAMPAIGN, "archive", "done.json"))
        if done:
            print(f"archive: {done['summary']}")
        else:
            print(f"archive incomplete: {storage.read_json(storage.path(CAMPAIGN, 'archive', 'missing.json'))}")
        runs = wait_until_quiet(af, dag_ids, settle=3)

        say("Summary")
        summary(af, ps, cld, storage_dir, seeded, markets, started, copies)
        print(f"delivery report (daily): {daily}")
        print(f"final report, kept with the archive: {storage_dir / CAMPAIGN / 'archive' / 'report' / 'index.html'}")
        if runs.get("failed"):
            print(f"{runs['failed']} run(s) failed; see the Airflow UI", file=sys.stderr)
            return 1
        if args.keep:
            say("Left running (Ctrl-C to stop)")
            while True:
                time.sleep(3600)
        return 0
    finally:
        af.stop()
        ps.stop()
        cld.stop()


if __name__ == "__main__":
    raise SystemExit(main())
