"""A large original through the worker: streamed from PhotoShelter's download route into a
chunked Cloudinary upload, memory bounded by the chunk, the stored master checked."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from PIL import Image

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.hooks import cloudinary as cloudinary_module
from campaign_media.masters import MASTER_DELIVERY, Master
from campaign_media.operators.ingest import MasterMismatch, push_master

pytestmark = pytest.mark.integration
CHUNK = 1024 * 1024


def master_of(ps: PhotoShelterHook, image: dict) -> Master:
    record = ps.get_image(image["image_id"])
    return Master(image_id=record["image_id"], file_name=record["file_name"], version=record["updated_at"],
                  width=int(record["width"]), height=int(record["height"]), file_size=int(record["file_size"]),
                  owner="brand-studio", approval="Approved", usage_rights="worldwide-digital", licence_expiry="",
                  source="staff")


def test_a_large_original_streams_in_chunks_with_flat_memory(connections, ps_seed, tmp_path, monkeypatch) -> None:
    big = tmp_path / "hero_big.tif"
    Image.effect_noise((2000, 2000), 64).convert("RGB").save(big, "TIFF")  # 12 MB, incompressible
    ps, cld = PhotoShelterHook(), CloudinaryHook()
    image = ps.upload_image(ps_seed[1]["gallery_ids"][0], big)
    master = master_of(ps, image)
    campaign = load_campaigns(markets=load_markets()).items["spring-launch-2026"]
    monkeypatch.setattr(cloudinary_module, "LARGE_FILE_BYTES", CHUNK)  # chunked above 1 MB, 1 MB chunks
    _, cld_proc = connections
    tracemalloc.start()
    try:
        done = push_master(ps, cld, campaign, master, "", tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert master.file_size > 10 * CHUNK
    assert peak < 4 * CHUNK, f"peak {peak} bytes while moving a {master.file_size}-byte original"
    assert cld_proc.calls()["POST /v1_1/{cloud}/{rt}/upload"] >= master.file_size // CHUNK  # one call per chunk
    stored = cld.resource(master.public_id(campaign.id), delivery_type=MASTER_DELIVERY)
    assert (stored["width"], stored["height"], stored["bytes"]) == (2000, 2000, master.file_size)
    assert done["uploaded"] and list(tmp_path.iterdir()) == [big]  # the worker's copy is gone


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
