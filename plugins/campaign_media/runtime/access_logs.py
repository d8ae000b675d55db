"""Reading CDN access logs from where the deployment keeps them (a folder or an object store,
through Airflow's object storage); gzip'd files (CloudFront writes ``.gz``) are read as text."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator

from airflow.sdk import ObjectStoragePath

from campaign_media import settings
from campaign_media.domain.access_logs import FORMATS, Hit, parse
from campaign_media.exceptions import CampaignMediaError


class AccessLogsUnreadable(CampaignMediaError, RuntimeError):
    """The configured access-log location cannot be listed, or its format is unknown."""

    retryable = False


def configured() -> tuple[str, str] | None:
    """``(location, format)`` from the settings, or ``None`` when no log source is configured."""
    location, fmt = settings.get("access_logs"), settings.get("access_logs_format")
    if not location:
        return None
    if fmt not in FORMATS:
        raise AccessLogsUnreadable(f"[campaign_media] access_logs_format = {fmt!r}: use one of {', '.join(FORMATS)}")
    return location, fmt


def files(location: str) -> list[ObjectStoragePath]:
    """The log files under ``location`` (every file, at any depth, in name order)."""
    base = ObjectStoragePath(location)
    try:
        if base.is_file():
            return [base]
        found = sorted((p for p in base.rglob("*") if p.is_file()), key=str)
    except (OSError, ValueError) as exc:
        raise AccessLogsUnreadable(f"the access logs at {location} cannot be listed ({exc}). Fix [campaign_media] "
                                   "access_logs (a folder or object-store URL this worker can read), or empty it "
                                   "to report Cloudinary's figures") from exc
    if not found and not base.exists():
        raise AccessLogsUnreadable(f"the access logs at {location} do not exist. Fix [campaign_media] access_logs, "
                                   "or empty it to report Cloudinary's figures")
    return found


def lines(path: ObjectStoragePath) -> Iterator[str]:
    """One file's lines, decompressed when its name ends ``.gz``; undecodable bytes replaced."""
    with path.open("rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if str(path).endswith(".gz") else raw
        yield from io.TextIOWrapper(stream, encoding="utf-8", errors="replace")


def hits(location: str, fmt: str) -> Iterator[Iterator[Hit | None]]:
    """Each log file's hits in turn (``None``: a line that cannot be read)."""
    for path in files(location):
        yield _named(path, parse(fmt, lines(path)))


def _named(path: ObjectStoragePath, found: Iterator[Hit | None]) -> Iterator[Hit | None]:
    try:
        yield from found
    except ValueError as exc:  # a whole file in another format (a csv without its header)
        raise AccessLogsUnreadable(f"{path}: {exc}") from exc
