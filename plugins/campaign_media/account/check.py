"""The read-only account check: what the real PhotoShelter and Cloudinary accounts do where the
public documentation is silent, written as the capability report the DAGs read.

It logs in (organisation included), reads the session's time zone, lists one page of each
campaign's source with the extends the pipeline uses and reports the key paths it found and how
many records read as approved with a readable licence, compares one downloaded original with
the listing's size and pixel size (and, for campaigns that ship videos, tries the media
listing and one video download), reads Cloudinary's plan and Admin API quota, tries a signed
read of an authenticated master (and that an unsigned one is refused), a token URL where a token
key is configured, and whether Admin listings carry ``access_control``. Nothing it does changes
either account; transformations (billable) only with ``allow_billable``.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from campaign_media import settings
from campaign_media.account.capabilities import Capabilities, report_path
from campaign_media.config.models import Campaign, Market
from campaign_media.domain.events import channel_name, path_of, trigger_plan
from campaign_media.domain.governance import FIELDS, field_problems, is_structured
from campaign_media.domain.masters import (
    LICENCE_UNREADABLE,
    MASTER_DELIVERY,
    classify,
    master_public_id,
    media_id,
    medium_of,
)
from campaign_media.domain.notifications import received, receiver_url
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterError, PhotoShelterHook
from campaign_media.hooks.retry import RetryBudgetExceeded
from campaign_media.runtime import storage
from campaign_media.runtime.sources import campaign_galleries

SAMPLE = 25  # records looked at per campaign


def key_paths(record: Any, prefix: str = "", depth: int = 3) -> set[str]:
    """Dotted key paths of a listing record (``Image.CustomMetadata``), lists marked ``[]``."""
    paths: set[str] = set()
    if depth == 0:
        return paths
    if isinstance(record, dict):
        for key, value in record.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(value, path, depth - 1)
    elif isinstance(record, list) and record and isinstance(record[0], dict):
        paths |= key_paths(record[0], f"{prefix}[]", depth)
    return paths


def check_photoshelter(ps: PhotoShelterHook, campaigns: list[Campaign]) -> dict[str, Any]:
    ps.login()
    out: dict[str, Any] = {"login": True, "org_id": ps.org_id, "timezone": ps.session_timezone(), "campaigns": {}}
    for campaign in campaigns:
        entry: dict[str, Any] = {}
        try:
            galleries, _ = campaign_galleries(ps, campaign)
            records = ps.gallery_page(galleries[0], per_page=SAMPLE).get("GalleryImage") or [] if galleries else []
        except (PhotoShelterError, ValueError) as exc:
            out["campaigns"][campaign.id] = {"error": str(exc)}
            continue
        paths = set().union(*(key_paths(r) for r in records)) if records else set()
        masters = [m for m, _ in (classify(r, campaign.approval, out["timezone"]) for r in records) if m]
        entry.update(galleries=len(galleries), sampled=len(records), approved=len(masters),
                     readable_licences=sum(m.licence_expiry not in ("", LICENCE_UNREADABLE) for m in masters),
                     key_paths=sorted(p for p in paths if p.split(".")[-1] in (
                         "CustomMetadata", "License", "Iptc", "ImageLink", "updated_at", "license_etime",
                         "file_size", "width", "height")),
                     sample_time=next((str((r.get("Image") or {}).get("updated_at")) for r in records), None),
                     sample_time_read_as=masters[0].version if masters else None)
        if masters:
            entry["download"] = compare_download(ps, masters[0])
        if "video" in campaign.source.media and galleries:
            entry["videos"] = check_videos(ps, campaign, galleries[0], out["timezone"])
        out["campaigns"][campaign.id] = entry
    return out


SIZES = {"Image": {"fields": "image_id,file_size", "params": {}},
         "Video": {"fields": "video_id,file_size", "params": {}}}


def check_api_versions(ps: PhotoShelterHook) -> dict[str, Any]:
    """Which of PhotoShelter's API versions the account answers: each version's login and the read
    routes the pipeline uses on it (on one gallery and one of its media), read only. The
    connection should name v4 when v4's reads all work and v3 answers too (a v4 connection
    still reads licences, the time zone, and uploads through v3: docs/real-accounts.md)."""
    out: dict[str, Any] = {"connection_names": ps.api_version}
    for version in (3, 4):
        hook = PhotoShelterHook(ps.photoshelter_conn_id, api_version=version)
        routes: dict[str, str] = {}
        out[f"v{version}"] = {"routes": routes}
        try:
            with hook, tempfile.TemporaryDirectory() as tmp:
                probe(routes, "login (token, organisation)", hook.login)
                gallery = probe(routes, "library and collections", lambda h=hook: next(
                    (g["gallery_id"] for _, g in h.walk_galleries()), None))
                if not gallery:
                    continue
                page = probe(routes, "a gallery's media", lambda h=hook, g=gallery: h.gallery_page(
                    g, per_page=10, media=True, extend={"CustomMetadata": {}, **SIZES}))
                items = [i.get("GalleryVideo") or i.get("GalleryImage") or {} for i in (page or {}).get(
                    "GalleryMedia") or []]
                # The route is tried on up to five media with bytes: one medium's missing or empty
                # original says nothing of the route; five in a row failing does.
                tried = [r for r in items if int(medium_of(r).get("file_size") or 0)][:5]
                if tried:
                    kinds = {kind_of(r) for r in tried}
                    probe(routes, f"the original ({', '.join(sorted(kinds))})",
                          lambda h=hook, rs=tried: first_download(h, rs, Path(tmp) / "original"))
        except (PhotoShelterError, RetryBudgetExceeded) as exc:
            routes.setdefault("error", str(exc))
        out[f"v{version}"]["works"] = bool(routes) and all(v == "yes" for v in routes.values())
    out["answers"] = [v for v in (3, 4) if out[f"v{v}"]["works"]]
    out["should_name"] = 4 if out["v4"]["works"] and out["v3"]["works"] else (out["answers"] or [3])[0]
    return out


def first_download(hook: PhotoShelterHook, records: list[dict[str, Any]], dest: Path) -> Any:
    """Download the first of ``records`` whose original comes; raise the last failure if none does."""
    for n, record in enumerate(records, 1):
        try:
            return hook.download_original(media_id(record), dest, media_type=kind_of(record))
        except (PhotoShelterError, RetryBudgetExceeded):
            if n == len(records):
                raise
    return None


def kind_of(record: dict[str, Any]) -> str:
    """``video`` or ``image``: what a listing record is (``medium_of`` reads its sub-record by it)."""
    return "video" if record.get("media_type") == "video" or "video_id" in record else "image"


def probe(routes: dict[str, str], name: str, call: Any) -> Any:
    """Run one read, noting ``yes`` or why not; a failed login stops the version's probes."""
    try:
        result = call()
    except (PhotoShelterError, RetryBudgetExceeded) as exc:
        routes[name] = f"NO: {exc}"
        if name.startswith("login"):
            raise
        return None
    routes[name] = "yes"
    return result


def check_videos(ps: PhotoShelterHook, campaign: Campaign, gallery_id: str, tz: str) -> dict[str, Any]:
    """Does the account have the (inferred) media listing, in the shape read, and the video
    download route? One listing page and, if a video reads as a master, one download (its size
    compared with the listing's)."""
    try:
        page = ps.gallery_page(gallery_id, per_page=SAMPLE, media=True)
    except PhotoShelterError as exc:
        return {"media_listing": False, "error": str(exc)}
    records = [{**item["GalleryVideo"], "media_type": "video"} for item in page.get("GalleryMedia") or []
               if "GalleryVideo" in item]
    masters = [m for m, _ in (classify(r, campaign.approval, tz) for r in records) if m]
    out: dict[str, Any] = {"media_listing": True, "sampled_videos": len(records), "readable_videos": len(masters),
                           "key_paths": sorted(set().union(*(key_paths(r) for r in records)) if records else set())}
    if masters:
        video = masters[0]
        try:
            with tempfile.TemporaryDirectory() as tmp:
                got = ps.download_original(video.image_id, Path(tmp) / "video", media_type="video",
                                           listed_size=video.file_size)
            out["download"] = {"video_id": video.image_id, "listing_bytes": video.file_size, "served_bytes": got.size,
                               "matches": not video.file_size or got.size == video.file_size}
        except PhotoShelterError as exc:
            out["download"] = {"video_id": video.image_id, "matches": False, "error": str(exc)}
    return out


def compare_download(ps: PhotoShelterHook, master: Any) -> dict[str, Any]:
    """Does the download route serve the original the listing describes?"""
    with tempfile.TemporaryDirectory() as tmp:
        got = ps.download_original(master.image_id, Path(tmp) / "original")
        with Image.open(got.path) as image:
            size = image.size
    listing = {"bytes": master.file_size, "width": master.width, "height": master.height}
    served = {"bytes": got.size, "width": size[0], "height": size[1]}
    return {"image_id": master.image_id, "listing": listing, "served": served,
            "matches": served == listing or (not master.file_size and size == (master.width, master.height))}


def check_cloudinary(cld: CloudinaryHook, campaigns: list[Campaign], *, allow_billable: bool = False,
                     master: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Cloudinary part of the check. The signed and token reads try ``master`` (an image
    master the caller knows is there: ``public_id``, ``format``), else the first one listed; a
    listing may not show a master uploaded seconds ago yet."""
    out: dict[str, Any] = {"ping": cld.ping(), "token_key_configured": bool(cld.auth_token_key),
                           "signed_delivery": None, "token_access": None if cld.auth_token_key else False,
                           "listing_access_control": None}
    out.update(cld.account_status())
    master = master or next((res for c in campaigns for res in cld.iter_resources(
        prefix=master_public_id(c.id, ""), delivery_type=MASTER_DELIVERY, page_size=1)), None)
    if master is None:
        out["notes"] = ["no authenticated master yet: signed and token reads not tried (run it after an ingest)"]
    else:
        pid, fmt = master["public_id"], master.get("format") or "jpg"
        url = cld.delivery_url(pid, delivery_type=MASTER_DELIVERY, format=fmt)
        signed, unsigned = cld.probe(url), cld.probe(url.replace(_signature(url), ""))
        out["signed_delivery"] = judged(signed == 200 and unsigned in (401, 403), signed, unsigned)
        out["signed_probe"] = {"signed": signed, "unsigned": unsigned}
        if cld.auth_token_key:
            status = cld.probe(cld.delivery_url(pid, delivery_type=MASTER_DELIVERY, format=fmt, token_ttl=300))
            out["token_access"], out["token_probe"] = judged(status == 200, status), status
            if out["token_access"] is None:
                out.setdefault("notes", []).append(f"the token URL answered {status}: token access not judged "
                                                   "(the next check tries again)")
        if allow_billable:
            out["billable"] = {
                "on_the_fly": cld.probe(cld.delivery_url(pid, delivery_type=MASTER_DELIVERY, format="jpg",
                                                         transformation={"width": 64, "crop": "scale"})),
                "background_removal": cld.probe(cld.delivery_url(
                    pid, delivery_type=MASTER_DELIVERY, format="png",
                    transformation=[{"effect": "background_removal"}, {"width": 64, "crop": "scale"}]))}
    copy = next((res for c in campaigns for res in cld.iter_resources(
        prefix=f"campaigns/{c.id}/markets/", page_size=5)), None)
    if copy is not None:
        out["listing_access_control"] = "access_control" in copy
    out["notifications"] = check_notifications(cld)
    return out


def judged(verdict: bool, *statuses: int) -> bool | None:
    """``verdict`` when every probe answered yes or no (200, 401, 403); ``None`` (not judged) when
    one answered anything else, a 404 of a master listed a moment ago say."""
    return verdict if all(s in (200, 401, 403) for s in statuses) else None


def check_notifications(cld: CloudinaryHook) -> dict[str, Any]:
    """Which event path the connection uses (pull, webhook or Admin polling) and why; for pull,
    whether the channel's triggers are in place (one listing call: ``campaign-media events
    --apply`` makes them, as the triggerer does when it starts); for a webhook, whether the
    receiver's address answers from here as the receiver does (405 to a GET: it takes only signed
    POSTs). Cloudinary reaching it from the internet is not something this check can see."""
    base = cld.account.notification_base_url
    accepted = bool(base) and received(cld.account.conn_id, str(settings.get("notification_connections")))
    path, why = path_of(cld.account.conn_id, accepted, str(settings.get("cloudinary_events")))
    fallback = f"{settings.get('video_fallback_poll_seconds'):.0f} s"
    out: dict[str, Any] = {"event_path": path, "why": why, "receiver": None}
    if path == "pull":
        channel = channel_name(cld.account.conn_id, str(settings.get("events_channel")))
        try:
            plan = trigger_plan(cld.triggers(), channel)
            out["triggers"] = plan.summary() + ("" if not plan.create else " (campaign-media events --apply, or the "
                                                "triggerer when it starts)")
        except (CloudinaryError, RetryBudgetExceeded) as exc:
            out["triggers"] = f"not listed ({exc})"
        out.update(channel=f"poll://{channel}", video_waits=f"woken by events pulled from poll://{channel}; "
                   f"polled every {fallback} in case one is lost; hand edits to market copies repaired on their event")
    elif path == "admin":
        out["video_waits"] = f"polled every {settings.get('video_poll_seconds'):.0f} s ({why})"
    if not base:
        return out
    url = receiver_url(base, cld.account.conn_id)
    out["receiver"] = url
    if not accepted:
        out["answers_as_receiver"] = False
        return out
    try:
        status: int | str = cld.probe(url)
    except (CloudinaryError, RetryBudgetExceeded) as exc:
        status = f"no answer ({exc})"
    out.update(receiver_probe=status, answers_as_receiver=status == 405,
               video_waits=f"woken by notifications POSTed to the receiver; polled every {fallback} in case one is "
                           "lost")
    return out


def check_structured_fields(cld: CloudinaryHook, campaigns: list[Campaign], markets: dict[str, Market], *,
                            create: bool = False) -> dict[str, Any] | None:
    """Where governance goes into structured metadata (any campaign, or the connection): are the
    fields there, typed as expected? With ``create`` (the caller's consent: it changes the
    account), the missing ones are added, their lists seeded with the campaigns' markets,
    approval values and cleared usage rights (the runs add other values as PhotoShelter uses them)."""
    using = [c.id for c in campaigns if is_structured(c, cld.account.governance)]
    if not using and not create:
        return None
    defined = cld.metadata_fields()
    seeds = {"markets": sorted({m for c in campaigns for m in c.markets}),
             "approval": sorted({c.approval.value for c in campaigns}),
             "usage_rights": sorted({r for c in campaigns for code in c.markets if code in markets
                                     and markets[code].usage_rights != "any" for r in markets[code].usage_rights})}
    created = []
    if create:
        for spec in FIELDS:
            if spec.external_id not in defined:
                defined[spec.external_id] = cld.add_metadata_field(spec.definition(seeds.get(spec.holds)))
                created.append(spec.external_id)
    return {"campaigns": using, "problems": field_problems(defined), "created": created,
            "fields": [spec.external_id for spec in FIELDS]}


def _signature(url: str) -> str:
    """The ``s--SIG--/`` component of a signed delivery URL (to build its unsigned twin)."""
    marker = url.find("/s--")
    return url[marker + 1:url.find("--/", marker) + 3] if marker >= 0 else ""


def run(ps: PhotoShelterHook | None, cld: CloudinaryHook | None, campaigns: list[Campaign], *,
        allow_billable: bool = False, create_metadata_fields: bool = False,
        markets: dict[str, Market] | None = None, master: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check what is given, write the capability report, return it. Nothing changes either
    account except, with ``create_metadata_fields``, the structured governance fields added.
    ``master``: an image master to try signed and token reads on (see :func:`check_cloudinary`)."""
    report: dict[str, Any] = {"checked_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "allow_billable": allow_billable}
    if ps is not None:
        try:
            report["photoshelter"] = check_photoshelter(ps, campaigns)
        except PhotoShelterError as exc:
            report["photoshelter"] = {"login": False, "error": str(exc)}
        report["photoshelter"]["api_versions"] = check_api_versions(ps)
    if cld is not None:
        try:
            report["cloudinary"] = check_cloudinary(cld, campaigns, allow_billable=allow_billable, master=master)
            fields = check_structured_fields(cld, campaigns, markets or {}, create=create_metadata_fields)
            if fields is not None:
                report["cloudinary"]["structured_governance"] = fields
        except CloudinaryError as exc:
            report["cloudinary"] = {"ping": False, "error": str(exc)}
    report["path"] = str(report_path())
    storage.write_json(report_path(), report)
    return report


def table(report: dict[str, Any]) -> str:
    """The report as lines a person can act on."""
    ps, cld = report.get("photoshelter", {}), report.get("cloudinary", {})

    def yes(value: Any) -> str:
        return {True: "yes", False: "NO", None: "unknown"}.get(value, str(value))

    org = ps.get("org_id") or ps.get("error", "")
    rows = [("PhotoShelter login (organisation)", f"{yes(ps.get('login'))} ({org})"),
            ("PhotoShelter session time zone", str(ps.get("timezone")))]
    versions = ps.get("api_versions")
    if versions:
        for version in ("v3", "v4"):
            for route, answer in versions[version]["routes"].items():
                rows.append((f"  API {version}: {route}", answer))
        rows.append(("PhotoShelter API versions answered", ", ".join(f"v{v}" for v in versions["answers"]) or "none"))
        advice = "keep it" if versions["should_name"] == versions["connection_names"] else "change it"
        rows.append(("  the connection's api_version", f"{versions['connection_names']}; should be "
                     f"{versions['should_name']} ({advice})"))
    for cid, entry in ps.get("campaigns", {}).items():
        if "error" in entry:
            rows.append((f"  {cid}: source", f"NO: {entry['error']}"))
            continue
        rows += [(f"  {cid}: sampled / approved / readable licences",
                  f"{entry['sampled']} / {entry['approved']} / {entry['readable_licences']}"),
                 (f"  {cid}: key paths", ", ".join(entry["key_paths"]) or "(none)"),
                 (f"  {cid}: a time as listed → read as", f"{entry['sample_time']} → {entry['sample_time_read_as']}")]
        if "download" in entry:
            d = entry["download"]
            rows.append((f"  {cid}: download = listing", f"{yes(d['matches'])} (listing {d['listing']}, "
                                                           f"served {d['served']})"))
        if "videos" in entry:
            v = entry["videos"]
            rows.append((f"  {cid}: media listing (videos)", f"{yes(v['media_listing'])} " + (
                v.get("error", "") or f"({v['sampled_videos']} videos sampled, {v['readable_videos']} readable)")))
            if "download" in v:
                rows.append((f"  {cid}: video download = listing", f"{yes(v['download']['matches'])} "
                             f"{v['download'].get('error') or ''}".strip()))
    rows += [("Cloudinary ping", f"{yes(cld.get('ping'))} {cld.get('error', '')}".strip()),
             ("Cloudinary plan", str(cld.get("plan"))),
             ("Admin API quota (limit / remaining)",
              f"{(cld.get('rate_limit') or {}).get('limit')} / {(cld.get('rate_limit') or {}).get('remaining')}"),
             ("signed delivery of authenticated masters", yes(cld.get("signed_delivery"))),
             ("token URLs (premium; signed_urls needs it)",
              yes(cld.get("token_access")) + ("" if cld.get("token_key_configured") else " (no auth_token_key)")),
             ("Admin listings carry access_control", yes(cld.get("listing_access_control")))]
    notified = cld.get("notifications") or {}
    if notified:
        rows.append(("Cloudinary events", f"{notified.get('event_path')}: {notified.get('why')}"))
        rows.append(("video transcodes", notified["video_waits"]))
    if notified.get("triggers"):
        rows.append((f"  triggers of {notified['channel']}", notified["triggers"]))
    if notified.get("receiver_probe") is not None:
        rows.append(("  notification receiver answers from here",
                     f"{yes(notified['answers_as_receiver'])} ({notified['receiver']}: {notified['receiver_probe']})"))
    fields = cld.get("structured_governance")
    if fields:
        state = "yes" if not fields["problems"] else "NO: " + "; ".join(fields["problems"]) + \
            " (fix: check-account --create-metadata-fields)"
        rows.append(("structured governance fields " + (f"({', '.join(fields['campaigns'])})"
                                                        if fields["campaigns"] else "(no campaign uses them yet)"),
                     state + (f"; created now: {', '.join(fields['created'])}" if fields["created"] else "")))
    for note in cld.get("notes", []):
        rows.append(("note", note))
    if "billable" in cld:
        rows.append(("on the fly / background removal (HTTP)",
                     f"{cld['billable']['on_the_fly']} / {cld['billable']['background_removal']}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows) + f"\nreport: {report.get('path')}"


def for_campaigns(cld: CloudinaryHook, campaigns: list[Campaign], master: dict[str, Any] | None = None) -> Capabilities:
    """The stored capabilities; where a campaign needs token access that no check has judged
    yet, the Cloudinary part of this (read-only) check runs first, on ``master`` when the caller
    knows one, and is stored."""
    caps = Capabilities.load()
    if caps.token_access is None and cld.auth_token_key and any(c.signed_urls for c in campaigns):
        run(None, cld, campaigns, master=master)
        caps = Capabilities.load()
    return caps
