"""What both emulators need to know about a video file, read with ``ffprobe`` (Debian's ``ffmpeg``).

The services read a video's size, duration and codecs when it is stored; the emulators do the
same with the real tool, so a truncated or fake video is refused as the services would refuse it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg")
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "matroska,webm": "webm"}


class NotAVideoError(ValueError):
    """The bytes are empty, or not a video ffprobe can read."""


def tool(name: str) -> str:
    """The path of ``ffprobe``/``ffmpeg``, or an error that says how to install it."""
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed; the emulators read and transcode videos with it. Install "
                           "Debian's ffmpeg package (`make system-deps` as root, or `apt-get install ffmpeg`)")
    return found


def probe(path: Path) -> dict[str, Any]:
    """``width``, ``height``, ``duration`` (s), ``format``, ``bit_rate`` and codecs of a video file."""
    if path.stat().st_size == 0:
        raise NotAVideoError("the file is empty (0 bytes)")
    done = subprocess.run(
        [tool("ffprobe"), "-v", "error", "-show_entries",
         "format=duration,format_name,bit_rate:stream=codec_type,codec_name,width,height,avg_frame_rate",
         "-of", "json", str(path)], capture_output=True, text=True, timeout=120, check=False)
    try:
        data = json.loads(done.stdout or "{}")
        video = next(s for s in data.get("streams", []) if s.get("codec_type") == "video")
        audio = next((s for s in data.get("streams", []) if s.get("codec_type") == "audio"), {})
        fmt = data["format"]
        duration = float(fmt["duration"])
    except (ValueError, KeyError, StopIteration) as exc:
        raise NotAVideoError(f"the file is not a readable video ({(done.stderr or '').strip()[:120] or 'no stream'})"
                             ) from exc
    num, _, den = (video.get("avg_frame_rate") or "0/1").partition("/")
    return {"width": int(video["width"]), "height": int(video["height"]), "duration": round(duration, 3),
            "format": CONTAINERS.get(fmt.get("format_name", ""), fmt.get("format_name", "").split(",")[0]),
            "bit_rate": int(fmt.get("bit_rate") or 0), "video_codec": video.get("codec_name", ""),
            "audio_codec": audio.get("codec_name", ""),
            "frame_rate": round(int(num) / int(den), 3) if den not in ("", "0") else 0.0}
