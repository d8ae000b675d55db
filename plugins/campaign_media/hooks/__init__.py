"""Hooks: the only code that talks to PhotoShelter and Cloudinary."""

from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterHook

__all__ = ["CloudinaryHook", "PhotoShelterHook"]
