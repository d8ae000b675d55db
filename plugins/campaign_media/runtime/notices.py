"""Cloudinary notifications, recorded by the receiver and read by the video trigger.

One document per notification, named by its signature under the copy it is about::

    <storage>/_notifications/cloudinary/<conn id>/<copy key>/<signature>.json

Written create-only: a duplicated (or replayed, within the accepted window) notification has the
same body, timestamp and so signature (one spelling: lower-case hex), finds its name taken and
changes nothing. A record older than the accepted window is deleted when the next notification of
its copy is recorded: a replay of it would be refused as stale anyway. The receiver and the
triggerer need share nothing but the storage.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk import ObjectStoragePath

from campaign_media.domain.notifications import VALID_FOR_SECONDS, copy_key
from campaign_media.runtime import storage


def folder(conn_id: str, public_id: str) -> ObjectStoragePath:
    return storage.path("_notifications", "cloudinary", conn_id, copy_key(public_id))


def record(conn_id: str, public_id: str, signature: str, payload: dict[str, Any], *,
           timestamp: int) -> bool:
    """Keep one verified notification (``signature``: its canonical spelling); False when the same
    one was kept already. Records of the copy past the accepted window go."""
    return kept_once(folder(conn_id, public_id), signature,
                     {"public_id": public_id, "received_at": time.time(), "timestamp": timestamp,
                      "notification_type": payload.get("notification_type"),
                      "batch_id": payload.get("batch_id"), "payload": payload})


def record_event(conn_id: str, signature: str, event: dict[str, Any], *, timestamp: int) -> bool:
    """Keep one verified event pulled from the poll channel (any kind), named by its signature;
    False when it was kept already (a redelivery). Kept two replay windows, then swept (the sweep
    lists the whole folder, so one record in 16 does it: the signature's last digit picks it)."""
    return kept_once(storage.path("_notifications", "cloudinary", conn_id, "_pulled"), signature,
                     {"received_at": time.time(), "timestamp": timestamp,
                      "notification_type": event.get("notification_type"), "payload": event},
                     sweep=signature.endswith("0"))


def edits_folder(conn_id: str) -> ObjectStoragePath:
    return storage.path("_notifications", "cloudinary", conn_id, "_edits")


def queue_edits(conn_id: str, signature: str, edits: list[dict[str, Any]]) -> None:
    """Keep the hand edits a verified event names until a hand-edits run has handled them
    (create-only: a redelivered event queues nothing twice while its first copy waits)."""
    storage.create_json(edits_folder(conn_id) / f"{signature}.json", {"received_at": time.time(), "edits": edits})


def queued_edits(conn_id: str) -> list[tuple[ObjectStoragePath, list[dict[str, Any]]]]:
    """The queued hand edits, oldest first, each with its document (to remove once handled)."""
    found = [(entry, kept) for entry, kept in documents(edits_folder(conn_id))]
    found.sort(key=lambda pair: float(pair[1].get("received_at", 0)))
    return [(entry, list(kept.get("edits") or [])) for entry, kept in found]


def kept_once(target: ObjectStoragePath, signature: str, document: dict[str, Any], *, sweep: bool = True) -> bool:
    """Write ``document`` as ``<signature>.json`` under ``target`` unless it is there (create-only),
    and (``sweep``) delete the folder's records older than two replay windows."""
    new = storage.create_json(target / f"{signature}.json", document)
    for entry, kept in documents(target) if sweep else []:
        if float(kept.get("received_at", 0)) < time.time() - 2 * VALID_FOR_SECONDS:
            entry.unlink(missing_ok=True)
    return new


def documents(target: ObjectStoragePath) -> list[tuple[ObjectStoragePath, dict[str, Any]]]:
    """The notification documents of a copy's folder; a writer's temporary file, an empty or
    unreadable document is left out."""
    out = []
    for entry in target.iterdir() if target.exists() else []:
        if entry.name.startswith(".") or not entry.name.endswith(".json"):
            continue
        try:
            kept = storage.read_json(entry, {})
        except ValueError:  # empty or half-written by hand: not a notification
            continue
        if isinstance(kept, dict):
            out.append((entry, kept))
    return out


def notified(conn_id: str, public_ids: list[str], after: float) -> dict[str, float]:
    """``public ID -> when its latest notification arrived`` (Unix time), for the copies among
    ``public_ids`` notified at or after ``after``."""
    out: dict[str, float] = {}
    for public_id in public_ids:
        for _, kept in documents(folder(conn_id, public_id)):
            received = float(kept.get("received_at", 0))
            if kept.get("public_id") == public_id and received >= after:
                out[public_id] = max(received, out.get(public_id, 0.0))
    return out
