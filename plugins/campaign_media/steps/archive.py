"""Archive after the campaign ends: final renditions → PhotoShelter, verified, then clean-up.

For every stored rendition of every market copy, the file Cloudinary makes for it (read through
a signed URL of the authenticated master with the same transformation: the copies are closed by
then) is streamed to a temporary file, its link to master, market and transformation embedded
(IPTC/XMP, as write-backs do), stored in the campaign's PhotoShelter archive gallery and
**verified**: downloaded back from PhotoShelter, its size and SHA-256 must equal what was
uploaded (or, should PhotoShelter re-embed metadata, its decoded pixels must). Progress is saved
after every item, so a failed run loses nothing and the next one carries on. Only when every
item is verified is Cloudinary cleaned up (each market copy destroyed with its derivatives and a
CDN invalidation — the Upload API's documented purge; masters stay authenticated or are deleted
per the campaign's ``archive.masters``), and ``done.json`` written: re-running an archived
campaign is a no-op. A partial archive cleans up nothing and names what is missing.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.embedded import embed, pixel_digest
from campaign_media.domain.masters import MASTER_DELIVERY, master_public_id
from campaign_media.domain.renditions import link_fields, specs_by_name
from campaign_media.domain.windows import iso
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterError, PhotoShelterHook
from campaign_media.hooks.retry import RetryBudgetExceeded, must_wait
from campaign_media.runtime import audit, storage
from campaign_media.steps.shared.delivery import master_url

log = logging.getLogger(__name__)


class ArchiveIncomplete(CampaignMediaError, RuntimeError):
    """Some renditions could not be archived and verified; nothing was cleaned up."""


def archived(campaign: str) -> dict[str, Any] | None:
    """The record of a finished archive (``archive/done.json``), or None."""
    return storage.read_json(storage.archive_file(campaign, "done.json"))


def items(campaign: Campaign, markets: list[Market]) -> list[dict[str, Any]]:
    """Every stored rendition of every market copy, from the market states."""
    out = []
    for market in markets:
        specs = specs_by_name(campaign, market)
        for image_id, entry in sorted(storage.read_json(storage.market_state(campaign.id, market.code), {}).items()):
            rt = entry.get("media_type") or "image"
            for name, rendition in sorted(entry.get("renditions", {}).items()):
                if not rendition.get("write_back", True):  # a stream's playlist is no file to keep
                    continue
                out.append({"key": f"{market.code}/{image_id}/{name}", "market": market.code, "image_id": image_id,
                            "rendition": name, "public_id": entry["public_id"], "master": entry.get("master", ""),
                            "version": entry.get("version", ""), "spec": specs[rt].get(name), "resource_type": rt,
                            "kind": rendition.get("kind") or "image",
                            **{k: rendition.get(k) for k in ("url", "file_name", "transformation", "format")}})
    return out


def archive_one(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, item: dict[str, Any],
                gallery_id: str, existing: dict[str, str], requests: int | None) -> dict[str, Any]:
    """Store one rendition in the archive gallery and verify it; returns its record."""
    name = f"archive__{item['file_name']}"
    spec = item["spec"] or {"transformation": [], "format": item["format"]}
    rt = item.get("resource_type") or "image"
    video = item.get("kind") == "video"  # a video file: its link travels in its name and metadata, not inside
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "rendition"
        served = cld.download(master_url(cld, item["master"], format=spec["format"],
                                         transformation=spec["transformation"], resource_type=rt), local)
        if not video:
            embed(local, link_fields(campaign, item["market"], item["image_id"], item["version"], item["rendition"],
                                     item["transformation"] or "", item["url"] or "", name, kind="Archived rendition",
                                     extra={"SHA-256 as served": served.sha256, "Bytes as served": str(served.size),
                                            "Delivery requests": "n/a" if requests is None else str(requests)}))
        with open(local, "rb") as handle:
            kept = (local.stat().st_size, hashlib.file_digest(handle, "sha256").hexdigest())
        image_id = existing.get(name)
        if image_id is None:
            image_id = ps.upload_image(gallery_id, local, file_name=name, video=rt == "video")["image_id"]
            existing[name] = image_id
        if ps.account.metadata_writes:
            ps.update_metadata(image_id, custom={
                "Campaign": campaign.id, "Market": item["market"], "Master Image ID": item["image_id"],
                "Master Version": item["version"], "Rendition": item["rendition"], "SHA-256": served.sha256,
                "Approval Status": "Archived rendition"})
        stored = ps.download_original(image_id, Path(tmp) / "check", media_type="video" if video else "image",
                                      listed_size=kept[0])
        verified_by = "bytes" if (stored.size, stored.sha256) == kept else \
            "pixels" if not video and pixel_digest(stored.path) == pixel_digest(local) else ""
    if not verified_by:
        raise PhotoShelterError(f"archive {name}", None, "ChecksumMismatch",
                                f"PhotoShelter holds {stored.size} bytes sha256 {stored.sha256[:12]}…, the archive "
                                f"uploaded {kept[0]} bytes sha256 {kept[1][:12]}…, and the pixels differ")
    return {"ps_image_id": image_id, "file_name": name, "bytes": served.size, "sha256": served.sha256,
            "stored_sha256": stored.sha256, "verified_by": verified_by,
            "public_id": item["public_id"], "market": item["market"], "image_id": item["image_id"]}


def archive_campaign(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, markets: list[Market],
                     now: datetime, report: dict[str, Any]) -> dict[str, Any]:
    """Store, verify and then clean up; ``report`` is the final delivery report (its ``html``
    path and ``requests`` per ``(market, image_id)``), made before anything is deleted."""
    done = archived(campaign.id)
    if done is not None:
        log.info("campaign %s was archived at %s: nothing to do", campaign.id, done["archived_at"])
        return {**done["summary"], "status": "already archived"}
    todo = items(campaign, markets)
    progress = storage.archive_file(campaign.id, "verified.json")
    verified: dict[str, Any] = storage.read_json(progress, {})
    gallery_id = ps.ensure_gallery(campaign.archive_gallery)["gallery_id"]
    existing = ps.gallery_file_names(gallery_id, media="video" in campaign.source.media)
    missing: dict[str, str] = {}
    for item in todo:
        if item["key"] in verified:
            continue
        try:
            verified[item["key"]] = archive_one(ps, cld, campaign, item, gallery_id, existing,
                                                report["requests"].get((item["market"], item["image_id"])))
            kept = verified[item["key"]]
            audit.record(campaign.id, "archive_verified", market=item["market"], master=item["image_id"],
                         version=item["version"], after={"ps_image_id": kept["ps_image_id"],
                                                         "file_name": kept["file_name"], "sha256": kept["sha256"]},
                         reason=f"verified by {kept['verified_by']}", details={"rendition": item["rendition"]})
            audit.flush()  # before the progress: a crash in between redoes the item, and its record dedupes
            storage.write_json(progress, verified)  # progress survives a crash
        except (CloudinaryError, PhotoShelterError, RetryBudgetExceeded) as exc:
            if must_wait(exc):  # verified ones are saved; the task waits for the quota and goes on
                raise
            missing[item["key"]] = str(exc)
    summary = {"campaign": campaign.id, "renditions": len(todo), "verified": len(verified), "missing": len(missing),
               "gallery": campaign.archive_gallery, "report": report["html"]}
    if missing:
        missing_path = storage.write_json(storage.archive_file(campaign.id, "missing.json"), missing)
        raise ArchiveIncomplete(
            f"campaign {campaign.id}: {len(missing)} of {len(todo)} renditions not archived, nothing cleaned up "
            f"(see {missing_path}): "
            + "; ".join(f"{k}: {v}" for k, v in list(missing.items())[:5]))
    cleaned = clean_up(cld, campaign, todo)
    summary.update(cleaned)
    audit.flush()  # the archive keeps the campaign's whole audit trail next to its final report
    trail = audit.read(campaign.id)
    summary["audit"] = storage.write_bytes(storage.archive_file(campaign.id, "audit.csv"),
                                           audit.table(trail).to_csv(index=False).encode())
    storage.write_json(storage.archive_file(campaign.id, "done.json"),
                       {"archived_at": iso(now), "summary": summary, "items": verified})
    log.info("campaign %s archived: %s", campaign.id, summary)
    return {**summary, "status": "archived"}


def clean_up(cld: CloudinaryHook, campaign: Campaign, archived: list[dict[str, Any]]) -> dict[str, int]:
    """Destroy the verified market copies one by one (derivatives too; ``invalidate`` purges the
    CDN, which the Admin API's bulk delete does only where bulk invalidation was enabled); the
    masters stay authenticated or are destroyed, as the campaign says."""
    copies = sorted({(item["public_id"], item.get("resource_type") or "image") for item in archived})
    for public_id, rt in copies:  # "not found" counts too: an earlier attempt whose answer was lost deleted it
        cld.destroy(public_id, invalidate=True, resource_type=rt)
        market, _, master = public_id.removeprefix(f"campaigns/{campaign.id}/markets/").partition("/")
        audit.record(campaign.id, "copy_deleted", market=market, master=master, before={"public_id": public_id},
                     reason="archived and verified; the CDN was invalidated", details={"resource_type": rt})
    deleted = len(copies)
    masters = [(res["public_id"], rt) for rt in campaign.source.media for res in cld.iter_resources(
        prefix=master_public_id(campaign.id, ""), delivery_type=MASTER_DELIVERY, resource_type=rt)]
    if campaign.archive.masters == "delete":
        for public_id, rt in masters:
            cld.destroy(public_id, delivery_type=MASTER_DELIVERY, invalidate=True, resource_type=rt)
            audit.record(campaign.id, "master_deleted", master=public_id.rsplit("/", 1)[-1],
                         before={"public_id": public_id}, reason="campaign archived (archive.masters: delete)",
                         details={"resource_type": rt})
        handled = len(masters)
    else:
        handled = len(masters)  # authenticated: only signed URLs deliver them, nothing to change
    return {"copies_deleted": deleted, "masters_" + (
        "deleted" if campaign.archive.masters == "delete" else "restricted"): handled}
