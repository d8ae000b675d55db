"""Market variants: renditions per master, write-back to PhotoShelter, delivery manifests.

``plan`` lists the campaign's masters and the market's copies in Cloudinary (one Admin API call
per 500 of each) and keeps the masters whose copy is missing (never made, or deleted by hand),
stale (the master's *file* or the market's rendition spec changed) or not yet written back.
``render`` makes the market's *copy* of each master
(``campaigns/<c>/markets/<m>/<image_id>``, fetched by Cloudinary from the authenticated master
through a signed URL) with all its renditions (eager) and its own access window, in **one**
upload call: a copy per market is what lets each market open and close at its own midnight.
Each new rendition is then stored in PhotoShelter as a reference asset (exactly once: the file
name is the key) whose link to its master travels inside the file (IPTC/XMP, which PhotoShelter
reads on upload), in the file name and in a sidecar record in storage. The pipeline reads a
rendition's bytes from the authenticated master with the same transformation through a signed
URL — documented on every plan; the copy itself may still be closed. ``publish`` folds the batch
results into the market's state and writes the delivery manifest a CMS, storefront or app
consumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from campaign_media import settings
from campaign_media.account.capabilities import require_token_access
from campaign_media.account.check import for_campaigns
from campaign_media.config.models import Campaign, Market
from campaign_media.domain.batches import MarketBatch, MarketResult, MasterState, batch_label, chunks
from campaign_media.domain.embedded import embedded
from campaign_media.domain.events import path_of
from campaign_media.domain.governance import read_back
from campaign_media.domain.masters import (
    MASTER_DELIVERY,
    copy_identity,
    is_media_id,
    market_public_id,
    master_public_id,
)
from campaign_media.domain.notifications import received, receiver_url
from campaign_media.domain.renditions import (
    VideoOutput,
    link_fields,
    market_specs,
    market_video_specs,
    writeback_file_name,
    writebacks_by_master,
)
from campaign_media.domain.signoff import Standing, shown
from campaign_media.domain.windows import Access, Rights, decide
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterError, PhotoShelterHook
from campaign_media.runtime import storage
from campaign_media.runtime.parallel import Progress, render_threads, work_through
from campaign_media.steps.shared import governance, signoff
from campaign_media.steps.shared.delivery import master_url, write_manifest
from campaign_media.steps.shared.writebacks import copy_made, record_link, written_back

log = logging.getLogger(__name__)


def published_collection_name(campaign: Campaign) -> str:
    """Write-backs live in their own top-level collection, outside the campaign's source, so
    they are never mistaken for masters."""
    return f"{campaign.name} — published"


def renditions_gallery_name(campaign: Campaign, market: Market) -> str:
    return f"{campaign.name} — renditions {market.code}"


def plan(ps: PhotoShelterHook, cld: CloudinaryHook, campaigns: list[Campaign], market: Market, run_key: str,
         *, force: bool = False, dry_run: bool = False, batch_size: int | None = None) -> list[MarketBatch]:
    """Write batch manifests of the masters whose market copy is missing or stale; return their
    descriptors. Makes the write-back gallery (once) when there is work."""
    batches: list[MarketBatch] = []
    for campaign in campaigns:
        specs = {"image": market_specs(campaign, market)[1], "video": market_video_specs(campaign, market)[1]}
        state = storage.read_json(storage.market_state(campaign.id, market.code), {})
        prefix = master_public_id(campaign.id, "")
        media = tuple(campaign.source.media)
        # The market copies Cloudinary really holds (one deleted by hand is made again), each
        # under its latest rotation (renamed to revoke token URLs: never made again under an old ID).
        copy_prefix = market_public_id(campaign.id, market.code, "")
        copies = {res["public_id"] for rt in media for res in cld.iter_resources(prefix=copy_prefix, resource_type=rt)}
        rotations = latest_rotations(copies, copy_prefix,
                                     storage.read_json(storage.market_access(campaign.id, market.code), {}))
        todo = []
        listed = 0
        structured = governance.structured(cld, campaign)
        defined = governance.fields(cld) if structured else {}
        for rt in media:
            for res in cld.iter_resources(prefix=prefix, delivery_type=MASTER_DELIVERY, resource_type=rt):
                listed += 1
                context = (res.get("context") or {}).get("custom") or {}
                held = read_back(res.get("metadata") if structured else None, defined, context)
                image_id = res["public_id"][len(prefix):]
                if not is_media_id(image_id):  # not one of ours (e.g. uploaded by hand): never a path
                    log.warning("campaign %s: %s is under the masters' prefix but %r is not a PhotoShelter media "
                                "ID; left alone", campaign.id, res["public_id"], image_id)
                    continue
                known = state.get(image_id) or {}
                version = context.get("ps_file") or context.get("ps_version", "")  # the original's bytes
                copy_id = market_public_id(campaign.id, market.code, image_id, rotations.get(image_id, 0))
                if force or known.get("version") != version or known.get("spec") != specs[rt] \
                        or not complete(known, copy_id, copies):
                    todo.append({"image_id": image_id, "public_id": res["public_id"], "media_type": rt,
                                 "copy_id": copy_id,
                                 "version": version, "format": res.get("format") or ("mp4" if rt == "video" else "jpg"),
                                 **held,
                                 # a copy Cloudinary was still transcoding when the last run gave up: waited
                                 # for again, not uploaded again
                                 **({"resume": known} if not force and transcoding(known, version, specs[rt],
                                                                                   copy_id, copies)
                                    else {})})
        if todo:  # before any work, with the fix; a run with nothing to make (no master yet) is not refused
            image = next((t for t in todo if t["media_type"] == "image"), None)  # the check tries it, not a listing
            require_token_access(campaign, for_campaigns(cld, [campaign], image and {
                "public_id": image["public_id"], "format": image["format"]}), bool(cld.auth_token_key))
        if todo and structured and not dry_run:  # the copies' list values exist before any upload
            governance.prepare(cld, campaign, [market.code], todo, defined)
        gallery_id = ""
        if todo and not dry_run:
            published = ps.ensure_collection(published_collection_name(campaign))["collection_id"]
            gallery_id = ps.ensure_gallery(renditions_gallery_name(campaign, market), published)["gallery_id"]
            # Listed once here, not once per batch: each master carries what it already has.
            names = [r.name for r in market.renditions] + [o.name for o in market_video_specs(campaign, market)[0]]
            stored = writebacks_by_master(ps.gallery_file_names(gallery_id, media="video" in media), campaign.id,
                                          market.code, (item["image_id"] for item in todo), names)
            for item in todo:
                item["written"] = stored.get(item["image_id"], {})
        log.info("campaign %s, market %s: %d masters in Cloudinary, %d need renditions", campaign.id, market.code,
                 listed, len(todo))
        base = storage.market_run(campaign.id, market.code, run_key)
        for index, chunk in enumerate(chunks(todo, batch_size or settings.get("render_batch_size"))):
            batches.append({"campaign": campaign.id, "market": market.code, "spec": specs["image"],
                            "path": storage.write_json(storage.batch_file(base, index), chunk),
                            "result": str(storage.result_file(base, index)),
                            "gallery_id": gallery_id, "dry_run": dry_run, "count": len(chunk),
                            "label": batch_label(campaign.id, index, len(chunk), market.code)})
    return batches


def latest_rotations(copies: set[str], prefix: str, access: dict[str, Any]) -> dict[str, int]:
    """``image_id -> rotation`` of each market copy: the highest Cloudinary holds or the
    usage-window DAG recorded (``access``), so a copy deleted after a rename comes back under
    a new ID, never under one whose token URLs were revoked."""
    out = {image_id: int(entry.get("rotation") or 0) for image_id, entry in access.items()}
    for public_id in copies:
        image_id, rotation = copy_identity(public_id[len(prefix):])
        out[image_id] = max(out.get(image_id, 0), rotation)
    return out


def complete(known: dict[str, Any], copy_id: str, copies: set[str]) -> bool:
    """Whether a master's market state is whole: its copy exists (as ``copy_id``, its latest
    rotation), every rendition that is written back has been, and no video derivative is still
    being made."""
    renditions = (known.get("renditions") or {}).values()
    return bool(renditions) and copy_id in copies and all(
        r.get("ps_image_id") and not r.get("pending") for r in renditions if r.get("write_back", True))


def transcoding(known: dict[str, Any], version: str, spec: str, copy_id: str, copies: set[str]) -> bool:
    """Whether a video copy of this very version and spec exists and still waits for derivatives."""
    return known.get("media_type") == "video" and known.get("version") == version and known.get("spec") == spec \
        and copy_id in copies and any(r.get("pending") for r in known.get("renditions", {}).values())


def copy_of(campaign: Campaign, market: Market, item: dict[str, Any]) -> str:
    """The public ID a planned master's market copy is made under: its latest rotation (a batch
    planned before rotations existed names none: the first ID)."""
    return item.get("copy_id") or market_public_id(campaign.id, market.code, item["image_id"])


def render(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, market: Market,
           batch: MarketBatch) -> MarketResult:
    """Each master's market copy with all its renditions in one call, then the write-back of
    each new rendition."""
    eager, spec_hash = market_specs(campaign, market)
    outputs, video_hash = market_video_specs(campaign, market)
    items = storage.read_json(batch["path"], [])
    earlier = storage.read_json(batch["result"], None)
    # A retried or cleared task carries on from the masters an earlier try finished.
    progress: Progress[MasterState] = Progress(done=(earlier or {}).get("done", {}))

    def save(now: Progress[MasterState]) -> None:
        storage.write_json(batch["result"], {"done": now.done, "failed": now.not_done}, compact=True)

    written: dict[str, str] = {}  # file name -> PhotoShelter image ID of the renditions already stored
    if earlier is None:  # the first try: what the plan listed is still all there is
        save(progress)  # so a retry knows one began
        for item in items:
            written.update(item.get("written", {}))
    elif not batch["dry_run"]:  # an earlier try may have stored renditions it did not live to record
        written = ps.gallery_file_names(batch["gallery_id"], media="video" in campaign.source.media)

    signed = signoff.standing_in(campaign, market)  # the sign-off record, read once per batch

    def one(item: dict[str, Any]) -> MasterState:
        rights = {"licence_expiry": item.get("licence_expiry", ""), "usage_rights": item.get("usage_rights", "")}
        state: MasterState = {"version": item["version"], "master": item["public_id"],
                              "public_id": copy_of(campaign, market, item), "rights": rights,
                              "made_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if item.get("resume"):  # still being transcoded: the videos task waits for it again
            return item["resume"]
        video = item.get("media_type") == "video"
        item = {**item, "shown": shown(item["version"], video_hash if video else spec_hash, rights)}
        if video:
            renditions, rules = video_copy(cld, campaign, market, item, outputs, batch, written, signed)
            return {**state, "spec": video_hash, "media_type": "video", "renditions": renditions, "rules": rules}
        renditions, rules = render_master(ps, cld, campaign, market, item, eager, batch, written, signed)
        return {**state, "spec": spec_hash, "renditions": renditions, "rules": rules}

    work_through(((item["image_id"], item) for item in items), one, progress, save=save,
                 final_errors=(CloudinaryError, PhotoShelterError), threads=render_threads())
    path = str(batch["result"])
    progress.finish(batch["label"], path)
    return {"campaign": campaign.id, "market": market.code, "path": path, "rendered": len(progress.done),
            "failed": len(progress.failed), "dry_run": batch["dry_run"]}


Signed = Callable[[str, str], Standing]  # (image_id, what a request shows of it) -> sign-off standing


def initial_access(campaign: Campaign, market: Market, item: dict[str, Any], signed: Signed) -> Access:
    """The access a new copy starts with: what the usage-window DAG would give it now (fails closed)."""
    return decide(campaign, market, Rights(item.get("licence_expiry", ""), item.get("usage_rights", "")),
                  datetime.now(UTC), signed(item["image_id"], item["shown"]))


def render_master(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, market: Market,
                  item: dict[str, Any], eager: list[dict[str, Any]], batch: MarketBatch,
                  written: dict[str, str], signed: Signed) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The copy's renditions and the access rules it was made with (the usage-window DAG compares
    with these, so a copy it has not seen yet costs no call when they are still right)."""
    copy_id = copy_of(campaign, market, item)
    renditions: dict[str, Any] = {}
    links: dict[str, dict[str, str]] = {}
    if batch["dry_run"]:  # URLs only: no API call, nothing stored
        for rendition, spec in zip(market.renditions, eager, strict=True):
            renditions[rendition.name] = {"url": cld.delivery_url(copy_id, format=spec["format"],
                                                                  transformation=spec["transformation"]),
                                          "format": spec["format"]}
        return renditions, []
    access = initial_access(campaign, market, item, signed)
    source = master_url(cld, item["public_id"], format=item["format"])
    result = cld.upload(source, copy_id, overwrite=True, eager=eager, access_control=access.rules,
                        **copy_description(cld, campaign, market, item))
    copy_made(campaign, market, item, copy_id, access.rules, access.reason or access.phase)
    for rendition, spec, derived in zip(market.renditions, eager, result.get("eager", []), strict=True):
        name = writeback_file_name(campaign.id, market.code, item["image_id"], rendition.name, item["version"],
                                   derived["format"])
        entry = {"url": derived["secure_url"], "width": derived["width"], "height": derived["height"],
                 "bytes": derived["bytes"], "format": derived["format"], "transformation": derived["transformation"],
                 "file_name": name, "ps_image_id": written.get(name)}
        if entry["ps_image_id"] is None:
            entry["ps_image_id"] = write_back(ps, cld, campaign, market, item, rendition.name, entry,
                                              batch["gallery_id"], spec)
            written[name] = entry["ps_image_id"]
            written_back(campaign, market, item, rendition.name, entry)
        # Also for a rendition a dead try stored: its link is recorded all the same.
        links[rendition.name] = record_link(ps, campaign, market, item, rendition.name, entry)
        renditions[rendition.name] = entry
    storage.write_json(storage.writeback_record(campaign.id, market.code, item["image_id"]), links)
    return renditions, access.rules


def copy_description(cld: CloudinaryHook, campaign: Campaign, market: Market, item: dict[str, Any]) -> dict[str, Any]:
    """A market copy's tags and context (and structured metadata, where the campaign keeps governance there)."""
    return {"tags": [f"campaign:{campaign.id}", f"market:{market.code}", f"owner:{item.get('owner', '')}"],
            **governance.asset_description(cld, campaign, [market.code], {
                "ps_image_id": item["image_id"], "ps_file": item["version"], "campaign": campaign.id,
                "market": market.code}, item)}


def notifying(cld: CloudinaryHook) -> bool:
    """Whether transcodes are announced to the receiver: the connection has a notification_base_url
    and the receiver accepts its notifications."""
    return bool(cld.account.notification_base_url) and received(
        cld.account.conn_id, str(settings.get("notification_connections")))


def event_path(cld: CloudinaryHook) -> str:
    """How the video wait learns a transcode is done: ``webhook`` (the receiver, see
    :func:`notifying`), ``pull`` (the triggerer pulls the deployment's poll channel:
    ``[campaign_media] cloudinary_events``, for the connection it pulls), or ``admin`` (polling)."""
    return path_of(cld.account.conn_id, notifying(cld), str(settings.get("cloudinary_events")))[0]


def video_copy(cld: CloudinaryHook, campaign: Campaign, market: Market, item: dict[str, Any],
               outputs: list[VideoOutput], batch: MarketBatch, written: dict[str, str],
               signed: Signed) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A video master's market copy with all its outputs in one upload call, transcoded
    asynchronously (``eager_async``): its entries stay ``pending`` until the video step finds
    them made and writes them back. Returns the entries and the copy's access rules."""
    copy_id = copy_of(campaign, market, item)
    if batch["dry_run"]:  # URLs only: no API call, nothing stored
        return {o.name: {"url": cld.delivery_url(copy_id, format=o.spec["format"], resource_type="video",
                                                 transformation=o.spec["transformation"]),
                         "format": o.spec["format"], "kind": o.kind} for o in outputs}, []
    access = initial_access(campaign, market, item, signed)
    source = master_url(cld, item["public_id"], format=item["format"], resource_type="video")
    notify = ({"eager_notification_url": receiver_url(cld.account.notification_base_url, cld.account.conn_id)}
              if notifying(cld) else {})
    result = cld.upload(source, copy_id, overwrite=True, resource_type="video", eager=[o.spec for o in outputs],
                        eager_async=True, access_control=access.rules, **notify,
                        **copy_description(cld, campaign, market, item))
    copy_made(campaign, market, item, copy_id, access.rules, access.reason or access.phase)
    renditions = {}
    for output, answered in zip(outputs, result.get("eager", []), strict=True):
        name = writeback_file_name(campaign.id, market.code, item["image_id"], output.name, item["version"],
                                   output.spec["format"])
        renditions[output.name] = {
            "url": answered["secure_url"], "format": output.spec["format"], "kind": output.kind,
            "transformation": answered["transformation"], "file_name": name, "write_back": output.written_back,
            "ps_image_id": written.get(name) if output.written_back else None,
            "pending": answered.get("status") == "processing", "bytes": answered.get("bytes")}
    return renditions, access.rules


def write_back(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, market: Market, item: dict[str, Any],
               rendition: str, entry: dict[str, Any], gallery_id: str, spec: dict[str, Any]) -> str:
    """Store one published rendition in PhotoShelter, its link to the master embedded in the
    file (IPTC/XMP: PhotoShelter reads it on upload); returns the new image's ID."""
    # In memory, not a temporary file: a rendition is small, and embedding reads it whole anyway.
    data = cld.fetch(master_url(cld, item["public_id"], format=spec["format"], transformation=spec["transformation"]))
    fields = link_fields(campaign, market.code, item["image_id"], item["version"], rendition,
                         entry["transformation"], entry["url"], entry["file_name"])
    data = embedded(data, fields, name=entry["file_name"])
    image = ps.upload_image(gallery_id, data, file_name=entry["file_name"])
    return image["image_id"]


def publish(cld: CloudinaryHook, campaign: Campaign, market: Market, results: list[MarketResult]) -> dict[str, Any]:
    """Fold batch results into the market state; write the delivery manifest; return counts."""
    state = storage.read_json(storage.market_state(campaign.id, market.code), {})
    dry_run = any(r["dry_run"] for r in results)
    failed: dict[str, str] = {}
    for result in results:
        if result["campaign"] == campaign.id:
            data = storage.read_json(result["path"], {})
            failed.update(data.get("failed", {}))
            if not dry_run:
                state.update(data.get("done", {}))
    if dry_run:
        return {"campaign": campaign.id, "market": market.code, "dry_run": True, "failed": len(failed)}
    storage.write_json(storage.market_state(campaign.id, market.code), state)
    path = write_manifest(cld, campaign, market)
    renditions = sum(len(e["renditions"]) for e in state.values())
    log.info("delivery manifest for %s/%s: %s (%d masters, %d renditions)", campaign.id, market.code, path,
             len(state), renditions)
    return {"campaign": campaign.id, "market": market.code, "manifest": path, "masters": len(state),
            "renditions": renditions, "failed": len(failed)}
