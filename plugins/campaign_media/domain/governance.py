"""Governance in Cloudinary's structured metadata (pure, no I/O).

By default a master's governance (owner, approval, usage rights, licence expiry) travels as
Cloudinary *context*: free text that the Media Library shows but cannot filter on. With
``governance: structured`` (the Cloudinary connection's extras, or the campaign file) it goes into
typed structured metadata fields that console users search and filter by. The fields have fixed
external IDs (below), so every campaign and every deployment writes the same ones; approval and
usage rights are single-select lists whose entries are named from their values, so the same
value always has the same entry ID and a new value can be added without a lookup.

The pipeline's own keys (``ps_image_id``, ``ps_version``, ``ps_file``, ``source``, ``file_name``)
stay in context in both modes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from campaign_media.config.models import Campaign
from campaign_media.exceptions import CampaignMediaError

Mode = Literal["context", "structured"]
MODES: tuple[Mode, ...] = ("context", "structured")
GOVERNANCE_KEYS = ("owner", "approval", "usage_rights", "licence_expiry")  # what context carries without the option


@dataclass(frozen=True)
class FieldSpec:
    external_id: str
    label: str
    type: Literal["string", "date", "enum", "set"]
    holds: str  # the governance key it carries

    def definition(self, values: list[str] | None = None) -> dict[str, Any]:
        """The field as ``add_metadata_field`` takes it (a list field with its first entries)."""
        out: dict[str, Any] = {"external_id": self.external_id, "label": self.label, "type": self.type}
        if self.type in ("enum", "set"):
            out["datasource"] = {"values": entries(values or [])}
        return out


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("cmp_campaign", "Campaign", "string", "campaign"),
    FieldSpec("cmp_markets", "Markets", "set", "markets"),
    FieldSpec("cmp_owner", "Owner", "string", "owner"),
    FieldSpec("cmp_approval", "Approval", "enum", "approval"),
    FieldSpec("cmp_usage_rights", "Usage rights", "enum", "usage_rights"),
    FieldSpec("cmp_licence_expiry", "Licence expiry (date, UTC)", "date", "licence_date"),
    # the exact instant (a date field holds days only), or "unreadable" when PhotoShelter's cannot be read
    FieldSpec("cmp_licence_expires_at", "Licence expires at (ISO, UTC)", "string", "licence_expiry"),
)
BY_KEY = {f.holds: f for f in FIELDS}
LIST_FIELDS = tuple(f for f in FIELDS if f.type in ("enum", "set"))


class StructuredFieldsMissing(CampaignMediaError, RuntimeError):
    """``governance: structured`` is on but the account lacks the fields (or defines them otherwise)."""

    retryable = False  # a person must create them (with consent): retrying cannot


def mode_of(campaign_setting: str | None, connection_setting: str | None) -> Mode:
    """The campaign's choice, else the connection's, else ``context``."""
    chosen = campaign_setting or connection_setting or "context"
    if chosen not in MODES:
        raise ValueError(f"governance must be one of {', '.join(MODES)}, got {chosen!r}: write governance: "
                         "structured in the campaign file or the Cloudinary connection's extras, or leave it out")
    return chosen  # type: ignore[return-value]


def is_structured(campaign: Campaign, connection_setting: str | None) -> bool:
    """Whether the campaign's governance goes into structured metadata (campaign file first,
    then the Cloudinary connection's ``governance`` extra)."""
    return mode_of(campaign.governance, connection_setting) == "structured"


def entry_id(value: str) -> str:
    """A list entry's external ID from its value: readable, and unique per value (a short hash
    keeps ``Worldwide digital`` and ``worldwide-digital`` apart)."""
    slug = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")[:40] or "v"
    return f"{slug}_{hashlib.sha256(value.encode()).hexdigest()[:6]}"


def entries(values: list[str]) -> list[dict[str, str]]:
    return [{"external_id": entry_id(v), "value": v} for v in dict.fromkeys(v for v in values if v)]


def values_for(campaign: str, markets: list[str], governance: dict[str, str]) -> dict[str, Any]:
    """Structured metadata for an asset (``external ID -> value``); an empty value clears its field.

    :param governance: ``owner``, ``approval``, ``usage_rights`` and ``licence_expiry`` (ISO UTC,
        "" when none, ``unreadable``), as :meth:`Master.context` gives them
    """
    expiry = governance.get("licence_expiry", "")
    instant = expiry if expiry and expiry != "unreadable" else ""
    list_value = {k: entry_id(governance[k]) if governance.get(k) else "" for k in ("approval", "usage_rights")}
    return {
        BY_KEY["campaign"].external_id: campaign,
        BY_KEY["markets"].external_id: [entry_id(m) for m in markets],
        BY_KEY["owner"].external_id: governance.get("owner", ""),
        BY_KEY["approval"].external_id: list_value["approval"],
        BY_KEY["usage_rights"].external_id: list_value["usage_rights"],
        BY_KEY["licence_date"].external_id: instant[:10],
        BY_KEY["licence_expiry"].external_id: expiry,
    }


def needed_entries(markets: list[str], governance: list[dict[str, str]]) -> dict[str, list[str]]:
    """The list values assets are about to carry, per list field (``external ID -> values``)."""
    return {BY_KEY["markets"].external_id: list(markets),
            BY_KEY["approval"].external_id: sorted({g["approval"] for g in governance if g.get("approval")}),
            BY_KEY["usage_rights"].external_id: sorted({g["usage_rights"] for g in governance
                                                        if g.get("usage_rights")})}


def missing_entries(defined: dict[str, dict[str, Any]], wanted: dict[str, list[str]]) -> dict[str, list[str]]:
    """Of ``wanted`` list values, those the account's fields (as listed) do not offer yet."""
    out = {}
    for external_id, values in wanted.items():
        offered = {e.get("external_id") for e in ((defined.get(external_id) or {}).get("datasource") or {})
                   .get("values", []) if e.get("state", "active") == "active"}
        lacking = [v for v in values if entry_id(v) not in offered]
        if lacking:
            out[external_id] = lacking
    return out


def field_problems(defined: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with the account's fields for this mode ([] when all are there as expected)."""
    problems = []
    for spec in FIELDS:
        field = defined.get(spec.external_id)
        if field is None:
            problems.append(f"{spec.external_id} ({spec.type}) is not defined")
        elif field.get("type") != spec.type:
            problems.append(f"{spec.external_id} is a {field.get('type')} field, expected {spec.type}")
    return problems


def missing_fields_message(problems: list[str]) -> str:
    return ("governance: structured needs the campaign-media structured metadata fields on the Cloudinary account: "
            + "; ".join(problems) + ". Fix: run `campaign-media check-account --create-metadata-fields` once "
            "(it changes the account: it adds the fields), or set governance back to context")


def read_back(metadata: dict[str, Any] | None, defined: dict[str, dict[str, Any]],
              context: dict[str, str]) -> dict[str, str]:
    """An asset's governance as its structured metadata holds it (list entries read back as their
    values through the fields' datasources). An asset without the fields (uploaded before the
    option was turned on and not described since) falls back to its context."""
    metadata = metadata or {}
    if BY_KEY["campaign"].external_id not in metadata:
        return {k: context.get(k, "") for k in GOVERNANCE_KEYS}

    def listed(key: str) -> str:
        spec = BY_KEY[key]
        chosen = metadata.get(spec.external_id) or ""
        names = {e.get("external_id"): e.get("value", "") for e in
                 ((defined.get(spec.external_id) or {}).get("datasource") or {}).get("values", [])}
        return names.get(chosen, "")  # an entry deleted since reads as no value: fails closed

    return {"owner": str(metadata.get(BY_KEY["owner"].external_id) or ""), "approval": listed("approval"),
            "usage_rights": listed("usage_rights"),
            "licence_expiry": str(metadata.get(BY_KEY["licence_expiry"].external_id) or "")}


def drift(held: dict[str, str], current: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Governance keys whose Cloudinary value differs from PhotoShelter's (``key -> (held, now)``)."""
    return {k: (held.get(k, ""), current.get(k, "")) for k in GOVERNANCE_KEYS if held.get(k, "") != current.get(k, "")}
