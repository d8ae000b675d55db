"""Per-asset delivery figures from CDN access logs (pure pandas): each logged request sorted into
what it counts for, then summed per market copy.

A request counts for a copy when its URL names a market copy of this campaign that the market
state knows, it was answered 2xx or 304, and it falls inside the campaign's window (where the
window is bounded). Every other line is counted apart, under the reason it does not count, so
the totals can be checked against the log's own line count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from campaign_media.domain.access_logs import Delivered, Hit, delivered

APART = ("other_campaigns", "not_campaign_urls", "unknown_assets", "master_deliveries", "outside_window",
         "failed_requests", "malformed")
KEYS = ["image_id", "market", "transformation"]
COLUMNS = ["image_id", "market", "transformation", "requests", "bandwidth_bytes"]


@dataclass
class AccessFigures:
    """What the logs say about one campaign."""

    per_copy: pd.DataFrame  # image_id, market, transformation ("" for the original), requests, bandwidth_bytes
    lines: int = 0
    counted: int = 0
    apart: Counter = field(default_factory=Counter)  # reason -> lines

    def summary(self) -> dict[str, int]:
        return {"lines": self.lines, "counted": self.counted, **{k: self.apart.get(k, 0) for k in APART}}


def tally(files: Iterable[Iterable[Hit | None]], campaign: str, known: set[tuple[str, str]],
          start: datetime | None = None, end: datetime | None = None) -> AccessFigures:
    """Sum the requests and bytes per market copy and transformation over every file's hits
    (``None``: a malformed line).

    :param known: ``(image_id, market)`` of the campaign's market copies (from the market states)
    :param start: the campaign window's bounds in UTC (``None``: open)
    """
    figures = AccessFigures(pd.DataFrame(columns=COLUMNS))
    parts = []
    for hits in files:
        rows = []
        for hit in hits:
            figures.lines += 1
            target = delivered(hit.path) if hit is not None else None  # once per line: the hot path
            reason = _apart(hit, target, campaign, known, start, end)
            if reason:
                figures.apart[reason] += 1
                continue
            assert hit is not None and target is not None and target.market is not None
            rows.append((target.image_id, target.market, target.transformation, hit.bytes))
        if rows:  # one file at a time: memory stays bounded by the largest file's counted lines
            frame = pd.DataFrame(rows, columns=["image_id", "market", "transformation", "bandwidth_bytes"])
            parts.append(frame.groupby(KEYS).agg(requests=("bandwidth_bytes", "size"),
                                                 bandwidth_bytes=("bandwidth_bytes", "sum")).reset_index())
    if parts:
        figures.per_copy = pd.concat(parts).groupby(KEYS, as_index=False)[["requests", "bandwidth_bytes"]].sum()[
            COLUMNS]
        figures.counted = int(figures.per_copy["requests"].sum())
    return figures


def _apart(hit: Hit | None, target: Delivered | None, campaign: str, known: set[tuple[str, str]],
           start: datetime | None, end: datetime | None) -> str | None:
    """Why a line does not count for a copy of this campaign (``None``: it counts); ``target`` is
    what its URL names."""
    if hit is None:
        return "malformed"
    if target is None:
        return "not_campaign_urls"
    if target.campaign != campaign:
        return "other_campaigns"
    if target.market is None:
        return "master_deliveries"
    if (target.image_id, target.market) not in known:
        return "unknown_assets"
    if not (200 <= hit.status < 300 or hit.status == 304):
        return "failed_requests"
    if hit.time is not None and ((start and hit.time < start) or (end and hit.time >= end)):
        return "outside_window"
    return None


def by_copy(figures: AccessFigures) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    """``(image_id, market) -> {transformation or "original": {"requests", "bytes"}}``."""
    out: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    for row in figures.per_copy.itertuples(index=False):
        out.setdefault((row.image_id, row.market), {})[row.transformation or "original"] = {
            "requests": int(row.requests), "bytes": int(row.bandwidth_bytes)}
    return out
