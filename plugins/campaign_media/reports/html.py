"""The metrics report as one self-contained HTML page: tables and inline SVG bar charts (pure)."""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from campaign_media.reports.frame import NEAR_EXPIRY_DAYS, Report

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2530}
h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:2px solid #e3e7ee;padding-bottom:.3rem}
.muted{color:#66707f} .cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{background:#f4f6fa;border-radius:8px;padding:.7rem 1rem;min-width:150px}
.card b{display:block;font-size:1.4rem} table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border-bottom:1px solid #e3e7ee;padding:.35rem .5rem;text-align:left} th{background:#f4f6fa}
td.num,th.num{text-align:right} .note{background:#fff8e6;border-left:4px solid #f0b429;padding:.5rem .8rem}
svg text{font-size:12px;fill:#1d2530}
.thumbs{display:flex;flex-wrap:wrap;gap:.6rem;margin:.8rem 0} .thumb{margin:0;width:96px;font-size:.75rem}
.thumb img{display:block;border-radius:4px;background:#f4f6fa} .thumb figcaption{overflow:hidden;text-overflow:ellipsis}
"""


def human_bytes(value: float | int | None) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def bar_chart(title: str, labels: list[str], values: list[float], fmt=lambda v: f"{v:,.0f}",
              color: str = "#3d7be0") -> str:
    """A horizontal bar chart as inline SVG (no chart library needed, prints and archives well)."""
    if not values or max(values) <= 0:
        return f"<p class='muted'>{escape(title)}: no data yet.</p>"
    width, label_w, row_h = 760, 260, 24
    scale = (width - label_w - 110) / max(values)
    rows = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * row_h
        shown = label if len(label) <= 38 else label[:36] + "…"
        rows.append(f"<text x='{label_w - 8}' y='{y + 16}' text-anchor='end'>{escape(shown)}</text>"
                    f"<rect x='{label_w}' y='{y + 4}' width='{max(1.0, value * scale):.1f}' height='{row_h - 8}' "
                    f"fill='{color}' rx='3'><title>{escape(label)}: {escape(fmt(value))}</title></rect>"
                    f"<text x='{label_w + value * scale + 6:.1f}' y='{y + 16}'>{escape(fmt(value))}</text>")
    height = row_h * len(values) + 4
    return (f"<figure><figcaption><b>{escape(title)}</b></figcaption>"
            f"<svg role='img' aria-label='{escape(title)}' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}'>{''.join(rows)}</svg></figure>")


def table(frame: pd.DataFrame, byte_columns: tuple[str, ...] = ("bandwidth_bytes", "stored_bytes")) -> str:
    if frame.empty:
        return "<p class='muted'>None.</p>"
    shown = frame.copy()
    for column in byte_columns:
        if column in shown:
            shown[column] = shown[column].map(human_bytes)
    head = "".join(f"<th>{escape(str(c).replace('_', ' '))}</th>" for c in shown.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = "" if value is None or (numeric and pd.isna(value)) else str(value)
            cells.append(f"<td class='{'num' if numeric else ''}'>{escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def card(label: str, value: Any) -> str:
    return f"<div class='card'><span class='muted'>{escape(label)}</span><b>{escape(str(value))}</b></div>"


def thumbnail_strip(report: Report, thumbnails: dict[str, str]) -> str:
    """The most-used masters as pictures (``data:`` URIs, so the page stays one file), in the
    table's order; a master without one is shown by its name only."""
    figures = []
    for row in report.top_assets.itertuples():
        name = escape(str(row.file_name or row.image_id))
        picture = thumbnails.get(row.image_id, "")
        image = (f"<img src='{escape(picture)}' width='96' height='96' alt='{name}'>"
                 if picture.startswith("data:image/") else "<span class='muted'>no picture</span>")
        figures.append(f"<figure class='thumb'>{image}<figcaption>{name}</figcaption></figure>")
    return f"<div class='thumbs'>{''.join(figures)}</div>" if figures else ""


def source_note(totals: dict[str, Any]) -> str:
    """Where the per-asset figures came from, in the words a reader needs to trust them."""
    sources = totals.get("figure_sources") or {}
    logs = totals.get("access_logs")
    if logs is not None:
        apart = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in logs.items()
                          if k not in ("lines", "counted") and n)
        return (f"<p class='note'>Per-asset requests and bandwidth come from {escape(sources.get('per_asset', ''))} at "
                f"<code>{escape(sources.get('location', ''))}</code>: {logs['lines']:,} lines read, "
                f"{logs['counted']:,} counted for this campaign's market copies"
                + (f"; not counted: {escape(apart)}" if apart else "") + ". A copy the logs never name reads 0. "
                "Account figures come from Cloudinary's usage report.</p>")
    missing = totals.get("copies_without_figures", 0)
    if not totals["per_asset_figures"]:
        return ("<p class='note'>Per-asset requests and bandwidth are not available from this account's API "
                "(Cloudinary shows them only in the Console's reports), and no CDN access logs are configured "
                "([campaign_media] access_logs); per-asset columns read 0 and the account-wide usage report is "
                "the only delivery figure.</p>")
    return (f"<p class='note'>Per-asset figures come from {escape(sources.get('per_asset', 'Cloudinary'))}; "
            f"{missing} of {totals['market_copies']} market copies carry no per-asset figure (never delivered, or "
            "not reported); their columns read 0.</p>" if missing else "")


def render(campaign_name: str, campaign_id: str, report: Report, files: dict[str, str],
           thumbnails: dict[str, str] | None = None) -> str:
    t = report.totals
    labels = [f"{r.file_name or r.image_id} ({r.markets})" for r in report.top_assets.itertuples()]
    caveat = source_note(t)
    sections = [
        f"<h1>Delivery report — {escape(campaign_name)}</h1>",
        f"<p class='muted'>Campaign <code>{escape(campaign_id)}</code> · generated {escape(t['generated_at'])} · "
        f"account usage as of {escape(str(t['usage_date']))} · {escape(t.get('generator', ''))}</p>",
        "<h2>Summary</h2><div class='cards'>",
        card("Approved masters", f"{t['approved_masters']} of {t['masters_in_photoshelter']}"),
        card("Market copies", t["market_copies"]), card("Stored renditions", t["renditions"]),
        card("Requests (campaign)", f"{t['requests']:,}"),
        card("Bandwidth (campaign)", human_bytes(t["bandwidth_bytes"])),
        card("Account bandwidth", human_bytes(t["account_bandwidth_bytes"])),
        card("Account transformations", t["account_transformations"]),
        card("Account storage", human_bytes(t["account_storage_bytes"])), "</div>", caveat,
        "<h2>Most-used assets</h2>", thumbnail_strip(report, thumbnails or {}),
        bar_chart("Requests per master (all markets)", labels, [float(v) for v in report.top_assets["requests"]]),
        table(report.top_assets),
        "<h2>By market</h2>",
        bar_chart("Bandwidth by market", list(report.by_market["market"]),
                  [float(v) for v in report.by_market["bandwidth_bytes"]], human_bytes),
        bar_chart("Transformations delivered by market", list(report.by_market["market"]),
                  [float(v) for v in report.by_market["transformations"]], color="#2f9e6e"),
        table(report.by_market),
        "<h2>Images and videos</h2>",
        table(report.by_media),
        "<h2>By owner</h2>",
        bar_chart("Bandwidth by owner", list(report.by_owner["owner"]),
                  [float(v) for v in report.by_owner["bandwidth_bytes"]], human_bytes, color="#8a5cd6"),
        table(report.by_owner),
        f"<h2>Licences expiring within {NEAR_EXPIRY_DAYS} days (or unreadable)</h2>",
        "<p class='muted'>Negative days: already expired; those assets are closed by the usage-window DAG.</p>",
        table(report.near_expiry),
        "<h2>Optimisation opportunities</h2>",
        f"<p>{t['requests_without_f_auto']:,} requests were served without <code>f_auto</code> and "
        f"{t['requests_without_q_auto']:,} without <code>q_auto</code> (stored renditions in a fixed format, or "
        "originals). Use the manifest's channel URLs (<code>f_auto,q_auto</code>) where the format need not be "
        "fixed.</p>",
        table(report.optimisation.head(15)),
        f"<p class='muted'>Top 15 of {len(report.optimisation)} market copies; all rows are in the CSV and "
        "Parquet tables.</p>" if len(report.optimisation) > 15 else "",
        "<h2>Data</h2><ul>" + "".join(f"<li>{escape(k)}: <code>{escape(v)}</code></li>" for k, v in files.items())
        + "</ul><p class='muted'>Sources: PhotoShelter (owner, approval, usage rights, licence), the market "
        f"delivery manifests (renditions), {escape((t.get('figure_sources') or {}).get('per_asset', 'none'))} "
        "(per-asset figures; column <code>figures_from</code> per row) and Cloudinary's usage report "
        "(account-wide).</p>",
    ]
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Delivery report — "
            f"{escape(campaign_name)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")
