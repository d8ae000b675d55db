"""Graceful degradation: one service down never opens anything, and nothing is recorded as done
that the other service did not confirm."""

from __future__ import annotations

import httpx
import pytest

from campaign_media.hooks import CloudinaryHook
from campaign_media.runtime import storage
from tests.integration.test_lifecycle_dags import CAMPAIGN, PS_UPLOAD, calls, run
from tests.integration.worlds import governed_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
DOWN = {"fail_after": 0}  # every API call answers 503 from now on
QUICK = {"max_retries": 2, "retry_budget_seconds": 2}


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    with governed_world(dagbag, tmp_path_factory.mktemp("degradation"), galleries=1, extra=QUICK) as world:
        yield world


def rules() -> dict[str, list]:
    cld = CloudinaryHook()
    return {r["public_id"]: cld.resource(r["public_id"])["access_control"]
            for r in cld.iter_resources(prefix=f"campaigns/{CAMPAIGN}/markets/fr/")}


def statuses() -> dict[str, int]:
    manifest = storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))["masters"]
    return {image_id: httpx.get(entry["renditions"]["hero"]["url"]).status_code for image_id, entry in manifest.items()}


def test_photoshelter_down_keeps_the_last_rules_and_the_run_says_so(world, dagbag, monkeypatch) -> None:
    monkeypatch.setattr(dagbag.get_dag("campaign_media_usage_windows").get_task("reconcile"), "retries", 0)
    before_rules, before_status = rules(), statuses()
    assert before_rules and set(before_status.values()) <= {200, 401}
    before_report = storage.read_json(storage.windows_report(CAMPAIGN))
    world["ps"].set_faults(**DOWN)
    try:
        result, states = run(dagbag, "campaign_media_usage_windows")
    finally:
        world["ps"].reset()
    assert result.state == "failed" and states["reconcile[0]"] == "failed", states  # the outage is reported
    assert rules() == before_rules  # nothing opened, nothing changed: Cloudinary keeps the last rules
    assert statuses() == before_status  # delivery carries on under them
    assert storage.read_json(storage.windows_report(CAMPAIGN)) == before_report  # no report of a run that failed


def test_cloudinary_down_marks_nothing_published(world, dagbag, monkeypatch) -> None:
    for task in dagbag.get_dag("campaign_media_market_fr").tasks:
        monkeypatch.setattr(task, "retries", 0)
    state = storage.market_state(CAMPAIGN, "fr")
    state.unlink()  # the market state is lost: every master needs its copy again (no force: params persist)
    manifest_before = storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))
    writebacks = calls(world["ps"], PS_UPLOAD)
    world["cld"].set_faults(fail_after=0, path_prefix="/v1_1/democloud/image/")  # Admin API up, Upload API down
    try:
        result, states = run(dagbag, "campaign_media_market_fr")
    finally:
        world["cld"].reset()
    # The run fails (a batch failed), and what the batches finished (nothing) is still published.
    assert result.state == "failed" and states["render[0]"] == "failed", states
    assert states["publish[-1]"] == "success" and states["done[-1]"] == "upstream_failed", states
    assert not storage.read_json(state, {})  # nothing recorded as published
    assert manifest_before["masters"] and not storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))["masters"]
    assert calls(world["ps"], PS_UPLOAD) == writebacks  # nothing written back without its rendition
