"""Where a campaign's masters come from in PhotoShelter: its source galleries (read through the hook)."""

from __future__ import annotations

from campaign_media.config.models import Campaign
from campaign_media.hooks.photoshelter import PhotoShelterHook


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
