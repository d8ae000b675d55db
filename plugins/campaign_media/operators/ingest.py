"""Ingest: approved PhotoShelter masters → Cloudinary, incrementally and idempotently.

``plan`` lists each campaign's masters once (one PhotoShelter call per page) and what is
already in Cloudinary (one Admin API call per 500 assets), keeps the approved masters that
changed inside the run's data interval and whose version Cloudinary does not have yet, and
writes them to batch manifests. ``push`` uploads one batch (one Upload API call per master,
Cloudinary fetching the original straight from PhotoShelter's signed link, so no original
passes through the worker; masters are token-only, never public). ``report`` merges the batch
results into the run's report.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from campaign_media import storage
from campaign_media.config.models import Campaign
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.masters import Master, changed_in, classify, master_public_id
from campaign_media.windows import TOKEN_ONLY

log = logging.getLogger(__name__)
BATCH_SIZE = int(os.environ.get("CAMPAIGN_MEDIA_BATCH_SIZE", 100))  # masters per mapped task


def campaign_galleries(ps: PhotoShelterHook, campaign: Campaign) -> tuple[list[str], str | None]:
    """The campaign's source gallery IDs, and the collection that holds them (if any)."""
    src = campaign.source
    if src.gallery_ids:
        return list(src.gallery_ids), None
    if src.collection_id:
        return [g["gallery_id"] for _, g in ps.walk_galleries(src.collection_id)], src.collection_id
    for collection in ps.get_children("root")["collections"]:
        if collection["name"] == src.collection_name:
            cid = collection["collection_id"]
            return [g["gallery_id"] for _, g in ps.walk_galleries(cid)], cid
    raise ValueError(f"campaign {campaign.id}: no top-level PhotoShelter collection named "
                     f"{src.collection_name!r}; fix source.collection_name in include/campaigns/{campaign.id}.yaml")


def published_versions(cld: CloudinaryHook, campaign: str) -> dict[str, str]:
    """``image_id -> ps_version`` of every master already in Cloudinary for the campaign."""
    prefix = master_public_id(campaign, "")
    versions = {}
    for res in cld.iter_resources(prefix=prefix):
        context = (res.get("context") or {}).get("custom") or {}
        versions[res["public_id"][len(prefix):]] = context.get("ps_version", "")
    return versions


def plan(ps: PhotoShelterHook, cld: CloudinaryHook, campaigns: list[Campaign], run_key: str,
         start: datetime | None, end: datetime | None, *, force: bool = False,
         batch_size: int = BATCH_SIZE) -> list[dict[str, Any]]:
    """Write batch manifests of masters to upload; return their (small) descriptors."""
    batches: list[dict[str, Any]] = []
    for campaign in campaigns:
        galleries, _ = campaign_galleries(ps, campaign)
        published = published_versions(cld, campaign.id)
        todo: list[Master] = []
        skipped: dict[str, str] = {}
        counts = {"listed": 0, "approved": 0, "outside_interval": 0, "unchanged": 0}
        for gallery_id in galleries:
            for record in ps.iter_gallery_images(gallery_id):
                counts["listed"] += 1
                master, reason = classify(record, campaign.approval)
                if master is None:
                    skipped[record.get("image_id", "?")] = reason
                    continue
                counts["approved"] += 1
                if not force and not changed_in(master, start, end):
                    counts["outside_interval"] += 1
                elif not force and published.get(master.image_id) == master.version:
                    counts["unchanged"] += 1
                else:
                    todo.append(master)
        base = storage.path(campaign.id, "ingest", run_key)
        storage.write_json(base / "plan.json", {"counts": counts, "skipped": skipped, "to_upload": len(todo),
                                                 "interval": [str(start), str(end)], "force": force})
        log.info("campaign %s: %s; %d to upload; %d skipped: %s", campaign.id, counts, len(todo),
                 len(skipped), skipped)
        for index in range(0, len(todo), batch_size):
            chunk = todo[index:index + batch_size]
            path = storage.write_json(base / f"batch-{index // batch_size:04d}.json", [m.to_dict() for m in chunk])
            batches.append({"campaign": campaign.id, "path": path, "count": len(chunk),
                            "label": f"{campaign.id} batch {index // batch_size + 1} ({len(chunk)} masters)"})
    return batches


def push(cld: CloudinaryHook, campaign: Campaign, batch: dict[str, Any]) -> dict[str, Any]:
    """Upload one batch; a master that fails is recorded with its reason, never fatal to others."""
    uploaded, failed = [], {}
    for data in storage.read_json(batch["path"], []):
        master = Master.from_dict(data)
        tags = [f"campaign:{campaign.id}", *(f"market:{m}" for m in campaign.markets), f"owner:{master.owner}"]
        try:
            # Masters are never delivered publicly: only token URLs (the pipeline's) open them.
            result = cld.upload(master.link, master.public_id(campaign.id), overwrite=True, tags=tags,
                                context=master.context(campaign.id), access_control=TOKEN_ONLY)
        except CloudinaryError as exc:
            failed[master.image_id] = str(exc).split("failed: ", 1)[-1]
            continue
        uploaded.append({"image_id": master.image_id, "public_id": result["public_id"], "version": master.version,
                         "width": result.get("width"), "height": result.get("height"), "bytes": result.get("bytes")})
    result_path = storage.write_json(batch["path"].replace("batch-", "result-"),
                                     {"uploaded": uploaded, "failed": failed})
    if failed:
        log.warning("%s: %d master(s) could not be ingested: %s", batch["label"], len(failed), failed)
    return {"campaign": campaign.id, "path": result_path, "uploaded": len(uploaded), "failed": len(failed)}


def report(campaign_ids: list[str], run_key: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the plan and the batch results into one report per campaign; return totals."""
    totals: dict[str, Any] = {}
    for cid in campaign_ids:
        base = storage.path(cid, "ingest", run_key)
        planned = storage.read_json(base / "plan.json", {})
        uploaded, failed = [], {}
        for result in results:
            if result["campaign"] == cid:
                data = storage.read_json(result["path"], {})
                uploaded += data.get("uploaded", [])
                failed.update(data.get("failed", {}))
        summary = {**planned.get("counts", {}), "uploaded": len(uploaded), "failed": len(failed),
                   "skipped": len(planned.get("skipped", {}))}
        storage.write_json(base / "report.json", {"summary": summary, "uploaded": uploaded, "failed": failed,
                                                  "skipped": planned.get("skipped", {})})
        totals[cid] = summary
    return totals
