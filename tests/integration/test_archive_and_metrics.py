"""Delivery metrics and the archive, run by ``dag.test()`` against fresh emulators over HTTP.

The metrics are cross-checked against the emulators' own counters; the archive is run once with
an outage injected mid-way (nothing unverified may be cleaned up), then again to completion,
then once more (a no-op).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections import Counter

import httpx
import pandas as pd
import pytest
from PIL import Image

from campaign_media import __version__
from campaign_media.domain.embedded import pixel_digest, read
from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import storage
from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.browser import ARTIFACTS, screenshot_page
from tests.conftest import cld_connection, ps_connection
from tests.integration.test_lifecycle_dags import CAMPAIGN, PS_UPLOAD, calls, report_folder, run
from tests.integration.worlds import ended_include
from tests.s3 import storage_url

# The steps of one story, in order: a step run alone runs the steps before it first (tests/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.story]
MARKETS = ("fr", "jp")


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    base = tmp_path_factory.mktemp("archive")
    seeded = seed(base / "ps", images=10, galleries=1)
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    ended = ended_include(base)  # the same campaign, ended yesterday, archived without grace
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
        mp.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", storage_url(base / "storage"))  # on S3 too (make test)
        for dag_id in ("campaign_media_ingest", *(f"campaign_media_market_{m}" for m in MARKETS)):
            result, states = run(dagbag, dag_id, **({"force": True} if dag_id.endswith("ingest") else {}))
            assert result.state == "success", states
        yield {"ps": ps, "cld": cld, "seed": seeded, "ended": ended, "mp": mp, "base": base}
    ps.stop()
    cld.stop()


def copies() -> dict[str, dict]:
    hook = CloudinaryHook()
    return {res["public_id"]: hook.resource(res["public_id"]) for m in MARKETS
            for res in hook.iter_resources(prefix=f"campaigns/{CAMPAIGN}/markets/{m}/")}


def test_metrics_report_matches_the_emulator_counters(world, dagbag) -> None:
    fr = storage.read_json(storage.path(CAMPAIGN, "delivery", "fr.json"))["masters"]
    jp = storage.read_json(storage.path(CAMPAIGN, "delivery", "jp.json"))["masters"]
    public = sorted(i for i, m in fr.items() if httpx.get(m["renditions"]["hero"]["url"]).status_code == 200)
    assert len(public) >= 2
    favourite, other = public[0], public[1]
    for _ in range(6):
        assert httpx.get(fr[favourite]["renditions"]["hero"]["url"]).status_code == 200
    for _ in range(3):
        assert httpx.get(fr[favourite]["channels"]["web"]["desktop"], headers={"accept": "image/webp"}).status_code \
            == 200
    assert httpx.get(jp[other]["renditions"]["story"]["url"]).status_code == 200

    result, states = run(dagbag, "campaign_media_metrics")
    assert result.state == "success", states
    folder = report_folder(result)
    totals = storage.read_json(folder / "totals.json")
    with (folder / "assets.parquet").open("rb") as parquet, (folder / "assets.csv").open("rb") as csv:
        assets, table = pd.read_parquet(parquet), pd.read_csv(csv)  # read as stored (local or S3)
    assert list(table.columns) == list(assets.columns) and table["requests"].tolist() == assets["requests"].tolist()
    assert set(assets["campaign"]) == {CAMPAIGN}

    # Cross-check with what the emulator counted itself.
    counted = copies()
    delivered = {pid: res.get("delivery", {}) for pid, res in counted.items()}
    assert totals["market_copies"] == len(counted) == len(assets)
    assert totals["requests"] == sum(d.get("requests", 0) for d in delivered.values())
    assert totals["bandwidth_bytes"] == sum(d.get("bytes", 0) for d in delivered.values())
    usage = CloudinaryHook().usage()
    assert totals["account_bandwidth_bytes"] == usage["bandwidth"]["usage"]
    assert totals["account_transformations"] == usage["transformations"]["usage"]
    by_market = assets.groupby("market")["requests"].sum().to_dict()
    per_market = Counter()
    for pid, d in delivered.items():
        per_market[pid.split("/")[3]] += d.get("requests", 0)
    assert by_market == dict(per_market)
    # The favourite is the most-used asset; its f_auto requests are not counted as unoptimised.
    row = assets[(assets.image_id == favourite) & (assets.market == "fr")].iloc[0]
    fr_counts = delivered[f"campaigns/{CAMPAIGN}/markets/fr/{favourite}"]["by_transformation"]
    assert row.requests == sum(v["requests"] for v in fr_counts.values())
    assert row.requests_without_f_auto == sum(v["requests"] for k, v in fr_counts.items() if "f_auto" not in k)
    assert assets.sort_values("requests", ascending=False).iloc[0].image_id == favourite
    assert totals["renditions"] == sum(len(m["renditions"]) for m in fr.values()) + \
        sum(len(m["renditions"]) for m in jp.values())
    html = (folder / "index.html").read_text()
    page_file = world["base"] / "metrics-index.html"  # Chromium opens a local copy (the report may be on S3)
    page_file.write_text(html, encoding="utf-8")
    for heading in ("Most-used assets", "By market", "By owner", "Licences expiring", "Optimisation opportunities"):
        assert heading in html
    assert "<svg" in html and world["seed"]["broken"]["unreadable_licence"] in html  # unreadable licence listed
    assert totals["generator"] == f"campaign-media-pipelines {__version__}" and totals["generator"] in html
    # The most-used masters as embedded pictures: the favourite first, each a 96 px JPEG of its
    # master, and nothing the page would have to fetch.
    pictures = re.findall(r"<img src='data:image/jpeg;base64,([^']+)' width='96' height='96' alt='([^']*)'>", html)
    assert pictures and len(pictures) == min(len(set(assets.image_id)), 10), len(pictures)
    first = Image.open(io.BytesIO(base64.b64decode(pictures[0][0])))
    assert (first.format, first.size) == ("JPEG", (96, 96))
    assert "src='http" not in html
    # What a reader sees (the README shows this screenshot, shrunk by `make screenshots`).
    drawn = screenshot_page(page_file.as_uri(), ARTIFACTS / "metrics-report.png",
                            expect_text="Most-used assets", images=".thumb img")
    assert drawn and all(size == (96, 96) for size in drawn), drawn  # Chromium decoded every one


def ps_archive() -> list[dict]:
    hook = PhotoShelterHook()
    gallery = hook.find_galleries("Spring Launch 2026 — archive")
    return list(hook.iter_gallery_images(gallery[0]["gallery_id"])) if gallery else []


def test_archive_survives_an_outage_then_completes_and_is_idempotent(world, dagbag, monkeypatch) -> None:
    ps = world["ps"]
    world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(world["ended"]))
    monkeypatch.setattr(dagbag.get_dag("campaign_media_archive").get_task("archive"), "retries", 0)
    before = copies()
    renditions = sum(len(e["renditions"]) for m in MARKETS
                     for e in storage.read_json(storage.path(CAMPAIGN, "markets", m, "state.json")).values())

    # PhotoShelter stops accepting uploads after three: the archive must stop short of clean-up.
    ps.set_faults(path_prefix="/psapi/v3/mem/image/upload", fail_after=3)
    try:
        result, states = run(dagbag, "campaign_media_archive")
    finally:
        ps.reset()
    assert result.state == "failed", states
    verified = storage.read_json(storage.path(CAMPAIGN, "archive", "verified.json"))
    missing = storage.read_json(storage.path(CAMPAIGN, "archive", "missing.json"))
    assert len(verified or {}) == 3 and len(missing) == renditions - 3, (verified, list(missing.items())[:4])
    assert set(copies()) == set(before)  # nothing cleaned up
    assert storage.read_json(storage.path(CAMPAIGN, "archive", "done.json")) is None

    result, states = run(dagbag, "campaign_media_archive")
    assert result.state == "success", states
    done = storage.read_json(storage.path(CAMPAIGN, "archive", "done.json"))
    assert done["summary"]["verified"] == renditions and done["summary"]["copies_deleted"] == len(before)
    stored = ps_archive()
    assert len(stored) == renditions  # every rendition once: the three from the first run are not duplicated
    hook = PhotoShelterHook()
    for key, item in list(done["items"].items())[:6]:
        data = hook.download_original(item["ps_image_id"], world["ended"] / "check.bin")
        assert data.sha256 == item["stored_sha256"] and item["verified_by"] == "bytes", key
        embedded = read(data.path)["xmp"]  # the link travels inside the archived file
        assert f"master:{item['image_id']}" in embedded["keywords"] and f"market:{item['market']}" in \
            embedded["keywords"] and "archived-rendition" in embedded["keywords"]
        assert f"SHA-256 as served: {item['sha256']}" in embedded["description"]
    # Clean-up: the market copies are gone (each destroyed with a CDN purge); masters stay authenticated.
    assert copies() == {}
    assert set(before) <= set(world["cld"].control("GET", "purges")["purged"])
    masters = list(CloudinaryHook().iter_resources(prefix=f"campaigns/{CAMPAIGN}/masters/",
                                                   delivery_type=MASTER_DELIVERY))
    assert masters and all(m["type"] == "authenticated" for m in masters)
    assert storage.read_json(storage.path(CAMPAIGN, "archive", "report", "totals.json"))["market_copies"] == \
        len(before)

    uploads = calls(ps, PS_UPLOAD)
    result, states = run(dagbag, "campaign_media_archive")
    assert result.state == "success" and calls(ps, PS_UPLOAD) == uploads  # archived: a no-op


def test_archived_renditions_match_what_cloudinary_served(world) -> None:
    """Checked above through PhotoShelter; here one file against what Cloudinary serves for the
    same rendition now: the same pixels (the archived file only adds metadata)."""
    done = storage.read_json(storage.path(CAMPAIGN, "archive", "done.json"))
    key, item = next(iter(done["items"].items()))
    market, image_id, name = key.split("/")
    rendition = storage.read_json(storage.path(CAMPAIGN, "markets", market, "state.json"))[image_id]["renditions"][name]
    PhotoShelterHook().download_original(item["ps_image_id"], world["ended"] / "one.bin")
    assert hashlib.sha256((world["ended"] / "one.bin").read_bytes()).hexdigest() == item["stored_sha256"]
    cld = CloudinaryHook()
    served = cld.download(cld.delivery_url(f"campaigns/{CAMPAIGN}/masters/{image_id}", delivery_type=MASTER_DELIVERY,
                                           raw_transformation="/".join(  # the eager form ends in its format
                                               p for p in rendition["transformation"].split("/") if "_" in p),
                                           format=rendition["format"]),
                          world["ended"] / "served.bin")
    assert served.sha256 == item["sha256"]
    assert pixel_digest(world["ended"] / "one.bin") == pixel_digest(world["ended"] / "served.bin")
