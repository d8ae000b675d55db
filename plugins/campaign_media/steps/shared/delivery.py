"""What a market delivers: signed URLs of masters and the delivery manifest (through the hook).

One writer of the manifest for the market and usage-window steps: per master the stored
renditions, channel and ``srcset`` URLs, its window and status, and the expiring signed URLs of
masters delivered only that way.
"""

from __future__ import annotations

from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.domain.renditions import delivery_entry
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.runtime import storage


def master_url(cld: CloudinaryHook, public_id: str, *, format: str,
               transformation: list[dict[str, Any]] | None = None, resource_type: str = "image") -> str:
    """A signed URL of the authenticated master (optionally transformed): how the pipeline reads
    what a copy serves while the copy may still be closed. Never logged (it opens the master)."""
    return cld.delivery_url(public_id, delivery_type=MASTER_DELIVERY, format=format, transformation=transformation,
                            resource_type=resource_type)


def write_manifest(cld: CloudinaryHook, campaign: Campaign, market: Market) -> str:
    """The delivery manifest of a market, from its state and the latest access decisions."""
    state = storage.read_json(storage.market_state(campaign.id, market.code), {})
    access = storage.read_json(storage.market_access(campaign.id, market.code), {})

    def url_for(public_id: str, spec: dict[str, Any]) -> str:
        return cld.delivery_url(public_id, transformation=spec)

    masters = {}
    for image_id, entry in sorted(state.items()):
        if entry.get("media_type") == "video":  # stored renditions only: on-the-fly URLs are for images
            masters[image_id] = {"public_id": entry["public_id"], "media_type": "video",
                                 "renditions": entry["renditions"]}
        else:
            masters[image_id] = delivery_entry(url_for, entry["public_id"], market, entry["renditions"])
        if image_id in access:
            masters[image_id]["access"] = access[image_id]
    manifest = {"campaign": campaign.id, "market": market.code, "locales": market.locales,
                "timezone": market.timezone, "masters": masters}
    return storage.write_json(storage.delivery_manifest(campaign.id, market.code), manifest)
