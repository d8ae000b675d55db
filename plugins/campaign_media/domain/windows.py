"""Usage windows: when a published asset may be delivered in a market (pure, no I/O).

The effective window of a master in a market is the intersection of the campaign's window,
the market's window (each in its own time zone) and the master's licence. This module turns
that, plus the master's rights, into the Cloudinary ``access_control`` rules that enforce it
by themselves, so delivery stays right while Airflow is down:

* public masters get one ``anonymous`` rule with the window's start and end;
* after the window — and for restricted masters (rights unreadable, not cleared for the market, no
  longer approved) and masters whose rights ask for signed delivery — :data:`CLOSED`: one
  ``anonymous`` rule whose window ended long ago. It uses only the documented rule shape (no
  ``token`` rule, a premium feature), so it works on every plan; where the account has
  token-based access, an expiring token URL still opens such a copy. It fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.masters import LICENCE_UNREADABLE, parse_ps_time
from campaign_media.domain.signoff import Standing

CLOSED: list[dict[str, str]] = [{"access_type": "anonymous", "start": "2000-01-01T00:00:00Z",
                                  "end": "2000-01-01T00:00:01Z"}]
Phase = Literal["before", "open", "after"]
Mode = Literal["public", "signed", "restricted"]


@dataclass(frozen=True)
class Rights:
    """What PhotoShelter says about a master right now (``None`` = not found or not approved)."""

    licence_expiry: str  # ISO-8601, "" when the licence does not expire, "unreadable"
    usage_rights: str
    approved: bool = True


@dataclass(frozen=True)
class Access:
    """The decision for one master in one market at one moment."""

    mode: Mode
    phase: Phase
    start: datetime | None
    end: datetime | None
    reason: str = ""
    rules: list[dict[str, str]] = field(default_factory=list)

    @property
    def public_now(self) -> bool:
        return self.mode == "public" and self.phase == "open"

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "phase": self.phase, "reason": self.reason,
                "start": iso(self.start), "end": iso(self.end)}


def iso(moment: datetime | None) -> str | None:
    """A rule time as Cloudinary writes it, in UTC (an aware time in another zone is converted)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rule_time(value: str) -> datetime:
    """Cloudinary rule times: ISO-8601 (``Z`` or an offset) or ``2018-02-22 16:20:57 +0200``."""
    text = value.strip().replace("Z", "+00:00")
    for candidate in (text, text.replace(" +", "+").replace(" -", "-")):
        try:
            return datetime.fromisoformat(candidate)
        except ValueError:
            continue
    raise ValueError(f"not an access_control time: {value!r}")


AS_OF_PATTERN = r"^$|^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"


def parse_as_of(text: str, now: datetime) -> datetime:
    """The moment a usage-window run judges: ``now``, or an ISO time *with* its zone (``Z`` or an
    offset) for a what-if. A time without a zone is refused: it would be read differently per
    worker."""
    if not text:
        return now
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"as_of {text!r} is not an ISO time; write e.g. 2026-03-15T09:00:00+01:00 or "
                         "2026-03-15T08:00:00Z") from exc
    if moment.tzinfo is None:
        raise ValueError(f"as_of {text!r} has no time zone; add one, e.g. {text}Z or {text}+01:00")
    return moment.astimezone(UTC)


def effective_window(campaign: Campaign, market: Market, licence_expiry: str) -> tuple[datetime | None,
                                                                                          datetime | None]:
    """Campaign ∩ market ∩ licence, in UTC (``None`` = open-ended). The licence must be readable."""
    start, end = campaign.market_window(market)
    licence_end = parse_ps_time(licence_expiry) if licence_expiry else None
    if licence_end is not None and (end is None or licence_end < end):
        end = licence_end
    return start, end


def phase_at(start: datetime | None, end: datetime | None, now: datetime) -> Phase:
    if end is not None and now >= end:
        return "after"
    if start is not None and now < start:
        return "before"
    return "open"


def decide(campaign: Campaign, market: Market, rights: Rights | None, now: datetime,
           signoff: Standing | None = None) -> Access:
    """Where a master stands in a market at ``now`` and the rules that enforce it.

    :param signoff: where the campaign asks for a launch sign-off, whether this master has it;
        without it the copy stays closed, inside its window too (fails closed)
    """
    problem = restriction(market, rights)
    if problem:
        start, end = campaign.market_window(market)
        return Access("restricted", phase_at(start, end, now), start, end, problem, CLOSED)
    assert rights is not None
    start, end = effective_window(campaign, market, rights.licence_expiry)
    phase = phase_at(start, end, now)
    if start is not None and end is not None and end <= start:
        phase = "after"  # the licence ended before the window opened: never deliverable
    if campaign.signoff_for(market.code) is not None and (signoff is None or not signoff.signed):
        return Access("restricted", phase, start, end, signoff.reason if signoff else "awaiting sign-off", CLOSED)
    signed = bool(campaign.signed_urls and rights.usage_rights in campaign.signed_urls.usage_rights)
    mode: Mode = "signed" if signed else "public"
    if signed or phase == "after":
        return Access(mode, phase, start, end, "signed delivery only" if signed else "window over", CLOSED)
    rule = {"access_type": "anonymous"}
    if start:
        rule["start"] = iso(start)
    if end:
        rule["end"] = iso(end)
    return Access(mode, phase, start, end, "", [rule])


def restriction(market: Market, rights: Rights | None) -> str:
    """Why a master may not be delivered publicly at all in this market ("" = it may)."""
    if rights is None:
        return "not found in PhotoShelter"
    if not rights.approved:
        return "no longer approved in PhotoShelter"
    if rights.licence_expiry == LICENCE_UNREADABLE:
        return "licence expiry unreadable in PhotoShelter"
    if not rights.usage_rights:
        return "no usage rights recorded in PhotoShelter"
    if not market.clears(rights.usage_rights):
        return f"usage rights {rights.usage_rights!r} not cleared for market {market.code}"
    return ""


def deliverable(rules: list[dict[str, Any]] | None, now: datetime) -> bool:
    """Whether Cloudinary serves an asset with these rules anonymously at ``now`` (no rules: yes)."""
    if not rules:
        return True
    for rule in rules:
        if rule.get("access_type") != "anonymous":
            continue
        start = parse_rule_time(rule["start"]) if rule.get("start") else None
        end = parse_rule_time(rule["end"]) if rule.get("end") else None
        if (start is None or start <= now) and (end is None or now < end):
            return True
    return False


def served_before(rules: list[dict[str, Any]] | None, now: datetime) -> bool:
    """Whether these rules could have let the CDN serve (and cache) the asset before ``now``."""
    if not rules:
        return True
    if normalise(rules) == normalise(CLOSED):  # its one-second window in 2000 served nothing
        return False
    return any(rule.get("access_type") == "anonymous"
               and (not rule.get("start") or parse_rule_time(rule["start"]) <= now) for rule in rules)


def normalise(rules: list[dict[str, Any]] | None) -> list[tuple[str, str | None, str | None]]:
    """Rules in a comparable form (times as UTC instants), to detect drift."""
    out = []
    for rule in rules or []:
        times = tuple(iso(parse_rule_time(rule[k]).astimezone(UTC)) if rule.get(k) else None
                      for k in ("start", "end"))
        out.append((str(rule.get("access_type")), *times))
    return sorted(out, key=lambda r: tuple(x or "" for x in r))


def rules_now(listed: dict[str, Any], last_set: dict[str, Any] | None,
              made_with: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The rules a copy has now: the listing's, where it carries them (the real Admin API may not);
    else those the usage-window run last set, else those the market run made the copy with."""
    if "access_control" in listed:
        return listed["access_control"]
    return (last_set or made_with or {}).get("rules") or []


@dataclass(frozen=True)
class CopyChange:
    """What one market copy needs, decided from its rules now and what its rights say.

    ``set_rules``: its rules differ and must be set; ``kind`` is what the report calls the change
    (``opened``, ``closed``, ``repaired``) or ``None`` when nothing changed; ``by_rule`` when the
    change was Cloudinary's own window rule since the last run (nothing to set); ``purge`` when
    the CDN must be invalidated (the copy may have been served and is not deliverable now).
    """

    set_rules: bool
    kind: Literal["opened", "closed", "repaired"] | None
    purge: bool = False
    by_rule: bool = False


def copy_change(current: list[dict[str, Any]] | None, access: Access, was_public_last_run: bool | None,
                now: datetime) -> CopyChange:
    """The change a copy with rules ``current`` needs to match ``access`` at ``now``;
    ``was_public_last_run`` is what the last usage-window run recorded (``None``: no record)."""
    was_public = deliverable(current, now)
    if normalise(current) != normalise(access.rules):
        now_public = deliverable(access.rules, now)
        # Purge whenever the copy may have been served and is not deliverable now: cached copies
        # would otherwise outlive the rule (also after Cloudinary's own end).
        purge = not now_public and served_before(current, now)
        closed = (was_public or (purge and access.phase == "after")) and not now_public
        kind = "opened" if now_public and not was_public else "closed" if closed else "repaired"
        return CopyChange(set_rules=True, kind=kind, purge=purge)
    if was_public_last_run is not None and was_public_last_run != access.public_now:
        return CopyChange(set_rules=False, kind="opened" if access.public_now else "closed", by_rule=True)
    return CopyChange(set_rules=False, kind=None)


def outlived(issued: dict[str, Any], access: Access, tokens: bool, now: datetime) -> bool:
    """Whether token URLs issued earlier (``issued``: a decision's ``signed``) would open the copy
    past what its rights allow now: revoked or restricted, no longer signed-only, a window or
    licence that now ends before they expire, or token access gone."""
    if not issued.get("expires_at"):
        return False
    expires = datetime.fromisoformat(issued["expires_at"].replace("Z", "+00:00"))
    if expires <= now:  # expired already: nothing left to revoke
        return False
    if access.mode != "signed" or access.phase != "open" or not tokens:
        return True
    return access.end is not None and expires > access.end
