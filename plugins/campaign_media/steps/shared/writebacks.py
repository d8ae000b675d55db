"""What the market and the video steps share about a copy and its write-backs: the audit records
of both, and a written-back rendition's link to its master where the account lets it be written."""

from __future__ import annotations

from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.runtime import audit


def record_link(ps: PhotoShelterHook, campaign: Campaign, market: Market, item: dict[str, Any], rendition: str,
                entry: dict[str, Any]) -> dict[str, str]:
    """The reference asset's link to its master, besides the copy inside the file: written as
    custom metadata where the account has a metadata-write route; returned for the sidecar."""
    link = {"Master Image ID": item["image_id"], "Master Version": item["version"], "Campaign": campaign.id,
            "Market": market.code, "Rendition": rendition, "Transformation": entry["transformation"],
            "Cloudinary URL": entry["url"], "PhotoShelter Image ID": entry["ps_image_id"],
            "File Name": entry["file_name"]}
    if ps.account.metadata_writes:
        ps.update_metadata(entry["ps_image_id"], custom={**link, "Approval Status": "Published rendition"})
    return link


def copy_made(campaign: Campaign, market: Market, item: dict[str, Any], copy_id: str, rules: list[dict[str, Any]],
              reason: str) -> None:
    """Audit: a market copy made (or made again) with the access rules it starts with."""
    audit.record(campaign.id, "copy_made", market=market.code, master=item["image_id"], version=item["version"],
                 after={"public_id": copy_id, "rules": rules}, reason=reason,
                 details={"media_type": item.get("media_type", "image")})


def written_back(campaign: Campaign, market: Market, item: dict[str, Any], rendition: str,
                 entry: dict[str, Any]) -> None:
    """Audit: one rendition stored in PhotoShelter as a reference asset."""
    audit.record(campaign.id, "written_back", market=market.code, master=item["image_id"], version=item["version"],
                 after={"ps_image_id": entry["ps_image_id"], "file_name": entry["file_name"]},
                 details={"rendition": rendition, "transformation": entry.get("transformation", "")})
