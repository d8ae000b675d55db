"""What the PhotoShelter watcher decides from one listing of a source (pure).

PhotoShelter has no webhooks and no "changed since" filter, so each poll lists the source and
compares every medium's fingerprint — what ingest's decision depends on: its file (name, size,
``updated_at``) and its custom metadata, where approval lives — with the watermark the last
poll left. A campaign is told about the media that changed (or appeared) *and* are approved by
its own rule now; an un-approval needs no ingest (the usage-window DAG closes the copies).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from campaign_media.config.models import Approval, Campaign, Source
from campaign_media.domain.masters import custom_fields, is_media_id, media_id, medium_of

Watermark = dict[str, str]  # media ID -> fingerprint
CONNECTION = "photoshelter_default"  # the connection the lifecycle DAGs (and so the watcher) use


def asset_uri(key: str) -> str:
    """The asset a watched source's events are on (the ingest DAG is scheduled on it)."""
    return f"campaign-media://photoshelter/{key}"


def fingerprint(record: dict[str, Any]) -> str:
    """A short digest of what ingest's decision reads from a listing record."""
    medium = medium_of(record)
    seen = [medium.get(k) for k in ("file_name", "file_size", "updated_at", "width", "height")]
    text = json.dumps([seen, sorted(custom_fields(record).items())], default=str, ensure_ascii=False)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def approved(record: dict[str, Any], approval: Approval) -> bool:
    return custom_fields(record).get(approval.field, "").lower() == approval.value.lower()


@dataclass(frozen=True)
class PollResult:
    """One poll's outcome: the media each campaign should ingest now, and the new watermark."""

    named: dict[str, list[str]]  # campaign -> media IDs (changed or new, approved by its rule)
    watermark: Watermark
    seen: int  # media listed
    changed: int  # media whose fingerprint moved (approved or not)
    baseline: bool = False  # the first poll: nothing fired, the watermark starts here
    notes: list[str] = field(default_factory=list)

    def event(self) -> dict[str, Any] | None:
        """The trigger event's payload, or None when no campaign has anything to ingest."""
        named = {cid: ids for cid, ids in self.named.items() if ids}
        return {"campaigns": named, "media": sum(len(ids) for ids in named.values())} if named else None


def compare(records: list[dict[str, Any]], campaigns: list[Campaign], previous: Watermark | None,
            *, complete: bool = True) -> PollResult:
    """Compare one listing of a source shared by ``campaigns`` with the ``previous`` watermark.

    ``previous=None`` (no watermark yet) sets the baseline and names nothing: a lost or new
    watermark never re-fires a whole source (the daily ingest run is the net). ``complete=False``
    (a gallery of the source could not be read) keeps the previous fingerprints of media not
    listed, so a gallery that comes back does not look new.
    """
    current: Watermark = {}
    by_id: dict[str, dict[str, Any]] = {}
    for record in records:
        mid = media_id(record)
        if is_media_id(mid):  # an ID of another shape never names anything (ingest reports it)
            current[mid], by_id[mid] = fingerprint(record), record
    watermark = current if complete or previous is None else {**previous, **current}
    if previous is None:
        return PollResult({c.id: [] for c in campaigns}, watermark, len(current), 0, baseline=True)
    changed = sorted(mid for mid, fp in current.items() if previous.get(mid) != fp)
    named = {c.id: [mid for mid in changed if approved(by_id[mid], c.approval)] for c in campaigns}
    return PollResult(named, watermark, len(current), len(changed))


def source_key(conn_id: str, source: Source) -> str:
    """One watcher per PhotoShelter source: campaigns naming the same galleries (or collection)
    through the same connection share its poll. A readable, stable key."""
    if source.gallery_ids:
        what = "galleries-" + "-".join(sorted(source.gallery_ids))
    elif source.collection_id:
        what = f"collection-{source.collection_id}"
    else:
        what = "collection-" + hashlib.sha1((source.collection_name or "").encode()).hexdigest()[:10]
    media = "-".join(sorted(source.media))
    raw = f"{conn_id}.{what}.{media}"
    return raw if len(raw) <= 120 else f"{conn_id}.{hashlib.sha1(raw.encode()).hexdigest()[:16]}"


def budgeted_interval(calls: int, per_hour: float, shortest: float) -> float:
    """Seconds until a source's next poll: its shortest interval, or longer when its last poll's
    ``calls`` at that pace would spend more than ``per_hour`` (0: no budget)."""
    return max(shortest, 3600.0 * calls / per_hour) if per_hour > 0 else shortest


def watched_sources(campaigns: list[Campaign], conn_id: str, default_interval: float) -> dict[str, dict[str, Any]]:
    """``source key -> {"campaigns": [...], "interval": seconds}`` for every watched source: the
    shortest interval its campaigns ask for; a campaign with ``watch: off`` is left out; a
    deployment interval of 0 watches nothing."""
    if default_interval <= 0:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for campaign in sorted(campaigns, key=lambda c: c.id):
        watch = campaign.source.watch
        if watch is False:
            continue
        key = source_key(conn_id, campaign.source)
        interval = watch.interval or default_interval
        entry = out.setdefault(key, {"campaigns": [], "interval": interval})
        entry["campaigns"].append(campaign.id)
        entry["interval"] = min(entry["interval"], interval)
    return out


def named_media(extras: list[dict[str, Any]]) -> dict[str, set[str]] | None:
    """The media the watcher's events (asset events' ``extra``) name per campaign, merged; None
    when no event came from the watcher (a daily run, a backfill, a manual run)."""
    named: dict[str, set[str]] | None = None
    for extra in extras:
        payload = (extra or {}).get("payload") or {}
        if not isinstance(payload, dict) or not isinstance(payload.get("campaigns"), dict):
            continue
        named = named or {}
        for campaign, ids in payload["campaigns"].items():
            named.setdefault(campaign, set()).update(str(i) for i in ids)
    return named
