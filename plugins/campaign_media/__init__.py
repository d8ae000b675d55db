"""Campaign media pipelines: PhotoShelter (DAM) ↔ Cloudinary (transformation and delivery)."""
