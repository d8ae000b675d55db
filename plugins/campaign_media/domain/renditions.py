"""Rendition specs → Cloudinary transformations, names and delivery manifests (pure, no I/O)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from campaign_media.config.models import Campaign, Market, Rendition, VideoRendition
from campaign_media.domain.embedded import EmbeddedFields

# How each channel is served on the fly (no stored rendition needed): widths per device.
CHANNEL_DEVICES: dict[str, dict[str, dict[str, Any]]] = {
    "web": {"desktop": {"width": 1600}, "tablet": {"width": 1024}, "mobile": {"width": 640}},
    "mobile": {"app": {"width": 750, "dpr": 2.0}, "app_hd": {"width": 750, "dpr": 3.0}},
    "ecommerce": {"zoom": {"width": 2000, "aspect_ratio": "1:1", "crop": "pad", "background": "white"},
                  "listing": {"width": 600, "aspect_ratio": "1:1", "crop": "pad", "background": "white"}},
    "social": {"feed": {"width": 1080, "aspect_ratio": "1:1"}, "story": {"width": 1080, "aspect_ratio": "9:16"}},
}


def headline_for(campaign: Campaign, market: Market) -> str | None:
    """The first of the market's locales that has campaign copy (``None`` if nothing draws it)."""
    if not market.draws_headline:
        return None
    return next((h for h in (campaign.headline(loc) for loc in market.locales) if h), None)


def transformation(rendition: Rendition, market: Market, headline: str | None) -> list[dict[str, Any]]:
    """The chained transformation of one stored rendition (the SDK's dict form)."""
    size: dict[str, Any] = {"crop": rendition.crop}
    for key in ("width", "height", "aspect_ratio"):
        if getattr(rendition, key):
            size[key] = getattr(rendition, key)
    if rendition.crop in ("fill", "thumb", "crop", "pad") and rendition.gravity:
        size["gravity"] = "center" if rendition.crop == "pad" and rendition.gravity == "auto" else rendition.gravity
    if rendition.crop == "pad":
        size["background"] = "white"
    if rendition.dpr != 1.0:
        size["dpr"] = rendition.dpr
    chain: list[dict[str, Any]] = []
    if rendition.effect:
        chain.append({"effect": rendition.effect})
    chain.append(size)
    if rendition.overlay and headline and market.overlay != "none":
        style = market.overlay
        chain.append({"overlay": {"font_family": style.font_family, "font_size": style.font_size,
                                  "font_weight": style.font_weight, "text": headline},
                      "color": style.color, "gravity": style.gravity, "y": style.y})
    chain.append({"quality": rendition.quality})
    return chain


def eager_spec(rendition: Rendition, market: Market, headline: str | None) -> dict[str, Any]:
    """The eager form: one chained transformation plus its output format."""
    fmt = "jpg" if rendition.format == "auto" else rendition.format
    return {"transformation": transformation(rendition, market, headline), "format": fmt}


LAYOUT = "market-copies-v3"  # part of the spec hash: state written by an older layout is redone


def market_specs(campaign: Campaign, market: Market) -> tuple[list[dict[str, Any]], str]:
    """The market's eager specs for this campaign and a hash that changes when they do."""
    headline = headline_for(campaign, market)
    eager = [eager_spec(r, market, headline) for r in market.renditions]
    text = json.dumps([LAYOUT, eager], sort_keys=True, ensure_ascii=False)
    return eager, hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class VideoOutput:
    """One derived file a video master's market copy gets: the video itself, its poster frame
    (an image) or its adaptive stream. Videos and posters are written back; streams are not
    (a playlist is no reference asset)."""

    name: str  # "film", "film-poster", "film-hls"
    kind: str  # "video", "poster" or "stream"
    spec: dict[str, Any]  # the eager form: {"transformation": [...], "format": ...}

    @property
    def written_back(self) -> bool:
        return self.kind != "stream"


def video_size(rendition: VideoRendition) -> dict[str, Any]:
    size: dict[str, Any] = {"crop": rendition.crop}
    for key in ("width", "height", "aspect_ratio"):
        if getattr(rendition, key):
            size[key] = getattr(rendition, key)
    if rendition.crop == "fill" and rendition.gravity:
        size["gravity"] = rendition.gravity
    if rendition.crop == "pad":
        size.update(gravity="center" if rendition.gravity == "auto" else rendition.gravity, background="black")
    return size


def _seconds(value: float) -> float | int:
    """An offset as Cloudinary reads it: ``so_2``, not ``so_2.0``."""
    return int(value) if float(value).is_integer() else value


def video_outputs(rendition: VideoRendition, market: Market, headline: str | None) -> list[VideoOutput]:
    """A video rendition's eager items: the video (sized, headline over its time span, quality),
    its poster frame at the offset, and its HLS stream when asked."""
    size = video_size(rendition)
    chain: list[dict[str, Any]] = [size]
    if headline and rendition.headline and market.overlay != "none":
        style, timing = market.overlay, rendition.headline
        chain.append({"overlay": {"font_family": style.font_family, "font_size": style.font_size,
                                  "font_weight": style.font_weight, "text": headline},
                      "color": style.color, "gravity": style.gravity, "y": style.y,
                      "start_offset": _seconds(timing.start),
                      **({"end_offset": _seconds(timing.end)} if timing.end else {})})
    chain.append({"quality": rendition.quality})
    out = [VideoOutput(rendition.name, "video",
                       {"transformation": chain, "format": "mp4" if rendition.format == "auto" else rendition.format})]
    if rendition.poster:
        out.append(VideoOutput(f"{rendition.name}-poster", "poster", {
            "transformation": [{"start_offset": _seconds(rendition.poster.offset)}, size],
            "format": rendition.poster.format}))
    if rendition.streaming == "hls":
        out.append(VideoOutput(f"{rendition.name}-hls", "stream", {
            "transformation": [size, {"streaming_profile": "auto"}], "format": "m3u8"}))
    return out


def market_video_specs(campaign: Campaign, market: Market) -> tuple[list[VideoOutput], str]:
    """The market's video outputs for this campaign and a hash that changes when they do."""
    headline = next((h for h in (campaign.headline(loc) for loc in market.locales) if h), None)
    outputs = [o for r in market.video_renditions for o in video_outputs(r, market, headline)]
    text = json.dumps([LAYOUT, "video", [(o.name, o.spec) for o in outputs]], sort_keys=True, ensure_ascii=False)
    return outputs, hashlib.sha1(text.encode()).hexdigest()[:12]


def derivative_key(transformation: str, fmt: str) -> str:
    """A derived file's identity whatever form its transformation is written in: the eager text
    (percent-encoded, format last) or the Admin API's (decoded, format apart)."""
    parts = [unquote(p) for p in transformation.split("/") if p]
    if parts and "_" not in parts[-1]:
        fmt = parts.pop()
    return "/".join(",".join(sorted(p.split(","))) for p in parts) + f".{fmt}"


def missing_derivatives(expected: list[str], derived: list[dict[str, Any]]) -> list[str]:
    """Which expected derivative keys a resource's ``derived`` list does not hold yet."""
    have = {derivative_key(d.get("transformation", ""), d.get("format", "")) for d in derived}
    return [key for key in expected if key not in have]


def rendition_key(campaign: str, market: str, image_id: str, rendition: str) -> str:
    """The write-back key: one PhotoShelter reference asset per (master, market, rendition)."""
    return f"{campaign}__{market}__{image_id}__{rendition}"


def writeback_file_name(campaign: str, market: str, image_id: str, rendition: str, version: str, fmt: str) -> str:
    """File name of a written-back rendition; it encodes the master's file version so a new
    original gets a new reference asset rather than silently replacing what legal reviewed."""
    token = "".join(ch for ch in version if ch.isalnum())[:16] or "0"
    return f"{rendition_key(campaign, market, image_id, rendition)}__v{token}.{fmt}"


def writebacks_by_master(names: dict[str, str], campaign: str, market: str, image_ids: Iterable[str],
                         renditions: Iterable[str]) -> dict[str, dict[str, str]]:
    """A write-back gallery's ``file name -> image_id`` grouped by the master (image ID) each file
    is a rendition of, for these masters and renditions. Names are matched by their key (all
    before the last ``__v``: the version token is alphanumeric), never split on ``__``, which
    PhotoShelter IDs may contain."""
    by_key: dict[str, dict[str, str]] = {}
    for name, ps_id in names.items():
        by_key.setdefault(name.rsplit("__v", 1)[0], {})[name] = ps_id
    grouped: dict[str, dict[str, str]] = {}
    wanted = list(renditions)
    for image_id in image_ids:
        found = {n: i for r in wanted for n, i in by_key.get(rendition_key(campaign, market, image_id, r), {}).items()}
        if found:
            grouped[image_id] = found
    return grouped


def link_fields(campaign: Campaign, market: str, image_id: str, version: str, rendition: str,
                transformation: str, url: str, file_name: str, *, kind: str = "Published rendition",
                extra: dict[str, str] | None = None) -> EmbeddedFields:
    """What a written-back or archived rendition says about itself, inside the file (IPTC Core):
    which master and version, campaign, market, rendition, transformation and Cloudinary URL.
    The keywords make it searchable in PhotoShelter (``master:<id>``)."""
    facts = "; ".join(f"{k}: {v}" for k, v in (extra or {}).items())
    return EmbeddedFields(
        title=file_name.rsplit(".", 1)[0],
        description=(f"{kind} '{rendition}' of PhotoShelter master {image_id} (file version {version}) for campaign "
                     f"{campaign.id}, market {market}. Transformation: {transformation}. Cloudinary: {url}"
                     + (f". {facts}" if facts else "")),
        keywords=[f"campaign:{campaign.id}", f"market:{market}", f"master:{image_id}", f"master-version:{version}",
                  f"rendition:{rendition}", kind.lower().replace(" ", "-")],
        headline=f"{campaign.name} — {market} — {rendition}", job_id=image_id, instructions=transformation,
        source="Cloudinary")


def on_the_fly(channel: str, device: dict[str, Any]) -> dict[str, Any]:
    spec = {"crop": device.get("crop", "fill"), "fetch_format": "auto", "quality": "auto", **device}
    if spec["crop"] in ("fill", "thumb"):
        spec.setdefault("gravity", "auto")
    if spec["crop"] == "pad":
        spec.setdefault("gravity", "center")
    return spec


def delivery_entry(url_for, public_id: str, market: Market, stored: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A delivery-manifest entry for one master: stored renditions, per-channel and per-device
    on-the-fly URLs (``f_auto``, ``q_auto``, ``dpr``), and a responsive ``srcset``.

    ``url_for(public_id, transformation)`` builds a URL (the hook's ``delivery_url``).
    """
    channels = {channel: {device: url_for(public_id, on_the_fly(channel, spec))
                          for device, spec in CHANNEL_DEVICES[channel].items()}
                for channel in market.channels}
    responsive = {"crop": "scale", "fetch_format": "auto", "quality": "auto"}
    srcset = ", ".join(f"{url_for(public_id, {**responsive, 'width': w})} {w}w" for w in market.breakpoints)
    return {"public_id": public_id, "renditions": stored, "channels": channels, "srcset": srcset}


def specs_by_name(campaign: Campaign, market: Market) -> dict[str, dict[str, dict[str, Any]]]:
    """``resource type -> rendition name -> eager spec`` of a market's renditions: what a
    stored rendition's URL is made from (token URLs, a renamed copy, the archive)."""
    eager, _ = market_specs(campaign, market)
    return {"image": {r.name: spec for r, spec in zip(market.renditions, eager, strict=True)},
            "video": {o.name: o.spec for o in market_video_specs(campaign, market)[0]}}
