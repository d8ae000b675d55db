"""Triggers the triggerer runs (deferral and event triggers): no worker slot is held while they wait."""

from campaign_media.triggers.cloudinary import VideoRenditionsTrigger

__all__ = ["VideoRenditionsTrigger"]
