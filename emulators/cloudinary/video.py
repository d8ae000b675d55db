"""Video transformations with ffmpeg (Debian's ``ffmpeg``): the subset this project asks for.

Transcoded for real, so a test can probe what it gets: size and crop (``w_ h_ ar_ c_`` with the
same geometry as images: fill, fit, limit, scale, pad, crop; ``g_auto`` as centre), the
container and codec (``.mp4``/``f_mp4`` → H.264 + AAC, ``.webm``/``f_webm`` → VP9 + Opus,
``f_auto`` → MP4, or WebM when the request accepts ``video/webm``), quality (``q_auto`` or
``q_N`` → a constant-rate factor), trimming (``so_ eo_ du_``), a poster frame (an image
extension with ``so_``: the frame at that offset, sized like the video), a text overlay
(``l_text:<font>_<size>[_bold]:<text>`` with ``co_ g_ x_ y_`` and ``so_``/``eo_`` on the layer:
shown between those offsets) and HLS (``sp_auto``/``sp_<name>`` with ``.m3u8``: one H.264
rendition cut into 2-second segments — a real account serves a ladder of several).

Honest simplifications: sizes are rounded down to even numbers (H.264 and VP9 in 4:2:0 need
them); ``vc_``/``br_`` and named streaming profiles' ladders are not applied, only recorded.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from emulators.cloudinary.transform import Component, TransformationError, _number, font_for, geometry, text_layer
from emulators.common.video import probe, tool

VIDEO_FORMATS = {"mp4", "webm", "mov", "m3u8"}
IMAGE_FORMATS = {"jpg", "jpeg", "png", "webp"}
HLS_SEGMENT_SECONDS = 2


def output_format(components: list[Component], fmt: str, accept: str = "") -> str:
    """The format a chain delivers: its ``f_`` (``auto`` by the request's Accept), else the URL's."""
    asked = next((c.params["f"] for c in reversed(components) if "f" in c.params), fmt).lower()
    if asked == "auto":
        asked = "webm" if "video/webm" in accept else "mp4"
    if asked not in VIDEO_FORMATS | IMAGE_FORMATS:
        raise TransformationError(f"Unsupported video format - {asked}")
    return "jpg" if asked == "jpeg" else asked


def _even(value: int) -> int:
    return max(2, value - value % 2)


def _filters(components: list[Component], size: tuple[int, int], text_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The ffmpeg video filters of a chain and its timing/quality options (``so eo du q``)."""
    filters: list[str] = []
    options: dict[str, str] = {}
    width, height = size
    for index, comp in enumerate(components):
        p = comp.params
        if "l" in p:
            filters.append(_drawtext(p, text_dir / f"text{index}.txt"))
            continue
        for key in ("so", "eo", "du", "q", "sp"):
            if key in p:
                options[key] = p[key]
        for op in geometry(p, (width, height)):
            if op[0] == "scale":
                width, height = op[1], op[2]
                filters.append(f"scale={width}:{height}")
            elif op[0] == "crop":
                _, x, y, width, height = op
                filters.append(f"crop={width}:{height}:{x}:{y}")
            elif op[0] == "pad":
                _, width, height, x, y, colour = op
                filters.append(f"pad={width}:{height}:{x}:{y}:{colour or 'white'}")
    if (width, height) != (_even(width), _even(height)):
        filters.append(f"scale={_even(width)}:{_even(height)}")
    return filters, options


def _drawtext(p: dict[str, str], text_file: Path) -> str:
    text, size, bold = text_layer(p)
    font = font_for(text, size, bold)
    text_file.write_text(text, encoding="utf-8")
    gravity = p.get("g", "center")
    dx, dy = int(_number(p.get("x", "0"))), int(_number(p.get("y", "0")))
    x = "w-text_w-" + str(dx) if "east" in gravity else str(dx) if "west" in gravity else f"(w-text_w)/2+{dx}"
    y = "h-text_h-" + str(dy) if "south" in gravity else str(dy) if "north" in gravity else f"(h-text_h)/2+{dy}"
    colour = (p.get("co") or "black").replace("rgb:", "#")
    drawn = (f"drawtext=textfile='{text_file}':expansion=none:fontsize={size}:fontcolor={colour}:x={x}:y={y}"
             + (f":fontfile='{font.path}'" if getattr(font, "path", None) else ""))
    if "so" in p or "eo" in p:
        start, end = _number(p.get("so", "0")), _number(p.get("eo", "1e9"))
        drawn += f":enable='between(t,{start},{end})'"
    return drawn


def _quality(options: dict[str, str], vp9: bool) -> str:
    text = options.get("q", "auto")
    if text.startswith("auto"):
        return "33" if vp9 else "28"
    level = max(1.0, min(100.0, _number(text)))
    return str(round(63 - level * 0.5) if vp9 else round(51 - level * 0.41))


def transcode(source: Path, size: tuple[int, int], components: list[Component], fmt: str, dest: Path, *,
              hls_prefix: str = "") -> None:
    """Write the derived file (a video, a poster frame, or an HLS playlist with its segments in
    ``<dest>.hls/``, listed in the playlist as ``<hls_prefix>/segNNN.ts``)."""
    with tempfile.TemporaryDirectory(prefix="cld-video-") as tmp:
        filters, options = _filters(components, size, Path(tmp))
        args = [tool("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y"]
        start = _number(options["so"]) if "so" in options else 0.0
        if fmt in IMAGE_FORMATS:  # a poster frame: the frame at so_, sized like the video
            args += ["-ss", str(start), "-i", str(source), "-frames:v", "1"]
            if filters:
                args += ["-vf", ",".join(filters)]
            target = Path(tmp) / f"poster.{fmt}"
            args += ["-q:v", "3"] if fmt == "jpg" else []
            _run(args + [str(target)])
            shutil.move(str(target), dest)
            return
        if start:
            args += ["-ss", str(start)]
        args += ["-i", str(source)]
        if "eo" in options:
            args += ["-to", str(_number(options["eo"]) - start)]
        elif "du" in options:
            args += ["-t", str(_number(options["du"]))]
        if filters:
            args += ["-vf", ",".join(filters)]
        vp9 = fmt == "webm"
        if vp9:
            args += ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", "0",
                     "-crf", _quality(options, True), "-c:a", "libopus"]
        else:
            args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", _quality(options, False), "-pix_fmt",
                     "yuv420p", "-c:a", "aac"]
        if fmt == "m3u8":
            segments = dest.parent / f"{dest.name}.hls"
            segments.mkdir(parents=True, exist_ok=True)
            args += ["-f", "hls", "-hls_time", str(HLS_SEGMENT_SECONDS), "-hls_playlist_type", "vod",
                     "-hls_segment_filename", str(segments / "seg%03d.ts"), str(Path(tmp) / "index.m3u8")]
            _run(args)
            # Segment URIs relative to the playlist's URL: "<name>.m3u8.hls/seg000.ts" (see delivery).
            lines = [f"{hls_prefix}/{line}" if line.endswith(".ts") else line
                     for line in (Path(tmp) / "index.m3u8").read_text().splitlines()]
            dest.write_text("\n".join(lines) + "\n")
            return
        target = Path(tmp) / f"out.{fmt}"
        args += ["-movflags", "+faststart"] if fmt in ("mp4", "mov") else []
        _run(args + [str(target)])
        shutil.move(str(target), dest)


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise TransformationError(f"ffmpeg could not apply it - {(done.stderr or '').strip()[-200:]}")


def measure(path: Path, fmt: str) -> tuple[int, int, dict[str, float]]:
    """A derived file's width, height and (for a video or a stream) ``{"duration": s}``."""
    if fmt in IMAGE_FORMATS:
        from PIL import Image

        with Image.open(path) as im:
            return im.size[0], im.size[1], {}
    if fmt == "m3u8":
        lines = path.read_text().splitlines()
        seconds = sum(float(line.split(":", 1)[1].rstrip(",")) for line in lines if line.startswith("#EXTINF:"))
        first = path.parent / f"{path.name}.hls" / "seg000.ts"
        info = probe(first)
        return info["width"], info["height"], {"duration": round(seconds, 3)}
    info = probe(path)
    return info["width"], info["height"], {"duration": info["duration"]}
