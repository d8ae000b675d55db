"""Load campaign and market YAML files; every problem names the file, the field and the fix.

A bad file never stops the others from loading: each loader returns what loaded and, per
file, a readable error. Files whose name starts with ``_`` (templates) are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from campaign_media.config.models import Campaign, Market

T = TypeVar("T", bound=BaseModel)
# The project's include/ folder; CAMPAIGN_MEDIA_INCLUDE points elsewhere (tests, other deployments).
INCLUDE = Path(os.environ.get("CAMPAIGN_MEDIA_INCLUDE") or Path(__file__).resolve().parents[3] / "include")

FIXES = {
    "missing": "add this field",
    "extra_forbidden": "remove it or fix its spelling",
    "string_pattern_mismatch": "use lower-case letters, digits and dashes (locales like 'fr-FR')",
    "literal_error": "use one of the allowed values",
    "int_parsing": "use a whole number",
    "float_parsing": "use a number",
    "date_from_datetime_parsing": "use a date like 2026-03-01 or a time like 2026-03-01T09:00:00+01:00",
    "too_short": "give at least one value",
    "greater_than": "use a positive number",
    "value_error": "as the message says",
}


class ConfigError(ValueError):
    """A campaign or market file is invalid; the message is written for the person who fixes it."""


@dataclass
class Loaded(Generic[T]):
    items: dict[str, T] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # file path -> message
    paths: dict[str, Path] = field(default_factory=dict)  # item key -> file


def describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(file)"
        fix = FIXES.get(err["type"], "see the commented template include/markets/_template.yaml")
        lines.append(f"  - field '{where}': {err['msg']}. Fix: {fix}.")
    return "\n".join(lines)


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}. "
                          "Fix: check indentation and quoting there.") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields (key: value), got {type(data).__name__}")
    return data


def _load(folder: Path, model: type[T], key: str) -> Loaded[T]:
    loaded: Loaded[T] = Loaded()
    for path in sorted(folder.glob("*.y*ml")):
        if path.name.startswith("_"):
            continue
        try:
            item = model.model_validate(read_yaml(path))
        except ConfigError as exc:
            loaded.errors[str(path)] = str(exc)
            continue
        except ValidationError as exc:
            loaded.errors[str(path)] = describe(path, exc)
            continue
        name = getattr(item, key)
        if path.stem != name:
            loaded.errors[str(path)] = (f"{path}: field '{key}': {name!r} does not match the file name. "
                                        f"Fix: rename the file to {name}{path.suffix} or set {key}: {path.stem}.")
            continue
        loaded.items[name] = item
        loaded.paths[name] = path
    return loaded


def load_markets(folder: Path = INCLUDE / "markets") -> Loaded[Market]:
    return _load(Path(folder), Market, "code")


def load_campaigns(folder: Path = INCLUDE / "campaigns", markets: Loaded[Market] | None = None) -> Loaded[Campaign]:
    """Campaigns, checked against the markets that exist (an unknown market is an error)."""
    loaded = _load(Path(folder), Campaign, "id")
    if markets is not None:
        for cid, campaign in list(loaded.items.items()):
            unknown = [m for m in campaign.markets if m not in markets.items]
            if unknown:
                path = loaded.paths[cid]
                broken = [m for m in unknown if any(Path(p).stem == m for p in markets.errors)]
                hint = (f"fix the market file(s) {broken} first" if broken else
                        f"add include/markets/<code>.yaml or use one of {sorted(markets.items)}")
                loaded.errors[str(path)] = f"{path}: field 'markets': unknown market(s) {unknown}. Fix: {hint}."
    return loaded


def lint(include: Path = INCLUDE) -> list[str]:
    """Every problem in ``include/markets`` and ``include/campaigns`` (empty = all good)."""
    markets = load_markets(Path(include) / "markets")
    campaigns = load_campaigns(Path(include) / "campaigns", markets)
    return list(markets.errors.values()) + list(campaigns.errors.values())


def include_dir() -> Path:
    """The include folder as the environment says *now* (tasks read the config at run time, so
    an edited campaign file — an earlier end, a shortened window — applies on the next run)."""
    return Path(os.environ.get("CAMPAIGN_MEDIA_INCLUDE") or INCLUDE)


def current_config() -> tuple[dict[str, Market], dict[str, Campaign]]:
    """The valid markets and campaigns, read now; invalid files are left out (the DAG files
    already show them as import errors)."""
    markets = load_markets(include_dir() / "markets")
    return markets.items, load_campaigns(include_dir() / "campaigns", markets).items


def current_campaign(campaign_id: str) -> tuple[Campaign, list[Market]]:
    """One campaign and its markets, read now (what a task works on)."""
    markets, campaigns = current_config()
    campaign = campaigns[campaign_id]
    return campaign, [markets[m] for m in campaign.markets]
