"""Launch sign-off (pure): who is asked, until when, and whether a market copy may open.

A campaign with ``signoff:`` keeps each market's copies closed, even inside their window, until
someone it names says yes in Airflow's Required Actions. The answers are kept per market in
``<storage>/<campaign>/markets/<code>/signoff.json``, or per campaign in
``<storage>/<campaign>/signoff.json`` when one yes opens every market (``per_market: false``).
The record is a list of requests. Each request names the masters it showed (each with its file
version and a digest of its renditions and rights: :func:`shown`), its state (``awaiting``,
``approved``, ``refused`` or ``overdue``), and who answered, when and why. A yes covers exactly
what it showed: a new file, new renditions or new rights ask again. A master added since then
needs a new yes (``additions: new_yes``), or is covered by any earlier yes (``standing``). The
latest answer wins: a no after a yes closes the market again.

The record lives in storage that people and tools can write, so it is not believed as it stands.
Each entry is sealed (HMAC-SHA256 over its canonical JSON) with a key kept outside storage, and
:func:`trusted` drops, with the reason, every entry that is unsigned, altered, names another campaign
or market, or approves nothing: a hand-written yes opens nothing (fail closed). Answers are ordered
by the time Airflow recorded the answer, which is sealed with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from campaign_media.config.models import Campaign, Market

ANSWERED = ("approved", "refused")
STATES = ("awaiting", "overdue", *ANSWERED)
SEAL = "seal"
EARLIEST = datetime.min.replace(tzinfo=UTC)


def seal(entry: dict[str, Any], key: bytes) -> str:
    """The entry's seal: HMAC-SHA256 of its canonical JSON (sorted keys, the seal left out)."""
    body = json.dumps({k: v for k, v in entry.items() if k != SEAL}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def sealed(entry: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The entry with its seal."""
    return {**entry, SEAL: seal(entry, key)}


@dataclass(frozen=True)
class Record:
    """A sign-off record as far as it can be believed: the requests kept (oldest first, as
    stored), and why each other entry was ignored."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def trusted(entries: Any, campaign: str, market: str | None, key: bytes | None) -> Record:
    """The entries that are sealed with ``key`` and unaltered, name this ``campaign`` and ``market``
    (``None``: the campaign-wide record) and, when approved, name masters. A sealed state this
    version does not know reads as awaiting. Without a key nothing can be checked: nothing is kept."""
    kept: list[dict[str, Any]] = []
    ignored: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            ignored.append("an entry that is not a request")
            continue
        name = f"request {entry.get('id')!r}" if entry.get("id") else "an entry without an id"
        found = entry.get(SEAL)
        if key is None:
            ignored.append(f"{name}: no signing key to check it with")
        elif not isinstance(found, str) or not found:
            ignored.append(f"{name}: unsigned")
        elif not hmac.compare_digest(found.encode(), seal(entry, key).encode()):
            ignored.append(f"{name}: altered since it was signed (or signed with another key)")
        elif entry.get("campaign") != campaign or entry.get("market") != market:
            ignored.append(f"{name}: names campaign {entry.get('campaign')!r} market {entry.get('market')!r}, "
                           f"not {campaign!r} {market!r}")
        elif entry.get("state") == "approved" and not entry.get("masters"):
            ignored.append(f"{name}: an approval that names no masters")
        else:
            kept.append(entry if entry.get("state") in STATES else {**entry, "state": "awaiting"})
    return Record(kept, ignored)


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
    ``signoff:`` or a market it opts out); ``version``: what a request shows of it now (:func:`shown`)."""
    if campaign.signoff_for(market) is None:
        return Standing(True)
    answered = sorted((r for r in requests if r.get("state") in ANSWERED),
                      key=lambda r: stored_time(str(r.get("at") or ""), EARLIEST))  # when Airflow recorded it
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
    """The masters (``image_id -> version``) no yes covers and no request showed yet: what a new
    request must show. One request per market at a time: nothing while one awaits its answer (what
    arrives meanwhile is asked about together once it is answered). A refusal is final for what it
    showed; only new files are asked again."""
    assert campaign.signoff is not None
    if any(r.get("state") == "awaiting" for r in requests):
        return {}
    if any(r.get("state") == "approved" for r in requests) and campaign.signoff.additions == "standing":
        return {}
    shown = {(i, v) for r in requests for i, v in (r.get("masters") or {}).items()}
    return {i: v for i, v in sorted(masters.items()) if (i, v) not in shown}


def summary(record: Record) -> dict[str, Any]:
    """The latest trusted request as the campaign page shows it (no ``state``: never asked), and
    the entries ignored."""
    out: dict[str, Any] = {"ignored": list(record.ignored)}
    if record.requests:
        last = max(record.requests, key=lambda r: str(r.get("asked_at") or ""))
        out |= {k: last.get(k) for k in ("state", "asked_at", "assignees", "deadline", "by", "at", "reason")}
        out["masters"] = len(last.get("masters") or {})
    return out


VIEW_STATES = {"awaiting": "awaiting", "overdue": "overdue", "approved": "signed", "refused": "refused"}


def view(asked: dict[str, Any] | None, required: bool, now: datetime) -> dict[str, Any] | None:
    """A market's launch sign-off as the page shows it (``None``: the campaign asks for none):
    ``not asked``; ``awaiting`` (of whom, since when, until when); ``overdue`` (the same, its deadline
    passed); ``signed`` (by whom, when); ``refused`` (by whom, when, why). A state this version does
    not know reads as awaiting, never as signed; ``ignored`` names each record entry left out."""
    if not required:
        return None
    asked = asked or {}
    ignored = {"ignored": list(asked["ignored"])} if asked.get("ignored") else {}
    if not asked.get("state"):
        return {"state": "not asked", **ignored}
    state = VIEW_STATES.get(str(asked.get("state")), "awaiting")
    deadline = asked.get("deadline")
    if state == "awaiting" and deadline and stored_time(str(deadline), now) < now:
        state = "overdue"
    if state in ("awaiting", "overdue"):
        return {"state": state, "asked_of": list(asked.get("assignees") or []), "asked_at": asked.get("asked_at"),
                "deadline": deadline, "masters": asked.get("masters"), **ignored}
    return {"state": state, "by": asked.get("by"), "at": asked.get("at"), "masters": asked.get("masters"),
            **({"reason": asked.get("reason") or "no reason given"} if state == "refused" else {}), **ignored}


def stored_time(text: str, otherwise: datetime) -> datetime:
    """A stored ``2026-03-01T00:00:00Z``; ``otherwise`` for text that is not one."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return otherwise


def settles_at(campaign: Campaign, made_at: Iterable[Any], due: datetime | None, now: datetime) -> datetime | None:
    """When a request may be made: ``signoff.settle`` after the latest of its masters was made
    (``made_at``: when each was; a burst of approvals is asked about once); ``None``: now (settled,
    or the deadline comes first)."""
    assert campaign.signoff is not None
    times = [stored_time(str(t or ""), EARLIEST) for t in made_at]
    moment = max(times, default=EARLIEST) + timedelta(seconds=campaign.signoff.settle)
    if moment <= now or (due is not None and moment >= due):
        return None
    return moment


def shown(version: str, spec: str, rights: dict[str, Any] | None) -> str:
    """What a request shows of one master, as the yes approves it: its file version and a digest of
    its rendition specs (sizes, crops, headlines: the market's spec hash) and the rights it was made
    with. A new file, new renditions or new rights make another value: the yes no longer covers it."""
    digest = hashlib.sha256(json.dumps([spec, rights or {}], sort_keys=True).encode()).hexdigest()[:12]
    return f"{version}:{digest}"


def shown_in(entry: dict[str, Any]) -> str:
    """:func:`shown` of a market state's entry (``""``: no entry)."""
    return shown(entry.get("version", ""), entry.get("spec", ""), entry.get("rights")) if entry else ""


def ready(made: dict[str, Any]) -> dict[str, str]:
    """The masters of a market state whose renditions are all made and written back (a video still
    transcoding is not shown yet): ``image_id ->`` what a request shows of it (:func:`shown`)."""
    out = {}
    for image_id, entry in made.items():
        renditions = (entry.get("renditions") or {}).values()
        if renditions and not any(r.get("pending") for r in renditions):
            out[image_id] = shown_in(entry)
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
