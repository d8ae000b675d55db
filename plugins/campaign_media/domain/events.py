"""Cloudinary's events, pulled from a poll channel: the parts that need no I/O.

A *poll* trigger (``uri_type="poll"``, ``uri="poll://<channel>"``) keeps Cloudinary's events for
the deployment to long-poll (``cloudinary.api.notifications``) and acknowledge
(``ack_notifications``): nothing reaches into the deployment, so its API server needs no public
address. Each message carries ``signed_payload``, the exact bytes Cloudinary signed, base64url
encoded; the signature is checked on those bytes and the event read from them — never from the
message's parsed ``payload`` copy, which nothing signs.

What the deployment asks Cloudinary for (:data:`EVENT_TYPES`): ``eager`` (a video copy's
transcodes made: the video wait ends) and the kinds of hand edit the pipeline repairs —
``delete``, ``rename``, ``access_control_changed``, and ``resource_metadata_changed`` or
``resource_context_changed`` (governance fields are structured metadata or context) of a market
copy. An edit the pipeline made itself (``triggered_by``: the API with its own key) is not a hand
edit: the pipeline's own changes never loop back into work.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from campaign_media.domain.masters import copy_identity

CONNECTION = "cloudinary_default"  # the connection whose poll channel the triggerer pulls
EVENT_TYPES = ("eager", "delete", "rename", "access_control_changed", "resource_metadata_changed",
               "resource_context_changed")
EDIT_KINDS = {"delete": "deleted", "rename": "renamed", "access_control_changed": "access changed",
              "resource_metadata_changed": "governance fields (metadata) changed",
              "resource_context_changed": "governance fields (context) changed"}
POLL = "poll://"
MARKET_COPY = re.compile(r"campaigns/(?P<campaign>[^/]+)/markets/(?P<market>[^/]+)/(?P<tail>[^/]+)")


def path_of(conn_id: str, webhook: bool, setting: str) -> tuple[str, str]:
    """How a connection hears of finished transcodes, and why: ``webhook`` (its uploads name the
    receiver), ``pull`` (the triggerer pulls the deployment's channel), or ``admin`` (polling)."""
    if webhook:
        return "webhook", ("the connection has a notification_base_url the receiver accepts: Cloudinary POSTs each "
                           "finished transcode to the API server, which must be reachable from the internet")
    if setting == "pull" and conn_id == CONNECTION:
        return "pull", ("[campaign_media] cloudinary_events = pull: the triggerer long-polls the deployment's poll "
                        "channel; no public endpoint")
    if setting == "pull":
        return "admin", f"only {CONNECTION}'s channel is pulled; this connection's transcodes are polled"
    return "admin", "[campaign_media] cloudinary_events = admin: transcodes are polled through the Admin API"


def channel_name(conn_id: str, configured: str = "") -> str:
    """The deployment's poll channel: ``[campaign_media] events_channel``, or one named after the
    connection. Two deployments on one Cloudinary account need two names (a message goes to the
    one that pulls it first)."""
    name = configured.strip() or f"campaign-media-{conn_id}"
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,100}", name):
        raise ValueError(f"events channel {name!r}: use 1 to 100 letters, digits, '.', '_' or '-' "
                         "([campaign_media] events_channel)")
    return name


@dataclass(frozen=True)
class TriggerPlan:
    """What makes the account's triggers the deployment's: to create, to keep, to delete."""

    create: list[dict[str, str]]
    keep: list[dict[str, Any]]
    delete: list[dict[str, Any]]

    def summary(self) -> str:
        return f"{len(self.create)} to create, {len(self.keep)} in place, {len(self.delete)} to delete"


def channel_triggers(existing: list[dict[str, Any]], channel: str) -> list[dict[str, Any]]:
    """The triggers of ``existing`` (the account's listing) that deliver to the channel."""
    return [t for t in existing if t.get("uri") == POLL + channel]


def trigger_plan(existing: list[dict[str, Any]], channel: str) -> TriggerPlan:
    """The deployment's triggers (one poll trigger per :data:`EVENT_TYPES` to its channel) against
    ``existing`` (the account's listing): triggers to other destinations are never touched; ours
    for an event type no longer needed, or doubled, are deleted."""
    uri = POLL + channel
    ours = channel_triggers(existing, channel)
    keep: dict[str, dict[str, Any]] = {}
    delete = []
    for trigger in sorted(ours, key=lambda t: str(t.get("created_at", ""))):
        if trigger.get("event_type") in EVENT_TYPES and trigger["event_type"] not in keep:
            keep[trigger["event_type"]] = trigger
        else:
            delete.append(trigger)
    create = [{"uri": uri, "event_type": kind, "uri_type": "poll"} for kind in EVENT_TYPES if kind not in keep]
    return TriggerPlan(create, list(keep.values()), delete)


class MessageRefused(ValueError):
    """A pulled message that is not what Cloudinary signed (or not readable): never acted on."""


def signed_bytes(message: dict[str, Any]) -> bytes:
    """The exact bytes Cloudinary signed (``signed_payload``, base64url with or without padding)."""
    text = message.get("signed_payload")
    if not isinstance(text, str) or not text:
        raise MessageRefused("the message has no signed_payload")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageRefused(f"signed_payload is not base64url ({exc})") from exc


def signed_event(raw: bytes) -> dict[str, Any]:
    """The event as signed: the JSON object in the signed bytes."""
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageRefused(f"the signed payload is not JSON ({exc})") from exc
    if not isinstance(event, dict):
        raise MessageRefused("the signed payload is not a JSON object")
    return event


def by_pipeline(event: dict[str, Any], api_key: str) -> bool:
    """Whether the change was made through the API with the deployment's own key."""
    by = (event.get("notification_context") or {}).get("triggered_by") or {}
    return by.get("source") == "api" and str(by.get("id")) == api_key


def public_ids(event: dict[str, Any]) -> list[str]:
    """Every public ID an event names (its own, a rename's two, a delete's or metadata change's
    resources, as a list or keyed by asset ID)."""
    found = [event.get(key) for key in ("public_id", "from_public_id", "to_public_id")]
    resources = event.get("resources") or []
    for resource in resources.values() if isinstance(resources, dict) else resources:
        if isinstance(resource, dict):
            found.append(resource.get("public_id"))
    return list(dict.fromkeys(p for p in found if isinstance(p, str) and p))


@dataclass(frozen=True)
class HandEdit:
    """A person's change to a market copy: what, which copy, in which campaign and market."""

    kind: str  # a key of EDIT_KINDS
    public_id: str
    campaign: str
    market: str
    image_id: str
    by: str
    renamed_to: str = ""  # a rename's new public ID

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "public_id": self.public_id, "campaign": self.campaign, "market": self.market,
                "image_id": self.image_id, "by": self.by, "renamed_to": self.renamed_to}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandEdit:
        return cls(**{k: str(data.get(k) or "") for k in ("kind", "public_id", "campaign", "market", "image_id",
                                                           "by", "renamed_to")})

    def found(self) -> str:
        """What was found, for the audit trail and the alert."""
        to = f" to {self.renamed_to}" if self.renamed_to else ""
        return f"{self.public_id}: {EDIT_KINDS[self.kind]}{to} by hand ({self.by})"


def hand_edits(event: dict[str, Any], api_key: str) -> list[HandEdit]:
    """The market copies a verified event says a person changed (none for the pipeline's own
    changes, other event types, or assets outside ``campaigns/<c>/markets/<m>/``)."""
    kind = event.get("notification_type")
    if kind not in EDIT_KINDS or by_pipeline(event, api_key):
        return []
    by = (event.get("notification_context") or {}).get("triggered_by") or {}
    who = f"{by.get('source') or 'unknown'}: {by.get('id') or 'unknown'}"
    renamed_to = str(event.get("to_public_id") or "") if kind == "rename" else ""
    named = [str(event.get("from_public_id") or "")] if kind == "rename" else public_ids(event)
    out = []
    for public_id in named:
        match = MARKET_COPY.fullmatch(public_id)
        if match:
            image_id, _ = copy_identity(match["tail"])
            out.append(HandEdit(str(kind), public_id, match["campaign"], match["market"], image_id, who, renamed_to))
    return out


def eager_copy(event: dict[str, Any]) -> str | None:
    """The copy an ``eager`` event says is transcoded (the video wait's wake-up), or None."""
    public_id = event.get("public_id")
    return public_id if event.get("notification_type") == "eager" and isinstance(public_id, str) else None


@dataclass(frozen=True)
class Repairs:
    """What hand edits call for: the markets whose copies are made again, whether the usage
    windows are reconciled, and the edits only alerted (or outside the deployment's campaigns)."""

    markets: list[str]
    windows: bool
    repaired: list[HandEdit]
    alerted: list[HandEdit]
    unknown: list[HandEdit]


def repairs(edits: list[HandEdit], policies: dict[str, str]) -> Repairs:
    """Sort ``edits`` by their campaign's ``on_hand_edit`` (``policies``: campaign ID → ``repair`` or
    ``alert``). A renamed copy is renamed back by the hand-edits run itself; a deleted one (or one
    that could not be renamed back) is made again by its market's run; opened access or changed
    governance fields are put back by the usage-window run."""
    unique = list(dict.fromkeys(edits))
    known = [e for e in unique if e.campaign in policies]
    repaired = [e for e in known if policies[e.campaign] == "repair"]
    return Repairs(markets=sorted({e.market for e in repaired if e.kind == "delete"}),
                   windows=any(e.kind != "delete" for e in repaired), repaired=repaired,
                   alerted=[e for e in known if policies[e.campaign] == "alert"],
                   unknown=[e for e in unique if e.campaign not in policies])
