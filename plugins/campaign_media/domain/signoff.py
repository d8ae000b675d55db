"""Launch sign-off (pure): who is asked, until when, and whether a market copy may open.

A campaign with ``signoff:`` keeps each market's copies closed, even inside their window, until
someone it names says yes in Airflow's Required Actions. The answers are kept per market in
``<storage>/<campaign>/markets/<code>/signoff.json``, or per campaign in
``<storage>/<campaign>/signoff.json`` when one yes opens every market (``per_market: false``).
The record is a list of requests. Each request names the masters (and their file versions) it
showed, its state (``awaiting``, ``approved``, ``refused`` or ``overdue``), and who answered,
when and why. A yes covers the masters it showed. A master added since then needs a new yes
(``additions: new_yes``), or is covered by any earlier yes (``standing``). The latest answer
wins: a no after a yes closes the market again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaign_media.config.models import Campaign, Market

ANSWERED = ("approved", "refused")


@dataclass(frozen=True)
class Standing:
    """Whether a master's copy may open in a market, as far as sign-off goes, and why not."""

    signed: bool
    reason: str = ""


def deadline(campaign: Campaign, market: Market) -> datetime | None:
    """When the answer is due: the market's opening minus ``signoff.deadline`` (``None``: an
    open-ended start has no deadline)."""
    assert campaign.signoff is not None
    start = campaign.market_window(market)[0]
    return start - timedelta(seconds=campaign.signoff.deadline) if start is not None else None


def standing(campaign: Campaign, market: str, requests: list[dict[str, Any]], image_id: str,
             version: str) -> Standing:
    """Whether sign-off lets this master's copy open in ``market`` (always, for a campaign without
    ``signoff:`` or a market it opts out)."""
    if campaign.signoff_for(market) is None:
        return Standing(True)
    answered = sorted((r for r in requests if r.get("state") in ANSWERED), key=lambda r: r.get("at") or "")
    if answered and answered[-1]["state"] == "refused":
        last = answered[-1]
        who, why = last.get("by") or "someone", last.get("reason") or "no reason given"
        return Standing(False, f"sign-off refused by {who}: {why}")
    approved = [r for r in answered if r["state"] == "approved"]
    if any((r.get("masters") or {}).get(image_id) == version for r in approved):
        return Standing(True)
    if approved and campaign.signoff.additions == "standing":
        return Standing(True)
    waiting = [r for r in requests if r.get("state") in ("awaiting", "overdue")
               and image_id in (r.get("masters") or {})]
    if waiting:
        last = waiting[-1]
        late = " — overdue" if last["state"] == "overdue" else ""
        return Standing(False, f"awaiting sign-off (asked {last.get('asked_at')} of "
                               f"{', '.join(last.get('assignees') or [])}{late})")
    return Standing(False, "awaiting sign-off (not asked yet)")


def to_ask(campaign: Campaign, requests: list[dict[str, Any]], masters: dict[str, str]) -> dict[str, str]:
    """The masters (``image_id -> version``) no yes covers and no open request shows yet: what a
    new request must show. A refusal is final for what it showed; only new files are asked again."""
    assert campaign.signoff is not None
    if any(r.get("state") == "approved" for r in requests) and campaign.signoff.additions == "standing":
        return {}
    shown = {(i, v) for r in requests for i, v in (r.get("masters") or {}).items()}
    return {i: v for i, v in sorted(masters.items()) if (i, v) not in shown}


def summary(requests: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest request as the campaign page shows it (``None``: never asked)."""
    if not requests:
        return None
    last = max(requests, key=lambda r: r.get("asked_at") or "")
    return {k: last.get(k) for k in ("state", "asked_at", "assignees", "deadline", "by", "at", "reason")} | {
        "masters": len(last.get("masters") or {})}


def ready(made: dict[str, Any]) -> dict[str, str]:
    """The masters of a market state whose renditions are all made and written back (a video still
    transcoding is not shown yet): ``image_id -> file version``."""
    out = {}
    for image_id, entry in made.items():
        renditions = (entry.get("renditions") or {}).values()
        if renditions and not any(r.get("pending") for r in renditions):
            out[image_id] = entry.get("version", "")
    return out


def request(campaign: Campaign, market: Market | None, masters: dict[str, str], renditions: int, now: datetime,
            request_id: str, ui_base: str, due: datetime | None) -> dict[str, Any]:
    """A new sign-off request: what it shows, whom it asks, until when, and the links a reviewer needs.

    :param market: the market asked about (``None``: one yes for every market of the campaign)
    :param due: when the answer is due (:func:`deadline`; the earliest market's for one yes for all)
    """
    assert campaign.signoff is not None
    code = market.code if market else None
    start, end = campaign.market_window(market) if market else campaign.bounds()
    base = ui_base.rstrip("/")
    page = f"{base}/campaign-media/campaigns/{campaign.id}"
    return {"id": request_id, "campaign": campaign.id, "market": code, "state": "awaiting",
            "asked_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "assignees": campaign.signoff.approvers_for(code) if code else list(campaign.signoff.approvers),
            "deadline": due.strftime("%Y-%m-%dT%H:%M:%SZ") if due else None,
            "window": [start.strftime("%Y-%m-%dT%H:%M:%SZ") if start else None,
                       end.strftime("%Y-%m-%dT%H:%M:%SZ") if end else None],
            "masters": masters, "renditions": renditions, "campaign_page": page,
            "contact_sheet": f"{page}/markets/{code}/contact-sheet" if code else page,
            "gallery": f"{campaign.name} — renditions {code}" if code else f"{campaign.name} — published"}


def request_text(req: dict[str, Any]) -> tuple[str, str]:
    """The request's subject and body (Markdown) as Airflow's Required Actions and the e-mail show them."""
    where = f"market {req['market']}" if req["market"] else "every market"
    subject = f"Sign off {req['campaign']} in {where}: {len(req['masters'])} masters, {req['renditions']} renditions"
    start, end = req["window"]
    body = "\n\n".join([
        f"**Campaign** {req['campaign']} · **{where}** · window {start or 'open'} → {end or 'open'} (UTC)",
        f"{len(req['masters'])} masters and {req['renditions']} renditions are made and written back to "
        f"PhotoShelter (gallery “{req['gallery']}”). Until a yes, they stay closed, inside their window too.",
        f"Look at them: [contact sheet]({req['contact_sheet']}) · [campaign page]({req['campaign_page']})",
        f"Answer by {req['deadline'] or 'the market opening'}: Approve opens the windows; Refuse keeps them "
        "closed (say why in *reason*).",
        f"Asked of: {', '.join(req['assignees'])}"])
    return subject, body
