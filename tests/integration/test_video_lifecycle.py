"""Hero videos through the whole lifecycle, run by ``dag.test()`` against fresh emulators over HTTP:
ingested as video masters, a market copy per market with its derivatives transcoded asynchronously
(waited for deferred), each derivative probed with ffprobe (codec, size, duration; the poster an
image; the stream a playlist of segments; the headline drawn only between its offsets), written
back to PhotoShelter exactly once, closed outside its window, counted apart in the metrics, and
archived checksum-verified."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import storage
from tests.integration.test_lifecycle_dags import CAMPAIGN, PS_UPLOAD, UPLOAD, calls, report_folder, run
from tests.integration.test_video_ingest import probe
from tests.integration.worlds import ended_include, seeded_world

# The steps of one story, in order: a step run alone runs the steps before it first (tests/conftest.py).
pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.story]
RESOURCE = "GET /v1_1/{cloud}/resources/{rt}/{dtype}/{public_id:path}"


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    with seeded_world(tmp_path_factory.mktemp("videos"), images=2, videos=2) as world:
        yield world


def frame(url: str, at: float, dest: Path) -> Image.Image:
    """The frame of a delivered video at ``at`` seconds."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", str(at), "-i", url, "-frames:v", "1",
                    str(dest)], check=True)
    return Image.open(dest).convert("RGB")


def bottom_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean difference of the bottom fifth of two frames (where the headline is drawn)."""
    box = (0, a.height * 4 // 5, a.width, a.height)
    return sum(ImageStat.Stat(ImageChops.difference(a.crop(box), b.crop(box))).mean) / 3


def test_video_masters_are_ingested_as_video_resources(world, dagbag) -> None:
    result, states = run(dagbag, "campaign_media_ingest", force=True)
    assert result.state == "success", states
    cld = CloudinaryHook()
    videos = {r["public_id"].rsplit("/", 1)[1]: r for r in cld.iter_resources(
        prefix=f"campaigns/{CAMPAIGN}/masters/", delivery_type=MASTER_DELIVERY, resource_type="video")}
    assert set(videos) == set(world["seed"]["videos"])
    assert all(r["resource_type"] == "video" and r["duration"] >= 4 for r in videos.values())


def test_a_video_copy_is_transcoded_waited_for_deferred_and_written_back_once(world, dagbag) -> None:
    ps, cld = world["ps"], world["cld"]
    looks = calls(cld, RESOURCE)
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    assert states["videos[-1]"] == "success" and states["done[-1]"] == "success"
    videos_ti = next(ti for ti in result.get_task_instances() if ti.task_id == "videos")
    assert videos_ti.try_number == 1  # came back from the trigger, not from a retry
    assert calls(cld, RESOURCE) - looks >= len(world["seed"]["videos"])  # the trigger looked (Admin API)

    manifest = storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))["masters"]
    video_id = world["seed"]["videos"][0]  # 1280x720, 4 s
    entry = manifest[video_id]
    assert entry["media_type"] == "video"
    assert set(entry["renditions"]) == {"film", "film-poster", "film-hls", "reel", "reel-poster"}
    assert not any(r.get("pending") for r in entry["renditions"].values())
    tmp = world["base"]
    expected = {"film": ("h264", 1280, 720), "reel": ("vp9", 720, 1280)}
    for name, (codec, width, height) in expected.items():
        url = entry["renditions"][name]["url"]
        local = tmp / f"{name}.{entry['renditions'][name]['format']}"
        response = httpx.get(url)
        assert response.status_code == 200, (name, response.headers.get("x-cld-error"))
        local.write_bytes(response.content)
        info = probe(local)
        video = next(s for s in info["streams"] if s.get("width"))
        assert (video["codec_name"], video["width"], video["height"]) == (codec, width, height), name
        assert float(info["format"]["duration"]) == pytest.approx(4.0, abs=0.3), name
        assert entry["renditions"][name]["bytes"] == len(response.content)
    for name, size in (("film-poster", (1280, 720)), ("reel-poster", (720, 1280))):
        poster = tmp / f"{name}.jpg"
        poster.write_bytes(httpx.get(entry["renditions"][name]["url"]).content)
        with Image.open(poster) as image:
            assert (image.format, image.size) == ("JPEG", size), name
    playlist = httpx.get(entry["renditions"]["film-hls"]["url"])
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
    segment = next(line for line in playlist.text.splitlines() if line.endswith(".ts"))
    piece = httpx.get(httpx.URL(entry["renditions"]["film-hls"]["url"]).join(segment))
    assert piece.status_code == 200 and len(piece.content) > 1000

    # The headline shows between 0.5 s and 3.5 s: compared with the same size without it.
    plain = CloudinaryHook().delivery_url(entry["public_id"], resource_type="video", format="mp4",
                                          transformation=[{"crop": "fill", "width": 1280, "aspect_ratio": "16:9",
                                                           "gravity": "auto"}])
    film = entry["renditions"]["film"]["url"]
    during = bottom_difference(frame(film, 1.0, tmp / "f1.png"), frame(plain, 1.0, tmp / "p1.png"))
    after = bottom_difference(frame(film, 3.8, tmp / "f2.png"), frame(plain, 3.8, tmp / "p2.png"))
    assert during > 4 * max(after, 0.5), (during, after)

    # Written back once: the video and its poster per rendition, the stream not.
    hook = PhotoShelterHook()
    gallery = hook.find_galleries("Spring Launch 2026 — renditions fr")[0]["gallery_id"]
    names = hook.gallery_file_names(gallery, media=True)
    for name in ("film", "film-poster", "reel", "reel-poster"):
        rendition = entry["renditions"][name]
        assert names[rendition["file_name"]] == rendition["ps_image_id"], name
    assert not any("film-hls" in n for n in names)
    film_back = hook.download_original(entry["renditions"]["film"]["ps_image_id"], tmp / "film-back.mp4",
                                       media_type="video")
    assert next(s for s in probe(film_back.path)["streams"] if s.get("width"))["width"] == 1280
    sidecar = storage.read_json(storage.writeback_record(CAMPAIGN, "fr", video_id))
    assert sidecar["film"]["Master Image ID"] == video_id

    uploads, ps_uploads = calls(cld, UPLOAD), calls(ps, PS_UPLOAD)
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    assert (calls(cld, UPLOAD), calls(ps, PS_UPLOAD)) == (uploads, ps_uploads)  # nothing made or written twice
    assert len(hook.gallery_file_names(gallery, media=True)) == len(names)


def test_copies_still_transcoding_at_the_deadline_fail_the_run_and_are_waited_for_again(world, dagbag,
                                                                                         monkeypatch) -> None:
    """Japan with a deadline already passed: the run fails naming the copies, keeps them pending;
    the next run waits for them again and uploads nothing a second time."""
    cld = world["cld"]
    videos = dagbag.get_dag("campaign_media_market_jp").get_task("videos")
    uploads = calls(cld, UPLOAD)
    monkeypatch.setattr(videos, "timeout", timedelta(seconds=0))
    monkeypatch.setattr(videos, "retries", 0)  # a retry would wait again (and, here, succeed)
    result, states = run(dagbag, "campaign_media_market_jp")
    assert result.state == "failed" and states["videos[-1]"] == "failed", states
    assert states["publish[-1]"] == "success" and states["done[-1]"] == "upstream_failed", states
    state = storage.read_json(storage.market_state(CAMPAIGN, "jp"))
    assert calls(cld, UPLOAD) - uploads == len(state)  # one upload per copy, videos included
    pending = [i for i in world["seed"]["videos"] if any(r.get("pending") for r in state[i]["renditions"].values())]
    assert pending == world["seed"]["videos"]

    monkeypatch.undo()
    uploads = calls(cld, UPLOAD)
    result, states = run(dagbag, "campaign_media_market_jp")
    assert result.state == "success", states
    assert calls(cld, UPLOAD) == uploads  # waited for again, not uploaded again
    state = storage.read_json(storage.market_state(CAMPAIGN, "jp"))
    for video_id in world["seed"]["videos"]:
        renditions = state[video_id]["renditions"]
        assert set(renditions) == {"film", "film-poster", "reel", "reel-poster"}
        assert all(r["ps_image_id"] and not r["pending"] for r in renditions.values())


def test_a_video_copy_closes_when_its_licence_ends(world, dagbag) -> None:
    ps = world["ps"]
    video_id = world["seed"]["videos"][1]
    manifest = storage.read_json(storage.delivery_manifest(CAMPAIGN, "fr"))["masters"]
    url = manifest[video_id]["renditions"]["film"]["url"]
    assert httpx.get(url).status_code == 200
    ended = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S GMT")
    ps.control("POST", f"images/{video_id}/license", {"license_etime": ended})
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    report = storage.read_json(storage.windows_report(CAMPAIGN))
    assert any(c["image_id"] == video_id for c in report["closed"]), report["closed"]
    denied = httpx.get(url)
    assert denied.status_code == 401 and "ACL" in denied.headers.get("x-cld-error", "")


def test_metrics_split_images_and_videos(world, dagbag) -> None:
    result, states = run(dagbag, "campaign_media_metrics")
    assert result.state == "success", states
    totals = storage.read_json(report_folder(result) / "totals.json")
    by_media = totals["by_media"]
    assert set(by_media) == {"image", "video"}
    assert by_media["video"]["market_copies"] == 2 * len(world["seed"]["videos"])  # France and Japan
    assert by_media["video"]["requests"] > 0 and by_media["video"]["seconds_delivered"] >= 8  # two films of 4 s
    assert by_media["image"]["seconds_delivered"] == 0


def test_video_renditions_are_archived_verified_after_the_campaign(world, dagbag) -> None:
    world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(ended_include(world["base"])))
    result, states = run(dagbag, "campaign_media_archive")
    assert result.state == "success", states
    done = storage.read_json(storage.archive_file(CAMPAIGN, "done.json"))
    video_id = world["seed"]["videos"][0]
    items = {key: item for key, item in done["items"].items() if key.startswith(f"fr/{video_id}/")}
    assert set(items) == {f"fr/{video_id}/{n}" for n in ("film", "film-poster", "reel", "reel-poster")}
    assert all(item["verified_by"] == "bytes" for key, item in items.items() if not key.endswith("-poster"))
    assert all(item["verified_by"] in ("bytes", "pixels") for item in items.values())
    cld = CloudinaryHook()
    assert cld.resource(f"campaigns/{CAMPAIGN}/markets/fr/{video_id}", "upload", "video") is None  # cleaned up
    kept = PhotoShelterHook().download_original(items[f"fr/{video_id}/film"]["ps_image_id"],
                                                world["base"] / "archived.mp4", media_type="video")
    assert kept.sha256 == items[f"fr/{video_id}/film"]["sha256"]
