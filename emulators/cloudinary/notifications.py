"""Cloudinary's webhook notifications, sent the way its documentation describes them.

When an ``eager_async`` job given an ``eager_notification_url`` has made every item, the emulator
POSTs one JSON notification there (``notification_type: eager``, the asset's ``public_id``,
``asset_id``, the job's ``batch_id`` and an ``eager`` list of what was made, each with its
``transformation``, size, ``bytes``, ``format`` and URLs), signed as Cloudinary signs them:
``X-Cld-Timestamp`` (Unix seconds) and ``X-Cld-Signature`` = hex SHA-1 of *body + timestamp + API
secret*. An answer other than 2xx (or no answer) is retried, like Cloudinary's, a few times at
growing intervals (``retry_seconds`` × 1, 2, 3: minutes on the real service, seconds in tests).

Fault injection (``POST /_emulator/notifications``): ``p_drop`` (never sent), ``delay_seconds``
(sent that much later), ``p_duplicate`` (sent twice, the same body and headers), with a seed.
``GET /_emulator/notifications`` lists every finished job (``queued_at``: when it was done), what
was sent, dropped and answered.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter


@dataclass
class NotificationFaults:
    p_drop: float = 0.0
    p_duplicate: float = 0.0
    delay_seconds: float = 0.0
    retry_seconds: float = 180.0
    attempts: int = 3  # re-sends after the first, at retry_seconds x 1, 2, 3
    seed: int | None = None


@dataclass
class Notifier:
    """Sends an account's notifications (from the eager jobs' threads) and keeps their log."""

    api_key: str
    api_secret: str
    faults: NotificationFaults = field(default_factory=NotificationFaults)
    log: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)

    def configure(self, **values: Any) -> NotificationFaults:
        with self._lock:
            self.faults = NotificationFaults(**{**asdict(self.faults), **values})
            self._rng = random.Random(self.faults.seed)
        return self.faults

    def chance(self, fault: str) -> bool:
        """Whether this delivery meets the fault ``p_drop`` or ``p_duplicate`` (seeded)."""
        with self._lock:
            return self._rng.random() < getattr(self.faults, fault)

    def eager_done(self, url: str | None, res: dict[str, Any], batch_id: str, made: list[dict[str, Any]]) -> None:
        """A finished ``eager_async`` job (call from a background thread): its notification sent to
        ``url``; without one only logged (``url: null``), so the log times every job."""
        if not url:
            with self._lock:
                self.log.append({"url": None, "public_id": res["public_id"], "queued_at": time.time(),
                                 "dropped": False, "duplicate": False, "answers": []})
            return
        self.send(url, self.eager_notification(res, batch_id, made))

    def eager_notification(self, res: dict[str, Any], batch_id: str, made: list[dict[str, Any]]) -> dict[str, Any]:
        """The body of an eager job's notification, with the fields a real one was recorded with."""
        return {"notification_type": "eager", "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                "request_id": secrets.token_hex(16), **eager_payload(res, batch_id, made), "api_key": self.api_key,
                "signature_key": self.api_key,
                "notification_context": {"triggered_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                                         "triggered_by": {"source": "api", "id": self.api_key}}}

    def send(self, url: str, payload: dict[str, Any]) -> None:
        with self._lock:
            dropped = self._rng.random() < self.faults.p_drop
            duplicate = self._rng.random() < self.faults.p_duplicate
            faults = self.faults
        entry = {"url": url, "public_id": payload.get("public_id"), "queued_at": time.time(), "dropped": dropped,
                 "duplicate": duplicate, "answers": []}
        with self._lock:
            self.log.append(entry)
        if dropped:
            return
        if faults.delay_seconds:
            time.sleep(faults.delay_seconds)
        body = json.dumps(payload, separators=(",", ":"))
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Cld-Timestamp": stamp,
                   "X-Cld-Signature": hashlib.sha1(f"{body}{stamp}{self.api_secret}".encode()).hexdigest()}
        for copy in range(2 if duplicate else 1):
            for attempt in range(faults.attempts + 1):
                if attempt:
                    time.sleep(faults.retry_seconds * attempt)
                status = post(url, body, headers)
                entry["answers"].append({"at": time.time(), "status": status, "copy": copy})
                if status is not None and 200 <= status < 300:
                    break


def eager_payload(res: dict[str, Any], batch_id: str, made: list[dict[str, Any]]) -> dict[str, Any]:
    """What an eager notification says of its job: the asset, the batch and what was made."""
    return {"asset_id": res.get("asset_id"), "public_id": res["public_id"], "batch_id": batch_id,
            "eager": [{k: d[k] for k in ("transformation", "width", "height", "bytes", "format", "url", "secure_url")
                       if k in d} for d in made]}


def post(url: str, body: str, headers: dict[str, str]) -> int | None:
    """One delivery; the answer's status, or None when nothing answered."""
    try:
        return httpx.post(url, content=body.encode(), headers=headers, timeout=10).status_code
    except httpx.HTTPError:
        return None


def router(notifier: Notifier) -> APIRouter:
    routes = APIRouter(prefix="/_emulator")

    @routes.get("/notifications")
    def sent() -> dict[str, Any]:
        return {"faults": asdict(notifier.faults), "sent": notifier.log}

    @routes.post("/notifications")
    def set_faults(values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - set(asdict(NotificationFaults()))
        if unknown:
            return {"error": {"message": f"unknown notification settings: {sorted(unknown)}"}}
        return asdict(notifier.configure(**values))

    return routes
