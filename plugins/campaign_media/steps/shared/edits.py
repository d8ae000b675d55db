"""Market copies a person changed by hand, marked for the usage-window run to look at closely.

An Admin listing may not carry a copy's ``access_control`` (the pessimistic reading of the real
API), and the usage-window run then judges a copy by the rules it last set: a rule a person
changed in the console would go unseen. The hand-edits run marks each copy it was told of
(``<storage>/<campaign>/markets/<market>/hand-edits/<copy key>.json``); the next usage-window run
reads each marked copy's rules and description with one ``resource`` call, puts them back, and
removes the marks it acted on (a mark written meanwhile stays for the run after).
"""

from __future__ import annotations

import time

from airflow.sdk import ObjectStoragePath

from campaign_media.domain.notifications import copy_key
from campaign_media.runtime import storage


def folder(campaign: str, market: str) -> ObjectStoragePath:
    return storage.path(campaign, "markets", market, "hand-edits")


def mark(campaign: str, market: str, public_id: str, kind: str) -> None:
    storage.write_json(folder(campaign, market) / f"{copy_key(public_id)}.json",
                       {"public_id": public_id, "kind": kind, "marked_at": time.time()})


def marked(campaign: str, market: str) -> dict[str, ObjectStoragePath]:
    """``public ID -> its mark`` of the market's copies marked now."""
    target = folder(campaign, market)
    out: dict[str, ObjectStoragePath] = {}
    for entry in target.iterdir() if target.exists() else []:
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            try:
                out[str(storage.read_json(entry, {}).get("public_id"))] = entry
            except ValueError:  # half-written: the next run reads it
                continue
    return out
