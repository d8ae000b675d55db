"""A written-back rendition's link to its master, where the account lets it be written (shared
by the market and the video steps)."""

from __future__ import annotations

from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.hooks.photoshelter import PhotoShelterHook


def record_link(ps: PhotoShelterHook, campaign: Campaign, market: Market, item: dict[str, Any], rendition: str,
                entry: dict[str, Any]) -> dict[str, str]:
    """The reference asset's link to its master, besides the copy inside the file: written as
    custom metadata where the account has a metadata-write route; returned for the sidecar."""
    link = {"Master Image ID": item["image_id"], "Master Version": item["version"], "Campaign": campaign.id,
            "Market": market.code, "Rendition": rendition, "Transformation": entry["transformation"],
            "Cloudinary URL": entry["url"], "PhotoShelter Image ID": entry["ps_image_id"],
            "File Name": entry["file_name"]}
    if ps.metadata_writes:
        ps.update_metadata(entry["ps_image_id"], custom={**link, "Approval Status": "Published rendition"})
    return link
