"""Delivery metrics: PhotoShelter governance joined with Cloudinary delivery figures (pure pandas).

Inputs are plain records gathered by ``operators.metrics``; this module only shapes them:

* ``masters`` — one row per PhotoShelter record: image_id, file_name, owner, approval,
  usage_rights, licence_expiry (ISO, "" or "unreadable"), source, media_type (image or video);
* ``copies`` — one row per market copy in Cloudinary: image_id, market, media_type, stored_bytes
  and, where the API gives them, requests, bandwidth, seconds of video delivered and
  per-transformation figures;
* ``renditions`` — one row per stored rendition in the market state (the manifest);
* ``usage`` — the account's usage report (environment-wide: Cloudinary has no per-asset API).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from campaign_media import __version__
from campaign_media.domain.masters import LICENCE_UNREADABLE, parse_ps_time

NEAR_EXPIRY_DAYS = 30
ASSET_COLUMNS = ["image_id", "market", "media_type", "file_name", "owner", "approval", "usage_rights",
                 "licence_expiry", "days_to_expiry", "renditions", "stored_bytes", "requests", "bandwidth_bytes",
                 "seconds_delivered", "transformations", "requests_without_f_auto", "requests_without_q_auto",
                 "per_asset_figures", "figures_from"]


@dataclass
class Report:
    """The tables of one campaign's report."""

    assets: pd.DataFrame
    by_market: pd.DataFrame
    by_media: pd.DataFrame
    by_owner: pd.DataFrame
    top_assets: pd.DataFrame
    near_expiry: pd.DataFrame
    optimisation: pd.DataFrame
    totals: dict[str, Any]


def days_to(expiry: str, now: datetime) -> float | None:
    if not expiry or expiry == LICENCE_UNREADABLE:
        return None
    try:
        moment = parse_ps_time(expiry)
    except ValueError:
        return None
    return round((moment - now).total_seconds() / 86400, 1) if moment else None


def transformation_figures(by_transformation: dict[str, dict[str, int]] | None) -> dict[str, int]:
    """Requests through chains without ``f_auto`` / ``q_auto`` (the original counts as neither)."""
    out = {"transformations": 0, "requests_without_f_auto": 0, "requests_without_q_auto": 0}
    for chain, figures in (by_transformation or {}).items():
        params = set(chain.replace("/", ",").split(",")) if chain != "original" else set()
        out["transformations"] += chain != "original"
        if "f_auto" not in params:
            out["requests_without_f_auto"] += figures.get("requests", 0)
        if "q_auto" not in params and not any(p.startswith("q_auto") for p in params):
            out["requests_without_q_auto"] += figures.get("requests", 0)
    return out


def build(masters: list[dict[str, Any]], copies: list[dict[str, Any]], renditions: list[dict[str, Any]],
          usage: dict[str, Any], now: datetime, top: int = 10, source: dict[str, Any] | None = None) -> Report:
    """Join the three sources; every figure is traceable to one of them.

    :param source: where the per-asset figures came from (``per_asset``: "CDN access logs (…)",
        "Cloudinary Admin API listings" or "none"; with logs, their ``location`` and line counts)
    """
    master_df = pd.DataFrame(masters, columns=["image_id", "file_name", "owner", "approval", "usage_rights",
                                               "licence_expiry", "source"])
    rows = []
    for copy in copies:
        figures = transformation_figures(copy.get("by_transformation"))
        rows.append({"image_id": copy["image_id"], "market": copy["market"],
                     "media_type": copy.get("media_type") or "image", "stored_bytes": copy.get("stored_bytes", 0),
                     "requests": copy.get("requests"), "bandwidth_bytes": copy.get("bandwidth_bytes"),
                     "seconds_delivered": copy.get("seconds_delivered"),
                     "per_asset_figures": copy.get("requests") is not None,
                     "figures_from": copy.get("figures_from") or ("none" if copy.get("requests") is None
                                                                  else "Cloudinary API"), **figures})
    copy_df = pd.DataFrame(rows, columns=["image_id", "market", "media_type", "stored_bytes", "requests",
                                          "bandwidth_bytes", "seconds_delivered", "per_asset_figures",
                                          "figures_from", "transformations", "requests_without_f_auto",
                                          "requests_without_q_auto"])
    rend_df = pd.DataFrame(renditions, columns=["image_id", "market", "rendition", "bytes"])
    counts = rend_df.groupby(["image_id", "market"]).size().rename("renditions").reset_index()
    assets = copy_df.merge(master_df, on="image_id", how="left").merge(counts, on=["image_id", "market"], how="left")
    assets["renditions"] = assets["renditions"].fillna(0).astype(int)
    assets["days_to_expiry"] = [days_to(e, now) for e in assets["licence_expiry"].fillna("")]
    for column in ("requests", "bandwidth_bytes"):
        assets[column] = pd.to_numeric(assets[column]).fillna(0).astype(int)
    assets["seconds_delivered"] = pd.to_numeric(assets["seconds_delivered"]).fillna(0.0).round(1)
    assets = assets[ASSET_COLUMNS].sort_values(["market", "image_id"]).reset_index(drop=True)

    sums = {"assets": ("image_id", "nunique"), "renditions": ("renditions", "sum"), "requests": ("requests", "sum"),
            "bandwidth_bytes": ("bandwidth_bytes", "sum"), "transformations": ("transformations", "sum")}
    by_market = assets.groupby("market").agg(**sums).reset_index().sort_values("bandwidth_bytes", ascending=False)
    by_media = assets.groupby("media_type").agg(**sums, seconds_delivered=("seconds_delivered", "sum")) \
        .reset_index()
    by_owner = assets.assign(owner=assets["owner"].fillna("(unknown)")).groupby("owner").agg(**sums) \
        .reset_index().sort_values("bandwidth_bytes", ascending=False)
    per_master = assets.groupby(["image_id", "file_name", "owner"], dropna=False).agg(
        requests=("requests", "sum"), bandwidth_bytes=("bandwidth_bytes", "sum"),
        markets=("market", lambda m: ", ".join(sorted(m)))).reset_index()
    top_assets = per_master.sort_values(["requests", "bandwidth_bytes"], ascending=False).head(top)
    near = master_df.assign(days_to_expiry=[days_to(e, now) for e in master_df["licence_expiry"].fillna("")])
    near_expiry = near[(near["approval"].str.lower() == "approved") & (
        (near["days_to_expiry"].fillna(1e9) <= NEAR_EXPIRY_DAYS) | (near["licence_expiry"] == LICENCE_UNREADABLE))]
    near_expiry = near_expiry.sort_values("days_to_expiry", na_position="first")[
        ["image_id", "file_name", "owner", "usage_rights", "licence_expiry", "days_to_expiry"]]
    optimisation = assets[(assets["requests_without_f_auto"] > 0) | (assets["requests_without_q_auto"] > 0)][
        ["image_id", "market", "file_name", "requests", "requests_without_f_auto", "requests_without_q_auto"]] \
        .sort_values("requests_without_f_auto", ascending=False)
    totals = {
        "generated_at": now.isoformat(), "generator": f"campaign-media-pipelines {__version__}",
        "masters_in_photoshelter": len(master_df),
        "approved_masters": int((master_df["approval"].str.lower() == "approved").sum()),
        "market_copies": len(assets), "renditions": int(assets["renditions"].sum()),
        "requests": int(assets["requests"].sum()), "bandwidth_bytes": int(assets["bandwidth_bytes"].sum()),
        # Per-asset figures exist where any copy carries them; copies without one are counted, so
        # the report can say which rows read 0 for want of a figure (not for want of traffic).
        "per_asset_figures": bool(assets["per_asset_figures"].any()) if len(assets) else False,
        "copies_without_figures": int((~assets["per_asset_figures"].astype(bool)).sum()) if len(assets) else 0,
        "by_media": {row["media_type"]: {"assets": int(row["assets"]), "market_copies": int(
            (assets["media_type"] == row["media_type"]).sum()), "requests": int(row["requests"]),
            "bandwidth_bytes": int(row["bandwidth_bytes"]), "seconds_delivered": float(row["seconds_delivered"])}
            for _, row in by_media.iterrows()},
        "requests_without_f_auto": int(assets["requests_without_f_auto"].sum()),
        "requests_without_q_auto": int(assets["requests_without_q_auto"].sum()),
        "account_bandwidth_bytes": _usage(usage, "bandwidth"),
        "account_transformations": _usage(usage, "transformations"),
        "account_storage_bytes": _usage(usage, "storage"), "account_requests": usage.get("requests"),
        "usage_date": usage.get("date_requested") or usage.get("last_updated"),
        "figure_sources": {"per_asset": (source or {}).get("per_asset", "none"),
                           "account": "Cloudinary usage report",
                           "governance": "PhotoShelter", "renditions": "market delivery manifests",
                           **({"location": source["location"]} if source and "location" in source else {})},
        **({"access_logs": source["access_logs"]} if source and "access_logs" in source else {}),
    }
    return Report(assets, by_market, by_media, by_owner, top_assets, near_expiry, optimisation, totals)


def _usage(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value.get("usage") if isinstance(value, dict) else value
