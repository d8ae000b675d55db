"""Wire formats of Cloudinary parameters (pure): context/metadata strings, tags, access rules.

Wire encodings and response shapes as the official SDK sends and reads them (``docs/api-notes.md``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any


class InvalidParameter(ValueError):
    """A parameter the real service would refuse with 400."""

_PAIR_SPLIT = re.compile(r"(?<!\\)\|")
_KV_SPLIT = re.compile(r"(?<!\\)=")


def parse_context(text: str | dict[str, Any] | None) -> dict[str, str]:
    """``k=v|k2=v2`` with ``\\=``/``\\|`` escapes → dict (also accepts a JSON object)."""
    if not text:
        return {}
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    out: dict[str, str] = {}
    for pair in _PAIR_SPLIT.split(text):
        if not pair:
            continue
        parts = _KV_SPLIT.split(pair, 1)
        key, value = parts[0], parts[1] if len(parts) > 1 else ""
        out[_unescape(key)] = _unescape(value)
    return out


def _unescape(text: str) -> str:
    return text.replace("\\=", "=").replace("\\|", "|")


def parse_metadata(text: str | dict[str, Any] | None) -> dict[str, Any]:
    """Structured metadata: like context, but JSON-looking values (lists) are decoded."""
    out: dict[str, Any] = {}
    for key, value in parse_context(text).items():
        if value.startswith("["):
            try:
                out[key] = json.loads(value)
                continue
            except json.JSONDecodeError:
                pass
        out[key] = value
    return out


def parse_tags(value: str | list[str] | None) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else value.split(",")
    return [t.strip() for t in items if t and t.strip()]


def parse_bool(value: Any, default: bool) -> bool:
    if value in (None, ""):
        return default
    return str(value).lower() in ("1", "true", "t", "yes")


def parse_time(value: str) -> datetime:
    """An access-rule time: ISO-8601 or ``2018-02-22 16:20:57 +0200``."""
    for candidate in (value, value.replace(" +", "+").replace(" -", "-")):
        try:
            moment = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidParameter(f"Invalid access_control time - {value}")


def parse_access_control(value: str | list[Any] | None) -> list[dict[str, str]]:
    """``access_control`` arrives as a JSON string (a rule or a list of rules)."""
    if not value:
        return []
    rules = json.loads(value) if isinstance(value, str) else value
    rules = rules if isinstance(rules, list) else [rules]
    for rule in rules:
        if rule.get("access_type") not in ("anonymous", "token"):
            raise InvalidParameter(f"Invalid access_type - {rule.get('access_type')}")
        for key in ("start", "end"):
            if rule.get(key):
                parse_time(rule[key])
    return rules


def access_allowed(rules: list[dict[str, str]], now: datetime) -> bool:
    """An asset with rules is public while any anonymous rule's window contains ``now``."""
    if not rules:
        return True
    for rule in rules:
        if rule.get("access_type") != "anonymous":
            continue
        start = parse_time(rule["start"]) if rule.get("start") else None
        end = parse_time(rule["end"]) if rule.get("end") else None
        if (start is None or start <= now) and (end is None or now < end):
            return True
    return False


# Add-on options and the values Cloudinary documents for them (each may carry ``:<options>``;
# categorization takes a comma-separated list). **[STRICT]** anything else is refused, with the
# messages Cloudinary's own SDK tests expect from upload/explicit and from the Admin ``update``.
ADD_ON_VALUES = {
    "raw_convert": {"aspose", "google_speech", "extract_text"},
    "categorization": {"google_tagging", "google_video_tagging", "imagga_tagging", "aws_rek_tagging",
                       "aws_rek_video_tagging", "azure_video_indexer"},
    "detection": {"adv_face", "aws_rek_face", "cld-fashion", "cld-text", "coco", "lvis", "openimages", "unidet",
                  "human-anatomy", "iwildcam", "captioning"},
    "background_removal": {"cloudinary_ai", "pixelz", "remove_the_background"},
}
UPLOAD_MESSAGES = {"raw_convert": "Raw convert is invalid",
                   "categorization": "Categorization item {value} is not valid",
                   "detection": "Detection invalid model '{value}'",
                   "background_removal": "Background removal is invalid"}


def check_add_ons(params: dict[str, Any], *, update: bool = False) -> None:
    """Refuse an add-on option whose value Cloudinary does not document (``InvalidParameter``)."""
    for option, allowed in ADD_ON_VALUES.items():
        given = params.get(option)
        if given in (None, ""):
            continue
        values = str(given).split(",") if option == "categorization" else [str(given)]
        for value in values:
            name = value.strip().split(":", 1)[0]
            if name not in allowed:
                raise InvalidParameter(f"Illegal value {value} for parameter {option}" if update
                                       else UPLOAD_MESSAGES[option].format(value=value.strip()))
