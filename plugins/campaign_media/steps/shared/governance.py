"""Structured-metadata governance, the Cloudinary side: which mode a campaign runs in, the
account's fields checked before values are written, and list entries added as values appear."""

from __future__ import annotations

import logging
from typing import Any

from campaign_media.config.models import Campaign
from campaign_media.domain.governance import (
    StructuredFieldsMissing,
    entries,
    field_problems,
    is_structured,
    missing_entries,
    missing_fields_message,
    needed_entries,
    values_for,
)
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.runtime import audit

log = logging.getLogger(__name__)


def structured(cld: CloudinaryHook, campaign: Campaign) -> bool:
    """Whether the campaign's governance goes into structured metadata (for this connection)."""
    return is_structured(campaign, cld.account.governance)


def fields(cld: CloudinaryHook) -> dict[str, dict[str, Any]]:
    """The account's fields, refused with the fix when the campaign-media ones are missing."""
    defined = cld.metadata_fields()
    problems = field_problems(defined)
    if problems:
        raise StructuredFieldsMissing(missing_fields_message(problems))
    return defined


def prepare(cld: CloudinaryHook, campaign: Campaign, markets: list[str], governance: list[dict[str, str]],
            defined: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Before values are written: the fields exist, and every list value about to be written
    (a market, an approval or usage-rights value PhotoShelter uses) is one of their entries.
    An entry is added where it is not (the opt-in is the consent; each is audited). Returns
    the fields as they are now (calls: 1 listing unless ``defined`` is given, 1 per list field
    that gained entries)."""
    defined = dict(defined) if defined is not None else fields(cld)
    for external_id, values in missing_entries(defined, needed_entries(markets, governance)).items():
        now = cld.add_datasource_entries(external_id, entries(values))
        defined[external_id] = {**defined[external_id], "datasource": {"values": now}}
        audit.record(campaign.id, "metadata_entries_added", after={"field": external_id, "values": values},
                     reason="values PhotoShelter uses that the structured field did not offer yet")
        log.info("campaign %s: structured field %s now offers %s", campaign.id, external_id, values)
    return defined


def asset_description(cld: CloudinaryHook, campaign: Campaign, markets: list[str], pipeline: dict[str, str],
                      held: dict[str, str]) -> dict[str, Any]:
    """``context`` (and in structured mode ``metadata``) for an upload: the pipeline's own keys
    always in context, the governance ``held`` in context or in the structured fields."""
    if not structured(cld, campaign):
        return {"context": {**pipeline, **{k: held.get(k, "") for k in ("usage_rights", "owner")}}}
    return {"context": pipeline, "metadata": values_for(campaign.id, markets, held)}
