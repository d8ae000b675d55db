"""Structured-metadata governance: modes, entry IDs, values written and read back (pure)."""

from __future__ import annotations

import pytest

from campaign_media.domain.governance import (
    FIELDS,
    drift,
    entry_id,
    field_problems,
    missing_entries,
    mode_of,
    needed_entries,
    read_back,
    values_for,
)

GOVERNANCE = {"owner": "staff:brand-studio", "approval": "Approved", "usage_rights": "worldwide-digital",
              "licence_expiry": "2027-03-01T10:00:00Z"}


def fields_with(values: dict[str, list[str]]) -> dict[str, dict]:
    """The account's fields as listed, list fields offering ``values``."""
    return {f.external_id: f.definition(values.get(f.external_id)) for f in FIELDS}


def test_the_campaign_overrides_the_connection_and_context_is_the_default() -> None:
    assert mode_of(None, None) == "context"
    assert mode_of(None, "structured") == "structured"
    assert mode_of("context", "structured") == "context"
    with pytest.raises(ValueError, match="governance must be one of context, structured"):
        mode_of(None, "typed")


def test_entry_ids_are_stable_readable_and_distinct_for_look_alike_values() -> None:
    assert entry_id("Worldwide Digital") == entry_id("Worldwide Digital")
    assert entry_id("Worldwide Digital").startswith("worldwide_digital_")
    assert entry_id("Worldwide Digital") != entry_id("worldwide-digital")
    assert entry_id("日本のみ").startswith("v_")  # nothing ASCII left: still a valid, unique ID


def test_values_written_and_read_back_through_the_datasources() -> None:
    values = values_for("spring", ["fr", "jp"], GOVERNANCE)
    assert values["cmp_campaign"] == "spring" and values["cmp_markets"] == [entry_id("fr"), entry_id("jp")]
    assert values["cmp_approval"] == entry_id("Approved")
    assert values["cmp_licence_expiry"] == "2027-03-01"  # a date field holds the day
    assert values["cmp_licence_expires_at"] == "2027-03-01T10:00:00Z"  # ... and this one the instant
    defined = fields_with({"cmp_approval": ["Approved"], "cmp_usage_rights": ["worldwide-digital"]})
    assert read_back(values, defined, {}) == GOVERNANCE


def test_no_licence_and_an_unreadable_one_clear_the_date_and_say_which() -> None:
    none = values_for("spring", ["fr"], {**GOVERNANCE, "licence_expiry": ""})
    assert none["cmp_licence_expiry"] == "" and none["cmp_licence_expires_at"] == ""
    unreadable = values_for("spring", ["fr"], {**GOVERNANCE, "licence_expiry": "unreadable"})
    assert unreadable["cmp_licence_expiry"] == "" and unreadable["cmp_licence_expires_at"] == "unreadable"


def test_an_asset_without_the_fields_reads_its_context_and_a_deleted_entry_reads_empty() -> None:
    context = {**GOVERNANCE, "ps_image_id": "I1"}
    assert read_back({}, fields_with({}), context) == GOVERNANCE
    values = values_for("spring", ["fr"], GOVERNANCE)
    held = read_back(values, fields_with({"cmp_approval": ["Approved"]}), {})
    assert held["usage_rights"] == ""  # its entry is gone: not cleared anywhere (fails closed)


def test_missing_entries_and_fields_are_named() -> None:
    defined = fields_with({"cmp_markets": ["fr"], "cmp_approval": ["Approved"], "cmp_usage_rights": []})
    wanted = needed_entries(["fr", "jp"], [GOVERNANCE, {**GOVERNANCE, "usage_rights": "emea-web-only"}])
    assert missing_entries(defined, wanted) == {"cmp_markets": ["jp"],
                                                "cmp_usage_rights": ["emea-web-only", "worldwide-digital"]}
    assert field_problems(defined) == []
    broken = {**defined, "cmp_approval": {"external_id": "cmp_approval", "type": "string"}}
    del broken["cmp_owner"]
    assert field_problems(broken) == ["cmp_owner (string) is not defined",
                                      "cmp_approval is a string field, expected enum"]


def test_drift_names_what_differs() -> None:
    assert drift(GOVERNANCE, GOVERNANCE) == {}
    assert drift({**GOVERNANCE, "owner": "x"}, GOVERNANCE) == {"owner": ("x", "staff:brand-studio")}
