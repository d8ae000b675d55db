"""The configuration's one error (``campaign_media.config.loader`` re-exports it)."""

from __future__ import annotations

from campaign_media.exceptions import CampaignMediaError


class ConfigError(CampaignMediaError, ValueError):
    """A campaign or market file is invalid; the message is written for the person who fixes it."""

    retryable = False
