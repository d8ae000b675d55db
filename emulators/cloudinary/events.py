"""Notification triggers and poll notifications: Cloudinary's events, kept for the client to pull.

Cloudinary documents *triggers* (Admin API ``/triggers``): a destination (``uri``) and an
``event_type`` (``eager``, ``upload``, ``delete``, ``rename``, ``access_control_changed``,
``resource_metadata_changed``, …, or ``all``). A ``webhook`` trigger POSTs each event to its URL;
a ``poll`` trigger (``poll://<channel>``, or ``poll://*`` addressed by batch) buffers it, and the
client long-polls ``GET /v2/notifications/<cloud>/messages`` and deletes what it has kept with
``POST …/messages/ack``. A claimed message is invisible for ``visibility_timeout`` seconds, then
delivered again (with a new receipt handle) unless acknowledged.

Route table (``*``: our pessimistic reading where the documentation is silent):

=========================================  ==========================================================
``GET  /v1_1/<cloud>/triggers``            ``{"triggers": [...], "total": n}``; ``event_type`` filters
``POST /v1_1/<cloud>/triggers``            ``uri``, ``event_type``, ``uri_type`` (``webhook`` default,
                                           ``poll`` needs a ``poll://`` URI); * the same URI and event
                                           type twice: 409
``PUT  /v1_1/<cloud>/triggers/<id>``       ``new_uri``; ``{"message": "updated"}``
``DELETE /v1_1/<cloud>/triggers/<id>``     ``{"message": "deleted"}``; * unknown ID: 404
``POST /v1_1/<cloud>/triggers/<id>/test``  ``{"trigger_id", "filter_present": false, "filter_result": true}``
``GET  /v2/notifications/<cloud>/messages`` exactly one of ``channel`` / ``batch_id`` (else 400);
                                           ``max_messages`` 1–100 (10), ``wait_seconds`` 0–60 (20),
                                           ``visibility_timeout`` 1–600 (30), else 400; nothing
                                           buffered: ``{}`` (no ``messages`` key, as the SDK says)
``POST /v2/notifications/<cloud>/messages/ack``  ``receipt_handles`` (≤ 100): ``{"results": [{"receipt_handle",
                                           "status": "acked" | "not_found"}]}``; * a handle of an
                                           earlier delivery of a message delivered again is
                                           ``not_found`` and deletes nothing
=========================================  ==========================================================

All of them are Admin API calls: Basic auth, counted against the hourly limit (* the
notifications module too). Each message carries ``payload`` (parsed), ``signed_payload`` (the
exact signed bytes, base64url without padding), ``signature`` (hex SHA-1 of *bytes + timestamp +
secret*), ``timestamp`` (a string) and ``batch_id``. * The signed bytes are compact JSON with
non-ASCII characters unescaped: ``json.dumps(payload)`` with Python's defaults gives other bytes,
so a client that verifies a re-serialisation fails here, as it may on the real service.

Events are raised for what the API changes (``triggered_by.source: "api"``, ``id``: the API key)
and for a person's edit in the console (``POST /_emulator/console``, ``source: "ui"``). Faults
(``POST /_emulator/notifications``, shared with the webhooks): ``delay_seconds`` (buffered that
much later), ``p_duplicate`` (buffered twice), ``p_drop`` (* for a poll channel: the answer that
carried it is lost, so it comes back after its visibility timeout).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulators.cloudinary.notifications import Notifier
from emulators.cloudinary.params import InvalidParameter
from emulators.cloudinary.state import CloudinaryError, emulator

POLL = "poll://"


@dataclass
class Message:
    """One buffered notification of a poll destination."""

    channel: str  # the channel's name, or "*" for an anonymous destination
    batch_id: str
    payload: dict[str, Any]
    raw: str
    timestamp: str
    signature: str
    visible_at: float
    handle: str | None = None
    deliveries: int = 0


@dataclass
class Events:
    """An account's triggers and poll buffers; :meth:`emit` raises an event (any thread)."""

    notifier: Notifier
    triggers: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def emit(self, event_type: str, payload: dict[str, Any], *, source: str = "api") -> None:
        """An event of ``event_type``: to every trigger for it (or for ``all``)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        body = {"notification_type": event_type, "timestamp": now, "request_id": secrets.token_hex(16), **payload,
                "notification_context": {"triggered_at": now, "triggered_by": {
                    "source": source, "id": self.notifier.api_key if source == "api" else "person@example.com"}}}
        with self._lock:
            matching = [t for t in self.triggers.values() if t["event_type"] in (event_type, "all")]
            self.log.append({"event_type": event_type, "source": source, "at": time.time(),
                             "triggers": [t["id"] for t in matching]})
        for trigger in matching:
            if trigger["uri_type"] == "poll":
                self.buffer(trigger["uri"][len(POLL):], body)
            else:
                threading.Thread(target=self.notifier.send, args=(trigger["uri"], body), daemon=True).start()

    def buffer(self, channel: str, body: dict[str, Any]) -> None:
        faults = self.notifier.faults
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        stamp = str(int(time.time()))
        signature = hashlib.sha1(f"{raw}{stamp}{self.notifier.api_secret}".encode()).hexdigest()
        copies = 2 if self.notifier.chance("p_duplicate") else 1
        with self._lock:
            for _ in range(copies):
                self.messages.append(Message(channel, str(body.get("batch_id") or secrets.token_hex(16)), body, raw,
                                             stamp, signature, time.time() + faults.delay_seconds))

    def claim(self, channel: str | None, batch_id: str | None, limit: int, invisible_for: int) -> list[dict[str, Any]]:
        now = time.time()
        out = []
        with self._lock:
            for message in self.messages:
                if len(out) >= limit:
                    break
                addressed = message.channel == channel if channel else (
                    message.channel == "*" and message.batch_id == batch_id)
                if not addressed or message.visible_at > now:
                    continue
                message.handle, message.deliveries = secrets.token_urlsafe(24), message.deliveries + 1
                message.visible_at = now + invisible_for
                if self.notifier.chance("p_drop"):  # this answer is lost: redelivered after the timeout
                    continue
                out.append({"receipt_handle": message.handle, "batch_id": message.batch_id,
                            "payload": message.payload, "timestamp": message.timestamp,
                            "signature": message.signature,
                            "signed_payload": base64.urlsafe_b64encode(message.raw.encode()).decode().rstrip("=")})
        return out

    def ack(self, handles: list[str]) -> list[dict[str, str]]:
        results = []
        with self._lock:
            for handle in handles:
                found = next((m for m in self.messages if m.handle == handle), None)
                if found is not None:
                    self.messages.remove(found)
                results.append({"receipt_handle": handle, "status": "acked" if found else "not_found"})
        return results


def bounded(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Invalid value for {name} - {text}") from None
    if not low <= value <= high:
        raise InvalidParameter(f"{name} must be between {low} and {high}, got {value}")
    return value


def trigger_router() -> APIRouter:
    from emulators.cloudinary.admin import admin_auth, admin_json, json_body

    routes = APIRouter()

    @routes.get("/v1_1/{cloud}/triggers")
    async def list_triggers(cloud: str, request: Request) -> JSONResponse:
        emu = emulator(request)
        headers = admin_auth(emu, request, cloud)
        wanted = request.query_params.get("event_type")
        found = [t for t in emu.events.triggers.values() if not wanted or t["event_type"] == wanted]
        return admin_json(emu, {"triggers": found, "total": len(found)}, headers)

    @routes.post("/v1_1/{cloud}/triggers")
    async def create_trigger(cloud: str, request: Request) -> JSONResponse:
        emu = emulator(request)
        headers = admin_auth(emu, request, cloud)
        body = await json_body(emu, request)
        uri, event_type = str(body.get("uri") or ""), str(body.get("event_type") or "")
        uri_type = body.get("uri_type") or "webhook"
        if not uri or not event_type:
            raise InvalidParameter("Missing required parameter - uri and event_type")
        if uri_type not in ("webhook", "poll", "flow"):
            raise InvalidParameter(f"Invalid uri_type - {uri_type}")
        if (uri_type == "poll") != uri.startswith(POLL) or uri == POLL:
            raise InvalidParameter(f"uri {uri} does not fit uri_type {uri_type} (poll destinations are "
                                   "poll://<channel> or poll://*)")
        if any(t["uri"] == uri and t["event_type"] == event_type for t in emu.events.triggers.values()):
            raise CloudinaryError(409, f"A trigger for {event_type} to {uri} already exists")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        trigger = {"id": secrets.token_hex(16), "uri": uri, "uri_type": uri_type, "event_type": event_type,
                   "created_at": now, "updated_at": now}
        emu.events.triggers[trigger["id"]] = trigger
        return admin_json(emu, trigger, headers)

    @routes.put("/v1_1/{cloud}/triggers/{trigger_id}")
    async def update_trigger(cloud: str, trigger_id: str, request: Request) -> JSONResponse:
        emu, headers, trigger = trigger_call(request, cloud, trigger_id)
        new_uri = str((await json_body(emu, request)).get("new_uri") or "")
        if not new_uri or (trigger["uri_type"] == "poll") != new_uri.startswith(POLL):
            raise InvalidParameter(f"Invalid new_uri - {new_uri!r} for a {trigger['uri_type']} trigger")
        trigger.update(uri=new_uri, updated_at=datetime.now(UTC).isoformat(timespec="seconds"))
        return admin_json(emu, {"message": "updated"}, headers)

    @routes.delete("/v1_1/{cloud}/triggers/{trigger_id}")
    async def delete_trigger(cloud: str, trigger_id: str, request: Request) -> JSONResponse:
        emu, headers, _ = trigger_call(request, cloud, trigger_id)
        del emu.events.triggers[trigger_id]
        return admin_json(emu, {"message": "deleted"}, headers)

    @routes.post("/v1_1/{cloud}/triggers/{trigger_id}/test")
    async def test_trigger(cloud: str, trigger_id: str, request: Request) -> JSONResponse:
        emu, headers, _ = trigger_call(request, cloud, trigger_id)
        return admin_json(emu, {"trigger_id": trigger_id, "filter_present": False, "filter_result": True}, headers)

    @routes.get("/v2/notifications/{cloud}/messages")
    async def messages(cloud: str, request: Request) -> JSONResponse:
        emu = emulator(request)
        headers = admin_auth(emu, request, cloud)
        params = dict(request.query_params)
        channel, batch_id = params.get("channel") or None, params.get("batch_id") or None
        if bool(channel) == bool(batch_id):
            raise InvalidParameter("Supply exactly one of channel or batch_id")
        limit = bounded(params, "max_messages", 10, 1, 100)
        wait = bounded(params, "wait_seconds", 20, 0, 60)
        invisible_for = bounded(params, "visibility_timeout", 30, 1, 600)
        until = time.monotonic() + wait
        while True:
            found = emu.events.claim(channel, batch_id, limit, invisible_for)
            if found or time.monotonic() >= until:
                return admin_json(emu, {"messages": found} if found else {}, headers)
            await asyncio.sleep(min(0.1, max(0.0, until - time.monotonic())))

    @routes.post("/v2/notifications/{cloud}/messages/ack")
    async def ack(cloud: str, request: Request) -> JSONResponse:
        emu = emulator(request)
        headers = admin_auth(emu, request, cloud)
        handles = (await json_body(emu, request)).get("receipt_handles")
        if not isinstance(handles, list) or not handles or len(handles) > 100:
            raise InvalidParameter("receipt_handles must be a list of 1 to 100 receipt handles")
        return admin_json(emu, {"results": emu.events.ack([str(h) for h in handles])}, headers)

    @routes.get("/_emulator/events")
    def raised(request: Request) -> dict[str, Any]:
        events = emulator(request).events
        return {"raised": events.log, "buffered": len(events.messages)}

    @routes.post("/_emulator/console")
    async def console(values: dict[str, Any], request: Request) -> dict[str, Any]:
        """A person's edit in the Cloudinary console: ``{"action": "delete" | "rename" |
        "access_control" | "metadata" | "context", "public_id", "resource_type"?, "to_public_id"?,
        "access_control"?, "metadata"?, "context"?}``; the change is made and its event raised (``ui``)."""
        return console_edit(emulator(request), values)

    return routes


def trigger_call(request: Request, cloud: str, trigger_id: str) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """An Admin call on one trigger: the emulator, the rate-limit headers, the trigger (404 if unknown)."""
    from emulators.cloudinary.admin import admin_auth

    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    trigger = emu.events.triggers.get(trigger_id)
    if trigger is None:
        raise CloudinaryError(404, f"Trigger {trigger_id} not found")
    return emu, headers, trigger


def resource_fields(res: dict[str, Any]) -> dict[str, Any]:
    return {"public_id": res["public_id"], "asset_id": res.get("asset_id"), "resource_type": res["resource_type"],
            "type": res.get("type", "upload")}


def deleted(emu: Any, resources: list[dict[str, Any]], *, source: str = "api") -> None:
    if resources:
        emu.events.emit("delete", {"resources": [resource_fields(r) for r in resources]}, source=source)


def renamed(emu: Any, res: dict[str, Any], from_public_id: str, *, source: str = "api") -> None:
    emu.events.emit("rename", {**resource_fields(res), "from_public_id": from_public_id,
                               "to_public_id": res["public_id"]}, source=source)


def changed(emu: Any, res: dict[str, Any], before: dict[str, Any], *, source: str = "api") -> None:
    """The events an update raised: access control, metadata, context, tags that differ."""
    kinds = {"access_control": "access_control_changed", "metadata": "resource_metadata_changed",
             "context": "resource_context_changed", "tags": "resource_tags_changed"}
    for key, kind in kinds.items():
        if before.get(key) != res.get(key):
            extra = {"access_control": res.get("access_control", [])} if key == "access_control" else {
                "resources": {res.get("asset_id") or res["public_id"]: {**resource_fields(res), key: res.get(key)}}}
            emu.events.emit(kind, {**resource_fields(res), **extra}, source=source)


def console_edit(emu: Any, params: dict[str, Any]) -> dict[str, Any]:
    from emulators.cloudinary.state import resource_key

    rt, action = params.get("resource_type") or "image", params.get("action")
    res = emu.account.require(rt, "upload", str(params.get("public_id") or ""))
    before = json.loads(json.dumps(res))
    if action == "delete":
        emu.account.remove(res)
        deleted(emu, [res], source="ui")
    elif action == "rename":
        source = res["public_id"]
        emu.account.store.delete("resource", resource_key(rt, "upload", source))
        res["public_id"] = str(params["to_public_id"])
        emu.account.save(res)
        renamed(emu, res, source, source="ui")
    elif action in ("access_control", "metadata", "context"):
        emu.apply_common(res, {action: params[action]})
        emu.account.save(res)
        changed(emu, res, before, source="ui")
    else:
        raise InvalidParameter(f"unknown console action {action!r} (delete, rename, access_control, metadata, "
                               "context)")
    return {"done": action, "public_id": res["public_id"]}
