"""What happens to a running pipeline from outside: the Admin API's hourly quota spent, an asset
deleted by hand in Cloudinary, a PhotoShelter gallery deleted in the middle of a run. Each has a
clear outcome, loses nothing already done and leaves everything else untouched."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import httpx
import pytest

from campaign_media.domain.masters import MASTER_DELIVERY, market_public_id, master_public_id, parse_ps_time
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import claims, storage
from tests.integration.test_lifecycle_dags import CAMPAIGN, PS_UPLOAD, UPLOAD, calls, masters, run, today
from tests.integration.worlds import governed_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
QUICK = {"max_retries": 2, "retry_budget_seconds": 2}  # a limit longer than 2 s is waited out deferred
DAY = timedelta(days=1)
INGEST, MARKET, WINDOWS = "campaign_media_ingest", "campaign_media_market_fr", "campaign_media_usage_windows"


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    with governed_world(dagbag, tmp_path_factory.mktemp("surprises"), galleries=2, extra=QUICK) as world:
        yield world


def no_retries(dagbag, monkeypatch, dag_id: str) -> None:
    """A task that failed once fails the run: success then proves no retry was spent."""
    for task in dagbag.get_dag(dag_id).tasks:
        monkeypatch.setattr(task, "retries", 0)


def still_listed() -> set[str]:
    """The media IDs in PhotoShelter's galleries now."""
    with PhotoShelterHook() as ps:
        return {r["image_id"] for _, g in ps.walk_galleries() for r in ps.iter_gallery_images(g["gallery_id"])}


def manifest() -> dict:
    return storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))["masters"]


def test_a_spent_admin_quota_defers_the_task_which_resumes_after_the_reset(world, dagbag, monkeypatch) -> None:
    no_retries(dagbag, monkeypatch, WINDOWS)
    cld = world["cld"]
    window = 30  # the emulator's quota window, shortened from an hour
    while time.time() % window > 8:  # start early in a window: its reset is beyond the hook's budget
        time.sleep(0.5)
    reset = (int(time.time()) // window + 1) * window
    cld.control("POST", "admin-limit", {"limit": 200, "used": 200, "window_seconds": window})  # all spent
    try:
        result, states = run(dagbag, WINDOWS)
        finished = time.time()
    finally:
        cld.control("POST", "admin-limit", {"limit": 500})
    assert result.state == "success", states
    reconcile = [ti for ti in result.get_task_instances() if ti.task_id == "reconcile"]
    assert reconcile and all(ti.try_number == 1 for ti in reconcile)  # no retry spent
    assert finished >= reset  # it waited for the reset (the hook alone gives up after 2 s)
    report = storage.read_json(storage.windows_report(CAMPAIGN))
    assert report["summary"]["copies"] == len(manifest()) and not report["failed"]


def test_a_claim_left_by_a_run_that_ended_or_vanished_is_taken_over(world, dagbag, monkeypatch) -> None:
    """A run killed before it let go of its DAG leaves its claim; Airflow says that run is no
    longer going (here: it does not exist), so the next run takes the claim over and works."""
    no_retries(dagbag, monkeypatch, MARKET)
    claims.claim(MARKET, "manual__killed_long_ago", lambda run_id: "running")
    result, states = run(dagbag, MARKET)
    assert result.state == "success", states
    assert claims.holder(MARKET) is None  # taken over, then let go on publish


def test_a_market_copy_deleted_by_hand_is_made_again_and_written_back_once(world, dagbag, monkeypatch) -> None:
    no_retries(dagbag, monkeypatch, MARKET)
    cld, ps = CloudinaryHook(), world["ps"]
    image_id = next(i for i in sorted(manifest()) if i in still_listed())  # (another test deletes a gallery)
    copy = manifest()[image_id]["public_id"]  # as published (a revoked token renames a copy)
    assert copy.startswith(market_public_id(CAMPAIGN, "fr", image_id))
    cld.destroy(copy)
    assert httpx.get(manifest()[image_id]["renditions"]["hero"]["url"]).status_code == 404
    writebacks = calls(ps, PS_UPLOAD)
    result, states = run(dagbag, MARKET)
    assert result.state == "success", states
    assert cld.resource(copy)["public_id"] == copy  # made again ...
    assert calls(ps, PS_UPLOAD) == writebacks  # ... and its renditions were not written back twice
    assert httpx.get(manifest()[image_id]["renditions"]["hero"]["url"]).status_code in (200, 401)


def test_a_master_deleted_by_hand_comes_back_on_the_next_ingest(world, dagbag, monkeypatch) -> None:
    no_retries(dagbag, monkeypatch, INGEST)
    cld = CloudinaryHook()
    # One that last changed before yesterday: outside the interval of today's run; still in one of
    # PhotoShelter's galleries (another test of this world deletes a gallery).
    listed = still_listed()
    image_id = next(i for i, res in sorted(masters(cld).items()) if i in manifest() and i in listed
                    and parse_ps_time(res["context"]["custom"]["ps_version"]) < today() - DAY)
    master = master_public_id(CAMPAIGN, image_id)
    before = cld.resource(master, delivery_type=MASTER_DELIVERY)
    cld.destroy(master, delivery_type=MASTER_DELIVERY)
    uploads = calls(world["cld"], UPLOAD)
    # Today's run covers yesterday: the master is outside it and comes back anyway.
    result, states = run(dagbag, INGEST)
    assert result.state == "success", states
    after = cld.resource(master, delivery_type=MASTER_DELIVERY)
    assert (after["bytes"], after["width"], after["height"]) == (before["bytes"], before["width"], before["height"])
    assert after["context"]["custom"]["ps_file"] == before["context"]["custom"]["ps_file"]
    assert calls(world["cld"], UPLOAD) == uploads + 1  # that master only
    writebacks = calls(world["ps"], PS_UPLOAD)
    result, states = run(dagbag, MARKET)
    assert result.state == "success" and calls(world["ps"], PS_UPLOAD) == writebacks  # same file: nothing to redo


def test_a_gallery_deleted_mid_run_fails_only_its_masters_and_is_named(world, dagbag, monkeypatch) -> None:
    from campaign_media.operators import IngestMastersOperator, IngestReportOperator, PlanIngestOperator
    from campaign_media.steps.ingest import SourceGalleriesMissing

    no_retries(dagbag, monkeypatch, INGEST)
    ps, seeded = world["ps"], world["seed"]
    gone, kept = seeded["gallery_ids"]
    members = {m["image_id"] for m in ps_members(ps, gone)}
    run_id = f"manual__gone_{int(time.time())}"
    context = {"run_id": run_id, "data_interval_start": None, "data_interval_end": None, "params": {},
               "ti": mock.MagicMock(dag_id="operators_by_hand", run_id=run_id)}  # what a task's context holds
    batches = PlanIngestOperator(task_id="plan", force=True).execute(context)  # both galleries listed
    assert sum(b["count"] for b in batches) > len(members & set(manifest()))
    assert ps.control("DELETE", f"galleries/{gone}?images=true")["deleted"] == gone  # someone deletes it now
    results = [IngestMastersOperator(task_id="push", batch=b).execute(dict(context)) for b in batches]
    report = IngestReportOperator(task_id="report", results=results).execute(context)[CAMPAIGN]
    details = storage.read_json(storage.ingest_run(CAMPAIGN, context["run_id"]) / "report.json")
    lost = {i for i, why in details["failed"].items() if "no longer in PhotoShelter" in why and "404" in why}
    assert lost and lost <= members and report["failed"] == len(details["failed"])
    assert report["uploaded"] + report["context_updated"] > 0  # the other gallery's masters went through
    # A campaign that names its galleries by ID: the gone one is the report task's error, named,
    # after everything else was done.
    context["run_id"] = context["ti"].run_id = run_id + "-by-id"
    batches = PlanIngestOperator(task_id="plan", gallery_ids=[gone, kept], force=True).execute(context)
    assert storage.read_json(storage.ingest_run(CAMPAIGN, context["run_id"]) / "plan.json")["missing_galleries"] \
        == [gone]
    results = [IngestMastersOperator(task_id="push", batch=b).execute(dict(context)) for b in batches]
    with pytest.raises(SourceGalleriesMissing, match=f"gallery {gone} no longer exists.*include/campaigns/"):
        IngestReportOperator(task_id="report", results=results).execute(context)
    assert storage.read_json(storage.ingest_run(CAMPAIGN, context["run_id"]) / "report.json")["summary"]["failed"] == 0
    # The campaign's own source is a collection: the gallery is simply no longer part of it.
    served_before = statuses()
    result, states = run(dagbag, INGEST)
    assert result.state == "success", states
    # Governance: the deleted gallery's masters have no rights any more, so their copies close.
    result, states = run(dagbag, WINDOWS)
    assert result.state == "success", states
    windows = storage.read_json(storage.windows_report(CAMPAIGN))
    shipped = set(served_before)
    assert members & shipped <= {item["image_id"] for item in windows["closed"] + windows["restricted"]}
    served_after = statuses()
    assert all(served_after[i] in (401, 404) for i in members & shipped), served_after
    assert {i: served_after[i] for i in shipped - members} == {i: served_before[i] for i in shipped - members}
    assert shipped - members  # the other gallery's copies are there, untouched


def statuses() -> dict[str, int]:
    return {i: httpx.get(e["renditions"]["hero"]["url"]).status_code for i, e in manifest().items()}


def ps_members(ps, gallery_id: str) -> list[dict]:
    from campaign_media.hooks import PhotoShelterHook

    with PhotoShelterHook() as hook:
        return list(hook.iter_gallery_images(gallery_id))
