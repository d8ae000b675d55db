"""What a market delivers: signed URLs of masters and the delivery manifest (through the hook).

One writer of the manifest for the market and usage-window steps: per master the stored
renditions, channel and ``srcset`` URLs, its window and status, and the expiring signed URLs of
masters delivered only that way.
"""

from __future__ import annotations

from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.domain.renditions import delivery_entry, specs_by_name
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.runtime import storage


def master_url(cld: CloudinaryHook, public_id: str, *, format: str,
               transformation: list[dict[str, Any]] | None = None, resource_type: str = "image") -> str:
    """A signed URL of the authenticated master (optionally transformed): how the pipeline reads
    what a copy serves while the copy may still be closed. Never logged (it opens the master)."""
    return cld.delivery_url(public_id, delivery_type=MASTER_DELIVERY, format=format, transformation=transformation,
                            resource_type=resource_type)


def current_copy(cld: CloudinaryHook, entry: dict[str, Any], access: dict[str, Any],
                 specs: dict[str, dict[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """A copy's public ID and stored renditions as they are now: when the usage-window DAG has
    renamed it (token URLs revoked) since the market DAG made it, the renditions' URLs are made
    again for the new ID from the market's specs (``specs_by_name``)."""
    public_id = access.get("public_id") or entry["public_id"]
    if public_id == entry["public_id"]:
        return public_id, entry["renditions"]
    rt = entry.get("media_type") or "image"
    moved = {}
    for name, rendition in entry["renditions"].items():
        spec = specs[rt].get(name)
        moved[name] = {**rendition, "url": cld.delivery_url(public_id, transformation=spec["transformation"],
                                                           format=spec["format"], resource_type=rt)} \
            if spec else rendition  # a rendition the market no longer makes keeps its last URL
    return public_id, moved


def write_manifest(cld: CloudinaryHook, campaign: Campaign, market: Market) -> str:
    """The delivery manifest of a market, from its state and the latest access decisions."""
    state = storage.read_json(storage.market_state(campaign.id, market.code), {})
    access = storage.read_json(storage.market_access(campaign.id, market.code), {})
    specs = specs_by_name(campaign, market)

    def url_for(public_id: str, spec: dict[str, Any]) -> str:
        return cld.delivery_url(public_id, transformation=spec)

    masters = {}
    for image_id, entry in sorted(state.items()):
        public_id, renditions = current_copy(cld, entry, access.get(image_id) or {}, specs)
        if entry.get("media_type") == "video":  # stored renditions only: on-the-fly URLs are for images
            masters[image_id] = {"public_id": public_id, "media_type": "video", "renditions": renditions}
        else:
            masters[image_id] = delivery_entry(url_for, public_id, market, renditions)
        if image_id in access:
            masters[image_id]["access"] = access[image_id]
    manifest = {"campaign": campaign.id, "market": market.code, "locales": market.locales,
                "timezone": market.timezone, "masters": masters}
    return storage.write_json(storage.delivery_manifest(campaign.id, market.code), manifest)
