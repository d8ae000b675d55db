"""``make demo``: start and seed both emulators, then prove the hooks against them end to end.

What it does, in order (each step prints what it did):

1. seeds a PhotoShelter data dir with a demo campaign and starts both emulators on free ports;
2. logs in to PhotoShelter (token + organisation), walks the library, lists every master
   page by page and sorts them into approved / not approved / broken;
3. pushes each approved master to Cloudinary straight from PhotoShelter's signed link
   (deterministic public ID, governance tags and context, one eager rendition), with 10 %
   injected 5xx/429 faults on both APIs so the hooks' retries show;
4. fetches a localized delivery URL and checks the image's size and format;
5. writes one published rendition back to PhotoShelter, linked to its master by metadata;
6. runs the push again to show it is idempotent (nothing is uploaded twice);
7. prints the usage report, the API calls per route and a summary, then stops the servers.

Later issues replace steps 2–6 with the Airflow DAGs run by ``airflow standalone``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".demo" / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import httpx  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from emulators.photoshelter.seed import seed  # noqa: E402
from emulators.runner import CLD_CREDENTIALS, PS_CREDENTIALS, start_cloudinary, start_photoshelter  # noqa: E402

CAMPAIGN = "spring-launch-2026"
MARKET = {"code": "fr-FR", "headline": "Le printemps est là", "width": 800, "aspect_ratio": "4:5"}


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def configure_connections(ps, cld) -> None:
    os.environ["AIRFLOW_CONN_PHOTOSHELTER_DEFAULT"] = json.dumps({
        "conn_type": "http", "host": ps.base_url, "login": PS_CREDENTIALS["email"],
        "password": PS_CREDENTIALS["password"], "extra": {"api_key": PS_CREDENTIALS["api_key"],
                                                          "retry_base_delay": 0.05}})
    os.environ["AIRFLOW_CONN_CLOUDINARY_DEFAULT"] = json.dumps({
        "conn_type": "cloudinary", "host": CLD_CREDENTIALS["cloud_name"], "login": CLD_CREDENTIALS["api_key"],
        "password": CLD_CREDENTIALS["api_secret"],
        "extra": {"upload_prefix": cld.base_url, "delivery_host": f"127.0.0.1:{cld.port}",
                  "retry_base_delay": 0.05}})


def approval(record: dict) -> str:
    fields = {m.get("name"): m.get("value") for m in record.get("CustomMetadata") or []}
    return (fields.get("Approval Status") or "unknown").lower()


def push_approved(ps_hook, cld_hook, masters: list[dict]) -> tuple[int, int]:
    """Upload approved masters by URL; returns (uploaded, already there)."""
    uploaded = existing = 0
    for record in masters:
        image = record["Image"]
        fields = {m["name"]: m["value"] for m in record.get("CustomMetadata") or []}
        result = cld_hook.upload(
            record["ImageLink"]["auth_link"], f"campaigns/{CAMPAIGN}/masters/{record['image_id']}",
            overwrite=False, tags=[f"campaign:{CAMPAIGN}", f"market:{MARKET['code']}"],
            context={"ps_image_id": record["image_id"], "owner": fields.get("Owner", ""),
                     "usage_rights": fields.get("Usage Rights", ""),
                     "license_expiry": (record.get("License") or {}).get("license_etime", ""),
                     "file_name": image["file_name"]},
            eager=[{"width": 400, "height": 400, "crop": "fill", "gravity": "auto", "format": "webp"}])
        if result.get("existing"):
            existing += 1
        else:
            uploaded += 1
    return uploaded, existing


def main() -> int:
    started = time.monotonic()
    work = ROOT / ".demo"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    step("Seeding the PhotoShelter emulator with a demo campaign")
    seeded = seed(work / "photoshelter", images=24, galleries=2)
    print(f"collection {seeded['collection_id']}, galleries {seeded['gallery_ids']}: "
          f"{len(seeded['approved'])} approved, {len(seeded['pending'])} pending, {len(seeded['rejected'])} "
          f"rejected, {len(seeded['broken'])} deliberately broken records")

    step("Starting the emulators")
    ps = start_photoshelter(work / "photoshelter")
    cld = start_cloudinary(work / "cloudinary")
    print(f"PhotoShelter emulator: {ps.base_url}   Cloudinary emulator: {cld.base_url}")
    try:
        configure_connections(ps, cld)
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.hooks.photoshelter import PhotoShelterError

        ps_hook, cld_hook = PhotoShelterHook(), CloudinaryHook()

        step("PhotoShelter: login, organisation login, library walk, paged listing")
        ps_hook.login()
        galleries = [g for path, g in ps_hook.walk_galleries() if path and path[0] == "Spring Launch 2026"]
        masters = [r for g in galleries for r in ps_hook.iter_gallery_images(g["gallery_id"], per_page=10)]
        approved = [r for r in masters if approval(r) == "approved"]
        print(f"organisation {ps_hook.org_id}; {len(galleries)} galleries; {len(masters)} media listed "
              f"({ps.calls().get('GET /psapi/v3/mem/gallery/{gallery_id}/images')} listing pages of 10); "
              f"{len(approved)} approved")

        step("Checking approved originals (streamed download; broken ones are reported, not fatal)")
        skipped: dict[str, str] = {}
        shippable = []
        with tempfile.TemporaryDirectory() as tmp:
            for record in approved:
                try:
                    got = ps_hook.download_original(record["image_id"], Path(tmp) / "original")
                    if not got.content_type.startswith("image/"):
                        raise ValueError(f"not an image ({got.content_type})")
                    shippable.append(record)
                except (PhotoShelterError, ValueError) as exc:
                    skipped[record["image_id"]] = str(exc).split(": ", 1)[-1][:140]
        for image_id, why in skipped.items():
            print(f"  skipped {image_id}: {why}")

        step("Cloudinary: pushing approved masters from PhotoShelter links, with 10% injected faults")
        for proc in (ps, cld):
            proc.set_faults(p_5xx=0.1, p_429=0.05, retry_after=0.05, seed=42)
        uploaded, existing = push_approved(ps_hook, cld_hook, shippable)
        for proc in (ps, cld):
            proc.set_faults(p_5xx=0, p_429=0)
        print(f"uploaded {uploaded}, already present {existing}; "
              f"upload calls incl. retries: {cld.calls().get('POST /v1_1/{cloud}/{rt}/upload')}")

        step(f"Delivery: a localized rendition for {MARKET['code']}")
        first = shippable[0]
        public_id = f"campaigns/{CAMPAIGN}/masters/{first['image_id']}"
        url = cld_hook.delivery_url(public_id, format="jpg", transformation=[
            {"width": MARKET["width"], "aspect_ratio": MARKET["aspect_ratio"], "crop": "fill", "gravity": "auto"},
            {"overlay": {"font_family": "Arial", "font_size": 42, "font_weight": "bold", "text": MARKET["headline"]},
             "color": "white", "gravity": "south", "y": 40},
            {"quality": "auto"}])
        response = httpx.get(url, timeout=30)
        rendition = Image.open(io.BytesIO(response.content))
        print(f"{url}\n  -> HTTP {response.status_code}, {rendition.format} {rendition.size[0]}x{rendition.size[1]}, "
              f"{len(response.content)} bytes")
        assert response.status_code == 200 and rendition.size == (800, 1000), "rendition has the wrong size"

        step("Write-back: the published rendition stored in PhotoShelter, linked to its master")
        renditions = ps_hook.ensure_gallery(f"{CAMPAIGN} — renditions {MARKET['code']}", seeded["collection_id"])
        name = f"{first['image_id']}__{MARKET['code']}__800x1000.jpg"
        if ps_hook.count_images(renditions["gallery_id"], name) == 0:
            with tempfile.TemporaryDirectory() as tmp:
                cld_hook.download(url, Path(tmp) / name)
                written = ps_hook.upload_image(renditions["gallery_id"], Path(tmp) / name)
            ps_hook.update_metadata(written["image_id"], custom={
                "Master Image ID": first["image_id"], "Market": MARKET["code"], "Cloudinary URL": url})
            print(f"stored {written['image_id']} in gallery {renditions['gallery_id']} ({name})")

        step("Idempotence: pushing the same masters again")
        before = cld.calls().get("POST /v1_1/{cloud}/{rt}/upload", 0)
        uploaded_again, existing_again = push_approved(ps_hook, cld_hook, shippable)
        print(f"uploaded {uploaded_again}, already present {existing_again} "
              f"({cld.calls().get('POST /v1_1/{cloud}/{rt}/upload', 0) - before} calls, no new versions)")
        assert uploaded_again == 0

        step("Cloudinary usage report")
        usage = cld_hook.usage()
        print(f"resources {usage['resources']}, derived {usage['derived_resources']}, storage "
              f"{usage['storage']['usage']} B, bandwidth {usage['bandwidth']['usage']} B, transformations "
              f"{usage['transformations']['usage']}")

        step("API calls per route (emulator counters, retries included)")
        calls = pd.DataFrame(
            [{"api": api, "route": route, "calls": n}
             for api, proc in (("photoshelter", ps), ("cloudinary", cld)) for route, n in proc.calls().items()]
        ).sort_values(["api", "calls"], ascending=[True, False])
        print(calls.to_string(index=False))
        ps_hook.close()

        step("Summary")
        print(f"masters listed {len(masters)}, approved {len(approved)}, shipped {len(shippable)}, "
              f"skipped {len(skipped)} (broken), renditions written back 1, second run uploads {uploaded_again}; "
              f"{time.monotonic() - started:.1f}s")
        return 0
    finally:
        ps.stop()
        cld.stop()


if __name__ == "__main__":
    raise SystemExit(main())
