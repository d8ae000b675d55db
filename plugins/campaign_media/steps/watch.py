"""One poll of a watched PhotoShelter source, and what it leaves behind (the watermark).

Called by :class:`~campaign_media.triggers.photoshelter.PhotoShelterChangeTrigger` in the
triggerer, in a thread (the hook is synchronous). A poll is the source's listing with only what
the decision reads (file fields and custom metadata), ``LARGEST_PAGE`` records per call: for a
source of N media in one gallery, ``ceil(N / 1000)`` calls (plus the collection walk when the
campaign names a collection). It makes no Cloudinary call. The watermark is stored in
``<storage>/_watch/<source key>.json`` only after the poll's event has been handed to Airflow,
so a triggerer that dies in between fires it again (at least once; ingest is idempotent) and
one that was down compares with what it last saw (nothing missed, nothing re-fired).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from campaign_media.config.loader import current_config
from campaign_media.config.models import Campaign
from campaign_media.domain.watch import PollResult, compare
from campaign_media.hooks.photoshelter import LARGEST_PAGE, WATCH_EXTEND, WATCH_MEDIA_EXTEND, PhotoShelterHook
from campaign_media.runtime import storage
from campaign_media.runtime.sources import SourceListing

HISTORY = 20  # polls remembered in the watch file (the campaign page shows the latest)


def campaigns_of(ids: list[str]) -> list[Campaign]:
    """The watched campaigns as the include folder says now (a campaign removed since is skipped)."""
    campaigns = current_config()[1]
    return [campaigns[cid] for cid in ids if cid in campaigns]


def poll(ps: PhotoShelterHook, campaigns: list[Campaign], key: str) -> tuple[PollResult, dict[str, Any]]:
    """List the source the ``campaigns`` share and compare it with the stored watermark. Returns
    the result and the poll's record (time, calls, media seen, missing galleries)."""
    stored = storage.read_json(storage.watch_file(key), {}) or {}
    first = campaigns[0]
    extend = WATCH_MEDIA_EXTEND if "video" in first.source.media else WATCH_EXTEND
    calls = ps.calls_made
    listing = SourceListing(ps, first, extend=extend, per_page=LARGEST_PAGE)
    records = list(listing)
    result = compare(records, campaigns, stored.get("media"), complete=not listing.missing)
    record = {"at": now_iso(), "result": "baseline" if result.baseline else "ok", "seen": result.seen,
              "changed": result.changed, "calls": ps.calls_made - calls, "missing_galleries": listing.missing,
              "named": {cid: len(ids) for cid, ids in result.named.items() if ids}}
    return result, record


def commit(key: str, result: PollResult, record: dict[str, Any]) -> None:
    """Store the new watermark with this poll's record (after its event went out)."""
    remember(key, record, result.watermark)


def failed(key: str, error: Exception) -> dict[str, Any]:
    """Record a poll that failed (the watermark stays as it was: no event was fired)."""
    record = {"at": now_iso(), "result": "failed", "error": str(error)[:500]}
    remember(key, record)
    return record


def remember(key: str, record: dict[str, Any], watermark: dict[str, str] | None = None) -> None:
    """Add a poll's record to the watch file, and replace its watermark when given."""
    stored = storage.read_json(storage.watch_file(key), {}) or {}
    media = stored.get("media") if watermark is None else watermark
    storage.write_json(storage.watch_file(key), {"media": media, "last_poll": record,
                                                 "polls": [record, *stored.get("polls", [])][:HISTORY]},
                       compact=True)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
