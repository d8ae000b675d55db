"""Event-driven ingest on ``airflow standalone``: a person approves a medium in PhotoShelter and,
with no one touching Airflow, the watcher (triggerer) fires, an asset-triggered ingest run ships
exactly that master, and the market DAG it triggers publishes its copy and writes it back once.

Its own stack (the watcher every 10 s); the shared one runs without a watcher.
"""

from __future__ import annotations

import time

import pytest

from campaign_media.domain.watch import source_key
from campaign_media.runtime import storage
from tests.e2e.conftest import running_stack
from tests.e2e.support import CAMPAIGN, INGEST, published_masters, quiet, runs, wait_for
from tests.system import require_system_packages

pytestmark = [pytest.mark.e2e]
FR = "campaign_media_market_fr"
INTERVAL = 10


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    require_system_packages()
    env = {"AIRFLOW__CAMPAIGN_MEDIA__WATCH_INTERVAL_SECONDS": str(INTERVAL)}
    with running_stack(tmp_path_factory.mktemp("events"), images=12, env=env) as stack, \
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


def asset_runs(af, dag_id: str) -> list[dict]:
    return [r for r in runs(af, dag_id) if r["run_type"] == "asset_triggered"]


def approve(stack, media_id: str) -> None:
    stack["ps"].control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": "Approved"})


def test_an_approval_goes_live_with_nobody_triggering_anything(events) -> None:
    af, pending = events["af"], events["seed"]["pending"][0]
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
    for media_id in burst:
        approve(events, media_id)
    wait_for(lambda: set(burst) <= set(published_masters(events)), timeout=INTERVAL + 180, every=2)
    quiet(af, [INGEST], settle=2 * INTERVAL)
    new = [r for r in asset_runs(af, INGEST) if r["dag_run_id"] not in before]
    assert 1 <= len(new) <= 2, new  # approvals within one poll interval are one event
    named = sorted(m for r in new for m in storage.read_json(
        storage.ingest_run(CAMPAIGN, r["dag_run_id"]) / "plan.json")["named"])
    assert named == sorted(burst)  # each named once, nothing else
