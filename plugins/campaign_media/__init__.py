"""Campaign media pipelines: PhotoShelter (DAM) ↔ Cloudinary (transformation and delivery)."""

# The project's version: pyproject.toml, the Docker image's label and every report carry it
# (a unit test keeps them equal). Bump it with a CHANGELOG.md entry.
__version__ = "0.9.0"
