"""Triggers the triggerer runs (deferral and event triggers): no worker slot is held while they wait."""

from campaign_media.triggers.cloudinary import VideoRenditionsTrigger
from campaign_media.triggers.photoshelter import PhotoShelterChangeTrigger

__all__ = ["PhotoShelterChangeTrigger", "VideoRenditionsTrigger"]
