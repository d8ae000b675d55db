"""Where a campaign's masters come from in PhotoShelter: its source galleries (read through the hook)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from campaign_media.config.models import Campaign
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.photoshelter import PhotoShelterHook, PhotoShelterNotFound

log = logging.getLogger(__name__)


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


class SourceListing:
    """Every record in a campaign's source galleries (images; videos too when the campaign's
    ``source.media`` names them), read a gallery at a time. A gallery that
    answers 404 (deleted, or a wrong ID in the campaign file) adds no record — not even the pages
    read before it vanished — and is named in ``missing``; the other galleries are read as usual."""

    def __init__(self, ps: PhotoShelterHook, campaign: Campaign, *, extend: dict[str, Any] | None = None,
                 per_page: int = 500) -> None:
        """:param extend: the listing's ``extend`` (default: everything a master needs)
        :param per_page: records per listing call"""
        self.ps, self.campaign = ps, campaign
        self.gallery_ids, self.collection_id = campaign_galleries(ps, campaign)
        self.missing: list[str] = []
        self.videos = "video" in campaign.source.media
        self.extend, self.per_page = extend, per_page

    def _gallery_exists(self, gallery_id: str) -> bool:
        try:
            self.ps.gallery_page(gallery_id, per_page=1)
        except PhotoShelterNotFound:
            return False
        return True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for gallery_id in self.gallery_ids:
            try:
                pages = {"extend": self.extend, "per_page": self.per_page}
                records = list(self.ps.iter_gallery_media(gallery_id, **pages) if self.videos
                               else self.ps.iter_gallery_images(gallery_id, **pages))
            except PhotoShelterNotFound:
                if self.videos and self._gallery_exists(gallery_id):
                    raise MediaListingMissing(
                        f"campaign {self.campaign.id}: PhotoShelter answered 404 for the media listing of gallery "
                        f"{gallery_id} (mem/gallery/{gallery_id}/media), which exists: this account does not offer "
                        "that route, so videos cannot be listed. Set source.media: [image] in include/campaigns/"
                        f"{self.campaign.id}.yaml to ship images only") from None
                self.missing.append(gallery_id)
                log.warning("campaign %s: PhotoShelter gallery %s no longer exists (deleted, or a wrong ID in "
                            "include/campaigns/%s.yaml); its masters are left out of this run", self.campaign.id,
                            gallery_id, self.campaign.id)
                continue
            yield from records


class MediaListingMissing(CampaignMediaError, RuntimeError):
    """A campaign asks for videos and the account has no media listing: fix the campaign file."""

    retryable = False


def missing_galleries_message(campaign_id: str, missing: list[str]) -> str:
    """What to do about source galleries that no longer exist."""

    return (f"campaign {campaign_id}: PhotoShelter gallery {', '.join(missing)} no longer exists (deleted in "
            "PhotoShelter, or a wrong ID): nothing was read from it, everything else was. Restore it, or remove it "
            f"from source in include/campaigns/{campaign_id}.yaml (its masters' copies stay closed meanwhile)")
