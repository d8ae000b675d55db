"""Cloudinary's events pulled from the deployment's poll channel: the triggers kept, messages
verified, recorded, then acknowledged.

``ensure_triggers`` makes the account's triggers the deployment's (``domain.events.trigger_plan``):
one listing call, a creation per missing event type, a deletion per stale one; run again, it
changes nothing. ``pull`` long-polls the channel once and, for each message, checks the signature
on the bytes Cloudinary signed, records the event durably (create-only, named by its signature:
a redelivery finds it kept) and, for an ``eager`` event, the notice the video wait reads
(``runtime.notices``); the hand edits it names are queued in storage for the hand-edits run, which
reads them there (Airflow may fold a burst of asset events into one run that lists only the
first). Only what was recorded is acknowledged, after the caller has acted on it:
a crash in between makes Cloudinary deliver it again after the visibility timeout, and a second
delivery is harmless. A message whose signature does not check is neither acted on nor
acknowledged (it comes back, and a fixed secret then reads it); it is logged with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from campaign_media.domain.events import (
    HandEdit,
    MessageRefused,
    TriggerPlan,
    channel_triggers,
    eager_copy,
    hand_edits,
    signed_bytes,
    signed_event,
    trigger_plan,
)
from campaign_media.domain.notifications import canonical_signature, signature_problem
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.runtime import notices

log = logging.getLogger(__name__)


def ensure_triggers(cld: CloudinaryHook, channel: str, *, apply: bool = True) -> TriggerPlan:
    """The triggers the channel needs, created (and stale ones of the channel deleted) when
    ``apply``; the plan says what was (or would be) done."""
    plan = trigger_plan(cld.triggers(), channel)
    if apply:
        for wanted in plan.create:
            cld.create_trigger(wanted["uri"], wanted["event_type"], wanted["uri_type"])
        for stale in plan.delete:
            cld.delete_trigger(stale["id"])
    return plan


def remove_triggers(cld: CloudinaryHook, channel: str) -> int:
    """Delete every trigger to the channel (the deployment leaves); how many were deleted."""
    ours = channel_triggers(cld.triggers(), channel)
    for trigger in ours:
        cld.delete_trigger(trigger["id"])
    return len(ours)


@dataclass
class Pulled:
    """One poll's outcome: what to acknowledge once acted on, and what was found."""

    handles: list[str] = field(default_factory=list)
    edits: list[HandEdit] = field(default_factory=list)
    transcoded: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    messages: int = 0
    new: int = 0


def pull(cld: CloudinaryHook, channel: str, *, wait_seconds: int = 60, visibility_timeout: int = 120) -> Pulled:
    """One long poll of the channel: each message verified and recorded (see the module's text)."""
    out = Pulled()
    conn_id, api_key = cld.account.conn_id, cld.account.api["api_key"]
    for message in cld.notifications(channel, wait_seconds=wait_seconds, visibility_timeout=visibility_timeout):
        out.messages += 1
        try:
            raw = signed_bytes(message)
            signature, stamp = message.get("signature"), str(message.get("timestamp") or "")
            if signature_problem(signature) or not stamp.isdigit():
                raise MessageRefused("its signature or timestamp is malformed")
            if not cld.verify_notification(raw, stamp, signature):
                raise MessageRefused("its signature is not this account's over signed_payload (a wrong API "
                                     "secret on the connection, or a forged message)")
            event = signed_event(raw)
        except MessageRefused as exc:
            out.refused.append(str(exc))
            log.warning("Cloudinary events on %s: a message refused, not acted on nor acknowledged: %s", channel, exc)
            continue
        digest = canonical_signature(str(signature))
        out.new += notices.record_event(conn_id, digest, event, timestamp=int(stamp))
        copy = eager_copy(event)
        if copy:
            notices.record(conn_id, copy, digest, event, timestamp=int(stamp))
            out.transcoded.append(copy)
        found = hand_edits(event, api_key)
        if found:  # queued in storage: the run reads them there, whatever Airflow's asset events carry
            notices.queue_edits(conn_id, digest, [e.as_dict() for e in found])
        out.edits.extend(found)
        if message.get("receipt_handle"):
            out.handles.append(str(message["receipt_handle"]))
    return out
