"""Launch sign-off for the runs: whether a master's copy may open in a market, read once per market."""

from __future__ import annotations

from collections.abc import Callable

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.signoff import Standing, standing
from campaign_media.runtime.signoffs import requests


def standing_in(campaign: Campaign, market: Market) -> Callable[[str, str], Standing]:
    """``(image_id, what a request shows of it) -> Standing`` for one market, its record read once
    (:func:`campaign_media.domain.signoff.shown`)."""
    asked = requests(campaign, market.code)
    return lambda image_id, version: standing(campaign, market.code, asked, image_id, version)
