"""Delivery metrics: gather the figures (PhotoShelter, Cloudinary, manifests) and write the report.

One PhotoShelter listing per gallery page, one Cloudinary listing per market per 500 copies and
one usage call per campaign: cheap enough to run daily and again at archive time.
"""

from __future__ import annotations

import base64
import io
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from campaign_media.config.models import Campaign, Market
from campaign_media.domain.masters import (
    copy_identity,
    custom_fields,
    licence_of,
    market_public_id,
    master_public_id,
    media_id,
)
from campaign_media.hooks.cloudinary import CloudinaryError, CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.hooks.retry import RetryBudgetExceeded
from campaign_media.reports.access import by_copy, tally
from campaign_media.reports.frame import Report, build
from campaign_media.reports.html import render
from campaign_media.runtime import access_logs, storage
from campaign_media.runtime.sources import SourceListing
from campaign_media.steps.shared.delivery import master_url

log = logging.getLogger(__name__)


def gather(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign,
           markets: list[Market]) -> tuple[list[dict], list[dict], list[dict]]:
    """The masters (PhotoShelter), the market copies with their delivery figures (Cloudinary) and
    the renditions (market state)."""
    masters = []
    tz = ps.session_timezone()
    for record in SourceListing(ps, campaign):
        fields = custom_fields(record)
        video = record.get("media_type") == "video"
        masters.append({"image_id": media_id(record), "file_name": (record.get("Video" if video else "Image") or {})
                        .get("file_name", ""), "owner": fields.get("Owner", ""),
                        "approval": fields.get(campaign.approval.field, ""),
                        "usage_rights": fields.get("Usage Rights", ""), "licence_expiry": licence_of(record, tz),
                        "source": fields.get("Submission Source", ""), "media_type": "video" if video else "image"})
    copies, renditions = [], []
    for market in markets:
        prefix = market_public_id(campaign.id, market.code, "")
        for res in (r for rt in campaign.source.media for r in cld.iter_resources(prefix=prefix, resource_type=rt)):
            delivery = res.get("delivery")  # per-asset figures: the emulator gives them, the real API does not
            copies.append({"image_id": copy_identity(res["public_id"][len(prefix):])[0], "market": market.code,
                           "figures_from": "Cloudinary API" if delivery else "none",
                           "media_type": res.get("resource_type") or "image", "stored_bytes": res.get("bytes", 0),
                           "requests": delivery.get("requests") if delivery else None,
                           "bandwidth_bytes": delivery.get("bytes") if delivery else None,
                           "seconds_delivered": delivery.get("seconds") if delivery else None,
                           "by_transformation": (delivery or {}).get("by_transformation")})
        for image_id, entry in storage.read_json(storage.market_state(campaign.id, market.code), {}).items():
            renditions += [{"image_id": image_id, "market": market.code, "rendition": name, "bytes": r.get("bytes")}
                           for name, r in entry.get("renditions", {}).items()]
    return masters, copies, renditions


THUMBNAIL = [{"width": 96, "height": 96, "crop": "fill", "gravity": "auto"}]


def thumbnails(cld: CloudinaryHook, campaign: Campaign, report: Report, masters: list[dict]) -> dict[str, str]:
    """Small pictures of the most-used masters, as ``data:`` URIs (the report stays one file): a
    96 px crop of the master, a video's first frame for a video, read through a signed URL (the
    masters are authenticated). One that cannot be read is left out and named in the log."""
    kinds = {m["image_id"]: m["media_type"] for m in masters}
    out: dict[str, str] = {}
    for image_id in report.top_assets["image_id"]:
        url = master_url(cld, master_public_id(campaign.id, image_id), format="jpg", transformation=THUMBNAIL,
                         resource_type="video" if kinds.get(image_id) == "video" else "image")
        try:
            data = cld.fetch(url, max_bytes=512 * 1024)
        except (CloudinaryError, RetryBudgetExceeded) as exc:
            log.warning("no thumbnail for %s in the report: %s", image_id, exc)
            continue
        out[image_id] = "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
    return out


def write(campaign: Campaign, report: Report, *parts: str, pictures: dict[str, str] | None = None) -> dict[str, str]:
    """CSV, Parquet, HTML and the totals (JSON) under ``<storage>/<campaign>/<parts...>/``."""
    base = storage.path(campaign.id, *parts)
    table = report.assets.assign(campaign=campaign.id)[["campaign", *report.assets.columns]]  # concatenable
    csv_path = storage.write_bytes(base / "assets.csv", table.to_csv(index=False).encode())
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    parquet_path = storage.write_bytes(base / "assets.parquet", buffer.getvalue())
    files = {"table (CSV)": csv_path, "table (Parquet)": parquet_path}
    html_path = str(base / "index.html")
    html = render(campaign.name, campaign.id, report, {**files, "this page": html_path}, thumbnails=pictures)
    storage.write_bytes(base / "index.html", html.encode())
    totals_path = storage.write_json(base / "totals.json", report.totals)
    return {"html": html_path, "csv": csv_path, "parquet": parquet_path, "totals": totals_path}


def from_access_logs(campaign: Campaign, markets: list[Market], copies: list[dict]) -> dict[str, Any]:
    """Where the configured CDN access logs are, fill every copy's requests, bytes and
    per-transformation figures from them (a copy the logs never name was not delivered: 0);
    returns what the report says of its per-asset source. Without a log source the copies keep
    what Cloudinary's listing gave (nothing, on a real account)."""
    where = access_logs.configured()
    if where is None:
        api = any(c["requests"] is not None for c in copies)
        return {"per_asset": "Cloudinary Admin API listings" if api else "none"}
    location, fmt = where
    known = {(c["image_id"], c["market"]) for c in copies} | {
        (image_id, m.code) for m in markets for image_id in storage.read_json(storage.market_state(
            campaign.id, m.code), {})}
    start, end = campaign.bounds()
    figures = tally(access_logs.hits(location, fmt), campaign.id, known, start, end)
    delivered = by_copy(figures)
    for copy in copies:
        chains = delivered.get((copy["image_id"], copy["market"]), {})
        copy.update(requests=sum(f["requests"] for f in chains.values()),
                    bandwidth_bytes=sum(f["bytes"] for f in chains.values()), by_transformation=chains,
                    seconds_delivered=None, figures_from="access logs")
    parts = urlsplit(location)
    shown = parts._replace(netloc=parts.hostname or "").geturl() if parts.password else location
    log.info("campaign %s: access logs at %s (%s): %s", campaign.id, shown, fmt, figures.summary())
    return {"per_asset": f"CDN access logs ({fmt})", "location": shown, "access_logs": figures.summary()}


def report_campaign(ps: PhotoShelterHook, cld: CloudinaryHook, campaign: Campaign, markets: list[Market],
                    now: datetime, *parts: str) -> dict[str, Any]:
    masters, copies, renditions = gather(ps, cld, campaign, markets)
    source = from_access_logs(campaign, markets, copies)
    # The pictures first (the most-used masters do not depend on the account's usage), then the
    # usage: the report's account-wide bandwidth then includes what fetching them cost.
    pictures = thumbnails(cld, campaign, build(masters, copies, renditions, {}, now=now), masters)
    report = build(masters, copies, renditions, cld.usage(), now=now, source=source)
    paths = write(campaign, report, *parts, pictures=pictures)
    log.info("delivery report for %s: %s (requests %s, bandwidth %s bytes)", campaign.id, paths["html"],
             report.totals["requests"], report.totals["bandwidth_bytes"])
    # ``requests`` per (market, image_id): the archive records them without listing again.
    requests = {(c["market"], c["image_id"]): c["requests"] for c in copies}
    return {"campaign": campaign.id, **paths, "totals": report.totals, "requests": requests}
