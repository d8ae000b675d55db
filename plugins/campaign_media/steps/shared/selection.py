"""Which campaigns a run covers: one rule per DAG, in domain code (not in task bodies).

``chosen`` is the DAG's ``campaign`` Param: a campaign ID, or ``"all"``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from campaign_media.config.models import Campaign, Market
from campaign_media.runtime import storage

ALL = "all"


def picked(campaign_id: str, chosen: str) -> bool:
    return chosen in (ALL, campaign_id)


def for_ingest(campaigns: dict[str, Campaign], chosen: str, since: datetime) -> list[Campaign]:
    """Campaigns not over by ``since`` (the interval's start): masters approved before launch ship
    early, so renditions are ready when the window opens (usage windows govern visibility)."""
    return [c for cid, c in sorted(campaigns.items()) if picked(cid, chosen) and not c.ended(since)]


def for_market(campaigns: dict[str, Campaign], market: Market, chosen: str, now: datetime) -> list[Campaign]:
    """Campaigns launching in ``market`` whose window there has not closed at ``now``: renditions
    are made before launch so they are ready when the market's window opens."""
    later = now + timedelta(seconds=1)
    return [c for cid, c in sorted(campaigns.items())
            if market.code in c.markets and picked(cid, chosen) and (c.market_window(market)[1] or later) > now]


def unarchived(campaigns: dict[str, Campaign], chosen: str) -> list[str]:
    """Campaigns not archived yet: the ones still in Cloudinary to govern and report on."""
    return [cid for cid in sorted(campaigns) if picked(cid, chosen)
            and storage.read_json(storage.archive_file(cid, "done.json")) is None]


def due_for_archive(campaigns: dict[str, Campaign], chosen: str, now: datetime) -> list[str]:
    """Campaigns whose window ended at least ``archive.grace_days`` before ``now``."""
    return [cid for cid, c in sorted(campaigns.items()) if picked(cid, chosen) and c.archive_due(now)]
