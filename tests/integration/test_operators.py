"""Each operator run by real Airflow (``dag.test()``) against the emulators over HTTP: the example
DAG built only from the operators, and the single-purpose Cloudinary operators. (The lifecycle
DAGs' own integration tests run the ingest, market, usage-window, report and archive operators.)"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from PIL import Image

from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import storage
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
CAMPAIGN = "spring-launch-2026"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with seeded_world(tmp_path_factory.mktemp("operators"), images=8, galleries=2) as world:
        yield world


def test_example_dag_copies_one_gallery_and_makes_one_market(world, airflow_db, dagbag) -> None:
    gallery = world["seed"]["gallery_ids"][1]
    dag = dagbag.get_dag("example_gallery_to_market")
    result = dag.test(run_conf={"gallery_id": gallery, "campaign": CAMPAIGN, "market": "fr"})
    states = {f"{ti.task_id}[{ti.map_index}]": ti.state for ti in result.get_task_instances()}
    assert result.state == "success", states
    labels = {ti.task_id: ti.rendered_map_index for ti in result.get_task_instances() if ti.map_index >= 0}
    assert labels["push_masters"] == f"{CAMPAIGN} · batch 1 (2 masters)"  # readable mapped-task labels

    listed = storage.read_json(storage.path("_manifests", f"{gallery}.json"))
    with PhotoShelterHook() as ps:
        in_gallery = {r["image_id"] for r in ps.iter_gallery_images(gallery)}
    assert {i["image_id"] for i in listed["images"]} == in_gallery

    approved_here = set(world["seed"]["approved"]) & in_gallery
    assert len(approved_here) == 2
    cld = CloudinaryHook()
    masters = {r["public_id"].rsplit("/", 1)[1] for r in cld.iter_resources(
        prefix=f"campaigns/{CAMPAIGN}/masters/", delivery_type=MASTER_DELIVERY)}
    assert masters == approved_here  # only this gallery's approved masters, not the campaign's other gallery
    state = storage.read_json(storage.market_state(CAMPAIGN, "fr"))
    assert set(state) == approved_here
    written = [r for e in state.values() for r in e["renditions"].values()]
    assert written and all(r["ps_image_id"] for r in written)
    assert world["ps"].calls().get("POST /psapi/v3/mem/image/upload") == len(written)  # each written back once
    manifest = storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))
    assert set(manifest["masters"]) == approved_here


def test_upload_then_window_operators(world, airflow_db, dagbag, tmp_path) -> None:
    source = tmp_path / "hero.jpg"
    Image.new("RGB", (64, 48), "red").save(source)
    dag = dagbag.get_dag("example_cloudinary_upload_and_window")
    result = dag.test(run_conf={"source": str(source), "public_id": "ops/hero", "closed": True})
    assert result.state == "success"
    uploaded = next(ti for ti in result.get_task_instances() if ti.task_id == "upload").xcom_pull(task_ids="upload")
    assert uploaded == {"public_id": "ops/hero", "version": uploaded["version"], "width": 64, "height": 48,
                        "bytes": source.stat().st_size, "format": "jpg"}
    cld = CloudinaryHook()
    assert cld.resource("ops/hero")["access_control"][0]["start"].startswith("2000-01-01")
    assert httpx.get(cld.delivery_url("ops/hero", format="jpg")).status_code == 401  # closed to everyone

    end = datetime(2030, 1, 1, 9, tzinfo=UTC)
    result = dag.test(run_conf={"source": str(source), "public_id": "ops/hero", "closed": False,
                                "end": "2030-01-01T10:00:00+01:00"})
    assert result.state == "success"
    assert cld.resource("ops/hero")["access_control"] == [{"access_type": "anonymous",
                                                          "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}]
    assert httpx.get(cld.delivery_url("ops/hero", format="jpg")).status_code == 200  # open until 2030
