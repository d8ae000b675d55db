"""A benchmark world: a seeded PhotoShelter, an empty Cloudinary, a campaign with M markets of six
renditions each, storage, and Airflow homes for the runner processes.

The masters are real JPEGs in realistic sizes, but only ``DISTINCT`` different files: with the
Cloudinary emulator's ``--shared-derivatives`` each transformation renders once per distinct
file, so the emulator's Pillow work stays out of the figures (every answer is still truthful).
"""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from emulators.common.store import DocStore
from emulators.photoshelter.account import add_container, ensure_account, make_container, ps_time, store_image
from emulators.photoshelter.seed import custom_metadata, jpeg_bytes
from emulators.runner import (
    EmulatorProcess,
    cloudinary_connection,
    photoshelter_connection,
    start_cloudinary,
    start_photoshelter,
)

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = "bench-campaign"
DISTINCT = 8
SIZES = [(1600, 1200), (1200, 1600), (1920, 1080), (1080, 1920), (1500, 1500), (2400, 1600), (1200, 900),
         (900, 1200)]
# Six renditions per market, as the sizing assumes (no add-on effect: it is a premium feature).
RENDITIONS = [
    {"name": "hero", "width": 1600, "aspect_ratio": "16:9"},
    {"name": "square", "width": 1080, "aspect_ratio": "1:1", "format": "webp"},
    {"name": "story", "width": 1080, "aspect_ratio": "9:16"},
    {"name": "portrait", "width": 1080, "height": 1350},
    {"name": "banner", "width": 1200, "aspect_ratio": "3:1", "overlay": False},
    {"name": "thumb", "width": 400, "aspect_ratio": "1:1", "overlay": False},
]
ZONES = ["Europe/Paris", "Asia/Tokyo", "America/New_York", "Asia/Riyadh", "Europe/London", "Australia/Sydney",
         "America/Sao_Paulo", "Asia/Kolkata"]
FAR = 10_000_000  # the Admin API quota: counted by the benchmark, never in its way


def market_codes(count: int) -> list[str]:
    return [f"m{i:02d}" for i in range(1, count + 1)]


def write_config(include: Path, markets: int, campaign_markets: int | None = None) -> Path:
    """An include folder: the campaign (in ``campaign_markets`` of them) and ``markets`` files."""
    codes = market_codes(markets)
    (include / "markets").mkdir(parents=True, exist_ok=True)
    (include / "campaigns").mkdir(parents=True, exist_ok=True)
    for i, code in enumerate(codes):
        (include / "markets" / f"{code}.yaml").write_text(yaml.safe_dump({
            "code": code, "name": f"Market {code}", "locales": ["en-GB"], "timezone": ZONES[i % len(ZONES)],
            "usage_rights": "any", "renditions": RENDITIONS}, sort_keys=False))
    today = datetime.now(UTC).date()
    (include / "campaigns" / f"{CAMPAIGN}.yaml").write_text(yaml.safe_dump({
        "id": CAMPAIGN, "name": "Bench Campaign", "source": {"collection_name": "Bench Campaign"},
        "window": {"start": str(today - timedelta(days=30)), "end": str(today + timedelta(days=300))},
        "markets": codes[: campaign_markets or markets], "copy": {"en-GB": {"headline": "Spring is here"}},
        "approval": {"field": "Approval Status", "value": "Approved"},
        "archive": {"gallery": "Bench Campaign — archive", "grace_days": 7, "masters": "restrict"}},
        sort_keys=False, allow_unicode=True))
    return include


def seed_masters(data_dir: Path, count: int, galleries: int = 4, seed_value: int = 11) -> list[str]:
    """``count`` approved masters with governance metadata and a licence, over ``galleries``."""
    rng = random.Random(seed_value)
    store = DocStore(data_dir)
    ensure_account(store)
    collection = add_container(store, "collection", make_container("collection", "Bench Campaign", None))
    gallery_ids = [add_container(store, "gallery", make_container(
        "gallery", f"Bench Campaign — masters {g + 1}", collection["collection_id"]))["gallery_id"]
        for g in range(galleries)]
    files = [jpeg_bytes(size, f"bench #{i}", rng) for i, size in enumerate(SIZES[:DISTINCT])]
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ids = []
    for i in range(count):
        record = store_image(store, gallery_ids[i % galleries], f"bench_{i:05d}.jpg", io.BytesIO(files[i % DISTINCT]),
                             custom=custom_metadata(**{"Approval Status": "Approved", "Owner": "brand-studio",
                                                       "Campaign": CAMPAIGN, "Usage Rights": "worldwide-digital",
                                                       "Submission Source": "staff"}),
                             license_etime=ps_time(yesterday + timedelta(days=400)),
                             iptc={"caption": f"Bench master {i}", "headline": f"bench {i}"},
                             updated_at=ps_time(yesterday))
        ids.append(record["image_id"])
    store.close()
    return ids


@dataclass
class World:
    """Everything one benchmark repeat runs against; ``env`` is what the runners need."""

    base: Path
    masters: list[str]
    markets: list[str]
    ps: EmulatorProcess
    cld: EmulatorProcess
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        self.ps.stop()
        self.cld.stop()


def airflow_template(base: Path) -> Path:
    """An Airflow home with a migrated SQLite DB, made once and copied per runner slot."""
    home = base / "airflow-template"
    if not (home / "airflow.db").exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                       env={**os.environ, **airflow_env(home)})
    return home


def airflow_env(home: Path) -> dict[str, str]:
    return {"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])}


def slot_home(base: Path, template: Path, slot: int) -> Path:
    """Runner slot ``slot``'s own Airflow home (its own DB: runs in parallel never lock each other)."""
    home = base / f"airflow-{slot}"
    if not home.exists():
        shutil.copytree(template, home)
    return home


def build(base: Path, masters: int, markets: int, latency_ms: float) -> World:
    """Seed, start the emulators with ``latency_ms`` per call, and write the config."""
    base.mkdir(parents=True, exist_ok=True)
    ids = seed_masters(base / "ps", masters)
    ps = start_photoshelter(base / "ps", args=["--latency-ms", str(latency_ms)])
    cld = start_cloudinary(base / "cld", args=["--latency-ms", str(latency_ms), "--shared-derivatives",
                                              "--admin-hourly-limit", str(FAR)])
    include = write_config(base / "include", markets)
    env = {"AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": photoshelter_connection(ps),
           "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cloudinary_connection(cld),
           "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": (base / "storage").as_uri(),
           "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(include)}
    return World(base, ids, market_codes(markets), ps, cld, env)
