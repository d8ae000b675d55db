"""Effective windows and the access rules that enforce them (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.windows import (
    CLOSED,
    CopyChange,
    Rights,
    copy_change,
    decide,
    deliverable,
    effective_window,
    normalise,
    rules_now,
    served_before,
)

CAMPAIGN = Campaign.model_validate({
    "id": "c", "name": "C", "source": {"gallery_ids": ["G1"]}, "markets": ["fr", "jp"],
    "window": {"start": "2026-03-01", "end": "2026-03-31", "timezone": "UTC"},
    "signed_urls": {"usage_rights": ["press-only"], "ttl_hours": 12}})
FR = Market(code="fr", locales=["fr-FR"], timezone="Europe/Paris", window={"start": "2026-03-10"}, usage_rights="any")
JP = Market(code="jp", locales=["ja-JP"], timezone="Asia/Tokyo", window={"start": "2026-03-10"},
            usage_rights=["worldwide"])
GOOD = Rights("2027-01-01T00:00:00+00:00", "worldwide")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_each_market_opens_at_its_own_midnight() -> None:
    assert effective_window(CAMPAIGN, FR, GOOD.licence_expiry)[0] == at("2026-03-09T23:00:00")  # UTC+1
    assert effective_window(CAMPAIGN, JP, GOOD.licence_expiry)[0] == at("2026-03-09T15:00:00")  # UTC+9
    assert effective_window(CAMPAIGN, FR, "")[1] == at("2026-04-01T00:00:00")  # the campaign's inclusive end


def test_the_licence_shortens_the_window() -> None:
    start, end = effective_window(CAMPAIGN, FR, "2026-03-20T12:00:00+00:00")
    assert end == at("2026-03-20T12:00:00")
    access = decide(CAMPAIGN, FR, Rights("2026-03-20T12:00:00+00:00", "worldwide"), at("2026-03-15T00:00:00"))
    assert access.rules == [{"access_type": "anonymous", "start": "2026-03-09T23:00:00Z",
                             "end": "2026-03-20T12:00:00Z"}]


@pytest.mark.parametrize(("now", "phase", "public"), [
    ("2026-03-09T22:59:00", "before", False), ("2026-03-09T23:01:00", "open", True),
    ("2026-04-01T00:00:00", "after", False)])
def test_phases_and_what_cloudinary_would_serve(now: str, phase: str, public: bool) -> None:
    access = decide(CAMPAIGN, FR, GOOD, at(now))
    assert (access.phase, access.public_now) == (phase, public)
    assert deliverable(access.rules, at(now)) is public


def test_after_the_window_the_copy_is_closed_for_good() -> None:
    assert decide(CAMPAIGN, FR, GOOD, at("2026-05-01T00:00:00")).rules == CLOSED


@pytest.mark.parametrize(("rights", "reason"), [
    (None, "not found"), (Rights("", "", approved=False), "no longer approved"),
    (Rights("unreadable", "worldwide"), "unreadable"), (Rights("", ""), "no usage rights"),
])
def test_fails_closed(rights: Rights | None, reason: str) -> None:
    access = decide(CAMPAIGN, FR, rights, at("2026-03-15T00:00:00"))
    assert access.mode == "restricted" and reason in access.reason and access.rules == CLOSED
    assert not deliverable(access.rules, at("2026-03-15T00:00:00"))


def test_rights_not_cleared_for_a_market_stay_restricted_there_only() -> None:
    emea = Rights("", "emea-only")
    assert decide(CAMPAIGN, JP, emea, at("2026-03-15T00:00:00")).mode == "restricted"
    assert decide(CAMPAIGN, FR, emea, at("2026-03-15T00:00:00")).public_now


def test_signed_only_rights_are_never_public() -> None:
    access = decide(CAMPAIGN, FR, Rights("", "press-only"), at("2026-03-15T00:00:00"))
    assert access.mode == "signed" and access.rules == CLOSED and not access.public_now


def test_a_licence_that_ends_before_the_window_opens_never_opens() -> None:
    access = decide(CAMPAIGN, FR, Rights("2026-03-05T00:00:00+00:00", "worldwide"), at("2026-03-01T00:00:00"))
    assert access.phase == "after" and access.rules == CLOSED


def test_rules_compare_as_instants() -> None:
    ours = [{"access_type": "anonymous", "start": "2026-03-09T23:00:00Z"}]
    theirs = [{"access_type": "anonymous", "start": "2026-03-10 00:00:00 +0100"}]
    assert normalise(ours) == normalise(theirs)
    assert normalise(ours) != normalise(CLOSED) and deliverable(None, at("2026-01-01T00:00:00"))
    assert not deliverable(ours, at("2026-03-09T22:00:00")) and deliverable(ours, at("2026-03-10T00:00:00"))
    # the offset form opens at the same instant: 00:00 in Paris is 23:00 UTC, not a second before
    assert deliverable(theirs, at("2026-03-09T23:00:00")) and not deliverable(theirs, at("2026-03-09T22:59:59"))


def test_what_may_have_been_served_and_cached() -> None:
    window = [{"access_type": "anonymous", "start": "2026-03-10T00:00:00Z", "end": "2026-03-20T00:00:00Z"}]
    assert not served_before(window, at("2026-03-09T00:00:00"))  # never open yet: no purge needed
    assert served_before(window, at("2026-03-25T00:00:00"))  # ended by itself: the CDN may still hold it
    assert served_before([], at("2026-01-01T00:00:00")) and not served_before(CLOSED, at("2026-03-15T00:00:00"))


def test_as_of_needs_a_zone_and_says_how_to_write_it() -> None:
    import re

    from campaign_media.domain.windows import AS_OF_PATTERN, parse_as_of

    now = at("2026-03-01T00:00:00")
    assert parse_as_of("", now) == now
    assert parse_as_of("2026-03-15T09:00:00+01:00", now) == at("2026-03-15T08:00:00")
    assert parse_as_of("2026-03-15T08:00:00Z", now) == at("2026-03-15T08:00:00")
    with pytest.raises(ValueError, match=r"no time zone; add one, e.g. 2026-03-15T09:00:00Z"):
        parse_as_of("2026-03-15T09:00:00", now)
    with pytest.raises(ValueError, match="not an ISO time"):
        parse_as_of("next tuesday", now)
    # The DAG's Param refuses the same inputs before a run starts.
    assert re.match(AS_OF_PATTERN, "2026-03-15T09:00:00+01:00") and re.match(AS_OF_PATTERN, "")
    assert not re.match(AS_OF_PATTERN, "2026-03-15T09:00:00") and not re.match(AS_OF_PATTERN, "next tuesday")


def test_a_copy_change_is_decided_from_its_rules_now_and_its_rights() -> None:
    inside, after = at("2026-03-15T00:00:00"), at("2026-04-02T00:00:00")
    open_access = decide(CAMPAIGN, FR, GOOD, inside)
    # made closed before its window, now inside it: opened, nothing to purge
    assert copy_change(CLOSED, open_access, None, inside) == CopyChange(set_rules=True, kind="opened")
    # served with the open window, now after it: closed, and the CDN purged
    closed_access = decide(CAMPAIGN, FR, GOOD, after)
    assert copy_change(open_access.rules, closed_access, True, after) == CopyChange(True, "closed", purge=True)
    # the same rules as its rights say, and as public as the last run recorded: nothing at all
    assert copy_change(open_access.rules, open_access, True, inside) == CopyChange(set_rules=False, kind=None)
    # same rules, but the last run saw it closed: Cloudinary's own rule opened it (no call to make)
    assert copy_change(open_access.rules, open_access, False, inside) == CopyChange(False, "opened", by_rule=True)
    # no rules at all (public) while its rights are unreadable: closed with a purge
    unreadable = decide(CAMPAIGN, FR, None, inside)
    change = copy_change(None, unreadable, None, inside)
    assert (change.set_rules, change.kind, change.purge) == (True, "closed", True)
    # drifted rules that served nothing and serve nothing: repaired, not 'closed'
    drifted = [{"access_type": "anonymous", "start": "2030-01-01T00:00:00Z"}]
    assert copy_change(drifted, decide(CAMPAIGN, FR, GOOD, at("2026-03-01T00:00:00")), None,
                       at("2026-03-01T00:00:00")) == CopyChange(True, "repaired")


def test_the_rules_a_copy_has_now_come_from_the_listing_else_from_what_was_set() -> None:
    rules = [{"access_type": "anonymous", "start": "2026-03-09T23:00:00Z"}]
    assert rules_now({"access_control": CLOSED}, {"rules": rules}, {"rules": rules}) == CLOSED
    assert rules_now({}, {"rules": rules}, {"rules": CLOSED}) == rules  # what the last window run set
    assert rules_now({}, None, {"rules": CLOSED}) == CLOSED  # what the market run made it with
    assert rules_now({}, None, None) == []
