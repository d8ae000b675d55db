"""Video masters into Cloudinary over real HTTP: listed from PhotoShelter's media listing, streamed
from its video download route into a chunked ``resource_type=video`` upload, checked against
PhotoShelter's size and duration (probed on both sides with ffprobe), and a video over 200 MB with
the worker's memory flat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.config.models import Campaign
from campaign_media.domain.masters import MASTER_DELIVERY, Master
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.steps import ingest
from emulators.common.store import DocStore
from emulators.photoshelter.account import add_container, make_container, store_video
from emulators.photoshelter.seed import custom_metadata, make_video
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
APPROVED = custom_metadata(**{"Approval Status": "Approved", "Owner": "brand-studio", "Campaign": "spring-launch-2026",
                              "Usage Rights": "worldwide-digital", "Submission Source": "brand-studio"})


def new_gallery(ps_seed: tuple[Path, dict], name: str) -> tuple[DocStore, str]:
    """A gallery of its own (in a collection of its own: other tests count the seed's galleries)."""
    store = DocStore(ps_seed[0])  # the running emulator's data dir, as the seed command fills it
    collection = add_container(store, "collection", make_container("collection", f"{name} (video tests)", None))
    gallery = add_container(store, "gallery", make_container("gallery", name, collection["collection_id"]))
    return store, gallery["gallery_id"]


def video_campaign(gallery_id: str) -> Campaign:
    base = load_campaigns(markets=load_markets()).items["spring-launch-2026"]
    source = base.source.model_copy(update={"gallery_ids": [gallery_id], "collection_name": None,
                                            "collection_id": None, "media": ["image", "video"]})
    return base.model_copy(update={"source": source})


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name,width,height",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_a_video_master_is_listed_streamed_in_chunks_and_verified(connections, ps_seed, tmp_path,
                                                                  monkeypatch) -> None:
    ps_proc, cld_proc = connections
    store, gallery_id = new_gallery(ps_seed, "films")
    clip = make_video(tmp_path / "hero film.mp4", (640, 360), 3, "film")
    video = store_video(store, gallery_id, "hero film.mp4", clip, custom=APPROVED,
                        license_etime="2030-01-01 00:00:00 GMT")
    campaign = video_campaign(gallery_id)
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", str(tmp_path / "store"))
    ps, cld = PhotoShelterHook(), CloudinaryHook()

    batches = ingest.plan(ps, cld, [campaign], "run-1", None, None)
    items = [item["master"] for b in batches for item in json.loads(Path(b["path"]).read_text())]
    assert [(m["image_id"], m["media_type"]) for m in items] == [(video["video_id"], "video")]
    assert items[0]["duration"] == pytest.approx(3.0, abs=0.1)
    assert ps_proc.calls().get("GET /psapi/v3/mem/gallery/{gallery_id}/media") == 1  # one listing call
    assert "GET /psapi/v3/mem/gallery/{gallery_id}/images" not in ps_proc.calls()

    uploads = cld_proc.calls().get("POST /v1_1/{cloud}/{rt}/upload", 0)
    result = ingest.push(ps, cld, campaign, batches[0])
    assert result["uploaded"] == 1 and result["failed"] == 0, result
    # The worker streamed it: one download from PhotoShelter, one chunk to Cloudinary (a 3 s clip
    # is one part), and Cloudinary never fetched anything from PhotoShelter by URL itself.
    assert ps_proc.calls()["GET /psapi/v3/mem/video/{video_id}/download"] == 1
    assert not [route for route in ps_proc.calls() if route.startswith("(service)")]
    assert cld_proc.calls()["POST /v1_1/{cloud}/{rt}/upload"] == uploads + 1
    public_id = f"campaigns/{campaign.id}/masters/{video['video_id']}"
    stored = cld.resource(public_id, delivery_type=MASTER_DELIVERY, resource_type="video")
    assert stored is not None and stored["resource_type"] == "video"
    assert (stored["width"], stored["height"], stored["bytes"]) == (640, 360, clip.stat().st_size)
    assert stored["duration"] == pytest.approx(3.0, abs=0.1)
    assert stored["context"]["custom"]["ps_image_id"] == video["video_id"]
    assert cld.resource(public_id, delivery_type=MASTER_DELIVERY) is None  # not an image resource

    # The stored original is the very file: fetched back through a signed URL and probed.
    url = cld.delivery_url(public_id, delivery_type=MASTER_DELIVERY, resource_type="video", format="mp4")
    back = tmp_path / "back.mp4"
    got = cld.download(url, back)
    assert got.size == clip.stat().st_size
    streams = probe(back)["streams"]
    assert {s["codec_name"] for s in streams} == {"h264", "aac"}

    again = ingest.plan(ps, cld, [campaign], "run-2", None, None)
    assert again == []  # the same version is in Cloudinary: nothing to push


def test_a_video_whose_duration_differs_from_photoshelter_is_refused_and_removed(connections, ps_seed,
                                                                                 tmp_path) -> None:
    store, gallery_id = new_gallery(ps_seed, "films-mismatch")
    clip = make_video(tmp_path / "short.mp4", (320, 240), 2, "short")
    video = store_video(store, gallery_id, "short.mp4", clip, custom=APPROVED)
    campaign = video_campaign(gallery_id)
    ps, cld = PhotoShelterHook(), CloudinaryHook()
    record = next(iter(ps.iter_gallery_media(gallery_id)))
    master = Master(image_id=record["video_id"], file_name="short.mp4", version="v", width=320, height=240,
                    file_size=clip.stat().st_size, owner="o", approval="Approved", usage_rights="", licence_expiry="",
                    source="staff", media_type="video", duration=9.0)  # a listing that says 9 s
    with pytest.raises(ingest.MasterMismatch, match=r"duration of 2\.\d+ s; PhotoShelter says 9\.00 s.*removed"):
        ingest.push_master(ps, cld, campaign, master, "", tmp_path)
    assert cld.resource(master.public_id(campaign.id), MASTER_DELIVERY, "video") is None
    assert video["video_id"] == master.image_id


def test_a_chunk_smaller_than_five_megabytes_is_refused_but_the_last(connections, tmp_path) -> None:
    """The pessimistic reading of the chunked-upload rules: 5 MB parts, the last one excepted."""
    import cloudinary.uploader

    cld = CloudinaryHook()
    clip = make_video(tmp_path / "c.mp4", (320, 240), 2, "c")
    with pytest.raises(Exception, match="smaller than"):
        cloudinary.uploader.upload_large(str(clip), chunk_size=clip.stat().st_size // 2 + 1, resource_type="video",
                                         public_id="tests/tiny-chunks", **cld._api)
    whole = cld.upload(clip, "tests/one-chunk", resource_type="video")  # one part: it is the last
    assert whole["duration"] == pytest.approx(2.0, abs=0.1)


MEASURE = """
import json, os, resource, sys
from pathlib import Path
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.domain.masters import Master
from campaign_media.steps.ingest import push_master
from campaign_media.config.models import Campaign
ps, cld = PhotoShelterHook(), CloudinaryHook()
ps.get_conn(); cld._api  # connections read, clients made: the baseline is a warm worker
campaign = Campaign.model_validate_json(sys.argv[1])
master = Master.from_dict(json.loads(sys.argv[2]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
done = push_master(ps, cld, campaign, master, "", Path(sys.argv[3]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "after_kb": after, "done": done}))
"""


def test_a_video_over_200_megabytes_is_ingested_with_flat_worker_memory(connections, ps_seed, tmp_path) -> None:
    """A worker process (connections read, clients made) ingests a 214 MB video: its peak RSS grows by
    less than 150 MB (one 20 MB chunk, its multipart body, the SDK's buffers)."""
    store, gallery_id = new_gallery(ps_seed, "films-large")
    segment = tmp_path / "segment.mp4"  # 4 s of lossless 720p (about 7 MB), then repeated without re-encoding
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=25:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
                    "-qp", "0", "-pix_fmt", "yuv420p", str(segment)], check=True)
    big = tmp_path / "long_film.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "30", "-i", str(segment),
                    "-c", "copy", "-movflags", "+faststart", str(big)], check=True)
    size = big.stat().st_size
    assert size >= 200 * 1024 * 1024, size
    video = store_video(store, gallery_id, "long_film.mp4", big, custom=APPROVED)
    big.unlink()
    campaign = video_campaign(gallery_id)
    ps = PhotoShelterHook()
    record = next(iter(ps.iter_gallery_media(gallery_id)))
    from campaign_media.domain.masters import classify

    master, why = classify(record, campaign.approval)
    assert master is not None, why
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", MEASURE, campaign.model_dump_json(by_alias=True),
                          json.dumps(master.to_dict()), str(work)], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    grew_mb = (figures["after_kb"] - figures["before_kb"]) / 1024
    print(f"video of {size / 2**20:.0f} MB: worker peak RSS {figures['before_kb'] / 1024:.0f} MB before, "
          f"{figures['after_kb'] / 1024:.0f} MB after (+{grew_mb:.0f} MB)")
    assert figures["done"]["uploaded"] and figures["done"]["bytes"] == size
    assert figures["done"]["duration"] == pytest.approx(master.duration, abs=0.5)
    assert grew_mb < 150, f"the worker's peak memory grew by {grew_mb:.0f} MB moving a {size}-byte video"
    assert list(work.iterdir()) == []
    assert video["video_id"] == master.image_id
