"""Both hooks against emulators that inject 5xx, 429 (Retry-After) and dropped connections."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from PIL import Image

from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.hooks.retry import RetryBudgetExceeded, RetryPolicy

pytestmark = pytest.mark.integration


class RecordingSleep:
    """A sleep that records the waits, and can clear the emulator's faults on the first one."""

    def __init__(self, on_first=None) -> None:
        self.waits: list[float] = []
        self.on_first = on_first

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_first and len(self.waits) == 1:
            self.on_first()


def policy(sleep, **kw) -> RetryPolicy:
    return RetryPolicy(sleep=sleep, base_delay=0.01, max_delay=0.05, **kw)


def small_jpeg() -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(buf, "JPEG")
    buf.seek(0)
    return buf


def test_photoshelter_survives_5xx_and_drops(connections, ps_seed, tmp_path) -> None:
    ps_proc, _ = connections
    hook = PhotoShelterHook(retry=policy(RecordingSleep(), max_attempts=12))
    hook.login()
    gallery_id = ps_seed[1]["gallery_ids"][1]
    clean = [i["image_id"] for i in hook.iter_gallery_images(gallery_id, per_page=2)]
    ps_proc.set_faults(p_5xx=0.3, p_drop=0.2, seed=11, path_prefix="/psapi/v3/mem/gallery")
    faulty = [i["image_id"] for i in hook.iter_gallery_images(gallery_id, per_page=2)]
    assert faulty == clean
    pages = -(-len(clean) // 2)
    assert ps_proc.calls()["GET /psapi/v3/mem/gallery/{gallery_id}/images"] > 2 * pages  # retries happened
    ps_proc.set_faults(p_5xx=0, p_drop=0.4, seed=3, path_prefix="/psapi/v3/mem/image")
    master = ps_seed[1]["approved"][1]
    drops = injected(ps_proc).get("drop", 0)
    faulty_dl = hook.download_original(master, tmp_path / "a.jpg")
    ps_proc.set_faults(p_drop=0, path_prefix="")
    assert injected(ps_proc).get("drop", 0) > drops  # the download was cut at least once
    seeded = (ps_seed[0] / "blobs" / "originals" / master).read_bytes()  # what the seed stored
    assert faulty_dl.size == len(seeded) and faulty_dl.sha256 == hashlib.sha256(seeded).hexdigest()
    assert (tmp_path / "a.jpg").read_bytes() == seeded


def test_photoshelter_honours_retry_after(connections, ps_seed) -> None:
    ps_proc, _ = connections
    sleep = RecordingSleep(on_first=lambda: ps_proc.set_faults(p_429=0))
    hook = PhotoShelterHook(retry=policy(sleep))
    hook.login()
    ps_proc.set_faults(p_429=1.0, retry_after=2.5)
    assert hook.get_gallery(ps_seed[1]["gallery_ids"][0])
    assert sleep.waits == [2.5]


def test_photoshelter_budget_is_bounded_and_names_the_call(connections, ps_seed) -> None:
    ps_proc, _ = connections
    hook = PhotoShelterHook(retry=policy(RecordingSleep(), max_attempts=4))
    hook.login()
    ps_proc.set_faults(p_5xx=1.0)
    with pytest.raises(RetryBudgetExceeded, match=r"GET mem/gallery/G0000\S+ failed after 4 attempt"):
        hook.get_gallery(ps_seed[1]["gallery_ids"][0])


def test_cloudinary_survives_faults_with_the_real_sdk(connections) -> None:
    _, cld_proc = connections
    hook = CloudinaryHook(retry=policy(RecordingSleep(), max_attempts=15))
    cld_proc.set_faults(p_5xx=0.25, p_429=0.15, p_drop=0.15, seed=4, retry_after=0.01)
    prefix = f"tests/faulty-{uuid.uuid4().hex[:6]}"
    ids = [f"{prefix}/m{i}" for i in range(6)]
    for pid in ids:
        hook.upload(small_jpeg(), pid)
    listed = sorted(r["public_id"] for r in hook.iter_resources(prefix=prefix + "/", page_size=2))
    cld_proc.set_faults(p_5xx=0, p_429=0, p_drop=0)
    assert listed == ids
    calls = cld_proc.calls()
    # Some uploads were retried (seed 4 faults the first calls), yet none was stored twice.
    assert calls["POST /v1_1/{cloud}/{rt}/upload"] > len(ids)
    assert len(list(hook.iter_resources(prefix=prefix + "/"))) == len(ids)


def test_cloudinary_honours_retry_after_from_sdk_errors(connections) -> None:
    _, cld_proc = connections
    sleep = RecordingSleep(on_first=lambda: cld_proc.set_faults(p_429=0))
    hook = CloudinaryHook(retry=policy(sleep))
    cld_proc.set_faults(p_429=1.0, retry_after=1.5)
    assert hook.ping()
    assert sleep.waits == [1.5]


# A lost reply: the service carried the call out, the answer never arrived. A write retried
# blindly would happen twice; each hook looks for it first.
def injected(proc) -> dict[str, int]:
    """The faults the emulator has served so far, by kind (``lost``, ``drop``, ``5xx``, ``429``)."""
    return proc.control("GET", "calls")["faults"]


def lost_once(proc, route: str):
    """Lose the answer of the next call to ``route`` (only that one)."""
    proc.set_faults(p_lost_reply=1.0, path_prefix=route, fail_after=None, seed=1)
    return lambda: proc.set_faults(p_lost_reply=0, path_prefix="")


class LostOnce:
    """Loses the next answer on ``route`` and checks afterwards that exactly that one was lost
    and retried (a prefix that stopped matching would otherwise test nothing)."""

    def __init__(self, proc, route: str) -> None:
        self.proc, self.before = proc, injected(proc).get("lost", 0)
        self.sleep = RecordingSleep(on_first=lost_once(proc, route))

    def fired(self) -> bool:
        return injected(self.proc).get("lost", 0) - self.before == 1 and len(self.sleep.waits) == 1


def test_a_lost_reply_does_not_upload_twice_to_photoshelter(connections, ps_seed, tmp_path) -> None:
    ps_proc, _ = connections
    source = tmp_path / "lost.jpg"
    source.write_bytes(small_jpeg().getvalue())
    lost = LostOnce(ps_proc, "/psapi/v3/mem/image/upload")
    hook = PhotoShelterHook(retry=policy(lost.sleep))
    hook.login()
    gallery = hook.create_gallery(f"lost-{uuid.uuid4().hex[:6]}")["gallery_id"]
    image = hook.upload_image(gallery, source, file_name="lost-reply.jpg")
    names = [r["Image"]["file_name"] for r in hook.iter_gallery_images(gallery, extend={
        "Image": {"fields": "image_id,file_name", "params": {}}})]
    assert names == ["lost-reply.jpg"] and image["image_id"] == hook.gallery_file_names(gallery)["lost-reply.jpg"]
    assert ps_proc.calls()["POST /psapi/v3/mem/image/upload"] == 1  # sent once, found on the retry
    assert lost.fired()


def test_a_lost_reply_does_not_make_a_second_gallery(connections) -> None:
    ps_proc, _ = connections
    lost = LostOnce(ps_proc, "/psapi/v3/mem/gallery/insert")
    hook = PhotoShelterHook(retry=policy(lost.sleep))
    hook.login()
    name = f"lost-gallery-{uuid.uuid4().hex[:6]}"
    made = hook.create_gallery(name)
    assert [g["gallery_id"] for g in hook.find_galleries(name)] == [made["gallery_id"]]
    assert lost.fired()


def test_a_lost_reply_does_not_upload_twice_to_cloudinary(connections) -> None:
    _, cld_proc = connections
    lost = LostOnce(cld_proc, "/v1_1/democloud/image/upload")
    hook = CloudinaryHook(retry=policy(lost.sleep))
    public_id = f"tests/lost-{uuid.uuid4().hex[:6]}"
    result = hook.upload(small_jpeg(), public_id, context={"ps_file": "abc"}, eager=[{"width": 20, "crop": "scale"}])
    assert result["public_id"] == public_id and result["eager"][0]["width"] == 20  # the answer, from explicit
    assert cld_proc.calls()["POST /v1_1/{cloud}/{rt}/upload"] == 1
    assert hook.resource(public_id)["version"] == result["version"]  # one version: stored once
    assert lost.fired()
