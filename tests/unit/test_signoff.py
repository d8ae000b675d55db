"""Launch sign-off (pure): fail closed until a yes, the latest answer wins, additions, what to ask."""

from __future__ import annotations

from datetime import UTC, datetime

from campaign_media.config.loader import current_campaign
from campaign_media.config.models import Signoff
from campaign_media.domain.signoff import ready, request, request_text, standing, to_ask
from campaign_media.domain.windows import CLOSED, Rights, decide

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def campaign(**signoff):
    base, markets = current_campaign("spring-launch-2026")
    return base.model_copy(update={"signoff": Signoff(approvers=["brand-lead"], **signoff)}), markets


def answered(state: str, masters: dict[str, str], at: str = "2026-06-01T10:00:00Z", **extra) -> dict:
    return {"id": at, "state": state, "masters": masters, "asked_at": at, "at": at, "by": "brand-lead",
            "assignees": ["brand-lead"], **extra}


def test_unsigned_copies_stay_closed_inside_their_window_and_a_yes_opens_them() -> None:
    c, markets = campaign()
    fr = next(m for m in markets if m.code == "fr")
    rights = Rights("", "worldwide-digital")
    waiting = standing(c, "fr", [answered("awaiting", {"I1": "v1"})], "I1", "v1")
    access = decide(c, fr, rights, NOW, waiting)
    assert (access.mode, access.rules) == ("restricted", CLOSED) and "awaiting sign-off" in access.reason
    assert decide(c, fr, rights, NOW, None).rules == CLOSED  # not looked up: closed
    yes = standing(c, "fr", [answered("approved", {"I1": "v1"})], "I1", "v1")
    assert yes.signed and decide(c, fr, rights, NOW, yes).rules[0]["access_type"] == "anonymous"
    plain, _ = current_campaign("spring-launch-2026")  # no signoff: as before
    assert decide(plain, fr, rights, NOW).rules[0]["access_type"] == "anonymous"


def test_the_latest_answer_wins_and_a_new_file_needs_a_new_yes_unless_standing() -> None:
    c, _ = campaign()
    history = [answered("approved", {"I1": "v1"}, "2026-06-01T09:00:00Z"),
               answered("refused", {"I1": "v1"}, "2026-06-01T10:00:00Z", reason="wrong crop")]
    refused = standing(c, "fr", history, "I1", "v1")
    assert not refused.signed and refused.reason == "sign-off refused by brand-lead: wrong crop"
    approved = [answered("approved", {"I1": "v1"})]
    assert not standing(c, "fr", approved, "I1", "v2").signed  # a new file of the master
    assert not standing(c, "fr", approved, "I2", "v1").signed  # a master added after the yes
    assert to_ask(c, approved, {"I1": "v1", "I2": "v1", "I3": "v3"}) == {"I2": "v1", "I3": "v3"}
    standing_yes, _ = campaign(additions="standing")
    assert standing(standing_yes, "fr", approved, "I2", "v1").signed
    assert to_ask(standing_yes, approved, {"I2": "v1"}) == {}
    # what an open request shows is not asked again
    assert to_ask(c, [answered("awaiting", {"I2": "v1"})], {"I2": "v1"}) == {}


def test_a_request_names_what_a_reviewer_needs_and_only_finished_masters_are_shown() -> None:
    c, markets = campaign(markets={"jp": ["jp-lead"]})
    jp = next(m for m in markets if m.code == "jp")
    made = {"I1": {"version": "v1", "renditions": {"hero": {}, "square": {}}},
            "V1": {"version": "w1", "renditions": {"story": {"pending": True}}}}
    assert list(ready(made)) == ["I1"] and ready(made)["I1"].startswith("v1:")
    req = request(c, jp, ready(made), 2, NOW, "r1", "https://af.example/", None)
    assert req["assignees"] == ["jp-lead"] and req["state"] == "awaiting"
    assert req["contact_sheet"] == "https://af.example/campaign-media/campaigns/spring-launch-2026/markets/jp/" \
                                   "contact-sheet"
    subject, body = request_text(req)
    assert subject == "Sign off spring-launch-2026 in market jp: 1 masters, 2 renditions"
    assert "[contact sheet](https://af.example/" in body and "jp-lead" in body


def test_per_market_approvers_must_name_the_campaign_s_markets() -> None:
    import pytest
    from pydantic import ValidationError

    base, _ = current_campaign("spring-launch-2026")
    data = base.model_dump(by_alias=True)
    data["signoff"] = {"approvers": ["brand-lead"], "markets": {"jpn": ["jp-lead"]}}
    with pytest.raises(ValidationError, match="signoff.markets names jpn, not among the campaign's markets"):
        type(base).model_validate(data)


def test_a_market_opted_out_opens_without_a_yes_while_its_sibling_waits() -> None:
    import pytest
    from pydantic import ValidationError

    from campaign_media.runtime.signoffs import requests

    c, markets = campaign(markets={"jp": "none", "sa": ["sa-owner"]})
    fr, jp = (next(m for m in markets if m.code == code) for code in ("fr", "jp"))
    rights = Rights("", "worldwide-digital")
    assert c.signoff_for("jp") is None and c.signoff_for("fr") is c.signoff
    assert c.signoff.approvers_for("jp") == [] and c.signoff.approvers_for("sa") == ["sa-owner"]
    assert standing(c, "jp", [], "I1", "v1").signed and not standing(c, "fr", [], "I1", "v1").signed
    assert decide(c, jp, rights, NOW, standing(c, "jp", [], "I1", "v1")).rules != CLOSED  # open in its window
    assert decide(c, fr, rights, NOW, standing(c, "fr", [], "I1", "v1")).rules == CLOSED  # waits for a yes
    assert requests(c, "jp") == []  # nothing kept or read for it
    with pytest.raises(ValidationError, match="signoff.markets.jp"):  # anything else is a list of users
        c.model_validate({**c.model_dump(by_alias=True), "signoff": {"approvers": ["a"], "markets": {"jp": "nobody"}}})


def test_a_hand_edited_back_dated_foreign_or_unknown_record_opens_nothing() -> None:
    from campaign_media.domain.signoff import sealed, summary, trusted, view

    c, _ = campaign()
    key, other = b"k" * 32, b"o" * 32
    mine = {"campaign": c.id, "market": "fr"}

    def entry(state: str, masters: dict[str, str], at: str, **extra) -> dict:
        return answered(state, masters, at, id=f"{state}-{at}", **mine, **extra)

    yes = sealed(entry("approved", {"I1": "v1"}, "2026-06-01T09:00:00Z"), key)
    no = sealed(entry("refused", {"I1": "v1"}, "2026-06-01T10:00:00Z", reason="wrong crop"), key)
    forged_late_yes = entry("approved", {"I1": "v1"}, "2099-01-01T00:00:00Z")  # written by hand
    edited = {**yes, "masters": {"I1": "v1", "I9": "v9"}}  # a master slipped into a genuine yes
    other_key = sealed(entry("approved", {"I9": "v9"}, "2026-06-01T11:00:00Z"), other)
    foreign = sealed({**entry("approved", {"I9": "v9"}, "2026-06-01T12:00:00Z"), "market": "jp"}, key)
    empty = sealed(entry("approved", {}, "2026-06-01T13:00:00Z"), key)
    odd = sealed(entry("Approved", {"I7": "v7"}, "2026-06-01T14:00:00Z"), key)
    stored = [yes, no, forged_late_yes, edited, other_key, foreign, empty, odd, "junk"]

    record = trusted(stored, c.id, "fr", key)
    assert [r["id"] for r in record.requests] == [yes["id"], no["id"], odd["id"]]
    assert record.requests[-1]["state"] == "awaiting"  # a state this version does not know
    reasons = "\n".join(record.ignored)
    for expected in ("unsigned", "altered since it was signed", "names campaign", "names no masters",
                     "not a request"):
        assert expected in reasons
    assert len(record.ignored) == 6
    # the genuine refusal stands: the forged later yes and the edited one were left out
    assert standing(c, "fr", record.requests, "I1", "v1").reason == "sign-off refused by brand-lead: wrong crop"
    assert not standing(c, "fr", record.requests, "I9", "v9").signed
    standing_yes, _ = campaign(additions="standing")  # an approval naming no masters opens nothing
    assert not standing(standing_yes, "fr", trusted([empty], c.id, "fr", key).requests, "I5", "v5").signed
    assert trusted(stored, c.id, "fr", None).requests == []  # no key: nothing can be believed
    shown = view(summary(record), True, NOW)
    assert shown["state"] == "awaiting" and len(shown["ignored"]) == 6  # the latest kept request is "odd"
    assert view(summary(trusted([forged_late_yes], c.id, "fr", key)), True, NOW) == {
        "state": "not asked", "ignored": [f"request {forged_late_yes['id']!r}: unsigned"]}


def test_a_yes_covers_what_was_shown_a_new_file_renditions_or_rights_ask_again() -> None:
    from campaign_media.domain.signoff import shown, shown_in

    c, _ = campaign()
    rights = {"licence_expiry": "2027-01-01", "usage_rights": "worldwide-digital"}
    made = {"I1": {"version": "v1", "spec": "s1", "rights": rights, "renditions": {"hero": {}}}}
    yes = [answered("approved", ready(made))]
    assert standing(c, "fr", yes, "I1", shown_in(made["I1"])).signed
    assert shown_in(made["I1"]) == shown("v1", "s1", dict(rights))  # what a render computes for it
    for changed in ({"version": "v2"}, {"spec": "s2"}, {"rights": {**rights, "licence_expiry": "2026-12-31"}}):
        now = {**made["I1"], **changed}
        assert not standing(c, "fr", yes, "I1", shown_in(now)).signed, changed
        assert to_ask(c, yes, ready({"I1": now})) == ready({"I1": now}), changed  # asked again


def test_approvers_the_deployment_does_not_know_are_warned_about(monkeypatch) -> None:
    from campaign_media.account.approvers import warnings

    c, _ = campaign(markets={"jp": ["jp-lead"], "sa": "none"})
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER",
                       "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,brand-lead:user")
    (only,) = warnings([c])
    assert "'jp-lead' is not among [core] simple_auth_manager_users (admin, brand-lead)" in only
    assert "add jp-lead:user there" in only
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", FAB)
    (fab,) = warnings([c])
    assert "brand-lead, jp-lead" in fab and "FabAuthManager" in fab and "airflow users list" in fab
    plain, _ = current_campaign("spring-launch-2026")
    assert warnings([plain]) == []
