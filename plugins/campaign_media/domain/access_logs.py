"""CDN access logs: what a delivered URL was, read from the log lines of the CDN in front of the
delivery host (pure, no I/O).

Cloudinary's API has no per-asset delivery figures. The CDN distribution in front of a custom or
private delivery host does log every request. This module reads three formats:

* ``cloudfront``: CloudFront's standard log. Tab-separated, its ``#Fields:`` line names the
  columns (CloudFront's documented order is assumed when the line is missing). It reads
  ``date``, ``time``, ``sc-bytes``, ``cs-uri-stem`` and ``sc-status``.
* ``jsonl``: one JSON object per line, as Fastly's and Akamai's log streaming write them. The URL
  is under ``url``, ``uri``, ``path``, ``reqPath`` or ``request_path`` (a full URL or a path); the
  bytes under ``bytes``, ``response_bytes``, ``resp_bytes``, ``body_bytes``, ``bytes_sent``,
  ``totalBytes`` or ``sc_bytes``; the status under ``status``, ``statusCode``,
  ``response_status`` or ``sc_status``; the time under ``time``, ``timestamp``, ``reqTimeSec``
  or ``start_time`` (ISO-8601, or epoch seconds).
* ``csv``: the project's own. A header row ``url,bytes,status,time``, in any order and any case,
  other columns ignored; ``time`` is ISO-8601.

A URL is mapped to its master and market through the deterministic public IDs
(``campaigns/<campaign>/markets/<market>/<image id>[--r<n>]``, ``…/masters/<image id>``). Stored
renditions, on-the-fly channel URLs, signed URLs and token URLs all name the same public ID.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from campaign_media.domain.masters import copy_identity

FORMATS = ("cloudfront", "jsonl", "csv")
CLOUDFRONT_FIELDS = ["date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem",
                     "sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)", "x-edge-result-type",
                     "x-edge-request-id", "x-host-header", "cs-protocol", "cs-bytes", "time-taken"]
JSON_KEYS = {"url": ("url", "uri", "path", "reqPath", "request_path"),
             "bytes": ("bytes", "response_bytes", "resp_bytes", "body_bytes", "bytes_sent", "totalBytes", "sc_bytes"),
             "status": ("status", "statusCode", "response_status", "sc_status"),
             "time": ("time", "timestamp", "reqTimeSec", "start_time")}
DELIVERY = re.compile(r"/(image|video|raw)/(upload|authenticated|private)/(.*)$")
EXTENSION = re.compile(r"\.(jpe?g|png|webp|gif|avif|tiff?|heic|bmp|svg|pdf|mp4|webm|mov|m4v|m3u8|mpd|ts|mp3)$",
                       re.IGNORECASE)
OURS = re.compile(r"^campaigns/(?P<campaign>[^/]+)/(?:markets/(?P<market>[^/]+)|(?P<masters>masters))/(?P<tail>[^/]+)$")


@dataclass(frozen=True)
class Hit:
    """One request as the CDN logged it."""

    path: str  # the URL's path, still percent-encoded
    bytes: int
    status: int
    time: datetime | None


@dataclass(frozen=True)
class Delivered:
    """What a delivery URL names: a market copy (``market``) or a master (``market`` is ``None``)."""

    campaign: str
    market: str | None
    image_id: str
    transformation: str  # "" for the original


def _moment(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value)):
        return datetime.fromtimestamp(float(value), UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _path(url: str) -> str:
    return urlsplit(url).path if "://" in url else ("/" + url.lstrip("/")).split("?", 1)[0]


def parse(fmt: str, lines: Iterable[str]) -> Iterator[Hit | None]:
    """The hits of one log file's lines, ``None`` for each line that cannot be read (blank lines
    and CloudFront's ``#`` comments are neither)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown access log format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        yield from _csv(lines)
        return
    fields = CLOUDFRONT_FIELDS
    for line in lines:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        if fmt == "cloudfront" and text.startswith("#"):
            if text.startswith("#Fields:"):
                fields = text.split(":", 1)[1].split()
            continue
        try:
            yield _cloudfront(fields, text) if fmt == "cloudfront" else _json(text)
        except (ValueError, KeyError, TypeError, IndexError):
            yield None


def _cloudfront(fields: list[str], text: str) -> Hit:
    values = dict(zip(fields, text.split("\t"), strict=False))  # a short line lacks a field read below: malformed
    return Hit(values["cs-uri-stem"], int(values["sc-bytes"]), int(values["sc-status"]),
               _moment(f"{values['date']}T{values['time']}"))


def _json(text: str) -> Hit:
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("not an object")

    def first(key: str) -> Any:
        for name in JSON_KEYS[key]:
            if name in record:
                return record[name]
        raise KeyError(key)

    return Hit(_path(str(first("url"))), int(first("bytes")), int(first("status")), _moment(first("time")))


def _csv(lines: Iterable[str]) -> Iterator[Hit | None]:
    rows = csv.reader(io.StringIO("".join(line if line.endswith("\n") else line + "\n" for line in lines)))
    header = [h.strip().lower() for h in next(rows, [])]
    if not {"url", "bytes", "status", "time"} <= set(header):
        raise ValueError(f"a csv access log starts with the header url,bytes,status,time (got {','.join(header)})")
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        try:
            values = dict(zip(header, row, strict=True))
            yield Hit(_path(values["url"]), int(values["bytes"]), int(values["status"]), _moment(values["time"]))
        except (ValueError, KeyError):
            yield None


def delivered(path: str) -> Delivered | None:
    """The campaign asset a delivery URL's path names, or ``None`` when it names none."""
    match = DELIVERY.search(unquote(path))
    if match is None:
        return None
    segments = match.group(3).split("/")
    if "campaigns" not in segments:
        return None
    start = segments.index("campaigns")
    components = [s for s in segments[:start] if not (s.startswith("s--") and s.endswith("--"))
                  and not re.fullmatch(r"v\d+", s)]
    public_id = "/".join(segments[start:]).split(".m3u8.hls/", 1)[0]
    # Only a delivery format is an extension: PhotoShelter media IDs may hold a dot themselves
    # (I0000.ETxkQsu0bB), and an f_auto URL may name no format at all.
    found = OURS.match(EXTENSION.sub("", public_id))
    if found is None:
        return None
    image_id, _ = copy_identity(found.group("tail"))
    return Delivered(found.group("campaign"), found.group("market"), image_id, "/".join(components))
