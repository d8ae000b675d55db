"""Ingest: approved PhotoShelter masters → Cloudinary, incrementally and idempotently.

``plan`` lists each campaign's masters once (one PhotoShelter call per page) and what is
already in Cloudinary (one Admin API call per 500 assets), keeps the approved masters that
changed inside the run's data interval and whose PhotoShelter version Cloudinary does not have
yet, and writes them to batch manifests. ``push`` handles one batch: each original is streamed
from PhotoShelter's documented download route through the worker (to disk, never whole in
memory) and uploaded to Cloudinary as an ``authenticated`` asset (delivered only by signed URLs,
on every plan), then checked against PhotoShelter's own width, height and size (and a video's
duration; videos are stored as ``resource_type=video`` and always uploaded in chunks). A master whose
file did not change (same SHA-256) only gets its context updated: a rights or caption edit
makes no new upload and no new renditions. ``report`` merges the batch results.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from campaign_media import settings
from campaign_media.config.models import Campaign
from campaign_media.domain.batches import IngestBatch, IngestResult, batch_label, chunks
from campaign_media.domain.governance import BY_KEY, values_for
from campaign_media.domain.masters import (
    LICENCE_UNREADABLE,
    MASTER_DELIVERY,
    Master,
    changed_in,
    check_listing_shape,
    classify,
    file_version,
    master_public_id,
    media_id,
)
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterError, PhotoShelterHook, PhotoShelterNotFound
from campaign_media.runtime import audit, storage
from campaign_media.runtime.parallel import Progress, examples, work_through
from campaign_media.runtime.sources import SourceListing, missing_galleries_message
from campaign_media.steps.shared import governance

log = logging.getLogger(__name__)
EXAMPLES = 5  # skipped masters named in the log; the full list is in the run's plan.json


class SourceGalleriesMissing(CampaignMediaError, RuntimeError):
    """A campaign's source gallery no longer exists; everything else was ingested and reported."""


class MasterMismatch(CampaignMediaError, RuntimeError):
    """What Cloudinary stored (or PhotoShelter served) differs from PhotoShelter's own figures."""


def published_versions(cld: CloudinaryHook, campaign: str,
                       resource_types: tuple[str, ...] = ("image",)) -> dict[str, dict[str, Any]]:
    """``image_id -> {"version", "file", "structured"}`` of every master already in Cloudinary for
    the campaign (one listing per resource type: images, and videos when the campaign ships them);
    ``structured``: it carries the structured governance fields."""
    prefix = master_public_id(campaign, "")
    versions = {}
    for resource_type in resource_types:
        for res in cld.iter_resources(prefix=prefix, delivery_type=MASTER_DELIVERY, resource_type=resource_type):
            context = (res.get("context") or {}).get("custom") or {}
            versions[res["public_id"][len(prefix):]] = {
                "version": context.get("ps_version", ""), "file": context.get("ps_file", ""),
                "structured": BY_KEY["campaign"].external_id in (res.get("metadata") or {})}
    return versions


def rendered_masters(campaign: Campaign) -> set[str]:
    """The masters any of the campaign's markets has renditions of (from the market states)."""
    return {image_id for market in campaign.markets
            for image_id in storage.read_json(storage.market_state(campaign.id, market), {})}


def plan(ps: PhotoShelterHook, cld: CloudinaryHook, campaigns: list[Campaign], run_key: str,
         start: datetime | None, end: datetime | None, *, force: bool = False,
         batch_size: int | None = None, named: dict[str, set[str]] | None = None) -> list[IngestBatch]:
    """Write batch manifests of masters to push; return their (small) descriptors.

    :param named: a run the PhotoShelter watcher triggered: the media its events named per
        campaign. Only those are considered (whatever the interval), each re-checked against the
        listing now (approved, and not in Cloudinary at that version); other campaigns are left out.
    """
    batches: list[IngestBatch] = []
    tz = ps.session_timezone()
    if named is not None:
        campaigns = [c for c in campaigns if named.get(c.id)]
    for campaign in campaigns:
        wanted = named.get(campaign.id) if named is not None else None
        listing = SourceListing(ps, campaign)
        published = published_versions(cld, campaign.id, tuple(campaign.source.media))
        wants_fields = governance.structured(cld, campaign)
        rendered = rendered_masters(campaign)
        todo: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        counts = {"listed": 0, "approved": 0, "readable_licences": 0, "outside_interval": 0, "unchanged": 0,
                  "restored": 0, **({"not_named": 0} if wanted is not None else {})}
        for record in listing:
            counts["listed"] += 1
            if wanted is not None and media_id(record) not in wanted:  # not what the events named
                counts["not_named"] += 1
                continue
            master, reason = classify(record, campaign.approval, tz)
            if master is None:
                skipped[media_id(record)] = reason
                continue
            counts["approved"] += 1
            counts["readable_licences"] += master.licence_expiry not in ("", LICENCE_UNREADABLE)
            known = published.get(master.image_id, {})
            # A master that markets were made from but Cloudinary no longer has (deleted by hand)
            # comes back whatever the interval: its copies' next renditions are made from it.
            lost = not known and master.image_id in rendered
            # Governance switched to structured metadata: a master stored before gets its fields
            # on the next run, whatever the interval (only described: its bytes are the same).
            undescribed = bool(known) and wants_fields and not known.get("structured")
            if not force and not lost and not undescribed and wanted is None and not changed_in(master, start, end):
                counts["outside_interval"] += 1
            elif not force and not undescribed and known.get("version") == master.version:
                counts["unchanged"] += 1
            else:
                counts["restored"] += lost
                counts["described"] = counts.get("described", 0) + undescribed
                todo.append({"master": master.to_dict(), "published_file": known.get("file", "")})
        if wanted is None:  # a few named media may all be un-approved again: no sign of a shape problem
            check_listing_shape(campaign.id, counts["listed"], counts["approved"], counts["readable_licences"])
        base = storage.ingest_run(campaign.id, run_key)
        plan_path = storage.write_json(base / "plan.json", {
            "counts": counts, "skipped": skipped, "to_push": len(todo), "timezone": tz,
            "interval": [str(start), str(end)], "force": force, "missing_galleries": listing.missing,
            **({"named": sorted(wanted)} if wanted is not None else {})})
        log.info("campaign %s: %s; %d to push; %d skipped%s (all in %s)", campaign.id, counts, len(todo),
                 len(skipped), f", e.g. {examples(skipped, EXAMPLES)}" if skipped else "", plan_path)
        for index, chunk in enumerate(chunks(todo, batch_size or settings.get("ingest_batch_size"))):
            batches.append({"campaign": campaign.id, "count": len(chunk),
                            "path": storage.write_json(storage.batch_file(base, index), chunk),
                            "result": str(storage.result_file(base, index)),
                            "label": batch_label(campaign.id, index, len(chunk))})
    return batches


def push(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, batch: IngestBatch) -> IngestResult:
    """Push one batch; a master that fails is recorded with its reason, never fatal to others.
    Progress is saved after each master: a retried or cleared task carries on from it."""
    previous = storage.read_json(batch["result"], {})
    progress: Progress[dict[str, Any]] = Progress(done={
        o["image_id"]: {**o, "uploaded": kind == "uploaded"}
        for kind in ("uploaded", "context_updated") for o in previous.get(kind, [])})

    def save(now: Progress[dict[str, Any]]) -> None:
        storage.write_json(batch["result"], result_file(now), compact=True)

    items = {item["master"]["image_id"]: item for item in storage.read_json(batch["path"], [])}
    structured = governance.structured(cld, campaign)
    if structured and items:  # fields checked and list entries added once per batch, before any upload
        governance.prepare(cld, campaign, campaign.markets,
                           [Master.from_dict(i["master"]).governance() for i in items.values()])
    with tempfile.TemporaryDirectory(prefix="ingest-") as tmp:
        work_through(((key, Master.from_dict(item["master"])) for key, item in items.items()),
                     lambda m: push_master(ps, cld, campaign, m, items[m.image_id]["published_file"], Path(tmp),
                                           structured=structured),
                     progress,
                     save=save, final_errors=(CloudinaryError, PhotoShelterError, MasterMismatch), reason=why)
    result_path = str(batch["result"])
    progress.finish(batch["label"], result_path, "could not be ingested")
    counts = result_file(progress)
    return {"campaign": campaign.id, "path": result_path, "uploaded": len(counts["uploaded"]),
            "context_updated": len(counts["context_updated"]), "failed": len(progress.failed)}


def result_file(progress: Progress[dict[str, Any]]) -> dict[str, Any]:
    """A batch's result file: what was uploaded, what only had its context updated, what failed."""
    def strip(outcome: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in outcome.items() if k != "uploaded"}

    return {"uploaded": [strip(o) for o in progress.done.values() if o["uploaded"]],
            "context_updated": [strip(o) for o in progress.done.values() if not o["uploaded"]],
            "failed": progress.not_done}


def why(exc: Exception) -> str:
    """A failed master's reason as the report shows it."""
    reason = str(exc).split("failed: ", 1)[-1]
    if isinstance(exc, PhotoShelterNotFound):
        return f"{reason} — the master or its original is no longer in PhotoShelter (deleted since this run's plan?)"
    return reason


def push_master(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, master: Master,
                published_file: str, tmp: Path, *, structured: bool = False) -> dict[str, Any]:
    """Stream one original (image or video) through the worker into Cloudinary, or only refresh its
    context when its bytes did not change; returns what was done. A video always goes up in chunks.

    :param structured: governance goes into structured metadata fields (prepared by the caller),
        not context
    """
    public_id = master.public_id(campaign.id)
    rt = master.resource_type
    local = tmp / master.image_id  # not the file name: PhotoShelter names may be path-hostile
    got = ps.download_original(master.image_id, local, media_type=master.media_type, listed_size=master.file_size)
    try:
        if master.file_size and got.size != master.file_size:
            raise MasterMismatch(f"PhotoShelter served {got.size} bytes for {master.image_id} "
                                 f"({master.file_name}) but its listing says {master.file_size}; fix or re-upload "
                                 "the original in PhotoShelter")
        version = file_version(got.sha256)
        context = master.context(campaign.id, version, with_governance=not structured)
        described = {"context": context, **({"metadata": values_for(campaign.id, campaign.markets,
                                                                     master.governance())} if structured else {})}
        if version == published_file:  # same file: a metadata edit only
            cld.explicit(public_id, delivery_type=MASTER_DELIVERY, resource_type=rt, **described)
            audit.record(campaign.id, "master_described", master=master.image_id, version=master.version,
                         after={"public_id": public_id, **described}, reason="metadata changed, same file")
            return {"image_id": master.image_id, "public_id": public_id, "file": version, "uploaded": False,
                    "media_type": master.media_type}
        tags = [f"campaign:{campaign.id}", *(f"market:{m}" for m in campaign.markets), f"owner:{master.owner}"]
        result = cld.upload(local, public_id, overwrite=True, tags=tags, delivery_type=MASTER_DELIVERY,
                            resource_type=rt, **described)
    finally:
        local.unlink(missing_ok=True)
    stored = (result.get("width"), result.get("height"), result.get("bytes"))
    problem = mismatch(master, stored, got.size, float(result.get("duration") or 0))
    if problem:
        cld.destroy(public_id, delivery_type=MASTER_DELIVERY, resource_type=rt)  # never render from a wrong master
        raise MasterMismatch(
            f"Cloudinary stored {master.image_id} ({master.file_name}) {problem}. The stored copy was removed; "
            "check the original in PhotoShelter and the Cloudinary upload settings (incoming transformations)")
    audit.record(campaign.id, "master_replaced" if published_file else "master_published", master=master.image_id,
                 version=master.version, before={"file": published_file} if published_file else None,
                 after={"public_id": public_id, "file": version, "bytes": stored[2], "media_type": master.media_type},
                 reason="new original in PhotoShelter" if published_file else "approved in PhotoShelter")
    done = {"image_id": master.image_id, "public_id": result["public_id"], "version": master.version,
            "file": version, "width": stored[0], "height": stored[1], "bytes": stored[2], "uploaded": True,
            "media_type": master.media_type}
    if master.is_video:
        done["duration"] = float(result.get("duration") or 0)
    return done


def mismatch(master: Master, stored: tuple[Any, Any, Any], served: int, duration: float) -> str:
    """How what Cloudinary stored differs from PhotoShelter's own figures ("" when it does not).
    A video's duration may differ by container rounding: half a second, or 1 % of a long one."""
    if stored != (master.width, master.height, served):
        return (f"as {stored[0]}x{stored[1]}, {stored[2]} bytes; PhotoShelter says {master.width}x{master.height}, "
                f"{served} bytes")
    if master.is_video and abs(duration - master.duration) > max(0.5, master.duration / 100):
        return f"with a duration of {duration:.2f} s; PhotoShelter says {master.duration:.2f} s"
    return ""


def report(campaign_ids: list[str], run_key: str, results: list[IngestResult]) -> dict[str, Any]:
    """Merge the plan and the batch results into one report per campaign; return totals."""
    totals: dict[str, Any] = {}
    gone: dict[str, list[str]] = {}
    for cid in campaign_ids:
        base = storage.ingest_run(cid, run_key)
        planned = storage.read_json(base / "plan.json", {})
        uploaded, updated, failed = [], [], {}
        for result in results:
            if result["campaign"] == cid:
                data = storage.read_json(result["path"], {})
                uploaded += data.get("uploaded", [])
                updated += data.get("context_updated", [])
                failed.update(data.get("failed", {}))
        summary = {**planned.get("counts", {}), "uploaded": len(uploaded), "context_updated": len(updated),
                   "failed": len(failed), "skipped": len(planned.get("skipped", {}))}
        storage.write_json(base / "report.json", {"summary": summary, "uploaded": uploaded,
                                                  "context_updated": updated, "failed": failed,
                                                  "skipped": planned.get("skipped", {})})
        totals[cid] = summary
        if planned.get("missing_galleries"):
            gone[cid] = planned["missing_galleries"]
    if gone:  # after every campaign's report is written: shown in the UI as the task's error
        raise SourceGalleriesMissing("; ".join(missing_galleries_message(cid, ids) for cid, ids in gone.items()))
    return totals
