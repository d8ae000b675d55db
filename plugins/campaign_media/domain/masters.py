"""Masters: what a PhotoShelter gallery record means for a campaign (pure, no I/O).

A *master* is an approved original in PhotoShelter. This module turns a ``GalleryImage``
record (as ``PhotoShelterHook.iter_gallery_images`` yields it) into a :class:`Master`, or
into the reason it must not ship; names its Cloudinary public ID; and carries its
governance metadata as Cloudinary context.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign_media.config.models import Approval
from campaign_media.exceptions import CampaignMediaError

# Masters are stored as ``authenticated`` assets: delivered only through signed URLs, which every
# Cloudinary plan supports (token-based access is a premium feature the default path avoids).
MASTER_DELIVERY = "authenticated"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg")
LICENCE_UNREADABLE = "unreadable"


def parse_ps_time(value: str | None, tz: str = "UTC") -> datetime | None:
    """A PhotoShelter time → aware UTC datetime; ``None`` if absent.

    Accepts ``2024-01-01 10:00:00 GMT`` (or ``UTC``, ``Z``), a numeric offset
    (``2024-01-01T10:00:00+01:00``), a trailing IANA zone name (``… Europe/Paris``), and a bare
    local time, read in ``tz`` — the session's zone (``mem/user/session`` → ``tz``), since
    PhotoShelter may answer in the user's time zone. Raises ValueError for anything else.
    """
    if not value:
        return None
    text = value.strip()
    zone = tz
    for suffix in (" GMT", " UTC", "Z"):
        if text.endswith(suffix):
            text, zone = text[: -len(suffix)], "UTC"
    head, _, last = text.rpartition(" ")
    if head and "/" in last:  # "2024-01-01 10:00:00 Europe/Paris"
        text, zone = head, last
    moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_info(zone))
    return moment.astimezone(UTC)


def zone_info(name: str) -> ZoneInfo:
    """An IANA zone, with PhotoShelter's ``GMT`` as UTC; ValueError for an unknown name."""
    try:
        return ZoneInfo("UTC" if name in ("GMT", "UTC", "") else name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Master:
    """An approved original and the governance facts that travel with it."""

    image_id: str
    file_name: str
    version: str  # when PhotoShelter last changed the record (ISO UTC): files *and* metadata
    width: int
    height: int
    file_size: int  # bytes, as PhotoShelter's listing gives them (0: not given)
    owner: str
    approval: str
    usage_rights: str
    licence_expiry: str  # ISO-8601 UTC, "" when none is set, "unreadable" when it cannot be parsed
    source: str  # who submitted it: staff, contributor, ugc ...
    media_type: str = "image"  # or "video" (then stored in Cloudinary as a video resource)
    duration: float = 0.0  # seconds, a video's as PhotoShelter's listing gives it (0: not given)

    @property
    def is_video(self) -> bool:
        return self.media_type == "video"

    @property
    def resource_type(self) -> str:
        """Cloudinary's resource type for this master."""
        return "video" if self.is_video else "image"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Master:
        return cls(**data)

    def public_id(self, campaign: str) -> str:
        return master_public_id(campaign, self.image_id)

    def governance(self) -> dict[str, str]:
        """What governs its use: ``owner``, ``approval``, ``usage_rights``, ``licence_expiry``."""
        return {"owner": self.owner, "approval": self.approval, "usage_rights": self.usage_rights,
                "licence_expiry": self.licence_expiry}

    def context(self, campaign: str, file_version: str, *, with_governance: bool = True) -> dict[str, str]:
        """Cloudinary context (small strings only, never secrets): the pipeline's keys and, unless
        governance goes into structured metadata, the governance. ``ps_file`` identifies the
        original's bytes: only a new file makes new renditions."""
        return {"ps_image_id": self.image_id, "ps_version": self.version, "ps_file": file_version,
                "campaign": campaign, **(self.governance() if with_governance else {}), "source": self.source,
                "file_name": self.file_name}


def file_version(sha256: str) -> str:
    """A master's file identity: the first 16 hex digits of its original's SHA-256."""
    return sha256[:16]


def master_public_id(campaign: str, image_id: str) -> str:
    """Deterministic: the same master always lands on the same Cloudinary public ID."""
    return f"campaigns/{campaign}/masters/{image_id}"


ROTATED = "--r"  # a copy renamed so that token URLs issued for its old ID stop working


def market_public_id(campaign: str, market: str, image_id: str, rotation: int = 0) -> str:
    """The market's published copy of a master: its renditions and its own access window.
    ``rotation`` counts the times the copy was renamed to revoke token URLs issued for it
    (``<image_id>--r<n>``; media IDs never hold ``-``)."""
    base = f"campaigns/{campaign}/markets/{market}/{image_id}"
    return f"{base}{ROTATED}{rotation}" if rotation else base


def copy_identity(tail: str) -> tuple[str, int]:
    """``(image_id, rotation)`` of a market copy's public ID after its market prefix."""
    image_id, sep, count = tail.partition(ROTATED)
    return (image_id, int(count)) if sep and count.isdigit() else (tail, 0)


def medium_of(record: dict[str, Any]) -> dict[str, Any]:
    """The record's own ``Image`` (or, for a video, ``Video``) sub-record."""
    return record.get("Video" if record.get("media_type") == "video" else "Image") or {}


def _sub(record: dict[str, Any], key: str) -> Any:
    """An ``extend``ed sub-record, wherever the listing put it: top level (as one public client
    reads it) or inside ``Image``/``Video`` (as another does). Undocumented, so both are read."""
    if record.get(key) not in (None, [], {}):
        return record[key]
    return medium_of(record).get(key)


def parse_duration(value: Any) -> float:
    """A duration as seconds: ``12.5``, ``"12.500"`` or ``"00:00:12.5"``; 0.0 when absent or unreadable."""
    text = str(value or "").strip()
    try:
        seconds = 0.0
        for part in text.split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        return 0.0
    return seconds if seconds > 0 else 0.0


# PhotoShelter's media IDs: I0000 (images) or VD000 (videos) then letters, digits, "." and "_"
# (11 documented; the length is read loosely). An ID is joined onto file and storage paths, so
# anything else — a "/", "..", an absolute path — is refused before it is used.
MEDIA_ID = re.compile(r"^(?:I0000|VD000)[A-Za-z0-9._]{1,32}$")


def is_media_id(value: str) -> bool:
    return bool(MEDIA_ID.match(value))


def media_id(record: dict[str, Any]) -> str:
    """A listing record's PhotoShelter ID (an image's ``image_id``, a video's ``video_id``); "?" if none."""
    own = medium_of(record)
    return (record.get("video_id") or own.get("video_id") or record.get("image_id") or own.get("image_id")
            or "?")


def custom_fields(record: dict[str, Any]) -> dict[str, str]:
    return {str(m.get("name")): str(m.get("value") or "") for m in _sub(record, "CustomMetadata") or []}


def has_licence_record(record: dict[str, Any]) -> bool:
    return bool(_sub(record, "License"))


def licence_of(record: dict[str, Any], tz: str = "UTC") -> str:
    """The licence expiry of a record: ISO-8601 UTC, "" when none is set, "unreadable"."""
    try:
        expiry = parse_ps_time((_sub(record, "License") or {}).get("license_etime"), tz)
    except ValueError:
        return LICENCE_UNREADABLE
    return expiry.isoformat() if expiry else ""


def classify(record: dict[str, Any], approval: Approval, tz: str = "UTC") -> tuple[Master | None, str]:
    """A listing record → ``(Master, "")`` when it may ship, else ``(None, reason)``. Times are
    read in ``tz`` when they carry no zone of their own."""
    video = record.get("media_type") == "video"
    image = medium_of(record)
    image_id = media_id(record) if media_id(record) != "?" else ""
    if not image_id:
        return None, f"record without a{' video_id' if video else 'n image_id'}"
    if not is_media_id(image_id):
        return None, (f"ID {image_id[:80]!r} is not a PhotoShelter media ID (I0000 or VD000, then letters, digits, "
                      "'.' or '_'): not used in any path, skipped")
    fields = custom_fields(record)
    status = fields.get(approval.field, "")
    if status.lower() != approval.value.lower():
        return None, f"not approved ({approval.field}={status or 'missing'})"
    file_name = image.get("file_name") or ""
    if not file_name.lower().endswith(VIDEO_EXTENSIONS if video else IMAGE_EXTENSIONS):
        return None, f"not a{' video' if video else 'n image'} file ({file_name or 'no file name'})"
    try:
        width, height = int(image.get("width") or 0), int(image.get("height") or 0)
        file_size = int(image.get("file_size") or 0)
    except ValueError:
        width = height = file_size = 0
    if width <= 0 or height <= 0:
        return None, f"unreadable: no pixel size in PhotoShelter (broken or not a{' video' if video else 'n image'})"
    duration = parse_duration(image.get("duration")) if video else 0.0
    if video and not duration:
        return None, "unreadable: no duration in PhotoShelter (broken or not a video)"
    licence = licence_of(record, tz)  # an unreadable one ships, but the usage-window DAG keeps it restricted
    try:
        updated = parse_ps_time(image.get("updated_at"), tz)
    except ValueError:
        updated = None
    return Master(
        image_id=image_id, file_name=file_name, version=iso_utc(updated) if updated else str(image.get("updated_at")
                                                                                               or ""),
        width=width, height=height, file_size=file_size, owner=fields.get("Owner", ""), approval=status,
        usage_rights=fields.get("Usage Rights", ""), licence_expiry=licence,
        source=fields.get("Submission Source", ""), media_type="video" if video else "image", duration=duration,
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


class ListingShapeError(CampaignMediaError, ValueError):
    """A listing's records do not look the way this code reads them: nothing would ship."""

    retryable = False


def check_listing_shape(campaign: str, listed: int, approved: int, readable: int) -> None:
    """Fail loudly rather than ship nothing silently: a listing of N > 0 media in which no
    master reads as approved, or no approved master has a readable licence, most likely means
    PhotoShelter put ``CustomMetadata``/``License`` where this code does not look."""

    if listed and not approved:
        raise ListingShapeError(
            f"campaign {campaign}: PhotoShelter listed {listed} media and none reads as approved. Either nothing "
            "is approved yet, or the listing's shape differs from what the code expects (CustomMetadata not "
            "where it looks). Run `python -m campaign_media.cli check-account` and compare its key paths.")
    if approved and not readable:
        raise ListingShapeError(
            f"campaign {campaign}: {approved} approved masters and not one readable licence expiry. The listing's "
            "License records are missing or in a shape (or time zone) the code does not read. Run "
            "`python -m campaign_media.cli check-account` and compare its key paths and time zone.")
