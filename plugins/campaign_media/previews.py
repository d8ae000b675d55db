"""Pictures of what a reviewer signs: small previews of each market rendition, for the campaign
page's contact sheet.

A preview is the rendition's own transformation (the crop and the headline as drawn), then fitted
into 240 px, made from the authenticated master through a signed URL. It is fetched here, on the
page's server side, the first time someone asks, and cached in storage next to the market's state
(``markets/<code>/previews/``). The page then serves it through its own authenticated route. A
copy that is still closed previews all the same, and no signed Cloudinary URL reaches a browser.
This is the one place the page's server side calls Cloudinary.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.masters import master_public_id
from campaign_media.domain.renditions import specs_by_name
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.retry import RetryBudgetExceeded
from campaign_media.runtime import storage
from campaign_media.steps.shared.delivery import master_url

SIZE = 240  # px, the longer side
FIT = {"width": SIZE, "height": SIZE, "crop": "limit"}


class PreviewUnavailable(CampaignMediaError, LookupError):
    """No such rendition in the market's state, or Cloudinary could not make its preview."""


def _chain(transformation: Any) -> list[dict[str, Any]]:
    return list(transformation) if isinstance(transformation, list) else [transformation] if transformation else []


def cache_file(campaign: str, market: str, image_id: str, rendition: str, entry: dict[str, Any]) -> Any:
    """Where a preview is cached: named by the master's file version and the rendition spec, so a new
    original or a changed spec makes a new one."""
    key = hashlib.sha256(json.dumps([entry.get("version"), entry.get("spec")], default=str).encode()).hexdigest()[:12]
    return storage.path(campaign, "markets", market, "previews", image_id, f"{rendition}-{key}.jpg")


def preview(cld: CloudinaryHook, campaign: Campaign, market: Market, image_id: str, rendition: str) -> bytes:
    """The JPEG preview of one rendition (cached after the first fetch)."""
    entry = storage.read_json(storage.market_state(campaign.id, market.code), {}).get(image_id)
    if not entry or rendition not in (entry.get("renditions") or {}):
        raise PreviewUnavailable(f"{image_id} has no rendition {rendition!r} in market {market.code}")
    cached = cache_file(campaign.id, market.code, image_id, rendition, entry)
    if cached.is_file():
        return cached.read_bytes()
    video = entry.get("media_type") == "video"
    spec = specs_by_name(campaign, market)["video" if video else "image"].get(rendition)
    if spec is None:
        raise PreviewUnavailable(f"rendition {rendition!r} is no longer in market {market.code}'s file")
    # A video output's preview is its poster: the master's frame, fitted (no video transformation).
    chain = [FIT] if video else [*_chain(spec["transformation"]), FIT]
    url = master_url(cld, master_public_id(campaign.id, image_id), format="jpg", transformation=chain,
                     resource_type="video" if video else "image")
    try:
        data = cld.fetch(url, max_bytes=2 * 1024 * 1024)
    except (CloudinaryError, RetryBudgetExceeded) as exc:
        raise PreviewUnavailable(f"Cloudinary could not make the preview of {image_id} {rendition}: {exc}") from exc
    storage.write_bytes(cached, data)
    return data
