"""Bad media in a campaign's gallery: each gets its own clear outcome, and nothing else is touched.

Rows of the bad-input table in docs/troubleshooting.md: path-hostile and non-ASCII file names,
duplicate file names, a truncated original, an original with enormous pixel dimensions (a
decompression bomb), alongside ordinary masters that must come through untouched. (Missing,
zero-byte and non-image originals and unreadable licences are in the seed of every suite.)
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import storage
from emulators.common.store import DocStore
from emulators.photoshelter.account import ps_time, store_image
from emulators.photoshelter.seed import CAMPAIGN, custom_metadata, jpeg_bytes, seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import cld_connection, ps_connection
from tests.integration.test_lifecycle_dags import run
from tests.integration.worlds import quick_retries

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
HOSTILE = {"parent": "../../etc/passwd.jpg", "spaces": "  spaces\tand tabs .jpg", "emoji": "spring 🌸🎉.jpg",
           "long": "x" * 296 + ".jpg", "arabic": "ربيع.jpg"}
APPROVED = custom_metadata(**{"Approval Status": "Approved", "Owner": "brand-studio", "Campaign": CAMPAIGN,
                              "Usage Rights": "worldwide-digital", "Submission Source": "brand-studio"})


def add(store: DocStore, gallery: str, name: str, data: bytes, *, size: tuple[int, int] | None = None) -> str:
    """An approved record; ``size`` overrides the pixel size PhotoShelter lists (what it read)."""
    record = store_image(store, gallery, name, io.BytesIO(data), custom=APPROVED, validate=size is None,
                         license_etime=ps_time(datetime.now(UTC) + timedelta(days=90)))
    if size:
        record.update(width=str(size[0]), height=str(size[1]))
        store.put("image", record["image_id"], record)
    return record["image_id"]


def bomb_png(side: int = 15_000) -> bytes:
    """A 225-megapixel PNG of a few hundred kilobytes: far above what an image service decodes."""
    buf = io.BytesIO()
    Image.new("1", (side, side), 1).save(buf, "PNG", optimize=True)
    return buf.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    base = tmp_path_factory.mktemp("bad-media")
    seeded = seed(base / "ps", images=2, galleries=1)
    store, gallery, rng = DocStore(base / "ps"), seeded["gallery_ids"][0], random.Random(5)
    ids = {key: add(store, gallery, name, jpeg_bytes((900, 600), key, rng)) for key, name in HOSTILE.items()}
    ids["twin_a"] = add(store, gallery, "twin.jpg", jpeg_bytes((800, 800), "twin a", rng))
    ids["twin_b"] = add(store, gallery, "twin.jpg", jpeg_bytes((800, 800), "twin b", rng))
    whole = jpeg_bytes((1200, 900), "truncated", rng)
    ids["truncated"] = add(store, gallery, "truncated.jpg", whole[: len(whole) // 2], size=(1200, 900))
    ids["bomb"] = add(store, gallery, "bomb.png", bomb_png(), size=(15_000, 15_000))
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    try:
        with pytest.MonkeyPatch.context() as mp:
            quick_retries(mp, dagbag)
            mp.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
            mp.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
            mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (base / "storage").as_uri())
            ingest, states = run(dagbag, "campaign_media_ingest", force=True)
            assert ingest.state == "success", states
            market, states = run(dagbag, "campaign_media_market_fr")
            assert market.state == "success", states
            report = storage.read_json(storage.ingest_run(CAMPAIGN, ingest.run_id) / "report.json")
            yield {"ids": ids, "seed": seeded, "report": report, "gallery": gallery}
    finally:
        ps.stop()
        cld.stop()


def masters() -> set[str]:
    return {r["public_id"].rsplit("/", 1)[1] for r in CloudinaryHook().iter_resources(
        prefix=f"campaigns/{CAMPAIGN}/masters/", delivery_type=MASTER_DELIVERY)}


def test_hostile_and_duplicate_names_come_through_under_their_ids(world) -> None:
    ids = world["ids"]
    good = {ids[k] for k in (*HOSTILE, "twin_a", "twin_b")}
    assert good <= masters()  # public IDs come from image IDs, never from file names
    state = storage.read_json(storage.market_state(CAMPAIGN, "fr"))
    assert good <= set(state)
    names = [r["file_name"] for e in state.values() for r in e["renditions"].values()]
    assert len(names) == len(set(names))  # twins get one write-back each, not one between them
    # Names come from image IDs (which may hold "." and "_"), never from the hostile file names.
    assert all("/" not in n and not n.startswith(".") and "passwd" not in n and len(n) < 200 for n in names)
    assert set(world["seed"]["approved"]) <= masters()  # the ordinary masters are untouched


def test_a_truncated_or_enormous_original_fails_alone_with_its_reason(world) -> None:
    ids, failed = world["ids"], world["report"]["failed"]
    assert ids["bomb"] not in masters() and ids["truncated"] not in masters()
    assert "Invalid image file - DecompressionBombError" in failed[ids["bomb"]], failed  # refused, not decoded
    assert "Invalid image file - OSError" in failed[ids["truncated"]], failed  # the strict reading: refused
    assert set(failed) == {ids["bomb"], ids["truncated"], world["seed"]["broken"]["missing_original"]}
    with PhotoShelterHook() as ps:  # nothing was written into the source gallery
        assert len(list(ps.iter_gallery_images(world["gallery"]))) == 2 + 4 + len(HOSTILE) + 4
