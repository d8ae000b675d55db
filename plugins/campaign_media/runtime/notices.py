"""Cloudinary notifications, recorded by the receiver and read by the video trigger.

One document per notification, named by its signature under the copy it is about::

    <storage>/_notifications/cloudinary/<conn id>/<copy key>/<signature>.json

Written create-only: a duplicated (or replayed, within the accepted window) notification has the
same body, timestamp and so signature, finds its name taken and changes nothing. The receiver
and the triggerer need share nothing but the storage.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.sdk import ObjectStoragePath

from campaign_media.domain.notifications import copy_key
from campaign_media.runtime import storage


def folder(conn_id: str, public_id: str) -> ObjectStoragePath:
    return storage.path("_notifications", "cloudinary", conn_id, copy_key(public_id))


def record(conn_id: str, public_id: str, signature: str, payload: dict[str, Any], *,
           timestamp: int) -> bool:
    """Keep one verified notification; False when the same one was kept already."""
    return storage.create_json(folder(conn_id, public_id) / f"{signature.lower()}.json",
                               {"public_id": public_id, "received_at": time.time(), "timestamp": timestamp,
                                "notification_type": payload.get("notification_type"),
                                "batch_id": payload.get("batch_id"), "payload": payload})


def notified(conn_id: str, public_ids: list[str], after: float) -> dict[str, float]:
    """``public ID -> when its latest notification arrived`` (Unix time), for the copies among
    ``public_ids`` notified at or after ``after``."""
    out: dict[str, float] = {}
    for public_id in public_ids:
        target = folder(conn_id, public_id)
        if not target.exists():
            continue
        for entry in target.iterdir():
            kept = storage.read_json(entry, {}) or {}
            received = float(kept.get("received_at", 0))
            if kept.get("public_id") == public_id and received >= after:
                out[public_id] = max(received, out.get(public_id, 0.0))
    return out
