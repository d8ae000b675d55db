"""Event-driven ingest on ``airflow standalone``: a person approves a medium in PhotoShelter and,
with no one touching Airflow, the watcher (triggerer) fires, an asset-triggered ingest run ships
exactly that master, and the market DAG it triggers publishes its copy and writes it back once.

Its own stack (the watcher every 10 s); the shared one runs without a watcher.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator

import pytest

from campaign_media.domain.watch import source_key
from campaign_media.runtime import storage
from tests.e2e.conftest import running_stack
from tests.e2e.support import CAMPAIGN, INGEST, published_masters, quiet, runs, wait_for
from tests.system import require_system_packages

# The steps of one story, in order (a step run alone runs the steps before it first: tests/conftest.py):
# the bursts leave the French market hundreds of copies to make, which the first step would wait behind.
pytestmark = [pytest.mark.e2e, pytest.mark.story]
FR = "campaign_media_market_fr"
INTERVAL = 10  # the watcher's poll interval here (15 s by default, within a call budget)
OVERLAP, BURST = 3, 200  # pending masters the last two tests approve
UPLOAD = "POST /v1_1/{cloud}/{rt}/upload"


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    require_system_packages()
    # No call budget: every poll INTERVAL apart (the budget's pacing is tests/integration/test_watcher.py's).
    env = {"AIRFLOW__CAMPAIGN_MEDIA__WATCH_POLL_SECONDS": str(INTERVAL),
           "AIRFLOW__CAMPAIGN_MEDIA__WATCH_CALLS_PER_HOUR": "0"}
    with running_stack(tmp_path_factory.mktemp("events"), images=12, waiting=OVERLAP + BURST, env=env) as stack, \
            pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", stack["storage"].as_uri())
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(stack["include"]))
        af = stack["af"]
        from campaign_media.config.loader import current_campaign

        key = source_key("photoshelter_default", current_campaign(CAMPAIGN)[0].source)
        # Airflow runs an asset's watchers only while a DAG scheduled on it is unpaused: unpause,
        # wait for the watcher's baseline, and let the daily net's first run settle.
        for dag_id in (INGEST, FR):
            af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
        wait_for(lambda: (storage.read_json(storage.watch_file(key)) or {}).get("last_poll"), timeout=180)
        quiet(af, [INGEST, FR], settle=2 * INTERVAL)
        yield {**stack, "key": key}


def polls_within(seconds: float) -> int:
    """The most polls that can see part of approvals spread over ``seconds``: the one under way
    when they start, and one per interval after (each fires at most one event)."""
    return 2 + math.floor(seconds / INTERVAL)


@pytest.fixture
def france(events) -> Iterator[Callable[[bool], None]]:
    """Pause or unpause the French market DAG for one test (its runs upload copies: a test that
    counts ingest's uploads pauses it); it is unpaused again afterwards, as the module starts."""
    def set_paused(paused: bool) -> None:
        events["af"].api("PATCH", f"dags/{FR}", json={"is_paused": paused})
        quiet(events["af"], [INGEST, FR], settle=INTERVAL, timeout=900)  # a market run under way finishes first

    yield set_paused
    events["af"].api("PATCH", f"dags/{FR}", json={"is_paused": False})


def asset_runs(af, dag_id: str) -> list[dict]:
    return [r for r in runs(af, dag_id) if r["run_type"] == "asset_triggered"]


def approve(stack, media_id: str) -> None:
    stack["ps"].control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": "Approved"})


def test_an_approval_goes_live_with_nobody_triggering_anything(events) -> None:
    af, pending = events["af"], events["seed"]["pending"][0]
    quiet(af, [INGEST, FR], settle=INTERVAL, timeout=600)  # no backlog holding the pools (a burst's copies)
    assert pending not in published_masters(events)
    before = {r["dag_run_id"] for r in asset_runs(af, INGEST)}
    approved = time.monotonic()
    approve(events, pending)
    wait_for(lambda: pending in published_masters(events), timeout=INTERVAL + 120, every=1)
    to_master = time.monotonic() - approved
    manifest = storage.path(CAMPAIGN, "delivery", "fr.json")
    wait_for(lambda: pending in (storage.read_json(manifest) or {}).get("masters", {}), timeout=300, every=2)
    to_live = time.monotonic() - approved
    print(f"approval → master in Cloudinary {to_master:.0f} s; → in the fr manifest {to_live:.0f} s "
          f"(watcher every {INTERVAL} s)")
    new = [r for r in asset_runs(af, INGEST) if r["dag_run_id"] not in before]
    assert len(new) == 1, new  # one event, one run
    plan = storage.read_json(storage.ingest_run(CAMPAIGN, new[0]["dag_run_id"]) / "plan.json")
    assert plan["named"] == [pending] and plan["to_push"] == 1
    quiet(af, [INGEST, FR], settle=INTERVAL)
    entry = storage.read_json(manifest)["masters"][pending]
    state = storage.read_json(storage.market_state(CAMPAIGN, "fr"))[pending]
    assert entry["renditions"] and all(r["ps_image_id"] for r in state["renditions"].values())  # written back
    written = [name for name in storage.read_json(storage.writeback_record(CAMPAIGN, "fr", pending))]
    assert sorted(written) == sorted(state["renditions"])  # once each


def test_a_burst_of_approvals_makes_one_or_two_runs_not_one_per_approval(events) -> None:
    af = events["af"]
    burst = [*events["seed"]["pending"][1:], *events["seed"]["rejected"]]
    assert len(burst) >= 3
    quiet(af, [INGEST], settle=INTERVAL)
    before = {r["dag_run_id"] for r in asset_runs(af, INGEST)}
    started = time.monotonic()
    for media_id in burst:
        approve(events, media_id)
    took = time.monotonic() - started
    wait_for(lambda: set(burst) <= set(published_masters(events)), timeout=INTERVAL + 180, every=2)
    quiet(af, [INGEST], settle=2 * INTERVAL)
    new = [r for r in asset_runs(af, INGEST) if r["dag_run_id"] not in before]
    # at most one event per poll that saw part of the burst, however the polls fell
    assert 1 <= len(new) <= polls_within(took), (new, took)
    named = sorted(m for r in new for m in storage.read_json(
        storage.ingest_run(CAMPAIGN, r["dag_run_id"]) / "plan.json")["named"])
    assert named == sorted(burst)  # each named once, nothing else


def uploaded_by(runs_: list[dict]) -> list[str]:
    """Media IDs the ingest reports of these runs name as uploaded (one entry per upload)."""
    out = []
    for run in runs_:
        report = storage.read_json(storage.ingest_run(CAMPAIGN, run["dag_run_id"]) / "report.json", {}) or {}
        out += [u["image_id"] for u in report.get("uploaded", [])]
    return out


def test_an_event_run_overlapping_a_daily_run_and_a_backfill_uploads_nothing_twice(events, france) -> None:
    """While the run the watcher started is going, a manual run and a reprocessing backfill of the
    last three days are started, both with ``force`` (no interval filter: they plan every approved
    master not yet in Cloudinary, so they would ship the new ones too). The claim keeps them one
    at a time: each approved master is uploaded exactly once, by whichever run got there first."""
    af, cld = events["af"], events["cld"]
    france(paused=True)  # ingest's uploads only
    fresh = events["seed"]["waiting"][:OVERLAP]
    before = {r["dag_run_id"] for r in runs(af, INGEST)}
    uploads = cld.calls().get(UPLOAD, 0)
    for media_id in fresh:
        approve(events, media_id)
    wait_for(lambda: [r for r in asset_runs(af, INGEST) if r["dag_run_id"] not in before], timeout=INTERVAL + 120,
             every=0.5)
    event_run = next(r for r in asset_runs(af, INGEST) if r["dag_run_id"] not in before)
    assert event_run["state"] in ("queued", "running"), event_run
    daily = af.trigger(INGEST, {"force": True})
    today = time.strftime("%Y-%m-%dT00:00:00+00:00", time.gmtime())
    three_days_ago = time.strftime("%Y-%m-%dT00:00:00+00:00", time.gmtime(time.time() - 3 * 86400))
    af.create_backfill({"dag_id": INGEST, "from_date": three_days_ago, "to_date": today,
                        "reprocess_behavior": "completed", "max_active_runs": 1, "run_backwards": False,
                        "dag_run_conf": {"force": True}})
    quiet(af, [INGEST], settle=2 * INTERVAL, timeout=600)
    new = [r for r in runs(af, INGEST) if r["dag_run_id"] not in before]
    kinds = {r["run_type"] for r in new}
    assert {"asset_triggered", "manual", "backfill"} <= kinds, kinds
    assert daily["dag_run_id"] in {r["dag_run_id"] for r in new}
    assert all(r["state"] == "success" for r in new), [(r["dag_run_id"], r["state"]) for r in new]
    assert set(fresh) <= set(published_masters(events))
    # The forced runs also ship approved masters no run had taken yet (this stack ran no backfill
    # before): nothing is uploaded twice, by these runs or by any earlier one.
    uploaded = uploaded_by(new)
    earlier = uploaded_by([r for r in runs(af, INGEST) if r["dag_run_id"] in before])
    assert len(uploaded) == len(set(uploaded)) and not set(uploaded) & set(earlier), (uploaded, earlier)
    assert all(uploaded.count(m) == 1 for m in fresh)  # each once, by whichever run held the claim
    assert cld.calls().get(UPLOAD, 0) - uploads == len(uploaded)


def test_a_burst_of_200_approvals_within_a_minute_makes_a_few_runs_not_200(events, france) -> None:
    af, cld = events["af"], events["cld"]
    france(paused=True)  # ingest's uploads only
    burst = events["seed"]["waiting"][OVERLAP:OVERLAP + BURST]
    before = {r["dag_run_id"] for r in runs(af, INGEST)}
    uploads = cld.calls().get(UPLOAD, 0)
    started = time.monotonic()
    for media_id in burst:
        approve(events, media_id)
    took = time.monotonic() - started
    assert took < 60  # the burst is within a minute
    wait_for(lambda: set(burst) <= set(published_masters(events)), timeout=INTERVAL + 400, every=3)
    quiet(af, [INGEST], settle=2 * INTERVAL, timeout=600)
    new = [r for r in runs(af, INGEST) if r["dag_run_id"] not in before]
    print(f"{BURST} approvals in {time.monotonic() - started:.0f} s of which the approving took "
          f"{len(burst)} calls: {len(new)} ingest runs ({[r['run_type'] for r in new]})")
    # The approvals start asset-triggered runs only; the daily run is the clock's (a test crossing
    # midnight UTC meets it: seen in CI), and whatever it ships still counts once below.
    by_events = [r for r in new if r["run_type"] == "asset_triggered"]
    assert {r["run_type"] for r in new} <= {"asset_triggered", "scheduled"}, new
    assert 1 <= len(by_events) <= polls_within(took), (by_events, took)
    named = sorted(m for r in by_events for m in storage.read_json(
        storage.ingest_run(CAMPAIGN, r["dag_run_id"]) / "plan.json")["named"])
    assert named == sorted(burst)
    assert sorted(uploaded_by(new)) == sorted(burst) and cld.calls().get(UPLOAD, 0) - uploads == BURST
