"""A large original through the worker: streamed from PhotoShelter's download route into a
chunked Cloudinary upload, memory bounded by the chunk, the stored master checked."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from PIL import Image

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.domain.masters import MASTER_DELIVERY, Master
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.hooks import cloudinary as cloudinary_module
from campaign_media.steps.ingest import MasterMismatch, push_master

pytestmark = pytest.mark.integration
CHUNK = 5 * 1024 * 1024  # the smallest part Cloudinary takes (but the last)


def master_of(ps: PhotoShelterHook, image: dict) -> Master:
    record = ps.get_image(image["image_id"])
    return Master(image_id=record["image_id"], file_name=record["file_name"], version=record["updated_at"],
                  width=int(record["width"]), height=int(record["height"]), file_size=int(record["file_size"]),
                  owner="brand-studio", approval="Approved", usage_rights="worldwide-digital", licence_expiry="",
                  source="staff")


def test_a_large_original_streams_in_chunks_with_flat_memory(connections, ps_seed, tmp_path, monkeypatch) -> None:
    """Peak memory does not grow with the original: a 63 MB one costs about what a 6 MB one does."""
    ps, cld = PhotoShelterHook(), CloudinaryHook()
    campaign = load_campaigns(markets=load_markets()).items["spring-launch-2026"]
    monkeypatch.setattr(cloudinary_module, "LARGE_FILE_BYTES", CHUNK)  # chunked above 5 MB, 5 MB chunks
    _, cld_proc = connections
    peaks, masters = {}, {}
    for side in (1400, 4600):  # 6 MB and 63 MB, incompressible
        big = tmp_path / f"hero_{side}.tif"
        Image.effect_noise((side, side), 64).convert("RGB").save(big, "TIFF")
        master = masters[side] = master_of(ps, ps.upload_image(ps_seed[1]["gallery_ids"][0], big))
        work = tmp_path / f"work-{side}"
        work.mkdir()
        uploads = cld_proc.calls().get("POST /v1_1/{cloud}/{rt}/upload", 0)
        tracemalloc.start()
        try:
            done = push_master(ps, cld, campaign, master, "", work)
            _, peaks[side] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert done["uploaded"] and list(work.iterdir()) == []  # the worker's copy is gone
        assert cld_proc.calls()["POST /v1_1/{cloud}/{rt}/upload"] - uploads >= master.file_size // CHUNK  # chunks
        stored = cld.resource(master.public_id(campaign.id), delivery_type=MASTER_DELIVERY)
        assert (stored["width"], stored["height"], stored["bytes"]) == (side, side, master.file_size)
    big = masters[4600].file_size
    print(f"peak Python allocations: {peaks} (bytes) for originals of {[m.file_size for m in masters.values()]}")
    assert big > 10 * masters[1400].file_size > 10 * CHUNK
    assert peaks[4600] < peaks[1400] + 2 * CHUNK, f"peaks {peaks}: memory grew with the original"  # +57 MB of file
    assert peaks[4600] < big / 3, f"peak {peaks[4600]} bytes while moving a {big}-byte original"


def test_a_master_that_differs_from_photoshelter_is_refused_and_removed(connections, ps_seed, tmp_path) -> None:
    ps, cld = PhotoShelterHook(), CloudinaryHook()
    path = tmp_path / "small.jpg"
    Image.new("RGB", (640, 480), "orange").save(path, "JPEG")
    master = master_of(ps, ps.upload_image(ps_seed[1]["gallery_ids"][0], path))
    campaign = load_campaigns(markets=load_markets()).items["spring-launch-2026"]
    wrong = Master(**{**master.to_dict(), "width": 1280, "file_size": 0})  # what a stale listing might say
    with pytest.raises(MasterMismatch, match=r"stored .* as 640x480.*PhotoShelter says 1280x480.*removed"):
        push_master(ps, cld, campaign, wrong, "", tmp_path)
    assert cld.resource(master.public_id(campaign.id), delivery_type=MASTER_DELIVERY) is None
    liar = Master(**{**master.to_dict(), "file_size": master.file_size + 1})
    with pytest.raises(MasterMismatch, match="PhotoShelter served .* bytes .* its listing says"):
        push_master(ps, cld, campaign, liar, "", tmp_path)
    assert not any(Path(tmp_path).glob(master.image_id))
