"""Single-purpose PhotoShelter operators, usable in any DAG."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import Context

from campaign_media.domain.masters import custom_fields, licence_of
from campaign_media.hooks.photoshelter import MASTER_EXTEND, PhotoShelterHook
from campaign_media.operators.waiting import WaitingOperator
from campaign_media.runtime import storage


class PhotoShelterGalleryToManifestOperator(WaitingOperator):
    """List a PhotoShelter gallery (one call per page of 500) into a JSON manifest in object
    storage: per image its ID, file name, size, pixel size, times, custom metadata and licence
    end. Returns the manifest's path and count (the manifest itself stays out of XCom).

    :param gallery_id: the gallery (templated)
    :param manifest_path: where to write it, any ``ObjectStoragePath`` URL (templated; default
        ``<storage>/_manifests/<gallery_id>.json``)
    """

    template_fields: Sequence[str] = ("gallery_id", "manifest_path", "photoshelter_conn_id")
    ui_color = "#fdf0d5"

    def __init__(self, *, gallery_id: str, manifest_path: str = "",
                 photoshelter_conn_id: str = PhotoShelterHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gallery_id = gallery_id
        self.manifest_path = manifest_path
        self.photoshelter_conn_id = photoshelter_conn_id

    @cached_property
    def hook(self) -> PhotoShelterHook:
        return PhotoShelterHook(self.photoshelter_conn_id)

    def run(self, context: Context) -> dict[str, Any]:
        with self.hook as ps:
            tz = ps.session_timezone()
            images = []
            for record in ps.iter_gallery_images(self.gallery_id, extend=MASTER_EXTEND):
                image = record.get("Image") or {}
                images.append({"image_id": record.get("image_id") or image.get("image_id"),
                               **{k: image.get(k) for k in ("file_name", "file_size", "width", "height",
                                                            "updated_at", "uploaded_at")},
                               "custom": custom_fields(record), "licence_expiry": licence_of(record, tz)})
        target = self.manifest_path or str(storage.path("_manifests", f"{self.gallery_id}.json"))
        path = storage.write_json(target, {"gallery_id": self.gallery_id, "timezone": tz, "images": images})
        self.log.info("gallery %s: %d images listed into %s", self.gallery_id, len(images), path)
        return {"gallery_id": self.gallery_id, "path": path, "count": len(images)}
