"""Where a campaign stands right now, from what the DAGs stored (the campaign page's model).

:func:`load` reads the stored documents (market states and access decisions, manifests, the
latest usage-window report, metrics report days, the archive's records, audit counts); every
other function is pure: given those, the configuration and ``now``, it says which markets are
live, what changes next and when (in each market's zone), which masters are restricted or
signed-only and why, which licences end soon, and how far the archive got. Nothing here calls
PhotoShelter or Cloudinary: delivery follows the ``access_control`` rules Cloudinary enforces by
itself, so the stored rules evaluated at ``now`` are what the CDN does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from campaign_media.config.models import Campaign, Market
from campaign_media.domain import signoff
from campaign_media.domain.masters import LICENCE_UNREADABLE, parse_ps_time
from campaign_media.domain.windows import deliverable, iso, parse_rule_time, phase_at
from campaign_media.runtime import storage

Status = Literal["live", "opens", "closed", "restricted", "not published"]
LICENCE_HORIZON = timedelta(days=30)


@dataclass(frozen=True)
class Stored:
    """What the DAGs stored for one campaign (read by :func:`load`)."""

    states: dict[str, dict[str, Any]]  # market -> state.json (copies made, with their first rules)
    access: dict[str, dict[str, Any]]  # market -> access.json (the usage-window DAG's decisions)
    manifests: list[str] = field(default_factory=list)  # markets with a delivery manifest
    windows: dict[str, Any] | None = None  # windows/latest.json
    reports: list[str] = field(default_factory=list)  # metrics report days, oldest first
    archive: dict[str, Any] = field(default_factory=dict)  # done / missing / verified (counts)
    audit: dict[str, int] = field(default_factory=dict)  # records per action
    recent: list[dict[str, Any]] = field(default_factory=list)  # the latest audit records, newest first
    watch: dict[str, Any] | None = None  # the PhotoShelter watcher's last poll of the campaign's source
    signoffs: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # market -> latest sign-off request


@dataclass(frozen=True)
class Change:
    at: datetime
    what: str  # "opens", "closes", "licence ends (2 copies)"


@dataclass(frozen=True)
class MarketStatus:
    code: str
    timezone: str
    status: Status
    start: datetime | None
    end: datetime | None
    copies: int
    public: int
    signed: int
    restricted: int
    next_change: Change | None
    checked: bool  # the usage-window DAG has judged this market's copies at least once


@dataclass(frozen=True)
class Held:
    """A master that is not publicly delivered somewhere, and why."""

    master: str
    mode: str  # "restricted" | "signed"
    reason: str
    markets: tuple[str, ...]


@dataclass(frozen=True)
class Licence:
    master: str
    ends: datetime
    markets: tuple[str, ...]


@dataclass(frozen=True)
class Archive:
    state: Literal["done", "incomplete", "in progress", "due", "not due", "not shown"]
    detail: str
    due: datetime | None


@dataclass(frozen=True)
class CampaignStatus:
    campaign: Campaign
    now: datetime
    markets: list[MarketStatus]
    held: list[Held]
    licences: list[Licence]  # ending within LICENCE_HORIZON (or ended while copies still exist)
    archive: Archive
    stored: Stored


def load(campaign: Campaign, *, recent: int = 15, with_audit: bool = True,
         keep: Callable[[dict[str, Any]], bool] | None = None, campaigns: Iterable[Campaign] = ()) -> Stored:
    """Read what the DAGs stored for ``campaign`` (object storage only); ``with_audit=False``
    skips the audit trail (the campaign list shows no counts); ``keep`` picks the audit records
    counted and listed (those the reader may see); ``campaigns``: the deployment's others (the
    watcher they share with it)."""
    from campaign_media.domain.signoff import summary
    from campaign_media.runtime import audit, signoffs

    cid = campaign.id
    states = {m: storage.read_json(storage.market_state(cid, m), {}) for m in campaign.markets}
    access = {m: storage.read_json(storage.market_access(cid, m), {}) for m in campaign.markets}
    manifests = [m for m in campaign.markets if storage.delivery_manifest(cid, m).exists()]
    reports_dir = storage.path(cid, "reports")
    reports = sorted(p.name for p in reports_dir.iterdir() if (p / "index.html").exists()) \
        if reports_dir.exists() else []
    done = storage.read_json(storage.archive_file(cid, "done.json"))
    missing = storage.read_json(storage.archive_file(cid, "missing.json"))
    verified = storage.read_json(storage.archive_file(cid, "verified.json"), {})
    arch = {"done": done["summary"] if done else None, "missing": missing, "verified": len(verified)}
    records = [r for r in audit.read(cid) if keep is None or keep(r)] if with_audit else []
    signed = {m: summary(signoffs.read(campaign, m)) for m in campaign.markets if campaign.signoff_for(m)}
    return Stored(states, access, manifests, storage.read_json(storage.windows_report(cid)), reports, arch,
                  audit.counts(records), records[::-1][:recent], watcher(campaign, campaigns), signed)


def watcher(campaign: Campaign, campaigns: Iterable[Campaign] = ()) -> dict[str, Any] | None:
    """The watcher of the campaign's PhotoShelter source: its key, interval (the shortest any
    running campaign among ``campaigns`` on the same source asks for: they share one poll) and
    latest polls (``None`` when the campaign or the deployment does not watch)."""
    from campaign_media import settings
    from campaign_media.domain.watch import CONNECTION, watched_sources

    now = datetime.now(UTC)
    others = [c for c in campaigns if c.id != campaign.id and not c.ended(now)]
    sources = watched_sources([campaign, *others], CONNECTION, settings.get("watch_poll_seconds"))
    found = next(((key, entry) for key, entry in sources.items() if campaign.id in entry["campaigns"]), None)
    if found is None:
        return None
    key, entry = found
    stored = storage.read_json(storage.watch_file(key)) or {}
    return {"source": key, "interval": entry["interval"], "last_poll": stored.get("last_poll"),
            "polls": stored.get("polls", [])[:5]}


def copy_view(state: dict[str, Any], access: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every copy of a market: its current rules and mode (access decisions win over the rules a
    copy was made with; a copy made since the last windows run has only those)."""
    out: dict[str, dict[str, Any]] = {}
    for master in sorted(set(state) | set(access)):
        decided = access.get(master) or {}
        rules = (decided or state.get(master) or {}).get("rules") or []
        out[master] = {"rules": rules, "mode": decided.get("mode", "public")}
    return out


def rule_moments(rules: list[dict[str, Any]]) -> list[tuple[datetime, str]]:
    """The instants at which these rules start (``open``) or stop (``close``) serving."""
    return [(parse_rule_time(r[k]), "open" if k == "start" else "close") for r in rules
            if r.get("access_type") == "anonymous" for k in ("start", "end") if r.get(k)]


def market_status(campaign: Campaign, market: Market, state: dict[str, Any], access: dict[str, Any],
                  now: datetime) -> MarketStatus:
    """A market's status: ``opens`` before its window, ``closed`` after it; inside it ``live`` when
    at least one copy is served now, ``restricted`` when copies exist but none is, else
    ``not published``. The next change is the earliest future window bound or rule bound."""
    start, end = campaign.market_window(market)
    copies = copy_view(state, access)
    public = sum(deliverable(c["rules"], now) for c in copies.values())
    signed = sum(c["mode"] == "signed" for c in copies.values())
    restricted = sum(c["mode"] == "restricted" for c in copies.values())
    phase = phase_at(start, end, now)
    status: Status = {"before": "opens", "after": "closed"}.get(phase) or (
        "live" if public else "restricted" if copies else "not published")
    if phase == "after" and public:
        status = "live"  # a copy still served after the window: the windows DAG has not closed it yet
    changes: list[Change] = []
    if start and start > now:
        changes.append(Change(start, "opens"))
    if end and end > now:
        changes.append(Change(end, "closes"))
    # A copy's own rule bound that is not the market's: its licence ends (or a rule set by hand).
    own: dict[tuple[datetime, str], int] = {}
    for c in copies.values():
        for moment, kind in rule_moments(c["rules"]):
            if moment > now and moment not in (start, end):
                own[moment, kind] = own.get((moment, kind), 0) + 1
    changes += [Change(at, f"{n} cop{'y' if n == 1 else 'ies'} {kind}{'s' if n == 1 else ''}"
                       f"{' (licence ends)' if kind == 'close' else ''}") for (at, kind), n in own.items()]
    return MarketStatus(market.code, market.timezone, status, start, end, len(copies), public, signed, restricted,
                        min(changes, key=lambda c: c.at) if changes else None, bool(access))


def held_masters(stored: Stored) -> list[Held]:
    """Restricted and signed-only masters, one line per master and reason, with their markets."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for market, decisions in stored.access.items():
        for master, d in decisions.items():
            if d.get("mode") in ("restricted", "signed"):
                grouped.setdefault((master, d["mode"], d.get("reason", "")), []).append(market)
    return [Held(m, mode, reason, tuple(sorted(mk))) for (m, mode, reason), mk in sorted(grouped.items())]


def licences_ending(stored: Stored, now: datetime, horizon: timedelta = LICENCE_HORIZON) -> list[Licence]:
    """Masters whose licence ends within ``horizon`` (or has ended) and that still have copies."""
    found: dict[tuple[str, datetime], list[str]] = {}
    for market, decisions in stored.access.items():
        for master, d in decisions.items():
            text = d.get("licence_expiry") or ""
            if not text or text == LICENCE_UNREADABLE or master not in stored.states.get(market, {}):
                continue
            try:
                ends = parse_ps_time(text)
            except ValueError:
                continue
            if ends is not None and ends <= now + horizon:
                found.setdefault((master, ends), []).append(market)
    return sorted((Licence(m, t, tuple(sorted(mk))) for (m, t), mk in found.items()), key=lambda x: (x.ends, x.master))


def archive_status(campaign: Campaign, stored: Stored, now: datetime) -> Archive:
    last = campaign.bounds()[1]
    due = last + timedelta(days=campaign.archive.grace_days) if last else None
    arch = stored.archive
    if arch.get("done"):
        s = arch["done"]
        return Archive("done", f"{s.get('verified', 0)} renditions verified in {s.get('gallery', 'PhotoShelter')}, "
                               f"{s.get('copies_deleted', 0)} copies deleted", due)
    if arch.get("missing"):
        return Archive("incomplete", f"{len(arch['missing'])} renditions could not be archived; nothing cleaned up",
                       due)
    if arch.get("verified"):
        return Archive("in progress", f"{arch['verified']} renditions verified so far", due)
    if due is not None and now >= due:
        return Archive("due", "the archive DAG has not run since the grace period ended", due)
    return Archive("not due", "the campaign has not ended" if due is None or (last and now < last)
                   else "grace period running", due)


def build(campaign: Campaign, markets: list[Market], stored: Stored, now: datetime) -> CampaignStatus:
    rows = [market_status(campaign, m, stored.states.get(m.code, {}), stored.access.get(m.code, {}), now)
            for m in markets]
    return CampaignStatus(campaign, now, rows, held_masters(stored), licences_ending(stored, now),
                          archive_status(campaign, stored, now), stored)


def local(moment: datetime | None, tz: str) -> str:
    """``2026-03-01 00:00 CET`` in ``tz`` ("" for an open end)."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def as_dict(status: CampaignStatus) -> dict[str, Any]:
    """The page's data as JSON (the data endpoint)."""
    def market(m: MarketStatus) -> dict[str, Any]:
        change = m.next_change
        return {"market": m.code, "timezone": m.timezone, "status": m.status, "start": iso(m.start),
                "end": iso(m.end), "copies": m.copies, "public": m.public, "signed": m.signed,
                "restricted": m.restricted, "checked": m.checked,
                "next_change": {"at": iso(change.at), "local": local(change.at, m.timezone), "what": change.what}
                if change else None,
                "signoff": signoff.view(status.stored.signoffs.get(m.code), bool(status.campaign.signoff_for(m.code)),
                                        status.now)}

    s = status.stored
    return {"campaign": status.campaign.id, "name": status.campaign.name, "as_of": iso(status.now),
            "markets": [market(m) for m in status.markets],
            "held": [{"master": h.master, "mode": h.mode, "reason": h.reason, "markets": list(h.markets)}
                     for h in status.held],
            "licences_ending": [{"master": x.master, "ends": iso(x.ends), "markets": list(x.markets)}
                                for x in status.licences],
            "archive": {"state": status.archive.state, "detail": status.archive.detail, "due": iso(status.archive.due)},
            "manifests": s.manifests, "reports": s.reports, "audit": s.audit,
            "windows": (s.windows or {}).get("summary"), "watch": s.watch}
