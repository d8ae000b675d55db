"""Ingest and a market DAG, run by real Airflow (``dag.test()``) against fresh emulators over HTTP."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image

from campaign_media.dags.support import START
from campaign_media.domain.embedded import read
from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import PS_API, cld_connection, ps_connection
from tests.s3 import on_s3, storage_url

# The steps of one story, in order: a step run alone runs the steps before it first (tests/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.story]
CAMPAIGN = "spring-launch-2026"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Fresh emulators (a campaign of 12 masters) and storage, only for this module."""
    base = tmp_path_factory.mktemp("lifecycle")
    seeded = seed(base / "ps", images=12, galleries=2)
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
        mp.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", storage_url(base / "storage"))  # on S3 too (make test)
        yield {"ps": ps, "cld": cld, "seed": seeded, "storage": base / "storage"}
    ps.stop()
    cld.stop()


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


PARAM_DEFAULTS = {"force": False, "dry_run": False, "campaign": "all", "as_of": ""}


def run(dagbag, dag_id: str, logical_date: datetime | None = None, **conf):
    """``dag.test()`` with these params, the others at their defaults: in one session dag.test
    carries a DAG's params over from earlier runs, so every run names them all."""
    dag = dagbag.get_dag(dag_id)
    conf = {**{name: value for name, value in PARAM_DEFAULTS.items() if name in dag.params}, **conf}
    result = dag.test(run_conf=conf or None, **({"logical_date": logical_date} if logical_date else {}))
    states = {f"{ti.task_id}[{ti.map_index}]": ti.state for ti in result.get_task_instances()}
    return result, states


def returned(result, task_id: str) -> list:
    """What a task of this run returned (each map index's value): what it says it wrote, never a
    path guessed from the clock after the run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [XComModel.deserialize_value(x) for x in session.scalars(XComModel.get_many(
            run_id=result.run_id, dag_ids=result.dag_id, task_ids=task_id, key="return_value"))]


def report_folder(result):
    """The campaign's delivery report folder this metrics run wrote (its ``report`` task's return)."""
    from airflow.sdk import ObjectStoragePath

    [html] = [r["html"] for r in returned(result, "report") if r and r["campaign"] == CAMPAIGN]
    return ObjectStoragePath(html).parent


def calls(proc, route: str) -> int:
    return proc.calls().get(route, 0)


UPLOAD = "POST /v1_1/{cloud}/{rt}/upload"
EXPLICIT = "POST /v1_1/{cloud}/{rt}/explicit"
PS_UPLOAD = "POST /psapi/v3/mem/image/upload"


def masters(cld: CloudinaryHook) -> dict[str, dict]:
    """The campaign's masters in Cloudinary by PhotoShelter image ID."""
    return {r["public_id"].rsplit("/", 1)[1]: r for r in cld.iter_resources(
        prefix=f"campaigns/{CAMPAIGN}/masters/", delivery_type=MASTER_DELIVERY)}


def test_ingest_pushes_exactly_the_approved_masters(world, airflow_db, dagbag) -> None:
    seeded = world["seed"]
    result, states = run(dagbag, "campaign_media_ingest", force=True)
    assert result.state == "success", states
    cloudinary = CloudinaryHook()
    published = masters(cloudinary)
    broken = seeded["broken"]
    shippable = set(seeded["approved"]) | {broken["unreadable_licence"]}
    assert set(published) == shippable  # pending, rejected and broken media never ship
    from campaign_media.runtime import storage

    assert storage.root().protocol == ("s3" if on_s3() else "file")  # make test runs this module on S3 too
    if PS_API:  # make test runs this module on a v4 connection too: the originals came through v4's route
        assert calls(world["ps"], "GET /psapi/v4.0/media/{media_id}/download") >= len(published)
        assert calls(world["ps"], "GET /psapi/v3/mem/image/{image_id}/download") == 0
    report = storage.read_json(storage.path(CAMPAIGN, "ingest", result.run_id, "report.json"))
    # Broken media are reported with their reason, never fatal to the others.
    assert set(report["failed"]) == {broken["missing_original"]}
    assert "404" in report["failed"][broken["missing_original"]]
    assert report["skipped"][broken["not_an_image"]].startswith("unreadable")
    assert report["skipped"][broken["zero_byte"]].startswith("unreadable")
    assert sum(r.startswith("not approved") for r in report["skipped"].values()) == \
        len(seeded["pending"]) + len(seeded["rejected"])
    master = published[seeded["approved"][0]]
    context = master["context"]["custom"]
    assert context["ps_image_id"] == seeded["approved"][0] and context["campaign"] == CAMPAIGN
    assert context["approval"] == "Approved" and context["owner"] and context["licence_expiry"]
    assert {"campaign:spring-launch-2026", "market:fr", "market:jp", "market:sa"} <= set(master["tags"])
    assert published[broken["unreadable_licence"]]["context"]["custom"]["licence_expiry"] == "unreadable"
    # Every master is PhotoShelter's original, byte for byte in size and pixel for pixel in
    # dimensions — the strict emulator's ImageLink serves a 500 px rendering, which is what
    # fetching from auth_link (the earlier design) stored.
    ps_hook = PhotoShelterHook()
    for image_id, stored in published.items():
        original = ps_hook.get_image(image_id)
        assert (stored["width"], stored["height"], stored["bytes"]) == (
            int(original["width"]), int(original["height"]), int(original["file_size"])), image_id
        assert max(stored["width"], stored["height"]) > 500
        assert stored["type"] == "authenticated"  # never deliverable without a signed URL
    unsigned = CloudinaryHook().delivery_url(master["public_id"], format=master["format"])
    assert httpx.get(unsigned).status_code in (401, 404)

    # Runs over the recent past upload nothing again: same versions in Cloudinary. Only the
    # master whose original is missing is tried again (it may have been fixed) and reported.
    versions = {pid: r["version"] for pid, r in published.items()}
    for day in (today(), today() - timedelta(days=1), today() - timedelta(days=2)):
        result, states = run(dagbag, "campaign_media_ingest", logical_date=day, force=False)
        assert result.state == "success", states
        report = storage.read_json(storage.path(CAMPAIGN, "ingest", result.run_id, "report.json"))
        assert report["uploaded"] == [] and set(report["failed"]) <= {broken["missing_original"]}
    assert {pid: r["version"] for pid, r in masters(cloudinary).items()} == versions
    assert states["announce[-1]"] == "skipped"  # no asset event: the markets are not re-triggered


def test_market_dag_renders_writes_back_and_is_idempotent(world, airflow_db, dagbag) -> None:
    ps, cld, seeded = world["ps"], world["cld"], world["seed"]
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    from campaign_media.runtime import storage

    manifest = storage.read_json(storage.path(CAMPAIGN, "delivery", "fr.json"))
    masters = manifest["masters"]
    assert len(masters) == len(seeded["approved"]) + 1
    chosen = seeded["approved"][1]  # worldwide rights, licence valid: public in France now
    entry = masters[chosen]
    expected = {"hero": ((1600, 900), "JPEG"), "square": ((1080, 1080), "WEBP"), "product": ((800, 800), "PNG")}
    for name, (size, fmt) in expected.items():
        rendition = entry["renditions"][name]
        response = httpx.get(rendition["url"])
        assert response.status_code == 200, (name, response.status_code, response.headers.get("x-cld-error"))
        image = Image.open(io.BytesIO(response.content))
        assert (image.size, image.format) == (size, fmt), name
        assert (rendition["width"], rendition["height"]) == size
    assert set(entry["channels"]) == {"web", "mobile", "ecommerce", "social"}
    assert "f_auto" in entry["channels"]["web"]["desktop"] and "q_auto" in entry["channels"]["web"]["desktop"]
    assert entry["srcset"].count("w,") == 3  # four breakpoints
    assert httpx.get(entry["channels"]["mobile"]["app"], headers={"accept": "image/webp"}).status_code == 200

    # Write-back: one reference asset per rendition, linked to its master inside the file.
    hook = PhotoShelterHook()
    gallery = hook.find_galleries("Spring Launch 2026 — renditions fr")[0]
    written = list(hook.iter_gallery_images(gallery["gallery_id"]))
    assert len(written) == 3 * len(masters)
    for name, rendition in entry["renditions"].items():
        stored = hook.download_original(rendition["ps_image_id"], world["storage"].parent / f"check-{name}")
        embedded = read(stored.path)  # what PhotoShelter keeps is the file with its link inside
        assert f"master:{chosen}" in embedded["xmp"]["keywords"] and "market:fr" in embedded["xmp"]["keywords"]
        assert f"rendition:{name}" in embedded["xmp"]["keywords"]
        assert rendition["url"] in embedded["xmp"]["description"]
        assert embedded["xmp"]["job_id"] == chosen and embedded["xmp"]["instructions"] == rendition["transformation"]
        with Image.open(stored.path) as image:  # the published pixels, untouched by the embedding
            assert image.size == (rendition["width"], rendition["height"])
        if name == "hero":  # JPEG: the IPTC (IIM) copy too, which PhotoShelter indexes on upload
            assert embedded["iptc"]["job_id"] == chosen
            indexed = hook.get_image(rendition["ps_image_id"], extend={"Iptc": {}})["Iptc"]
            assert indexed["job_id"] == chosen and f"master:{chosen}" in indexed["keyword"]
        sidecar = storage.read_json(storage.path(CAMPAIGN, "markets", "fr", "writebacks", f"{chosen}.json"))[name]
        assert sidecar["Master Image ID"] == chosen and sidecar["PhotoShelter Image ID"] == rendition["ps_image_id"]
    # Manifest URLs are what any ordinary client accepts (overlay text percent-encoded).
    import urllib.request

    with urllib.request.urlopen(entry["renditions"]["hero"]["url"]) as response:
        assert response.status == 200

    # Again: nothing to do, no API writes.
    uploads, ps_uploads = calls(cld, UPLOAD), calls(ps, PS_UPLOAD)
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    assert (calls(cld, UPLOAD), calls(ps, PS_UPLOAD)) == (uploads, ps_uploads)

    # The usage-window run after it: the strict emulator's listings carry no rules, so it compares
    # with those each copy was made with; right ones cost no call (it used to re-set every copy).
    explicit = calls(cld, EXPLICIT)
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    report = storage.read_json(storage.path(CAMPAIGN, "windows", "latest.json"))
    assert report["summary"]["copies"] >= len(masters) and not report["repaired"], report["repaired"][:3]
    changed = len(report["opened"]) + len(report["closed"])
    assert calls(cld, EXPLICIT) - explicit == changed  # a call for a copy whose rules change, none for the rest


def test_a_rights_edit_updates_the_context_and_nothing_else(world, airflow_db, dagbag) -> None:
    """A licence edit moves PhotoShelter's updated_at but not the file: no re-upload, no new
    market copy, no second set of write-backs."""
    ps, cld, seeded = world["ps"], world["cld"], world["seed"]
    edited = seeded["approved"][2]
    new_expiry = (datetime.now(UTC) + timedelta(days=300)).strftime("%Y-%m-%d %H:%M:%S GMT")
    ps.control("POST", f"images/{edited}/license", {"license_etime": new_expiry})
    uploads, explicit, ps_uploads = calls(cld, UPLOAD), calls(cld, EXPLICIT), calls(ps, PS_UPLOAD)
    result, states = run(dagbag, "campaign_media_ingest", logical_date=today() + timedelta(days=1))
    assert result.state == "success" and states["announce[-1]"] == "skipped", states
    from campaign_media.runtime import storage

    report = storage.read_json(storage.path(CAMPAIGN, "ingest", result.run_id, "report.json"))
    assert report["uploaded"] == [] and [u["image_id"] for u in report["context_updated"]] == [edited]
    assert (calls(cld, UPLOAD), calls(cld, EXPLICIT)) == (uploads, explicit + 1)
    context = masters(CloudinaryHook())[edited]["context"]["custom"]
    assert context["licence_expiry"].startswith(new_expiry[:10])
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    assert (calls(cld, UPLOAD), calls(ps, PS_UPLOAD)) == (uploads, ps_uploads)


def test_a_new_original_is_reingested_and_rerendered(world, airflow_db, dagbag) -> None:
    ps, cld, seeded = world["ps"], world["cld"], world["seed"]
    changed = seeded["approved"][1]
    buffer = io.BytesIO()
    Image.new("RGB", (2400, 1600), (12, 120, 200)).save(buffer, "JPEG", quality=90)
    response = httpx.post(f"{ps.base_url}/_emulator/images/{changed}/original", content=buffer.getvalue())
    response.raise_for_status()
    uploads, ps_uploads = calls(cld, UPLOAD), calls(ps, PS_UPLOAD)
    # A manual run covers the last complete interval before its date: [today, tomorrow) holds now.
    result, states = run(dagbag, "campaign_media_ingest", logical_date=today() + timedelta(days=1))
    assert result.state == "success" and states["announce[-1]"] == "success", states
    from campaign_media.runtime import storage

    report = storage.read_json(storage.path(CAMPAIGN, "ingest", result.run_id, "report.json"))
    assert [u["image_id"] for u in report["uploaded"]] == [changed] and report["failed"] == {}
    assert calls(cld, UPLOAD) == uploads + 1
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    # One more upload: the market copy with all three renditions (the ingest's was counted above).
    assert calls(cld, UPLOAD) == uploads + 2
    assert calls(ps, PS_UPLOAD) == ps_uploads + 3  # three new reference assets for the new file
    stored = masters(CloudinaryHook())[changed]
    assert (stored["width"], stored["height"]) == (2400, 1600)


def test_dry_run_builds_urls_and_writes_nothing(world, airflow_db, dagbag) -> None:
    ps, cld = world["ps"], world["cld"]
    uploads, ps_uploads = calls(cld, UPLOAD), calls(ps, PS_UPLOAD)
    result, states = run(dagbag, "campaign_media_market_jp", campaign=CAMPAIGN, dry_run=True)
    assert result.state == "success", states
    assert (calls(cld, UPLOAD), calls(ps, PS_UPLOAD)) == (uploads, ps_uploads)
    from campaign_media.runtime import storage

    assert storage.read_json(storage.path(CAMPAIGN, "delivery", "jp.json")) is None


def test_ingest_interval_selects_only_media_changed_in_it(world, airflow_db, dagbag) -> None:
    """A backfill of a past day re-examines exactly that day: a master whose file changed today
    (outside that day) is left to the run whose interval holds the change."""
    ps, cld, seeded = world["ps"], world["cld"], world["seed"]
    changed = seeded["approved"][3]
    buffer = io.BytesIO()
    Image.new("RGB", (1800, 1200), (200, 40, 90)).save(buffer, "JPEG", quality=90)
    httpx.post(f"{ps.base_url}/_emulator/images/{changed}/original", content=buffer.getvalue()).raise_for_status()
    before = calls(cld, UPLOAD)
    from campaign_media.runtime import storage

    # A day after the DAGs' start date (before it, Airflow makes no task instances at all and the
    # run "succeeds" doing nothing) and days before the seed's and this test's changes.
    day = START + timedelta(days=1)
    result, states = run(dagbag, "campaign_media_ingest", logical_date=day)
    assert result.state == "success" and states["plan[-1]"] == "success", states
    plan = storage.read_json(storage.path(CAMPAIGN, "ingest", result.run_id, "plan.json"))
    assert plan["to_push"] == 0 and plan["counts"]["outside_interval"] == plan["counts"]["approved"] > 0, plan
    assert calls(cld, UPLOAD) == before
    # the change was real: the run whose interval holds it pushes that master (in this module's
    # order, only it: the others are published and unchanged)
    result, states = run(dagbag, "campaign_media_ingest", logical_date=today() + timedelta(days=1))
    assert result.state == "success", states
    report = storage.read_json(storage.path(CAMPAIGN, "ingest", result.run_id, "report.json"))
    uploaded = [u["image_id"] for u in report["uploaded"]]
    assert changed in uploaded and calls(cld, UPLOAD) == before + len(uploaded)
