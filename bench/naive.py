"""The naive baselines: the same work done the simple way, one asset and one API call at a time,
with the project's own hooks (so the difference is the shape of the work, not the client).

* ingest — list the source once, then per master: download the original, upload it.
* variants — per master per market: upload the copy (no eager), then per rendition one
  ``explicit`` call for that rendition, a download and an upload to PhotoShelter.
* windows — per market copy (the naive variants' own): read the master's rights in
  PhotoShelter, set the copy's rules.

Being serial, the naive time is linear in the work: each baseline runs on a sample and prints
its seconds per item; the driver multiplies by the scenario's item count (say so in reports).

    python -m bench.naive ingest|variants|windows --sample K
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from campaign_media.config.loader import current_config
from campaign_media.domain.masters import LICENCE_UNREADABLE, MASTER_DELIVERY, classify, master_public_id
from campaign_media.domain.renditions import market_specs
from campaign_media.domain.windows import Rights, decide
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime.sources import SourceListing
from campaign_media.steps.shared.delivery import master_url

NAIVE = "naive"  # the baselines' own public IDs and gallery: never mixed with the project's


def ingest(ps: PhotoShelterHook, cld: CloudinaryHook, sample: int, tmp: Path) -> dict[str, float]:
    campaign = next(iter(current_config()[1].values()))
    started = time.perf_counter()
    records = list(SourceListing(ps, campaign))
    listed = time.perf_counter() - started
    started = time.perf_counter()
    for record in records[:sample]:
        image_id = record.get("image_id") or record["Image"]["image_id"]
        local = tmp / image_id
        ps.download_original(image_id, local)
        cld.upload(local, f"{NAIVE}/masters/{image_id}", delivery_type=MASTER_DELIVERY)
        local.unlink()
    return {"fixed_s": listed, "per_item_s": (time.perf_counter() - started) / sample}


def variants(ps: PhotoShelterHook, cld: CloudinaryHook, sample: int, tmp: Path) -> dict[str, float]:
    markets, campaigns = current_config()
    campaign = next(iter(campaigns.values()))
    market = markets[campaign.markets[0]]
    eager, _ = market_specs(campaign, market)
    collection = ps.ensure_collection(f"{NAIVE} renditions")["collection_id"]
    gallery = ps.ensure_gallery(f"{NAIVE} renditions {market.code}", collection)["gallery_id"]
    prefix = master_public_id(campaign.id, "")
    masters = [r for _, r in zip(range(sample), cld.iter_resources(prefix=prefix, delivery_type=MASTER_DELIVERY),
                                 strict=False)]
    started = time.perf_counter()
    for res in masters:
        copy = f"{NAIVE}/{market.code}/{res['public_id'][len(prefix):]}"
        cld.upload(master_url(cld, res["public_id"], format=res.get("format") or "jpg"), copy)
        for rendition, spec in zip(market.renditions, eager, strict=True):
            derived = cld.explicit(copy, eager=[spec])["eager"][0]
            local = tmp / f"{rendition.name}.{derived['format']}"
            cld.download(derived["secure_url"], local)
            ps.upload_image(gallery, local, file_name=f"{copy.replace('/', '_')}_{rendition.name}.{derived['format']}")
    return {"fixed_s": 0.0, "per_item_s": (time.perf_counter() - started) / len(masters)}


def windows(ps: PhotoShelterHook, cld: CloudinaryHook, sample: int, tmp: Path) -> dict[str, float]:
    markets, campaigns = current_config()
    campaign = next(iter(campaigns.values()))
    market = markets[campaign.markets[0]]
    prefix = f"{NAIVE}/{market.code}/"  # the copies the naive variants made (the project's are not touched)
    copies = [r for _, r in zip(range(sample), cld.iter_resources(prefix=prefix), strict=False)]
    started = time.perf_counter()
    for res in copies:
        image_id = res["public_id"][len(prefix):]
        record = ps.get_image(image_id, {"License": {"fields": "license_etime", "params": {}},
                                         "CustomMetadata": {"fields": "name,value", "params": {}}})
        master, _ = classify({"Image": record, "image_id": image_id, **record}, campaign.approval)
        rights = Rights(master.licence_expiry, master.usage_rights) if master else Rights(LICENCE_UNREADABLE, "")
        cld.update_access_control(res["public_id"], decide(campaign, market, rights, datetime.now(UTC)).rules)
    return {"fixed_s": 0.0, "per_item_s": (time.perf_counter() - started) / len(copies)}


SCENARIOS = {"ingest": ingest, "variants": variants, "windows": windows}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive")
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--sample", type=int, default=12)
    args = parser.parse_args()
    with PhotoShelterHook() as ps, tempfile.TemporaryDirectory() as tmp:
        figures = SCENARIOS[args.scenario](ps, CloudinaryHook(), args.sample, Path(tmp))
    print("BENCH " + json.dumps({"scenario": args.scenario, "sample": args.sample, **figures}), flush=True)


if __name__ == "__main__":
    main()
