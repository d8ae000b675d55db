"""Seed a PhotoShelter emulator data dir with a demo campaign (run before the server starts).

Creates a collection, ``G`` galleries and ``N`` generated JPEG masters spread over them, with
IPTC, custom metadata (approval status, owner, campaign, usage rights, submission source) and
a licence expiry; a mix of approved, pending and rejected media, an expired licence, non-ASCII
file names, plus four deliberately broken records (listed under ``broken`` in the output):

* ``missing_original`` — the record exists, its original file does not (download answers 404);
* ``zero_byte`` — a zero-byte original;
* ``not_an_image`` — a text file named ``.jpg``;
* ``unreadable_licence`` — an approved image whose licence expiry is not a date.

``videos=V`` adds ``V`` short generated hero videos (``VD000…``, made with ffmpeg: a test
pattern, a tone and a burnt-in label; landscape and portrait), approved, listed under ``videos``.
"""

from __future__ import annotations

import io
import random
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from emulators.common.store import DocStore
from emulators.common.video import tool
from emulators.photoshelter.account import (
    add_container,
    ensure_account,
    make_container,
    ps_time,
    store_image,
    store_video,
)

CAMPAIGN = "spring-launch-2026"
VIDEO_SIZES = [(1280, 720), (720, 1280), (960, 960)]
SIZES = [(1600, 1200), (1200, 1600), (1920, 1080), (1080, 1920), (1500, 1500), (2400, 1600), (900, 600)]
NAMES = ["hero", "lifestyle", "product", "detail", "studio", "outdoor"]
UNICODE_NAMES = ["café_été", "東京_キャンペーン", "مرحبا_بالعالم", "Ünïcødé façade", "זמן_קיץ"]
OWNERS = ["brand-studio", "agency-north", "contributor:ana.lima", "ugc:@sunny_days"]
FIELD_IDS = {"Approval Status": "F0000000001", "Owner": "F0000000002", "Campaign": "F0000000003",
             "Usage Rights": "F0000000004", "Submission Source": "F0000000005"}


def custom_metadata(**values: str) -> list[dict[str, str]]:
    """Custom metadata entries in the [INFERRED] v3 ``CustomMetadata`` shape."""
    return [{"field_id": FIELD_IDS[name], "name": name, "value": value} for name, value in values.items()]


def jpeg_bytes(size: tuple[int, int], label: str, rng: random.Random) -> bytes:
    """A JPEG master with a flat background and a few shapes, so crops are visibly different."""
    im = Image.new("RGB", size, tuple(rng.randrange(40, 220) for _ in range(3)))
    draw = ImageDraw.Draw(im)
    w, h = size
    for _ in range(4):
        x0, y0 = rng.randrange(w // 2), rng.randrange(h // 2)
        draw.rectangle([x0, y0, x0 + w // 3, y0 + h // 3], fill=tuple(rng.randrange(256) for _ in range(3)))
    draw.text((20, 20), label, fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def make_video(dest: Path, size: tuple[int, int], seconds: float, label: str) -> Path:
    """A small H.264/AAC MP4: a moving test pattern, a tone, ``label`` in the corner."""
    width, height = size
    subprocess.run(
        [tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-vf", f"drawbox=x=0:y=0:w={width // 3}:h={height // 12}:color=black@0.6:t=fill,"
                f"drawtext=text='{label}':x=10:y=10:fontsize={max(12, height // 30)}:fontcolor=white",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
         "-movflags", "+faststart", str(dest)], check=True, capture_output=True, timeout=120)
    return dest


def seed(data_dir: str | Path, images: int, galleries: int = 1, seed_value: int = 7,
         videos: int = 0, waiting: int = 0, spacing_hours: int = 5) -> dict[str, Any]:
    """Create the demo campaign and return the IDs it made. ``waiting``: that many more small
    masters (900x600), all pending, for tests that approve many at once (``out["waiting"]``);
    ``spacing_hours``: between two masters' last changes, the last one 5 hours before midnight."""
    rng = random.Random(seed_value)
    store = DocStore(data_dir)
    account = ensure_account(store)
    now = datetime.now(UTC)
    # Every master was approved or last changed before today's midnight (UTC), spread over the
    # previous days, so a backfill of the past week sees all of them, a day at a time.
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    collection = add_container(store, "collection", make_container(
        "collection", "Spring Launch 2026", None, description=f"campaign:{CAMPAIGN}"))
    gallery_ids = [add_container(store, "gallery", make_container(
        "gallery", f"Spring Launch 2026 — masters {g + 1}", collection["collection_id"]))["gallery_id"]
        for g in range(max(1, galleries))]
    out: dict[str, Any] = {"account": {"org_id": account["org_id"], "user_id": account["user_id"]},
                           "collection_id": collection["collection_id"], "gallery_ids": gallery_ids,
                           "approved": [], "pending": [], "rejected": [], "expired_licence": [],
                           "non_ascii": [], "broken": {}}
    statuses = ["Approved", "Approved", "Approved", "Pending", "Approved", "Rejected"]
    for i in range(images):
        status = statuses[i % len(statuses)]
        expired = i % 7 == 5
        name = UNICODE_NAMES[i % len(UNICODE_NAMES)] if i % 4 == 2 else f"{NAMES[i % len(NAMES)]}_{i:04d}"
        size = SIZES[i % len(SIZES)]
        etime = now - timedelta(days=3) if expired else now + timedelta(days=90 + i % 200)
        record = store_image(
            store, gallery_ids[i % len(gallery_ids)], f"{name}.jpg",
            io.BytesIO(jpeg_bytes(size, f"{CAMPAIGN} #{i}", rng)),
            custom=custom_metadata(**{
                "Approval Status": status, "Owner": OWNERS[i % len(OWNERS)], "Campaign": CAMPAIGN,
                "Usage Rights": "worldwide-digital" if i % 3 else "emea-web-only",
                "Submission Source": OWNERS[i % len(OWNERS)].split(":")[0]}),
            license_etime=ps_time(etime),
            iptc={"caption": f"Spring launch master {i}", "keyword": "spring, launch, 2026",
                  "credit": "Brand Studio", "copyright": "© 2026 Example Brand", "headline": name},
            updated_at=ps_time(midnight - timedelta(hours=spacing_hours * (images - i - 1) + 5)),
        )
        out[status.lower()].append(record["image_id"])
        if expired:
            out["expired_licence"].append(record["image_id"])
        if not name.isascii():
            out["non_ascii"].append(record["image_id"])
    out["waiting"] = [store_image(
        store, gallery_ids[i % len(gallery_ids)], f"burst_{i:04d}.jpg",
        io.BytesIO(jpeg_bytes((900, 600), f"{CAMPAIGN} waiting #{i}", rng)),
        custom=custom_metadata(**{"Approval Status": "Pending", "Owner": OWNERS[0], "Campaign": CAMPAIGN,
                                  "Usage Rights": "worldwide-digital", "Submission Source": OWNERS[0]}),
        license_etime=ps_time(now + timedelta(days=90)), updated_at=ps_time(midnight - timedelta(hours=3)),
    )["image_id"] for i in range(waiting)]
    out["broken"] = seed_broken(store, gallery_ids[0], rng, now, ps_time(midnight - timedelta(hours=1)))
    out["videos"] = seed_videos(store, gallery_ids, videos, now, ps_time(midnight - timedelta(hours=2)))
    return out


def seed_videos(store: DocStore, gallery_ids: list[str], count: int, now: datetime, updated_at: str) -> list[str]:
    """``count`` approved hero videos, 4–6 s each, spread over the galleries."""
    made = []
    with tempfile.TemporaryDirectory(prefix="seed-videos-") as tmp:
        for i in range(count):
            size = VIDEO_SIZES[i % len(VIDEO_SIZES)]
            name = f"hero_film_{i:02d}.mp4"
            path = make_video(Path(tmp) / name, size, 4 + i % 3, f"{CAMPAIGN} film {i}")
            record = store_video(
                store, gallery_ids[i % len(gallery_ids)], name, path,
                custom=custom_metadata(**{"Approval Status": "Approved", "Owner": "brand-studio",
                                          "Campaign": CAMPAIGN, "Usage Rights": "worldwide-digital",
                                          "Submission Source": "brand-studio"}),
                license_etime=ps_time(now + timedelta(days=120 + i)),
                iptc={"caption": f"Spring launch film {i}", "headline": f"hero film {i}", "credit": "Brand Studio"},
                updated_at=updated_at)
            made.append(record["video_id"])
    return made


def seed_broken(store: DocStore, gallery_id: str, rng: random.Random, now: datetime,
                updated_at: str) -> dict[str, str]:
    """The deliberately broken records a robust pipeline must report and skip."""
    approved = custom_metadata(**{"Approval Status": "Approved", "Owner": "brand-studio",
                                  "Campaign": CAMPAIGN, "Usage Rights": "worldwide-digital",
                                  "Submission Source": "brand-studio"})
    good_licence = ps_time(now + timedelta(days=60))
    missing = store_image(store, gallery_id, "missing_original.jpg",
                          io.BytesIO(jpeg_bytes((640, 480), "missing", rng)),
                          custom=approved, license_etime=good_licence, updated_at=updated_at)
    (store.blob_dir / "originals" / missing["image_id"]).unlink()
    zero = store_image(store, gallery_id, "zero_byte.jpg", io.BytesIO(b""), custom=approved,
                       license_etime=good_licence, validate=False, updated_at=updated_at)
    text = store_image(store, gallery_id, "not_really.jpg", io.BytesIO(b"this is not an image\n"),
                       custom=approved, license_etime=good_licence, validate=False, updated_at=updated_at)
    unreadable = store_image(store, gallery_id, "licence_unreadable.jpg",
                             io.BytesIO(jpeg_bytes((800, 800), "licence?", rng)),
                             custom=approved, license_etime="sometime next spring", updated_at=updated_at)
    return {"missing_original": missing["image_id"], "zero_byte": zero["image_id"],
            "not_an_image": text["image_id"], "unreadable_licence": unreadable["image_id"]}
