"""Legal deadlines, checked from what the DAGs stored (no API call): each market copy's window end
confirmed by a usage-window run within the tolerance, each ended campaign archived by its due date.
What is missed is returned once per deadline (remembered in ``<storage>/_deadlines/<campaign>.json``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.deadlines import Missed, missed_archive, missed_window_ends
from campaign_media.domain.windows import effective_window, parse_rule_time
from campaign_media.runtime import storage


def _moment(text: str | None) -> datetime | None:
    return parse_rule_time(text) if text else None


def window_ends(campaign: Campaign, market: Market) -> dict[str, datetime | None]:
    """``image_id -> when its copy must close`` for the market's copies still open as last decided:
    the end the last usage-window run decided, or, for a copy no run has seen yet, the campaign ∩
    market window (a licence can only end it sooner). Copies last decided closed are not listed."""
    decisions = storage.read_json(storage.market_access(campaign.id, market.code), {})
    made = storage.read_json(storage.market_state(campaign.id, market.code), {})
    ends: dict[str, datetime | None] = {}
    for image_id in sorted(set(made) | set(decisions)):
        decided = decisions.get(image_id)
        if decided is None:
            ends[image_id] = effective_window(campaign, market, "")[1]
        elif decided.get("public"):
            ends[image_id] = _moment(decided.get("end"))
    return ends


def check(campaign: Campaign, markets: list[Market], now: datetime, tolerance: timedelta) -> list[Missed]:
    """Every deadline of the campaign missed as of ``now``."""
    report = storage.read_json(storage.windows_report(campaign.id), {}) or {}
    confirmed = _moment((report.get("summary") or {}).get("as_of"))
    missed: list[Missed] = []
    for market in markets:
        failed = [f["image_id"] for f in report.get("failed", []) if f.get("market") == market.code]
        missed += missed_window_ends(campaign.id, market.code, window_ends(campaign, market), confirmed, failed,
                                     now, tolerance)
    end = campaign.bounds()[1]
    archive = missed_archive(campaign.id, end + timedelta(days=campaign.archive.grace_days) if end else None,
                             storage.read_json(storage.archive_file(campaign.id, "done.json")) is not None, now,
                             tolerance)
    return missed + ([archive] if archive else [])


def not_alerted(campaign: str, missed: list[Missed]) -> list[Missed]:
    """Those of ``missed`` no alert was sent for yet."""
    sent = storage.read_json(storage.deadline_alerts(campaign), {}) or {}
    return [m for m in missed if m.key not in sent]


def alerted(campaign: str, missed: list[Missed], at: datetime) -> None:
    """Remember that these were alerted (a later run does not send them again)."""
    sent: dict[str, Any] = storage.read_json(storage.deadline_alerts(campaign), {}) or {}
    sent.update({m.key: {"at": at.isoformat(), "masters": len(m.masters)} for m in missed})
    storage.write_json(storage.deadline_alerts(campaign), sent)
