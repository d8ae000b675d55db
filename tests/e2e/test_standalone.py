"""End to end on the embedded default: ``airflow standalone`` driven only through REST API v2.

The emulators and Airflow run on free ports in temporary folders; everything is stopped when the
module ends, also on failure.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from campaign_media.domain.masters import parse_ps_time
from tests.e2e.support import (
    CAMPAIGN,
    INGEST,
    MARKETS,
    image_updated,
    published_masters,
    quiet,
    run_once,
    runs,
    unsuccessful,
    wait_for,
)

# The steps of one story, in order: a step run alone runs the steps before it first (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.story]
UPLOAD = "POST /v1_1/{cloud}/{rt}/upload"  # market copies (with their renditions) are uploads
PS_UPLOAD = "POST /psapi/v3/mem/image/upload"  # write-backs


def test_dags_are_listed_without_import_errors(stack) -> None:
    af = stack["af"]
    listed = wait_for(lambda: {d["dag_id"] for d in af.api("GET", "dags", params={"limit": 100})["dags"]}
                      >= {INGEST, *MARKETS} and af.api("GET", "dags", params={"limit": 100})["dags"], 180)
    assert {INGEST, *MARKETS, "campaign_media_api_health", "campaign_media_usage_windows", "campaign_media_metrics",
            "campaign_media_archive"} <= {d["dag_id"] for d in listed}
    assert af.api("GET", "importErrors")["import_errors"] == []


def test_a_scheduled_run_happens_by_itself(stack) -> None:
    af = stack["af"]
    af.api("PATCH", "dags/campaign_media_api_health", json={"is_paused": False})
    run = wait_for(lambda: next((r for r in runs(af, "campaign_media_api_health")
                                 if r["run_type"] == "scheduled" and r["state"] == "success"), None), 240)
    assert run["data_interval_end"]


def test_backfill_creates_one_run_per_interval_and_ingests_them(stack) -> None:
    af, seeded = stack["af"], stack["seed"]
    for dag_id in (INGEST, *MARKETS):
        af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=4), today - timedelta(days=2)
    backfill = af.create_backfill({
        "dag_id": INGEST, "from_date": start.isoformat(), "to_date": end.isoformat(),
        "reprocess_behavior": "none", "max_active_runs": 1, "run_backwards": False, "dag_run_conf": {}})
    quiet(af, [INGEST, *MARKETS])
    backfill_runs = [r for r in runs(af, INGEST) if r["run_type"] == "backfill"]
    assert sorted(r["logical_date"][:10] for r in backfill_runs) == [
        (start + timedelta(days=i)).date().isoformat() for i in range(3)]
    assert all(r["state"] == "success" for r in backfill_runs)
    # The scheduler marks a backfill complete on a later loop than its last run's success.
    assert wait_for(lambda: af.api("GET", f"backfills/{backfill['id']}")["completed_at"], timeout=120)
    # Expected end state: every approved master updated in those three days is in Cloudinary.
    published = published_masters(stack)
    in_range = [m for m in seeded["approved"]
                if start <= parse_ps_time(image_updated(stack, m)) < end + timedelta(days=1)]
    assert in_range and set(in_range) <= set(published)
    stack["versions"] = published


def test_an_overlapping_backfill_changes_nothing(stack) -> None:
    af = stack["af"]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    backfill = af.create_backfill({
        "dag_id": INGEST, "from_date": (today - timedelta(days=3)).isoformat(),
        "to_date": (today - timedelta(days=2)).isoformat(), "reprocess_behavior": "completed",
        "max_active_runs": 1, "run_backwards": False, "dag_run_conf": {}})
    quiet(af, [INGEST, *MARKETS])
    # Complete before the next test backfills ingest again (Airflow refuses a second one meanwhile).
    assert wait_for(lambda: af.api("GET", f"backfills/{backfill['id']}")["completed_at"], timeout=120)
    assert not (failed := unsuccessful(af, [INGEST])), "\n".join(failed)
    assert published_masters(stack) == stack["versions"]  # same assets, same versions


def test_overlapping_backfills_and_runs_at_once_duplicate_nothing(stack, monkeypatch) -> None:
    """New originals for four masters, ingested; then at once: the market runs that ingest
    triggers, a three-runs-at-a-time backfill of one market (jp: the UI test backfills fr), a
    manual run of it and a forced ingest backfill. Every new rendition is written back to
    PhotoShelter once."""
    import random
    from collections import Counter

    from campaign_media.hooks import PhotoShelterHook
    from emulators.photoshelter.seed import jpeg_bytes
    from tests.conftest import ps_connection

    af, ps, storage = stack["af"], stack["ps"], stack["storage"]
    monkeypatch.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
    rng = random.Random(5)
    changed = sorted(stack["versions"])[:4]
    for image_id in changed:
        httpx.post(f"{ps.base_url}/_emulator/images/{image_id}/original", timeout=30,
                   content=jpeg_bytes((1200, 900), f"new original {image_id}", rng)).raise_for_status()
    def links() -> dict[str, dict[str, str]]:
        """Every write-back's link (the sidecar records, one file per master), by file name."""
        return {link["File Name"]: link for path in (storage / CAMPAIGN / "markets").rglob("writebacks/*.json")
                for link in json.loads(path.read_text()).values()}

    writebacks = links()
    uploads, cld_uploads = ps.calls().get(PS_UPLOAD, 0), stack["cld"].calls().get(UPLOAD, 0)
    # The new originals are ingested; the run triggers each market's run, and at that moment a
    # market backfill (three runs at a time), a manual market run and a forced ingest backfill start.
    first = af.trigger(INGEST, {"force": True})
    wait_for(lambda: af.api("GET", f"dags/{INGEST}/dagRuns/{first['dag_run_id']}")["state"] == "success", 300, 1)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    days = {"from_date": (today - timedelta(days=4)).isoformat(), "to_date": (today - timedelta(days=1)).isoformat(),
            "reprocess_behavior": "completed", "max_active_runs": 3, "run_backwards": False}
    af.create_backfill({"dag_id": MARKETS[1], **days, "dag_run_conf": {}})
    af.trigger(MARKETS[1])
    af.create_backfill({"dag_id": INGEST, **days, "dag_run_conf": {"force": True}})
    # Airflow itself refuses a second backfill of a DAG while one runs (asked again while SQLite's
    # lock makes the API answer 500 "Database error": that answer rolled the request back).
    assert second_backfill_refusal(af, {"dag_id": MARKETS[1], **days, "dag_run_conf": {}}).startswith(
        "POST /api/v2/backfills -> 409")
    quiet(af, [INGEST, *MARKETS], timeout=600)
    assert not (failed := unsuccessful(af, [INGEST, *MARKETS])), "\n".join(failed)
    assert len([r for r in runs(af, MARKETS[1]) if r["run_type"] == "backfill"]) >= 3
    # They really were at once: runs of the same DAG whose start-to-end spans overlap (the claim
    # then made all but one wait deferred), for the market and for ingest.
    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    began = moment(af.api("GET", f"dags/{INGEST}/dagRuns/{first['dag_run_id']}")["start_date"])
    for dag_id in (MARKETS[1], INGEST):
        spans = sorted((moment(r["start_date"]), moment(r["end_date"])) for r in runs(af, dag_id)
                       if r["start_date"] and r["end_date"] and moment(r["start_date"]) >= began)
        overlapping = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
        assert overlapping, f"{dag_id}: no two runs overlapped: {spans}"
    new = [link for name, link in links().items() if name not in writebacks]
    states = [json.loads(p.read_text()) for p in (storage / CAMPAIGN / "markets").glob("*/state.json")]
    per_master = sum(len(state[changed[0]]["renditions"]) for state in states)  # over every market
    assert {link["Master Image ID"] for link in new} == set(changed)
    assert len(new) == len(changed) * per_master  # every new original's renditions, in every market
    assert ps.calls().get(PS_UPLOAD, 0) - uploads == len(new)  # each written back once
    # No duplicate spend: each new original uploaded once, and once per market as that market's copy.
    assert stack["cld"].calls().get(UPLOAD, 0) - cld_uploads == len(changed) * (1 + len(states))
    with PhotoShelterHook() as hook:
        published = next(c for c in hook.get_children("root")["collections"] if c["name"].endswith("— published"))
        names = Counter(record.get("file_name") or record["Image"]["file_name"]
                        for _, gallery in hook.walk_galleries(published["collection_id"])
                        for record in hook.iter_gallery_images(gallery["gallery_id"]))
    assert names and max(names.values()) == 1, [n for n, k in names.items() if k > 1]


def test_a_manual_run_with_params_does_what_the_form_says(stack) -> None:
    af, cld, storage = stack["af"], stack["cld"], stack["storage"]
    uploads = cld.calls().get(UPLOAD, 0)
    manifest = storage / CAMPAIGN / "delivery" / "jp.json"
    before = manifest.read_bytes() if manifest.exists() else None
    run = af.trigger("campaign_media_market_jp", {"campaign": CAMPAIGN, "dry_run": True, "force": True})
    def finished() -> str | None:
        state = af.api("GET", f"dags/campaign_media_market_jp/dagRuns/{run['dag_run_id']}")["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(finished, 240)
    assert state == "success"
    assert run["conf"] == {"campaign": CAMPAIGN, "dry_run": True, "force": True}
    assert cld.calls().get(UPLOAD, 0) == uploads  # dry run: no renditions made
    assert (manifest.read_bytes() if manifest.exists() else None) == before  # nothing published


def test_usage_windows_and_metrics_run_on_the_scheduler(stack) -> None:
    """The governance DAGs on a real scheduler: rules reconciled for every market copy made by
    the runs above, and the day's report written where the task log says."""
    import json

    af, storage = stack["af"], stack["storage"]
    states = {m: json.loads(p.read_text()) for m in ("fr", "jp", "sa")
              if (p := storage / CAMPAIGN / "markets" / m / "state.json").exists()}
    assert states, "the backfills above made market copies"
    for dag_id in ("campaign_media_usage_windows", "campaign_media_metrics"):
        assert run_once(af, dag_id) == "success", dag_id
    report = json.loads((storage / CAMPAIGN / "windows" / "latest.json").read_text())
    assert report["summary"]["copies"] == sum(len(s) for s in states.values())
    folder = storage / CAMPAIGN / "reports" / datetime.now(UTC).strftime("%Y-%m-%d")
    totals = json.loads((folder / "totals.json").read_text())
    assert totals["market_copies"] == report["summary"]["copies"] and (folder / "index.html").exists()


OPENED = [{"access_type": "anonymous", "start": "2020-01-01T00:00:00Z", "end": "2035-01-01T00:00:00Z"}]
REPAIRING = ("campaign_media_hand_edits", "campaign_media_market_fr", "campaign_media_usage_windows")


def test_a_person_s_edits_in_cloudinary_are_repaired_on_their_events(stack, monkeypatch) -> None:
    """Cloudinary's events pulled by the triggerer (no public endpoint; the watcher made the
    channel's triggers itself): four market copies changed in the console — deleted, opened beyond
    its rights, renamed, re-described — start the hand-edits DAG on their events, which renames
    the renamed one back and starts the market's and the usage-window runs; everything is as the
    rights say again with no schedule tick, and the repairs (the pipeline's own changes) start no
    run of their own."""
    from tests.conftest import cld_connection

    af, emu, storage = stack["af"], stack["cld"], stack["storage"]
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(emu))
    from campaign_media.hooks import CloudinaryHook

    cld = CloudinaryHook()
    # The test's own reads must not spend the stack's Admin quota (the pipeline's repairs need it).
    emu.control("POST", "admin-limit", {"limit": 100_000})
    for dag_id in REPAIRING:
        af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
    assert wait_for(lambda: len([t for t in cld.triggers() if t["uri"].startswith("poll://")]) >= 6, 180), \
        "the events watcher made its channel's triggers"
    state = json.loads((storage / CAMPAIGN / "markets" / "fr" / "state.json").read_text())
    deleted, opened, renamed, described = (entry["public_id"] for entry in list(state.values())[:4])
    looks = {pid: (r["access_control"], r.get("context")) for pid in (opened, described) if (r := cld.resource(pid))}
    before = {dag_id: {r["dag_run_id"] for r in runs(af, dag_id)} for dag_id in REPAIRING}
    started = time.monotonic()
    for body in ({"action": "delete", "public_id": deleted},
                 {"action": "access_control", "public_id": opened, "access_control": json.dumps(OPENED)},
                 {"action": "rename", "public_id": renamed, "to_public_id": f"{renamed}-mine"},
                 {"action": "context", "public_id": described, "context": "usage_rights=everything|owner=me"}):
        emu.control("POST", "console", body)

    def repaired() -> bool:
        now = {pid: (r["access_control"], r.get("context")) for pid in (opened, described) if (r := cld.resource(pid))}
        return (now == looks and cld.resource(deleted) is not None and cld.resource(renamed) is not None
                and cld.resource(f"{renamed}-mine") is None)

    assert wait_for(repaired, 420, every=2), "repaired"
    print(f"\nhand edits repaired {time.monotonic() - started:.0f} s after they were made")
    quiet(af, list(REPAIRING), settle=20)
    for dag_id in REPAIRING:
        new = [r for r in runs(af, dag_id) if r["dag_run_id"] not in before[dag_id]]
        assert new and all(r["run_type"] == "asset_triggered" and r["state"] == "success" for r in new), (dag_id, new)
    # Every hand-edits run was started by a person's edits (none by the repairs' own events), and
    # each edit was handled once: a run started by events an earlier run had already taken from the
    # queue repairs nothing.
    repaired = 0
    for run in (r for r in runs(af, REPAIRING[0]) if r["dag_run_id"] not in before[REPAIRING[0]]):
        events = af.api("GET", f"dags/{REPAIRING[0]}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
        edits = [e for event in events["asset_events"] for e in ((event.get("extra") or {}).get("payload") or {}).get(
            "edits", [])]
        assert edits and all(e["by"].startswith("ui") for e in edits), (run["dag_run_id"], edits)
        path = f"dags/{REPAIRING[0]}/dagRuns/{run['dag_run_id']}/taskInstances/sort_edits/xcomEntries/return_value"
        repaired += af.api("GET", path, params={"deserialize": True, "stringify": False})["value"]["repaired"]
    found = [json.loads(line) for path in (storage / CAMPAIGN / "audit").rglob("*.jsonl")
             for line in path.read_text().splitlines() if '"hand_edit_found"' in line]
    assert sorted(r["reason"] for r in found) == ["access_control_changed", "delete", "rename",
                                                  "resource_context_changed"]
    assert repaired == 4
    emu.control("POST", "admin-limit", {"limit": 500})


def test_no_secret_reaches_logs_xcoms_rendered_fields_storage_or_emulator_logs(stack) -> None:
    """After everything above ran on the scheduler: the connections' secrets (password, API key,
    API secret, token key) appear in no task log, no scheduler or API server output, no row of
    the metadata database (XComs, rendered templates, DAG runs), no manifest or report, and no
    emulator log; no log line carries a signed or token URL."""
    import re
    import sqlite3

    from emulators.runner import CLD_CREDENTIALS, PS_CREDENTIALS

    af, storage = stack["af"], stack["storage"]
    secrets = {PS_CREDENTIALS["password"], PS_CREDENTIALS["api_key"], CLD_CREDENTIALS["api_secret"],
               CLD_CREDENTIALS["auth_token_key"]}
    logs = [p for p in (af.home / "logs").rglob("*") if p.is_file()] + [af.home / "standalone.log"]
    places = [*logs, *(p for p in storage.rglob("*") if p.is_file()), stack["ps"].log_path, stack["cld"].log_path]
    assert len(logs) > 20, "the runs above wrote task logs"
    leaks = {(str(path), secret) for path in places for secret in secrets
             if secret.encode() in path.read_bytes()}
    # Every table of the metadata database but the connections a person saved on purpose (the UI test).
    db = sqlite3.connect(af.home / "airflow.db")
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert {"xcom", "rendered_task_instance_fields", "dag_run"} <= set(tables)
    for table in set(tables) - {"connection", "variable"}:
        rows = repr(db.execute(f'SELECT * FROM "{table}"').fetchall())
        leaks |= {(f"airflow.db:{table}", secret) for secret in secrets if secret in rows}
    db.close()
    assert not leaks, leaks
    signed = re.compile(rb"__cld_token__=[^\s\"'&]+|/s--[A-Za-z0-9_-]{8,32}--/")
    assert not [str(p) for p in logs if signed.search(p.read_bytes())], "a signed URL reached a log"


def test_the_demo_summary_shows_no_secret(stack, capsys, monkeypatch) -> None:
    """What ``make demo`` prints at the end, made from this stack's runs: figures and paths, no
    connection secret, not the admin password, no signed URL."""
    import re
    import time

    from emulators.runner import CLD_CREDENTIALS, PS_CREDENTIALS
    from scripts import demo

    af, storage = stack["af"], stack["storage"]
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", storage.as_uri())
    markets = sorted(p.stem for p in (storage / CAMPAIGN / "delivery").glob("*.json"))
    capsys.readouterr()
    demo.summary(af, stack["ps"], stack["cld"], storage, stack["seed"], markets, time.monotonic(),
                 {"uploads": 1, "copies": 1})
    shown = capsys.readouterr().out
    assert "masters ingested" in shown and all(m in shown for m in markets)
    secrets = {PS_CREDENTIALS["password"], PS_CREDENTIALS["api_key"], CLD_CREDENTIALS["api_secret"],
               CLD_CREDENTIALS["auth_token_key"], af.password()}
    assert af.password() and not [s for s in secrets if s in shown]
    assert not re.search(r"__cld_token__=|/s--[A-Za-z0-9_-]{8,32}--/", shown)


def test_the_api_server_takes_signed_notifications_without_a_login_and_keeps_the_page_behind_one(stack) -> None:
    """The plugin mounts the receiver before the page (its prefix lies inside the page's): on the
    real API server an unsigned POST is refused by the receiver itself (401, its JSON, no login
    asked), a signed one is recorded, and the page next to it still wants a login."""
    import hashlib
    import time

    from campaign_media.domain.notifications import receiver_url
    from emulators.runner import CLD_CREDENTIALS

    af = stack["af"]
    url = receiver_url(af.url, "cloudinary_default")
    body = json.dumps({"notification_type": "eager", "public_id": "campaigns/e2e/markets/fr/probe"}).encode()
    refused = httpx.post(url, content=body, headers={"X-Cld-Timestamp": str(int(time.time()))})
    assert refused.status_code == 401 and refused.json() == {"error": {"message": "no X-Cld-Signature header"}}
    stamp = str(int(time.time()))
    signature = hashlib.sha1(body + stamp.encode() + CLD_CREDENTIALS["api_secret"].encode()).hexdigest()
    taken = httpx.post(url, content=body, headers={"X-Cld-Timestamp": stamp, "X-Cld-Signature": signature})
    assert taken.status_code == 200 and taken.json() == {"recorded": True, "duplicate": False}
    assert list((stack["storage"] / "_notifications" / "cloudinary" / "cloudinary_default").rglob("*.json"))
    page = httpx.get(f"{af.url}/campaign-media/")
    assert page.status_code in (401, 403), page.status_code


def second_backfill_refusal(af, body: dict, attempts: int = 10) -> str:
    """The API's answer to a backfill of a DAG that has one running, past SQLite's busy moments."""
    for _ in range(attempts):
        try:
            af.api("POST", "backfills", json=body)
        except RuntimeError as refused:
            if "-> 500" in str(refused) and "Database error" in str(refused):
                time.sleep(2)
                continue
            return str(refused)
        raise AssertionError("a second backfill of the same DAG was accepted")
    raise AssertionError(f"the API answered 500 'Database error' {attempts} times")
