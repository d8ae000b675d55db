"""Cloudinary's webhook notifications, the parts that need no I/O: where the receiver is, which
copy a notification is about, and whether its timestamp and size are acceptable.

Cloudinary POSTs a JSON body with ``X-Cld-Timestamp`` (Unix seconds) and ``X-Cld-Signature``
(hex SHA-1, or SHA-256 on accounts set so, of *body + timestamp + API secret*). The signature
check itself needs the account's secret and is :meth:`CloudinaryHook.verify_notification`.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

MOUNT = "/campaign-media/notifications"  # where the API server mounts the receiver (no login)
MAX_BODY_BYTES = 256 * 1024  # an eager notification for a dozen derivatives is a few KB
# Cloudinary re-sends a notification it could not deliver (minutes later) and documents no
# window; the SDK's verify_notification_signature accepts two hours by default: so do we.
VALID_FOR_SECONDS = 7200
FUTURE_SKEW_SECONDS = 300  # a clock ahead of ours by more than this is refused too


def receiver_url(base_url: str, conn_id: str) -> str:
    """The ``eager_notification_url`` of a connection's uploads: the API server's public address
    (the connection's ``notification_base_url``) + the receiver's route + the connection ID,
    which tells the receiver whose secret signs it."""
    return f"{base_url.rstrip('/')}{MOUNT}/cloudinary/{quote(conn_id, safe='')}"


def received(conn_id: str, accepted: str) -> bool:
    """Whether the receiver accepts notifications for ``conn_id`` (``accepted``: the setting
    ``notification_connections``, comma-separated connection IDs)."""
    return conn_id in {name.strip() for name in accepted.split(",") if name.strip()}


def timestamp_problem(text: str | None, now: float) -> str | None:
    """Why an ``X-Cld-Timestamp`` is refused (missing, not a number, stale, from the future), or None."""
    if not text:
        return "no X-Cld-Timestamp header"
    try:
        stamp = int(text)
    except ValueError:
        return f"X-Cld-Timestamp {text[:20]!r} is not a Unix time"
    if stamp < now - VALID_FOR_SECONDS:
        return f"X-Cld-Timestamp {stamp} is more than {VALID_FOR_SECONDS} s old (a replay, or a clock far behind)"
    if stamp > now + FUTURE_SKEW_SECONDS:
        return f"X-Cld-Timestamp {stamp} is more than {FUTURE_SKEW_SECONDS} s ahead of this server's clock"
    return None


SIGNATURE = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", re.ASCII)


def signature_problem(text: str | None) -> str | None:
    """Why an ``X-Cld-Signature`` is refused before any secret is looked at: missing, or not exactly
    40 or 64 hex digits (SHA-1 or SHA-256). Nothing is stripped, so one signature has one spelling
    but for case, and :func:`canonical_signature` names its record."""
    if not text:
        return "no X-Cld-Signature header"
    if not SIGNATURE.fullmatch(text):
        return "X-Cld-Signature is not 40 or 64 hex digits"
    return None


def canonical_signature(text: str) -> str:
    """The one spelling of a well-formed signature (lower case hex)."""
    return text.lower()


def parse(body: bytes) -> dict[str, Any]:
    """The notification's JSON object; ``ValueError`` naming what is wrong otherwise."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the body is not JSON ({exc})") from exc
    if not isinstance(payload, dict):
        raise ValueError("the body is not a JSON object")
    return payload


def copy_named(payload: dict[str, Any]) -> str | None:
    """The public ID an eager (or upload) notification is about; None for kinds we do not follow."""
    if payload.get("notification_type") not in ("eager", "upload"):
        return None
    public_id = payload.get("public_id")
    return public_id if isinstance(public_id, str) and public_id else None


def copy_key(public_id: str) -> str:
    """A storage-safe name for a public ID (public IDs hold ``/`` and any Unicode)."""
    return hashlib.sha256(public_id.encode()).hexdigest()[:32]
