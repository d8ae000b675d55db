"""The receiver of Cloudinary's notifications, an ASGI app the API server mounts at
:data:`~campaign_media.domain.notifications.MOUNT` beside the campaign page, *outside* Airflow's
login (Cloudinary cannot log in). ``POST <mount>/cloudinary/<conn id>`` is accepted only when

* the body is at most :data:`~campaign_media.domain.notifications.MAX_BODY_BYTES` (413 otherwise,
  refused while it is read: a large body is never held),
* ``X-Cld-Timestamp`` is recent (neither stale: a replay, nor from the future), ``X-Cld-Signature``
  is 40 or 64 hex digits, the connection is one ``[campaign_media] notification_connections``
  names and of type *Cloudinary*, and the signature is its API secret's over *body + timestamp*
  (401 otherwise, with one answer whichever of the last three failed: a stranger learns neither
  which connections exist nor anything about another connection's password),
* the body is a JSON object (400 otherwise).

Then it is recorded (``runtime.notices``: create-only, so a duplicate changes nothing) and
answered 200 at once; the video trigger does the rest. A verified notification of a kind the
project does not follow is answered 200 too (Cloudinary would otherwise send it again).
Nothing of the body or the headers is logged beyond the public ID and the reason of a refusal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from campaign_media import settings
from campaign_media.domain.notifications import (
    MAX_BODY_BYTES,
    canonical_signature,
    copy_named,
    parse,
    received,
    signature_problem,
    timestamp_problem,
)
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.runtime import notices

log = logging.getLogger(__name__)
ACCOUNT_CACHE_SECONDS = 60.0  # a rotated secret is picked up within a minute
CACHED_ACCOUNTS = 16  # the connections named in notification_connections: a handful
_accounts: OrderedDict[str, tuple[float, CloudinaryHook | None]] = OrderedDict()
NOT_SIGNED = "X-Cld-Signature does not match the body and timestamp under this connection's API secret"

app = FastAPI(title="Campaign media: Cloudinary notifications", docs_url=None, redoc_url=None, openapi_url=None)


def refused(status: int, reason: str, conn_id: str) -> JSONResponse:
    log.warning("Cloudinary notification for connection %r refused (%d): %s", conn_id, status, reason)
    return JSONResponse({"error": {"message": reason}}, status_code=status)


def account(conn_id: str) -> CloudinaryHook | None:
    """The connection's hook with its account read, or None when it is not a usable connection of
    type Cloudinary (either cached a minute; the least recently used forgotten first)."""
    cached = _accounts.get(conn_id)
    if cached and time.monotonic() - cached[0] < ACCOUNT_CACHE_SECONDS:
        _accounts.move_to_end(conn_id)
        return cached[1]
    hook: CloudinaryHook | None = CloudinaryHook(conn_id)
    try:
        if hook.get_connection(conn_id).conn_type != "cloudinary":  # another service's password is no secret here
            raise TypeError("not a Cloudinary connection")
        hook.account  # noqa: B018 - reads the connection now, in this thread
    except Exception as exc:  # not found (AirflowNotFoundException), or not a usable Cloudinary connection
        log.warning("Cloudinary notification receiver: connection %r not usable: %s", conn_id,
                    type(exc).__name__)
        hook = None
    _accounts[conn_id] = (time.monotonic(), hook)
    _accounts.move_to_end(conn_id)
    while len(_accounts) > CACHED_ACCOUNTS:
        _accounts.popitem(last=False)
    return hook


async def read_capped(request: Request) -> bytes | None:
    """The body, or None as soon as it passes the cap (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


@app.post("/cloudinary/{conn_id}")
async def cloudinary_notification(conn_id: str, request: Request) -> JSONResponse:
    body = await read_capped(request)
    if body is None:
        return refused(413, f"the body is larger than {MAX_BODY_BYTES} bytes", conn_id)
    timestamp, signature = request.headers.get("x-cld-timestamp"), request.headers.get("x-cld-signature")
    problem = timestamp_problem(timestamp, time.time()) or signature_problem(signature)
    if problem:
        return refused(401, problem, conn_id)
    accepted = received(conn_id, str(settings.get("notification_connections")))
    hook = await asyncio.to_thread(account, conn_id) if accepted else None
    if hook is None or not hook.verify_notification(body, timestamp or "", signature):
        return refused(401, NOT_SIGNED, conn_id)  # one answer: no connection, another kind, or a wrong signature
    try:
        payload = parse(body)
    except ValueError as exc:
        return refused(400, str(exc), conn_id)
    public_id = copy_named(payload)
    if public_id is None:
        return JSONResponse({"recorded": False, "reason": f"{payload.get('notification_type')!r} notifications "
                                                          "are not followed"})
    new = await asyncio.to_thread(notices.record, conn_id, public_id, canonical_signature(signature or ""), payload,
                                  timestamp=int(timestamp or 0))
    log.info("Cloudinary %s notification for %s: %s", payload.get("notification_type"), public_id,
             "recorded" if new else "a duplicate, already recorded")
    return JSONResponse({"recorded": new, "duplicate": not new})
