"""Campaign and market configuration: typed models and loaders for include/*.yaml."""

from campaign_media.config.loader import ConfigError, lint, load_campaigns, load_markets
from campaign_media.config.models import Campaign, Market, Rendition

__all__ = ["Campaign", "ConfigError", "Market", "Rendition", "lint", "load_campaigns", "load_markets"]
