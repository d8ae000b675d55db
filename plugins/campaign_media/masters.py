"""Masters: what a PhotoShelter gallery record means for a campaign (pure, no I/O).

A *master* is an approved original in PhotoShelter. This module turns a ``GalleryImage``
record (as ``PhotoShelterHook.iter_gallery_images`` yields it) into a :class:`Master`, or
into the reason it must not ship; names its Cloudinary public ID; and carries its
governance metadata as Cloudinary context.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from campaign_media.config.models import Approval

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic")
LICENCE_UNREADABLE = "unreadable"


def parse_ps_time(value: str | None) -> datetime | None:
    """``2024-01-01 10:00:00 GMT`` (PhotoShelter's form) → aware UTC datetime; None if absent.

    Raises ValueError for text that is not such a timestamp.
    """
    if not value:
        return None
    text = value.strip()
    for suffix in (" GMT", " UTC", "Z"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    moment = datetime.fromisoformat(text.replace(" ", "T"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True)
class Master:
    """An approved original and the governance facts that travel with it."""

    image_id: str
    file_name: str
    version: str  # PhotoShelter's updated_at: a new value means the master changed
    width: int
    height: int
    owner: str
    approval: str
    usage_rights: str
    licence_expiry: str  # ISO-8601 UTC, "" when none is set, "unreadable" when it cannot be parsed
    source: str  # who submitted it: staff, contributor, ugc ...
    link: str  # session-less signed link Cloudinary can fetch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Master:
        return cls(**data)

    def public_id(self, campaign: str) -> str:
        return master_public_id(campaign, self.image_id)

    def context(self, campaign: str) -> dict[str, str]:
        """Governance metadata as Cloudinary context (small strings only, never secrets)."""
        return {"ps_image_id": self.image_id, "ps_version": self.version, "campaign": campaign,
                "owner": self.owner, "approval": self.approval, "usage_rights": self.usage_rights,
                "licence_expiry": self.licence_expiry, "source": self.source, "file_name": self.file_name}


def master_public_id(campaign: str, image_id: str) -> str:
    """Deterministic: the same master always lands on the same Cloudinary public ID."""
    return f"campaigns/{campaign}/masters/{image_id}"


def market_public_id(campaign: str, market: str, image_id: str) -> str:
    """The market's published copy of a master: its renditions and its own access window."""
    return f"campaigns/{campaign}/markets/{market}/{image_id}"


def custom_fields(record: dict[str, Any]) -> dict[str, str]:
    return {str(m.get("name")): str(m.get("value") or "") for m in record.get("CustomMetadata") or []}


def licence_of(record: dict[str, Any]) -> str:
    """The licence expiry of a record: ISO-8601 UTC, "" when none is set, "unreadable"."""
    try:
        expiry = parse_ps_time((record.get("License") or {}).get("license_etime"))
    except ValueError:
        return LICENCE_UNREADABLE
    return expiry.isoformat() if expiry else ""


def classify(record: dict[str, Any], approval: Approval) -> tuple[Master | None, str]:
    """A listing record → ``(Master, "")`` when it may ship, else ``(None, reason)``."""
    image = record.get("Image") or {}
    image_id = record.get("image_id") or image.get("image_id")
    if not image_id:
        return None, "record without an image_id"
    fields = custom_fields(record)
    status = fields.get(approval.field, "")
    if status.lower() != approval.value.lower():
        return None, f"not approved ({approval.field}={status or 'missing'})"
    file_name = image.get("file_name") or ""
    if not file_name.lower().endswith(IMAGE_EXTENSIONS):
        return None, f"not an image file ({file_name or 'no file name'})"
    try:
        width, height = int(image.get("width") or 0), int(image.get("height") or 0)
    except ValueError:
        width = height = 0
    if width <= 0 or height <= 0:
        return None, "unreadable: no pixel size in PhotoShelter (broken or not an image)"
    licence = licence_of(record)  # an unreadable one ships, but the usage-window DAG keeps it restricted
    return Master(
        image_id=image_id, file_name=file_name, version=image.get("updated_at") or "",
        width=width, height=height, owner=fields.get("Owner", ""), approval=status,
        usage_rights=fields.get("Usage Rights", ""), licence_expiry=licence,
        source=fields.get("Submission Source", ""), link=(record.get("ImageLink") or {}).get("auth_link", ""),
    ), ""


def changed_in(master: Master, start: datetime | None, end: datetime | None) -> bool:
    """Whether the master was approved or changed inside ``[start, end)`` (None = unbounded)."""
    try:
        moment = parse_ps_time(master.version)
    except ValueError:
        return True  # an unparseable version is re-examined rather than silently skipped
    if moment is None:
        return True
    return (start is None or moment >= start) and (end is None or moment < end)
