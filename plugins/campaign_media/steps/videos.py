"""Video copies after their upload: wait for Cloudinary's asynchronous derivatives, then write them back.

``render`` uploads each video master's market copy with its outputs as ``eager_async`` items and
records them ``pending``. ``waiting`` collects, from the render batches' result files, the
derivatives each copy still waits for (the trigger's input: small, IDs and keys only).
``finish`` runs once the trigger has fired: for each copy whose derivatives are all listed it
records their sizes, writes the video and poster renditions back to PhotoShelter exactly once
(the file name is the key) and records their links. A copy still transcoding at the deadline
stays ``pending`` in the state (the next run waits for it again without a second upload) and a
copy deleted meanwhile is dropped (the next run makes it again); both are named in the batch's
failures, and the task then fails after everything else is done.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.batches import MarketBatch
from campaign_media.domain.embedded import embedded
from campaign_media.domain.renditions import derivative_key, link_fields, market_video_specs, missing_derivatives
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.cloudinary import CloudinaryAuthError, CloudinaryError, CloudinaryHook, CloudinaryNotFound
from campaign_media.hooks.photoshelter import PhotoShelterError, PhotoShelterHook
from campaign_media.runtime import audit, storage
from campaign_media.steps.shared.delivery import master_url
from campaign_media.steps.shared.writebacks import record_link, written_back

log = logging.getLogger(__name__)
T = TypeVar("T")


def pending_renditions(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in state.get("renditions", {}).items() if r.get("pending")}


def waiting(batches: list[MarketBatch]) -> dict[str, list[str]]:
    """``copy public ID -> derivative keys`` still being made, over the batches' result files."""
    out: dict[str, list[str]] = {}
    for batch in batches:
        for state in (storage.read_json(batch["result"], {}) or {}).get("done", {}).values():
            pending = pending_renditions(state)
            if state.get("media_type") == "video" and pending:
                out[state["public_id"]] = [derivative_key(r["transformation"], r["format"]) for r in pending.values()]
    return out


def still_transcoding(cld: CloudinaryHook, waiting: dict[str, list[str]]) -> dict[str, list[str]]:
    """The copies of ``waiting`` whose derivatives are not all listed yet (one Admin ``resource``
    call each, before the task defers); one deleted or that could not be read stays among them
    for the trigger to judge."""
    out: dict[str, list[str]] = {}
    for public_id, expected in waiting.items():
        try:
            stored = cld.resource(public_id, "upload", "video")
        except CloudinaryError:
            stored = None
        if stored is None or missing_derivatives(expected, stored.get("derived") or []):
            out[public_id] = expected
    return out


def finish(ps: PhotoShelterHook, cld: CloudinaryHook, campaigns: dict[str, Campaign], market: Market,
           batches: list[MarketBatch], still_pending: list[str], gone: list[str]) -> dict[str, int]:
    """Complete every video copy that is ready; fail the others with their reason. Returns counts."""
    counts = {"completed": 0, "written_back": 0, "still_transcoding": 0, "gone": 0, "failed": 0}
    for batch in batches:
        result = storage.read_json(batch["result"], {}) or {}
        changed = False
        campaign = campaigns[batch["campaign"]]
        for image_id, state in list(result.get("done", {}).items()):
            if state.get("media_type") != "video" or not pending_renditions(state):
                continue
            changed = True
            copy_id = state["public_id"]
            if copy_id in still_pending:  # kept, pending, in the state: the next run waits for it again
                counts["still_transcoding"] += 1
                result.setdefault("failed", {})[image_id] = (
                    "Cloudinary was still transcoding its video renditions at the deadline; the next run waits "
                    "for them again (nothing is uploaded twice)")
                continue
            if copy_id in gone:
                del result["done"][image_id]
                counts["gone"] += 1
                result.setdefault("failed", {})[image_id] = (
                    "its market copy was deleted while Cloudinary transcoded it; the next run makes it again")
                continue
            try:
                counts["written_back"] += complete(ps, cld, campaign, market, image_id, state, batch["gallery_id"])
                counts["completed"] += 1
            except (CloudinaryError, PhotoShelterError) as exc:
                # What is not written back stays pending: the next run waits (no time: they are made)
                # and writes back the rest, without uploading the copy again.
                for entry in state["renditions"].values():
                    if entry.get("write_back", True) and not entry.get("ps_image_id"):
                        entry["pending"] = True
                counts["failed"] += 1
                result.setdefault("failed", {})[image_id] = f"video renditions not finished: {exc}"
            audit.flush()
            storage.write_json(batch["result"], result, compact=True)  # progress per copy
        if changed:
            storage.write_json(batch["result"], result, compact=True)
    if counts["still_transcoding"] or counts["gone"] or counts["failed"]:
        raise VideosIncomplete(f"market {market.code}: video copies not finished: {counts}; each one's reason is in "
                               "its batch's result file (failed), and the others are written back and published")
    return counts


class VideosIncomplete(CampaignMediaError, RuntimeError):
    """Some video copies were not finished; everything else was, and is published."""


def complete(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, market: Market, image_id: str,
             state: dict[str, Any], gallery_id: str) -> int:
    """Record a ready copy's derivatives and write back its video and poster renditions (once);
    returns how many were written back now."""
    stored = cld.resource(state["public_id"], "upload", "video") or {}
    derived = {derivative_key(d.get("transformation", ""), d.get("format", "")): d for d in stored.get("derived", [])}
    outputs = {o.name: o for o in market_video_specs(campaign, market)[0]}
    written = ps.gallery_file_names(gallery_id, media=True)
    item = {"image_id": image_id, "version": state["version"], "public_id": state["master"]}
    links: dict[str, dict[str, str]] = {}
    new = 0
    for name, entry in state["renditions"].items():
        made = derived.get(derivative_key(entry["transformation"], entry["format"]), {})
        entry.update(pending=False, bytes=made.get("bytes", entry.get("bytes")))
        if not entry.get("write_back", True):
            continue
        entry["ps_image_id"] = entry.get("ps_image_id") or written.get(entry["file_name"])
        if not entry["ps_image_id"] and name in outputs:
            entry["ps_image_id"] = write_back(ps, cld, campaign, market, item, name, entry, gallery_id,
                                              outputs[name].spec)
            written_back(campaign, market, item, name, entry)
            new += 1
        links[name] = record_link(ps, campaign, market, item, name, entry)
    storage.write_json(storage.writeback_record(campaign.id, market.code, image_id), links)
    return new


def write_back(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, market: Market, item: dict[str, Any],
               name: str, entry: dict[str, Any], gallery_id: str, spec: dict[str, Any]) -> str:
    """One video rendition or poster into PhotoShelter. A poster carries its link to the master
    inside the file, like an image rendition; a video carries it in its file name, the sidecar
    record and (where the account allows) custom metadata. Streamed through a temporary file: a
    video rendition may be large."""
    master = master_url(cld, item["public_id"], format=spec["format"], transformation=spec["transformation"],
                        resource_type="video")
    if entry["kind"] == "poster":
        fields = link_fields(campaign, market.code, item["image_id"], item["version"], name, entry["transformation"],
                             entry["url"], entry["file_name"])
        data = embedded(published(cld.fetch, entry["url"], master), fields, name=entry["file_name"])
        return ps.upload_image(gallery_id, data, file_name=entry["file_name"], video=True)["image_id"]
    with tempfile.TemporaryDirectory(prefix="video-writeback-") as tmp:
        path = Path(tmp) / "rendition"
        published(lambda url: cld.download(url, path), entry["url"], master)
        return ps.upload_image(gallery_id, path, file_name=entry["file_name"], video=True)["image_id"]


def published(read: Callable[[str], T], copy_url: str, master: str) -> T:
    """A rendition as published: the copy's own derivative (the eager job made it once) while the
    copy is open; when it is closed (401) or gone, the same transformation of the master through a
    signed URL, which Cloudinary transcodes again (and counts as a transformation)."""
    try:
        return read(copy_url)
    except (CloudinaryAuthError, CloudinaryNotFound):
        return read(master)
