"""The PhotoShelter watcher (the event trigger) against the PhotoShelter emulator, over HTTP.

Each ``polls(n)`` runs a *new* trigger instance for ``n`` polls, as the triggerer does after a
restart: what it knows between polls is only the watermark in storage.
"""

from __future__ import annotations

import asyncio

import pytest

from campaign_media.config.loader import current_campaign
from campaign_media.domain.watch import source_key
from campaign_media.hooks.photoshelter import LARGEST_PAGE
from campaign_media.runtime import storage
from campaign_media.triggers import PhotoShelterChangeTrigger
from emulators.photoshelter.seed import seed
from emulators.runner import start_photoshelter
from tests.conftest import ps_connection

pytestmark = pytest.mark.integration
CAMPAIGN = "spring-launch-2026"
LISTING = "GET /psapi/v3/mem/gallery/{gallery_id}/media"  # the campaign reads images and videos


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("watch")
    seeded = seed(base / "ps", images=24, galleries=2)
    ps = start_photoshelter(base / "ps")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (base / "storage").as_uri())
        key = source_key("photoshelter_default", current_campaign(CAMPAIGN)[0].source)
        # media not approved yet (pending or rejected), to approve at chosen moments
        world = {"ps": ps, "seed": seeded, "key": key, "pending": [*seeded["pending"], *seeded["rejected"]]}
        world["first poll"] = (polls(world), watched(world)["last_poll"])  # the baseline, before any test
        yield world
    ps.stop()


def polls(world, n: int = 1) -> list[dict]:
    trigger = PhotoShelterChangeTrigger(source=world["key"], campaigns=[CAMPAIGN], interval=10, max_polls=n)

    async def collect() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def approve(world, media_id: str, value: str = "Approved") -> None:
    world["ps"].control("POST", f"images/{media_id}/custom-metadata", {"Approval Status": value})


def watched(world) -> dict:
    return storage.read_json(storage.watch_file(world["key"]))


def test_the_watermark_carries_across_a_restart_nothing_refired_nothing_missed(world) -> None:
    events, record = world["first poll"]
    assert events == [] and record["result"] == "baseline"  # the first poll fires nothing
    polls(world)
    first, second = world["pending"][:2]
    approve(world, first)
    [event] = polls(world)  # a restarted trigger compares with what the last one saw
    assert event["campaigns"] == {CAMPAIGN: [first]} and event["media"] == 1 and event["source"] == world["key"]
    approve(world, second)  # while no trigger runs
    assert [e["campaigns"] for e in polls(world, 2)] == [{CAMPAIGN: [second]}]  # once, not on every poll


def test_a_failed_poll_fires_nothing_and_the_change_is_named_once_it_recovers(world) -> None:
    polls(world)
    before = watched(world)["media"]
    third = world["pending"][2]
    world["ps"].set_faults(p_5xx=1.0)
    try:
        approve(world, third)  # the control routes are never faulted
        assert polls(world) == []
        assert watched(world)["last_poll"]["result"] == "failed" and watched(world)["media"] == before
    finally:
        world["ps"].reset()
    [event] = polls(world)
    assert event["campaigns"] == {CAMPAIGN: [third]}


def test_approved_and_unapproved_between_two_polls_ships_nothing(world) -> None:
    polls(world)
    medium = world["pending"][3]
    approve(world, medium)
    approve(world, medium, "Pending")
    assert polls(world) == []
    assert watched(world)["last_poll"]["changed"] >= 1  # it was seen to change: and judged not approved


def test_one_poll_costs_one_listing_call_per_page_of_each_gallery_and_nothing_else(world) -> None:
    """A new trigger's poll of the seeded source (one collection of two galleries, 28 media: one
    page each): its logins, the collection walk from the root, one listing page per gallery, and
    nothing per medium. The expected calls come from the seed's shape, not the product's count."""
    polls(world)  # baseline current
    world["ps"].control("POST", "calls/reset")
    polls(world)
    galleries = len(world["seed"]["gallery_ids"])
    assert watched(world)["last_poll"]["seen"] <= LARGEST_PAGE * galleries  # one page per gallery
    assert world["ps"].calls() == {
        "POST /psapi/v3/mem/authenticate": 1, "POST /psapi/v3/mem/organization/{org_id}/authenticate": 1,
        "GET /psapi/v3/mem/collection/{collection_id}/children": 2,  # the root, then the campaign's collection
        LISTING: galleries}
    assert watched(world)["last_poll"]["calls"] == 2 + 2 + galleries  # what the campaign page shows


def test_an_event_run_plans_exactly_the_named_media_still_approved(world, tmp_path, monkeypatch) -> None:
    from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
    from campaign_media.steps import ingest
    from emulators.runner import start_cloudinary
    from tests.conftest import cld_connection

    cld = start_cloudinary(tmp_path / "cld")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
        campaign = current_campaign(CAMPAIGN)[0]
        named_now, unapproved = world["pending"][4:6]  # named by an event; the second un-approved since
        approve(world, named_now)
        other = world["seed"]["approved"][0]  # approved long ago, never ingested here: not named, not planned
        named = {CAMPAIGN: {named_now, unapproved}}
        batches = ingest.plan(PhotoShelterHook(), CloudinaryHook(), [campaign], "event-run", None, None,
                              named=named)
        planned = [item["master"]["image_id"] for b in batches for item in storage.read_json(b["path"])]
        assert planned == [named_now] and other not in planned
        plan = storage.read_json(storage.ingest_run(CAMPAIGN, "event-run") / "plan.json")
        assert plan["named"] == sorted(named[CAMPAIGN]) and plan["counts"]["not_named"] == \
            plan["counts"]["listed"] - len(named[CAMPAIGN])
        assert ingest.plan(PhotoShelterHook(), CloudinaryHook(), [campaign], "other", None, None,
                           named={"another-campaign": {named_now}}) == []  # not this campaign's event
    finally:
        cld.stop()


def test_events_waiting_are_read_from_airflow_s_asset_queue(airflow_db, dagbag) -> None:
    """The campaign page's "events waiting": asset events of the watcher's asset queued for the
    ingest DAG (while a run holds it, the next waits) and asset-triggered ingest runs not done."""
    from datetime import UTC, datetime, timedelta

    from airflow.dag_processing.dagbag import sync_bag_to_db
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    from campaign_media.domain.watch import asset_uri
    from campaign_media.ui.app import events_waiting

    key = "photoshelter_default.galleries-QUEUE.image"
    assert events_waiting(key)["queued"] == 0 and events_waiting(key)["since"] is None  # no such asset yet
    with create_session() as session:  # the ingest DAG in the metadata DB, as the DAG processor puts it
        session.merge(DagBundleModel(name="dags-folder"))
    sync_bag_to_db(dagbag, "dags-folder", None)
    now = datetime.now(UTC)
    runs_before = events_waiting(key)["runs"]  # other modules' runs share this metadata DB
    with create_session() as session:
        asset = AssetModel(name=f"campaign_media.photoshelter.{key}", uri=asset_uri(key), group="asset")
        session.add(asset)
        session.flush()
        session.add_all([AssetEvent(asset_id=asset.id, timestamp=now - timedelta(minutes=5)),  # taken by a run
                         AssetEvent(asset_id=asset.id, timestamp=now - timedelta(seconds=50)),
                         AssetEvent(asset_id=asset.id, timestamp=now - timedelta(seconds=10))])
        session.add(AssetDagRunQueue(asset_id=asset.id, target_dag_id="campaign_media_ingest",
                                     created_at=now - timedelta(seconds=50)))
        # The run that took the first event, still running; one finished; one started by hand.
        session.add_all([DagRun(dag_id="campaign_media_ingest", run_id=f"queue-test-{kind}-{state}", run_type=kind,
                                state=state, run_after=now - timedelta(minutes=5), logical_date=None)
                         for kind, state in ((DagRunType.ASSET_TRIGGERED, DagRunState.RUNNING),
                                             (DagRunType.ASSET_TRIGGERED, DagRunState.SUCCESS),
                                             (DagRunType.MANUAL, DagRunState.RUNNING))])
    waiting = events_waiting(key)
    assert waiting["queued"] == 2 and waiting["runs"] == runs_before + 1
    assert abs((waiting["since"] - (now - timedelta(seconds=50))).total_seconds()) < 1


def test_a_source_s_next_poll_waits_as_long_as_its_call_budget_says(world) -> None:
    trigger = PhotoShelterChangeTrigger(source=world["key"], campaigns=[CAMPAIGN], interval=10, max_polls=1,
                                        calls_per_hour=60)

    async def one() -> None:
        async for _ in trigger.run():
            pass

    asyncio.run(one())
    last = watched(world)["last_poll"]
    calls = last["calls"]
    assert calls >= 2  # two galleries of a named collection: their listings and the walk
    assert trigger.pause(0) == last["interval"] == 3600 * calls / 60  # 60 calls an hour: a minute per call
    assert trigger.pause(1) == min(900.0, 2 * 3600 * calls / 60)  # a failure doubles what the budget allows
