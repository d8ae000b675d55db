"""What a task read and wrote, as OpenLineage datasets (pure: the operators turn these into facets).

A dataset is ``(namespace, name)``:

- ``photoshelter://<org>`` + a media or gallery ID: a PhotoShelter master, a written-back rendition,
  an archive gallery;
- ``cloudinary://<cloud>`` + a public ID: a master, or a market's copy
  (``campaigns/<campaign>/markets/<market>/<image id>``, so the market is in its name).

A data catalogue then shows which PhotoShelter master became which Cloudinary master, which market
copies, and which renditions written back to PhotoShelter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Dataset = tuple[str, str]


def photoshelter(org_id: str, media_or_gallery_id: str) -> Dataset:
    return f"photoshelter://{org_id}", media_or_gallery_id


def cloudinary(cloud_name: str, public_id: str) -> Dataset:
    return f"cloudinary://{cloud_name}", public_id


def ingested(org_id: str, cloud_name: str, result: Mapping[str, Any]) -> tuple[list[Dataset], list[Dataset]]:
    """An ingest batch's result file: the PhotoShelter media read, the Cloudinary masters written
    (uploads and context updates alike: both wrote the master)."""
    done = [*result.get("uploaded", []), *result.get("context_updated", [])]
    return (_unique(photoshelter(org_id, o["image_id"]) for o in done),
            _unique(cloudinary(cloud_name, o["public_id"]) for o in done))


def rendered(org_id: str, cloud_name: str, result: Mapping[str, Any]) -> tuple[list[Dataset], list[Dataset]]:
    """A market batch's result file: the masters read; the market copies made and each rendition
    written back to PhotoShelter."""
    done = result.get("done", {}).values()
    inputs = _unique(cloudinary(cloud_name, state["master"]) for state in done if state.get("master"))
    copies = [cloudinary(cloud_name, state["public_id"]) for state in done if state.get("public_id")]
    written = [photoshelter(org_id, rendition["ps_image_id"]) for state in done
               for rendition in (state.get("renditions") or {}).values()
               if isinstance(rendition, dict) and rendition.get("ps_image_id")]
    return inputs, _unique([*copies, *written])


def _unique(datasets: Iterable[Dataset]) -> list[Dataset]:
    return sorted(set(datasets))
