"""People's edits to market copies in Cloudinary, found by pulled events: sorted, recorded,
and the part the hand-edits run repairs itself (a rename, undone).

The rest is repaired by the runs that already keep the copies right, started by the hand-edits
run's asset events: the market's run makes a deleted copy again (its plan lists the market's
copies), the usage-window run puts back opened access and changed governance fields. A campaign
with ``on_hand_edit: alert`` gets an alert instead, naming the edit and saying that a takedown
belongs in PhotoShelter (the pipeline's source of truth for rights).
"""

from __future__ import annotations

import logging
from typing import Any

from campaign_media.config.models import Campaign
from campaign_media.domain.alerts import Alert
from campaign_media.domain.events import HandEdit, Repairs, repairs
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.runtime import audit
from campaign_media.steps.shared import edits as edits_marks

log = logging.getLogger(__name__)


def sort(edits: list[HandEdit], campaigns: dict[str, Campaign]) -> Repairs:
    return repairs(edits, {cid: c.on_hand_edit for cid, c in campaigns.items()})


def undo_rename(cld: CloudinaryHook, edit: HandEdit) -> str:
    """Give a renamed copy its ID back; where that ID is taken again (the market's run made the
    copy anew), the renamed one is deleted: a copy under a name nobody governs is not left
    deliverable. Returns what was done; ``gone`` when the renamed copy is not there any more."""
    for resource_type in ("image", "video"):
        if cld.resource(edit.renamed_to, "upload", resource_type) is None:
            continue
        if cld.resource(edit.public_id, "upload", resource_type) is None:
            cld.rename(edit.renamed_to, edit.public_id, resource_type=resource_type)
            return "renamed back"
        cld.destroy(edit.renamed_to, resource_type=resource_type)
        return "renamed copy deleted (the copy was made again meanwhile)"
    return "gone"


def handle(cld: CloudinaryHook, campaigns: dict[str, Campaign], edits: list[HandEdit]) -> dict[str, Any]:
    """Sort the edits, undo renames, record each in its campaign's audit trail; returns the
    markets whose runs must make copies again, whether usage windows must be reconciled, and the
    alerts to send."""
    plan = sort(edits, campaigns)
    markets = set(plan.markets)
    for edit in plan.repaired:
        done = "made again by the market's run" if edit.kind == "delete" else "put back by the usage-window run"
        if edit.kind == "rename":
            done = undo_rename(cld, edit)
            if done == "gone":
                markets.add(edit.market)
                done = "renamed copy gone; made again by the market's run"
        if edit.kind != "delete":
            edits_marks.mark(edit.campaign, edit.market, edit.public_id, edit.kind)
        found(edit, done)
    for edit in plan.alerted:
        found(edit, "alerted (on_hand_edit: alert)")
    for edit in plan.unknown:
        log.info("hand edit outside this deployment's campaigns, left alone: %s", edit.found())
    return {"markets": sorted(markets), "windows": plan.windows, "repaired": len(plan.repaired),
            "alerted": [e.as_dict() for e in plan.alerted], "unknown": len(plan.unknown)}


def found(edit: HandEdit, done: str) -> None:
    """The audit record: what was found (``before``) and what was done (``after``)."""
    audit.record(edit.campaign, "hand_edit_found", market=edit.market, master=edit.image_id, before=edit.found(),
                 after=done, reason=edit.kind, details={"public_id": edit.public_id, "by": edit.by,
                                                        "renamed_to": edit.renamed_to})


def alert(edits: list[dict[str, Any]]) -> Alert:
    """The alert for edits a campaign asked to be told of rather than repaired."""
    found = [HandEdit.from_dict(e) for e in edits]
    campaigns = sorted({e.campaign for e in found})
    return Alert(subject=f"Cloudinary: market copies changed by hand in {', '.join(campaigns)}",
                 lines=[*(e.found() for e in found),
                        "Left as they are (on_hand_edit: alert). To take media down, withdraw its approval or "
                        "shorten its licence in PhotoShelter: the usage-window run then closes every copy and "
                        "keeps it closed."])
