"""Usage-window enforcement: PhotoShelter rights → Cloudinary delivery rules, reconciled.

Each run reads every master's current rights from PhotoShelter (one listing call per page of
500 per gallery), decides each market copy's access (``campaign_media.domain.windows``), compares it
with the ``access_control`` Cloudinary holds, and repairs what differs — closing with a CDN
invalidation. Cloudinary's own rule then opens and closes the copy on time even if Airflow is
down; this run only catches drift, shortened licences, revoked approvals and ended windows.
Masters are ``authenticated`` assets (signed URLs only); a master left as a public ``upload``
asset by an older layout is closed. Signed-only masters get fresh expiring token URLs in the
manifest where the account has token access (the capability report); elsewhere they stay closed
and the report says why. When rights no longer cover URLs already issued (revoked, shortened,
restricted), the copy is renamed to its next rotation (``<id>--r<n>``) and the CDN purged, so
those URLs stop working at once instead of at their expiry. The run's report says what opened,
closed, was repaired, revoked or stays restricted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from campaign_media.account.capabilities import TokenAccessMissing, require_token_access
from campaign_media.account.check import for_campaigns
from campaign_media.config.models import Campaign, Market
from campaign_media.domain.governance import drift, read_back, values_for
from campaign_media.domain.masters import (
    MASTER_DELIVERY,
    classify,
    copy_identity,
    market_public_id,
    master_public_id,
    media_id,
)
from campaign_media.domain.renditions import specs_by_name
from campaign_media.domain.signoff import shown_in
from campaign_media.domain.windows import (
    CLOSED,
    Access,
    CopyChange,
    Rights,
    copy_change,
    decide,
    deliverable,
    iso,
    normalise,
    outlived,
    rules_now,
)
from campaign_media.exceptions import CampaignMediaError
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.hooks.retry import RetryBudgetExceeded, must_wait
from campaign_media.runtime import audit, storage
from campaign_media.runtime.parallel import examples
from campaign_media.runtime.sources import SourceListing, missing_galleries_message
from campaign_media.steps.shared import edits, governance, signoff
from campaign_media.steps.shared.delivery import write_manifest

log = logging.getLogger(__name__)


class WindowsNotApplied(CampaignMediaError, RuntimeError):
    """Some copies could not be given their rules; every other copy was handled and reported."""


def current_rights(ps: PhotoShelterHook, campaign: Campaign) -> tuple[dict[str, Rights], list[str],
                                                                        dict[str, dict[str, str]]]:
    """``image_id -> Rights`` for every record in the campaign's source galleries, as of now; the
    source galleries that no longer exist (their masters have no rights: closed); and each
    approved master's governance as PhotoShelter holds it now."""
    rights: dict[str, Rights] = {}
    held: dict[str, dict[str, str]] = {}
    tz = ps.session_timezone()
    listing = SourceListing(ps, campaign)
    for record in listing:
        master, _ = classify(record, campaign.approval, tz)
        rights[media_id(record)] = Rights(master.licence_expiry, master.usage_rights) if master else \
            Rights("", "", approved=False)
        if master:
            held[master.image_id] = master.governance()
    return rights, listing.missing, held


def refresh_governance(cld: CloudinaryHook, campaign: Campaign, masters: list[dict[str, Any]],
                       now_held: dict[str, dict[str, str]], report: dict[str, list[dict[str, Any]]]) -> None:
    """Structured mode: where a master's fields in Cloudinary (what the console searches) differ
    from PhotoShelter's governance now — a rights edit not ingested yet, a hand edit in the
    console — set them again. Rules are decided from PhotoShelter either way; this keeps the
    console's answer true within one usage-window interval."""
    prefix = master_public_id(campaign.id, "")
    defined = governance.fields(cld)
    stale = []
    for res in masters:
        image_id = res["public_id"][len(prefix):]
        current = now_held.get(image_id)
        if current is None:  # no longer approved, or gone: its copies close; its fields say what was
            continue
        context = (res.get("context") or {}).get("custom") or {}
        differs = drift(read_back(res.get("metadata"), defined, context), current)
        if differs:
            stale.append((res, image_id, current, differs))
    if not stale:
        return
    defined = governance.prepare(cld, campaign, campaign.markets, [c for _, _, c, _ in stale], defined)
    for res, image_id, current, differs in stale:
        values = values_for(campaign.id, campaign.markets, current)
        try:
            cld.update_metadata([res["public_id"]], values, delivery_type=MASTER_DELIVERY,
                                resource_type=res.get("resource_type") or "image")
        except (CloudinaryError, RetryBudgetExceeded) as exc:
            if must_wait(exc):
                raise
            report["failed"].append({"image_id": image_id, "market": "(master)", "public_id": res["public_id"],
                                     "reason": f"its structured governance fields could not be updated: {exc}"})
            continue
        report["governance_refreshed"].append({
            "image_id": image_id, "market": "(master)", "public_id": res["public_id"],
            "reason": "; ".join(f"{k}: {was!r} → {now!r}" for k, (was, now) in differs.items())})
        audit.record(campaign.id, "master_described", master=image_id,
                     before={k: was for k, (was, _) in differs.items()},
                     after={"public_id": res["public_id"], "metadata": values},
                     reason="Cloudinary's structured governance differed from PhotoShelter's")


def signed_urls(cld: CloudinaryHook, campaign: Campaign, specs: dict[str, dict[str, Any]], access: Access,
                public_id: str, now: datetime, tokens: bool, resource_type: str = "image") -> dict[str, Any]:
    """Expiring token URLs of a signed-only master's renditions (``name -> eager spec``), valid at
    most until its window ends; none outside the window, and none where the account has no token access."""
    if not tokens or access.mode != "signed" or access.phase != "open" or campaign.signed_urls is None:
        return {}
    expires = now + timedelta(hours=campaign.signed_urls.ttl_hours)
    if access.end is not None and access.end < expires:
        expires = access.end
    urls = {name: cld.delivery_url(public_id, transformation=spec["transformation"], format=spec["format"],
                                   token_expires_at=expires, resource_type=resource_type)
            for name, spec in specs.items()}
    return {"expires_at": iso(expires), "public_id": public_id, "renditions": urls}


def reconcile_market(cld: CloudinaryHook, campaign: Campaign, market: Market, rights: dict[str, Rights],
                     now: datetime, report: dict[str, list[dict[str, Any]]], tokens: bool,
                     governance_now: dict[str, dict[str, str]]) -> int:
    """Bring every market copy's rules to what its rights and windows say (and the description of
    copies changed by hand to what PhotoShelter's governance says now, ``governance_now``);
    returns how many."""
    previous = storage.read_json(storage.market_access(campaign.id, market.code), {})
    state = storage.read_json(storage.market_state(campaign.id, market.code), {})
    decisions: dict[str, Any] = {}
    specs = specs_by_name(campaign, market)  # the renditions signed URLs point at
    prefix = market_public_id(campaign.id, market.code, "")
    signed = signoff.standing_in(campaign, market)
    suspects = edits.marked(campaign.id, market.code)
    for res in (r for rt in campaign.source.media for r in cld.iter_resources(prefix=prefix, resource_type=rt)):
        image_id, rotation = copy_identity(res["public_id"][len(prefix):])
        rt = res.get("resource_type") or "image"
        if res["public_id"] in suspects:  # changed by hand: its own rules and description, not the listing's
            res = {**res, **(cld.resource(res["public_id"], "upload", rt) or {})}
            if image_id in governance_now:
                restore_description(cld, campaign, market, res, image_id, governance_now[image_id],
                                    (state.get(image_id) or {}).get("version", ""), report)
        access = decide(campaign, market, rights.get(image_id), now,
                        signed(image_id, shown_in(state.get(image_id) or {})))
        current = rules_now(res, previous.get(image_id), state.get(image_id))
        change = copy_change(current, access, (previous.get(image_id) or {}).get("public"), now)
        item = {"image_id": image_id, "market": market.code, "public_id": res["public_id"]}
        version = (state.get(image_id) or {}).get("version", "")
        if not apply_change(cld, campaign, market, item, rt, current, access, change, version, report):
            if image_id in previous:  # its old rules still hold: remember them, not nothing
                decisions[image_id] = previous[image_id]
            continue
        issued = (previous.get(image_id) or {}).get("signed") or {}
        if issued.get("public_id", res["public_id"]) == res["public_id"] and outlived(issued, access, tokens, now):
            try:
                rotation = revoke_token_urls(cld, campaign, market, item, rt, rotation, issued, access, version, report)
            except (CloudinaryError, RetryBudgetExceeded) as exc:
                if must_wait(exc):
                    raise
                report["failed"].append({**item, "reason": f"token URLs issued until {issued['expires_at']} still "
                                         f"open it; renaming it to revoke them failed: {exc}", "rules": access.rules})
                decisions[image_id] = previous[image_id]  # tried again on the next run
                continue
            item["public_id"] = market_public_id(campaign.id, market.code, image_id, rotation)
        if access.mode == "restricted":
            report["restricted"].append({**item, "reason": access.reason})
        held = rights.get(image_id)
        decisions[image_id] = {**access.to_dict(), "public": access.public_now, "rules": access.rules,
                               "licence_expiry": held.licence_expiry if held else None,
                               "usage_rights": held.usage_rights if held else None, "resource_type": rt,
                               "public_id": item["public_id"], "rotation": rotation,
                               "signed": signed_urls(cld, campaign, specs[rt], access, item["public_id"], now,
                                                     tokens, rt)}
        if decisions[image_id]["signed"]:
            report["signed"].append({**item, "expires_at": decisions[image_id]["signed"]["expires_at"]})
    storage.write_json(storage.market_access(campaign.id, market.code), decisions)
    for mark in suspects.values():  # looked at: a mark written since stays for the next run
        mark.unlink(missing_ok=True)
    if state:
        write_manifest(cld, campaign, market)
    return len(decisions)


def restore_description(cld: CloudinaryHook, campaign: Campaign, market: Market, res: dict[str, Any], image_id: str,
                        held: dict[str, str], version: str, report: dict[str, list[dict[str, Any]]]) -> None:
    """Put a hand-edited copy's context (and structured governance fields) back to what the
    pipeline gives it from PhotoShelter's governance now."""
    wanted = governance.asset_description(cld, campaign, [market.code], {
        "ps_image_id": image_id, "ps_file": version, "campaign": campaign.id, "market": market.code}, held)
    context = (res.get("context") or {}).get("custom") or {}
    metadata = res.get("metadata") or {}
    differs = {k: (context.get(k, ""), v) for k, v in wanted["context"].items() if context.get(k, "") != v}
    differs.update({k: (metadata.get(k, ""), v) for k, v in (wanted.get("metadata") or {}).items()
                    if metadata.get(k, "") != v})
    if not differs:
        return
    rt = res.get("resource_type") or "image"
    if any(k in wanted["context"] for k in differs):
        cld.add_context([res["public_id"]], wanted["context"])
    if wanted.get("metadata") and any(k in wanted["metadata"] for k in differs):
        cld.update_metadata([res["public_id"]], wanted["metadata"], resource_type=rt)
    reason = "; ".join(f"{k}: {was!r} → {now!r}" for k, (was, now) in differs.items())
    report["governance_refreshed"].append({"image_id": image_id, "market": market.code,
                                           "public_id": res["public_id"], "reason": reason})
    audit.record(campaign.id, "copy_described", market=market.code, master=image_id, version=version,
                 before={k: was for k, (was, _) in differs.items()}, after=wanted, reason="changed by hand")


def revoke_token_urls(cld: CloudinaryHook, campaign: Campaign, market: Market, item: dict[str, str],
                      resource_type: str, rotation: int, issued: dict[str, Any], access: Access, version: str,
                      report: dict[str, list[dict[str, Any]]]) -> int:
    """Rename the copy to its next rotation, purging the CDN: every token URL issued for the old
    public ID stops working at once (a token opens one URL; Cloudinary checks it, not the
    copy's rules). Returns the new rotation; the caller records the new ID."""
    new_id = market_public_id(campaign.id, market.code, item["image_id"], rotation + 1)
    cld.rename(item["public_id"], new_id, resource_type=resource_type, invalidate=True)
    reason = access.reason or f"rights allow signed delivery only until {iso(access.end) if access.end else 'now'}"
    report["revoked"].append({**item, "public_id_now": new_id, "urls_expired_at": issued["expires_at"],
                              "reason": reason})
    audit.record(campaign.id, "token_urls_revoked", market=market.code, master=item["image_id"], version=version,
                 before={"public_id": item["public_id"], "expires_at": issued["expires_at"]},
                 after={"public_id": new_id}, reason=reason,
                 details={"renditions": sorted(issued.get("renditions") or {})})
    return rotation + 1


def apply_change(cld: CloudinaryHook, campaign: Campaign, market: Market, item: dict[str, str], resource_type: str,
                 current: list[dict[str, Any]] | None, access: Access, change: CopyChange, version: str,
                 report: dict[str, list[dict[str, Any]]]) -> bool:
    """Carry out one copy's ``change`` (set its rules, purge the CDN) and report and audit it.
    Returns False when Cloudinary refused the rules (reported as failed; the others go on).

    :param item: the copy's report fields (``image_id``, ``market``, ``public_id``)
    :param current: the rules it had
    :param version: its master's version (for the audit trail)
    """
    image_id = item["image_id"]
    if change.set_rules:
        try:
            cld.set_access_control(item["public_id"], access.rules, invalidate=change.purge,
                                   resource_type=resource_type)
        except (CloudinaryError, RetryBudgetExceeded) as exc:  # the others still get their rules
            if must_wait(exc):  # a spent quota: the task waits and reconciles again
                raise
            report["failed"].append({**item, "reason": str(exc), "rules": access.rules})
            return False
        assert change.kind is not None
        report[change.kind].append({**item, "by": "this run", "reason": access.reason or access.phase,
                                    "rules_were": current, "rules": access.rules})
        audit.record(campaign.id, "restricted" if access.mode == "restricted" else f"window_{change.kind}",
                     market=market.code, master=image_id, version=version, before=current, after=access.rules,
                     reason=access.reason or access.phase, details={"by": "this run", "mode": access.mode})
        if change.purge:
            audit.record(campaign.id, "cdn_purge", market=market.code, master=image_id, version=version,
                         after={"public_id": item["public_id"]}, reason="no longer deliverable: the CDN's "
                         "cached copies must not outlive the rule")
    elif change.by_rule and change.kind is not None:  # Cloudinary's own window rule opened or closed it
        report[change.kind].append({**item, "by": "Cloudinary's rule", "reason": access.phase})
        audit.record(campaign.id, f"window_{change.kind}", market=market.code, master=image_id, version=version,
                     before=current, after=access.rules, reason=access.phase,
                     details={"by": "Cloudinary's rule", "public": access.public_now})
    return True


def reconcile(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, markets: list[Market],
              now: datetime, run_key: str) -> dict[str, Any]:
    """One campaign: masters token-only, every market copy's rules right; the run's report."""
    report: dict[str, list[dict[str, Any]]] = {k: [] for k in ("opened", "closed", "repaired", "restricted",
                                                                 "signed", "revoked", "governance_refreshed",
                                                                 "failed")}
    rights, gone, held = current_rights(ps, campaign)
    if gone:  # its masters are not listed, so they have no rights here: their copies close
        report["notices"] = [missing_galleries_message(campaign.id, gone)]
    media = campaign.source.media
    stored = [res for rt in media for res in cld.iter_resources(prefix=master_public_id(campaign.id, ""),
                                                                 delivery_type=MASTER_DELIVERY, resource_type=rt)]
    masters = len(stored)
    if governance.structured(cld, campaign):
        refresh_governance(cld, campaign, stored, held, report)
    # Masters are authenticated; one left as a public upload asset (an older layout) is closed.
    for res in (r for rt in media for r in cld.iter_resources(prefix=master_public_id(campaign.id, ""),
                                                              resource_type=rt)):
        if normalise(res.get("access_control")) != normalise(CLOSED):
            was_public = deliverable(res.get("access_control"), now)
            cld.set_access_control(res["public_id"], CLOSED, invalidate=was_public,
                                   resource_type=res.get("resource_type") or "image")
            report["repaired"].append({"image_id": res["public_id"].rsplit("/", 1)[-1], "market": "(master)",
                                       "public_id": res["public_id"], "reason": "masters are never public",
                                       "rules_were": res.get("access_control") or [], "rules": CLOSED})
            audit.record(campaign.id, "window_repaired", master=res["public_id"].rsplit("/", 1)[-1],
                         before=res.get("access_control") or [], after=CLOSED, reason="masters are never public",
                         details={"by": "this run", "purged": was_public})
    try:
        require_token_access(campaign, for_campaigns(cld, [campaign]), bool(cld.auth_token_key))
        tokens = campaign.signed_urls is not None
    except TokenAccessMissing as exc:  # signed-only masters stay closed; the others are governed
        tokens = False
        report.setdefault("notices", []).append(str(exc))
        log.warning("%s", exc)
    copies = sum(reconcile_market(cld, campaign, market, rights, now, report, tokens, held) for market in markets)
    counts = {k: len(v) for k, v in report.items() if k != "notices"}
    summary = {"campaign": campaign.id, "as_of": iso(now), "masters": masters, "copies": copies, **counts}
    path = storage.write_json(storage.windows_report(campaign.id, run_key),
                              {"summary": summary, **report})
    storage.write_json(storage.windows_report(campaign.id), {"summary": summary, **report})
    log.info("usage windows %s: %s", campaign.id, summary)
    # examples; every copy is in the report
    for kind in ("opened", "closed", "repaired", "restricted", "revoked", "governance_refreshed"):
        if report[kind]:
            log.info("  %-10s %d, e.g. %s (all in %s)", kind, len(report[kind]), examples(
                {f"{i['market']}/{i['image_id']}": i.get("reason", "") for i in report[kind]}), path)
    if report["failed"]:
        first = "; ".join(f"{f['market']}/{f['image_id']}: {f['reason']}" for f in report["failed"][:5])
        raise WindowsNotApplied(f"campaign {campaign.id}: {len(report['failed'])} copies could not be given their "
                                f"rules (report: {path}); Cloudinary's previous rules still apply to them: {first}")
    return {**summary, "report": path}
