"""The transformation subset this project uses, parsed from URLs and applied with Pillow.

Supported (Cloudinary's transformation reference): ``w_ h_`` (pixels or fractions), ``c_``
fill/fit/limit/scale/pad/thumb/crop, ``g_`` auto/center/compass points, ``ar_``, ``dpr_``,
``f_`` auto/webp/jpg/png, ``q_`` auto/N, ``b_`` (pad colour), ``co_``, ``x_ y_``,
``l_text:<font>_<size>[_bold]:<text>`` overlays and ``e_background_removal``.

Honest simplifications: ``g_auto`` crops around the centre (no saliency model);
``e_background_removal`` keys out a uniform background sampled from the corners; text is
drawn with the first installed font that has the script's glyphs (Noto CJK, then DejaVu,
then Pillow's built-in font — see README).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from PIL import Image, ImageChops, ImageColor, ImageDraw, ImageFont, ImageOps

KNOWN_KEYS = frozenset({"w", "h", "c", "g", "ar", "f", "q", "dpr", "l", "e", "b", "co", "x", "y",
                        "r", "a", "o", "fl", "z", "t", "so", "eo", "du", "sp", "vc", "ac", "br", "fps"})
COMPONENT_RE = re.compile(r"^(?:[a-z]{1,3}_[^,]*)(?:,[a-z]{1,3}_[^,]*)*$")
FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
FONT_CANDIDATES = {
    "cjk": ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
            "/usr/share/fonts/truetype/unifont/unifont.ttf"],
    "default": ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"],
    "bold": ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
}


class TransformationError(ValueError):
    """An invalid or unsupported transformation (answered as 400 ``Invalid Transformation``)."""


@dataclass
class Component:
    """One ``/``-separated transformation component, e.g. ``c_fill,g_auto,w_400``."""

    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return ",".join(f"{k}_{v}" for k, v in sorted(self.params.items()))


def is_component(segment: str) -> bool:
    """Whether a URL path segment is a transformation (rather than a version or public ID)."""
    if not COMPONENT_RE.match(segment):
        return False
    return all(part.split("_", 1)[0] in KNOWN_KEYS for part in segment.split(","))


def parse_component(segment: str) -> Component:
    """Parse one raw (still percent-encoded) component."""
    params: dict[str, str] = {}
    for part in segment.split(","):
        key, _, value = part.partition("_")
        if key not in KNOWN_KEYS:
            raise TransformationError(f"Invalid transformation component - {part}")
        params[key] = unquote(value)
    return Component(params)


def parse_chain(text: str) -> tuple[list[Component], str | None]:
    """Parse an eager-style chain ``c_fill,w_100/e_x/webp``; returns components and format."""
    parts = [p for p in text.split("/") if p]
    fmt = None
    if parts and "_" not in parts[-1]:
        fmt = parts.pop()
    return [parse_component(p) for p in parts], fmt


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise TransformationError(f"Invalid numeric value - {value}") from exc


def _ratio(value: str) -> float:
    if ":" in value:
        a, b = value.split(":", 1)
        return _number(a) / _number(b)
    return float(Fraction(value))


def _color(value: str | None, default: str) -> tuple[int, ...]:
    value = (value or default).replace("rgb:", "#")
    if value == "auto":
        value = default
    try:
        return ImageColor.getrgb(value)
    except ValueError as exc:
        raise TransformationError(f"Invalid color - {value}") from exc


def _anchor(gravity: str, outer: tuple[int, int], inner: tuple[int, int]) -> tuple[int, int]:
    """Top-left offset of ``inner`` inside ``outer`` for a compass gravity."""
    (ow, oh), (iw, ih) = outer, inner
    x = {"west": 0, "east": ow - iw}.get(next((p for p in gravity.split("_") if p in ("west", "east")), ""),
                                         (ow - iw) // 2)
    y = {"north": 0, "south": oh - ih}.get(next((p for p in gravity.split("_") if p in ("north", "south")), ""),
                                           (oh - ih) // 2)
    return x, y


def _target_size(p: dict[str, str], size: tuple[int, int]) -> tuple[int | None, int | None]:
    """Requested width and height after fractions, ``ar_`` and ``dpr_``."""
    w0, h0 = size
    w = _number(p["w"]) if "w" in p and p["w"] != "auto" else None
    h = _number(p["h"]) if "h" in p else None
    w = w * w0 if w is not None and w <= 1.0 and "." in p.get("w", "") else w
    h = h * h0 if h is not None and h <= 1.0 and "." in p.get("h", "") else h
    if "ar" in p:
        ratio = _ratio(p["ar"])
        if w is not None and h is None:
            h = w / ratio
        elif h is not None and w is None:
            w = h * ratio
        elif w is None and h is None:  # the largest area of that ratio
            w, h = (h0 * ratio, h0) if w0 / h0 > ratio else (w0, w0 / ratio)
    dpr = p.get("dpr", "1")
    scale = 1.0 if dpr == "auto" else _number(dpr)
    return (round(w * scale) if w else None, round(h * scale) if h else None)


def geometry(p: dict[str, str], size: tuple[int, int]) -> list[tuple]:
    """What one component's size parameters do to a frame of ``size``, as steps shared by images
    (Pillow) and videos (ffmpeg): ``("scale", w, h)``, ``("crop", x, y, w, h)`` and
    ``("pad", w, h, x, y, colour)``."""
    w, h = _target_size(p, size)
    if w is None and h is None:
        return []
    crop = p.get("c", "scale")
    gravity = p.get("g", "center")
    iw, ih = size
    if crop in ("fill", "thumb", "lfill", "crop") and w and h:
        if crop == "crop":
            cw, ch = min(w, iw), min(h, ih)
            return [("crop", *_anchor(gravity, size, (cw, ch)), cw, ch)]
        scale = max(w / iw, h / ih)
        scaled = (max(1, round(iw * scale)), max(1, round(ih * scale)))
        anchor = _anchor("center" if gravity == "auto" else gravity, scaled, (w, h))
        return [("scale", *scaled), ("crop", *anchor, w, h)]
    if w is None:
        w = max(1, round(iw * h / ih))  # type: ignore[operator]
    if h is None:
        h = max(1, round(ih * w / iw))
    if crop == "scale":
        return [("scale", w, h)]
    if crop in ("fit", "limit", "pad", "fill", "thumb", "lfill"):
        scale = min(w / iw, h / ih)
        if crop == "limit":
            scale = min(scale, 1.0)
        fitted = (max(1, round(iw * scale)), max(1, round(ih * scale)))
        if crop != "pad":
            return [("scale", *fitted)]
        return [("scale", *fitted), ("pad", w, h, *_anchor(gravity, (w, h), fitted), p.get("b"))]
    raise TransformationError(f"Invalid crop mode - c_{crop}")


def _resize(im: Image.Image, p: dict[str, str]) -> Image.Image:
    for step in geometry(p, im.size):
        if step[0] == "scale":
            im = im.resize(step[1:3], Image.LANCZOS)
        elif step[0] == "crop":
            _, x, y, w, h = step
            im = im.crop((x, y, x + w, y + h))
        else:
            _, w, h, x, y, colour = step
            canvas = Image.new(im.mode, (w, h), _color(colour, "white") if im.mode == "RGB"
                               else (*_color(colour, "white")[:3], 255))
            canvas.paste(im, (x, y))
            im = canvas
    return im


@lru_cache(maxsize=64)
def font_for(text: str, size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The first installed font likely to carry ``text``'s script (see module docstring)."""
    cjk = any("\u3040" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" for ch in text)
    order = (FONT_CANDIDATES["cjk"] if cjk else []) + (FONT_CANDIDATES["bold"] if bold else []) \
        + FONT_CANDIDATES["default"]
    for candidate in order:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def text_layer(p: dict[str, str]) -> tuple[str, int, bool]:
    """A ``l_text:<font>_<size>[_bold]:<text>`` layer's text, font size and boldness."""
    spec = p["l"]
    if not spec.startswith("text:"):
        raise TransformationError(f"Unsupported overlay - l_{spec}")
    try:
        _, style, text = spec.split(":", 2)
    except ValueError as exc:
        raise TransformationError("Text overlay needs l_text:<font>_<size>:<text>") from exc
    style_parts = style.split("_")
    return unquote(text), next((int(s) for s in style_parts[1:] if s.isdigit()), 32), "bold" in style_parts


def _overlay_text(im: Image.Image, p: dict[str, str]) -> Image.Image:
    text, size, bold = text_layer(p)
    size = round(size * (_number(p["dpr"]) if "dpr" in p and p["dpr"] != "auto" else 1))
    font = font_for(text, size, bold)
    out = im.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    box = (right - left, bottom - top)
    x, y = _anchor(p.get("g", "center"), out.size, box)
    gx = p.get("g", "")
    x += int(_number(p.get("x", "0"))) * (-1 if "east" in gx else 1)
    y += int(_number(p.get("y", "0"))) * (-1 if "south" in gx else 1)
    draw.text((x - left, y - top), text, font=font, fill=(*_color(p.get("co"), "black")[:3], 255))
    return Image.alpha_composite(out, layer)


def _remove_background(im: Image.Image, tolerance: int = 40) -> Image.Image:
    """Key out a uniform background sampled at the four corners (documented simplification)."""
    rgba = im.convert("RGBA")
    w, h = rgba.size
    corners = [rgba.getpixel((0, 0)), rgba.getpixel((w - 1, 0)), rgba.getpixel((0, h - 1)),
               rgba.getpixel((w - 1, h - 1))]
    bg = tuple(sorted(c[i] for c in corners)[1] for i in range(3))
    distance = ImageChops.difference(rgba.convert("RGB"), Image.new("RGB", rgba.size, bg)).convert("L")
    rgba.putalpha(distance.point(lambda v: 0 if v <= tolerance else 255))
    return rgba


def apply(im: Image.Image, components: list[Component]) -> tuple[Image.Image, dict[str, str]]:
    """Apply a chain; returns the image and the delivery options (``f``, ``q``) it asked for."""
    im = ImageOps.exif_transpose(im)
    delivery: dict[str, str] = {}
    for comp in components:
        p = comp.params
        for key in ("f", "q"):
            if key in p:
                delivery[key] = p[key]
        if p.get("e") == "background_removal":
            im = _remove_background(im)
        im = _overlay_text(im, p) if "l" in p else _resize(im, p)
    return im, delivery


def encode(im: Image.Image, fmt: str, delivery: dict[str, str], accept: str = "") -> tuple[bytes, str]:
    """Encode for delivery; returns the bytes and the format name actually used (``jpg``...)."""
    asked = delivery.get("f", fmt).lower()
    if asked == "auto":
        asked = "webp" if "image/webp" in accept else ("png" if im.mode == "RGBA" else "jpg")
    if asked not in FORMATS:
        raise TransformationError(f"Unsupported format - {asked}")
    quality_text = delivery.get("q", "auto")
    quality = 80 if quality_text.startswith("auto") else int(_number(quality_text))
    if FORMATS[asked] == "JPEG" and im.mode != "RGB":
        if im.mode == "RGBA":
            flat = Image.new("RGB", im.size, (255, 255, 255))
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        else:
            im = im.convert("RGB")
    buf = io.BytesIO()
    kwargs = {"quality": quality} if FORMATS[asked] in ("JPEG", "WEBP") else {}
    im.save(buf, FORMATS[asked], **kwargs)
    return buf.getvalue(), "jpg" if asked == "jpeg" else asked
