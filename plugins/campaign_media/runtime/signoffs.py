"""Where launch sign-off requests and answers are kept: per market, or per campaign when one yes
opens every market (``signoff.per_market: false``). Read by the runs, the sign-off DAG and the
campaign page."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from campaign_media.config.models import Campaign
from campaign_media.runtime import storage


def record_path(campaign: Campaign, market: str) -> Any:
    assert campaign.signoff is not None
    return storage.signoff_record(campaign.id, market if campaign.signoff.per_market else None)


def requests(campaign: Campaign, market: str) -> list[dict[str, Any]]:
    """The market's sign-off requests, oldest first ([] where no sign-off is asked for)."""
    if campaign.signoff_for(market) is None:
        return []
    return (storage.read_json(record_path(campaign, market), {}) or {}).get("requests", [])


def save_request(campaign: Campaign, market: str, request: dict[str, Any]) -> None:
    """Add a request, or replace the one with the same ``id`` (with its answer)."""
    target = record_path(campaign, market)
    stored = storage.read_json(target, {}) or {}
    kept = [r for r in stored.get("requests", []) if r.get("id") != request["id"]]
    storage.write_json(target, {**stored, "requests": [*kept, request]})


def claim_request(campaign: Campaign, market: str, masters: dict[str, str], request_id: str) -> bool:
    """Whether this run is the one to ask about ``masters``: the first to create its marker (two
    sign-off runs planning at once, one per market's delivery, would otherwise both ask)."""
    key = hashlib.sha256(json.dumps(sorted(masters.items())).encode()).hexdigest()[:24]
    scope = market if campaign.signoff and campaign.signoff.per_market else "_all"
    return storage.create_json(storage.path(campaign.id, "markets", scope, "signoff-asked", f"{key}.json"),
                               {"request": request_id})
