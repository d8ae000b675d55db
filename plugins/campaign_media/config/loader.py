"""Load campaign and market YAML files; every problem names the file, the field and the fix.

A bad file never stops the others from loading: each loader returns what loaded and, per
file, a readable error. Files whose name starts with ``_`` (templates) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from campaign_media import settings
from campaign_media.config.errors import ConfigError
from campaign_media.config.models import Campaign, Market, did_you_mean

T = TypeVar("T", bound=BaseModel)
INCLUDE = settings.PROJECT_INCLUDE  # this repository's include/ (``[campaign_media] include`` says which is used)

TEMPLATE = "include/markets/_template.yaml"
# What to write when a field is missing: a line that can be pasted as it is.
EXAMPLES = {
    "code": "code: de  (the file name without .yaml)",
    "id": "id: spring-launch-2026  (the file name without .yaml)",
    "name": "name: Germany",
    "locales": "locales: [de-DE]",
    "timezone": "timezone: Europe/Berlin",
    "usage_rights": "usage_rights: [worldwide-digital] (the PhotoShelter values cleared here) or usage_rights: any",
    "markets": "markets: [fr, jp]",
    "source": "source: {collection_name: My Campaign}",
    "window": "window: {start: 2026-03-01, end: 2026-06-30}",
    "headline": 'headline: "Le printemps est là"',
    "width": "width: 1600",
}
MESSAGES = {"missing": "required field is missing", "extra_forbidden": "unknown field"}
PATTERN_FIXES = {
    "code": "use lower-case letters, digits and dashes, e.g. code: de",
    "id": "use lower-case letters, digits and dashes, e.g. id: spring-launch-2026",
    "markets": "use market codes: lower-case letters, digits and dashes, e.g. fr",
    "locales": "write a locale as language-REGION, e.g. fr-FR",
    "name": "use lower-case letters, digits, _ and -, e.g. name: hero",
}


@dataclass
class Loaded(Generic[T]):
    items: dict[str, T] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # file path -> message
    paths: dict[str, Path] = field(default_factory=dict)  # item key -> file


def describe(path: Path, exc: ValidationError, data: object, model: type[BaseModel]) -> str:
    """One line per problem: where (``renditions[hero].width``), the bad value, what is wrong and
    the edit that fixes it."""

    lines, seen = [f"{path}: {exc.error_count()} problem(s)"], set()
    for err in exc.errors():
        where, field, cls = _where(err["loc"], data, model)
        msg = MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
        msg, _, fix = msg.partition(" Fix: ")
        fix = fix or _fix(err, field, cls)
        value = "" if err["type"] in ("missing", "extra_forbidden") or where == "(file)" else \
            f" = {_show(err['input'])}"
        line = f"  - {where}{value}: {msg.rstrip('.')}. Fix: {fix.rstrip('.')}."
        if (where, err["type"]) not in seen:
            seen.add((where, err["type"]))
            lines.append(line)
    return "\n".join(lines)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(loc: tuple, data: object, model: type[BaseModel]) -> tuple[str, str, type[BaseModel] | None]:
    """The error's place written with names (``renditions[hero].width``), its last field name, and
    the model that field belongs to. Union branch tags in ``loc`` are passed over."""
    parts, node, cls, field = [], data, model, ""
    for i, key in enumerate(loc):
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f"[{name}]" if isinstance(name, str) else f"[{key}]")
        elif isinstance(key, str) and isinstance(node, dict) and (key in node or i == len(loc) - 1):
            parts.append(f".{key}" if parts else key)
            field, node = key, node.get(key)
            if i < len(loc) - 1:
                cls = _inner_model(cls.model_fields[key].annotation) if cls and key in _fields(cls) else None
        # else: a union tag ('style', "literal['any']") or a value that is not a container
    return "".join(parts) or "(file)", field, cls


def _fields(cls: type[BaseModel]) -> dict[str, str]:
    """Field names as written in YAML (aliases included) → attribute name."""
    return {(info.alias or name): name for name, info in cls.model_fields.items()} | \
        {name: name for name in cls.model_fields}


def _inner_model(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside a field's type (``list[Rendition]`` → ``Rendition``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _inner_model(arg)
        if found:
            return found
    return None


def _fix(err: dict, field: str, cls: type[BaseModel] | None) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return f"add {EXAMPLES.get(field, f'{field}: <value>  (see {TEMPLATE})')}"
    if kind == "extra_forbidden":
        allowed = sorted(k for k in _fields(cls) if not k.endswith("_")) if cls else []
        guess = did_you_mean(field, allowed)
        return f"rename {field} to {guess} (did you mean {guess!r}?)" if guess else \
            f"remove {field}; the fields allowed here are {', '.join(allowed)}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        guess = did_you_mean(value, choices)
        return f"write {field}: {guess} (did you mean {guess!r}?)" if guess else \
            f"write one of {', '.join(choices)}, e.g. {field}: {choices[0] if choices else '…'}"
    if kind == "string_pattern_mismatch":
        return PATTERN_FIXES.get(field, f"write a value matching {ctx.get('pattern')}")
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"write a whole number, e.g. {field}: {EXAMPLES.get(field, f'{field}: 1600').split(': ')[-1]}"
    if kind in ("float_parsing", "float_type"):
        return f"write a number, e.g. {field}: 1.5"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = {"greater_than": "more than", "greater_than_equal": "at least",
                  "less_than": "less than", "less_than_equal": "at most"}
        limit = next(iter(ctx.values()), "")
        return f"use a number {bounds[kind]} {limit} for {field}"
    if kind in ("too_short", "too_long"):
        return f"give {field} between the allowed number of values, e.g. {EXAMPLES.get(field, f'{field}: [...]')}"
    if kind == "list_type":
        return f"write a list in brackets, e.g. {field}: [{value}]"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"write {field} as a mapping of its fields, e.g. {EXAMPLES.get(field, field + ': {...}')}"
    if kind == "string_type":
        return f'put the value in quotes: {field}: "{value}"'
    if kind == "bool_parsing":
        return f"write {field}: true or {field}: false"
    if kind.startswith(("date", "datetime")):
        return "write a date like 2026-03-01, or a time with its offset like 2026-03-01T09:00:00+01:00"
    return f"see {TEMPLATE}, which documents every field"


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
            data = read_yaml(path)
            item = model.model_validate(data)
        except ConfigError as exc:
            loaded.errors[str(path)] = str(exc)
            continue
        except ValidationError as exc:
            loaded.errors[str(path)] = describe(path, exc, data, model)
            continue
        name = getattr(item, key)
        if path.stem != name:
            loaded.errors[str(path)] = (f"{path}: field '{key}': {name!r} does not match the file name. "
                                        f"Fix: rename the file to {name}{path.suffix} or set {key}: {path.stem}.")
            continue
        loaded.items[name] = item
        loaded.paths[name] = path
    return loaded


def load_markets(folder: Path | None = None) -> Loaded[Market]:
    """The market files of ``folder`` (default: the configured include folder's ``markets/``)."""
    return _load(Path(folder) if folder else include_dir() / "markets", Market, "code")


def load_campaigns(folder: Path | None = None, markets: Loaded[Market] | None = None) -> Loaded[Campaign]:
    """Campaigns, checked against the markets that exist (an unknown market is an error)."""
    loaded = _load(Path(folder) if folder else include_dir() / "campaigns", Campaign, "id")
    if markets is not None:
        for cid, campaign in list(loaded.items.items()):
            problems = {code: p for code in campaign.markets if (p := _market_problems(campaign, code, markets))}
            if not problems:
                continue
            path = loaded.paths[cid]
            lines = [line for found in problems.values() for line in found]
            loaded.errors[str(path)] = "\n".join([f"{path}: {len(lines)} problem(s)", *lines])
            # The campaign keeps running in its sound markets; the others are named above.
            sound = [m for m in campaign.markets if m not in problems]
            if sound:
                loaded.items[cid] = campaign.model_copy(update={"markets": sound})
            else:
                del loaded.items[cid]
    return loaded


def _market_problems(campaign: Campaign, code: str, markets: Loaded[Market]) -> list[str]:
    """What a campaign asks of one of its markets that it cannot give: an unknown or broken
    market, or a locale with no headline where the market draws one on its renditions."""
    market = markets.items.get(code)
    if market is None:
        broken = next((p for p in markets.errors if Path(p).stem == code), None)
        guess = did_you_mean(code, markets.items)
        fix = (f"fix {broken} first (its own errors are listed)" if broken else
               f"write {guess} (did you mean {guess!r}?)" if guess else
               f"add include/markets/{code}.yaml or use one of {', '.join(sorted(markets.items))}")
        return [f"  - markets = {code!r}: unknown market. Fix: {fix}."]
    if not market.draws_headline:
        return []
    return [f"  - copy.{locale}: required field is missing (market {code!r} has locale {locale!r} and draws "
            f"the headline on its renditions). Fix: add under copy: {locale}: {{headline: \"…\"}}, or set "
            f"overlay: none in {markets.paths[code]} if its renditions carry no text."
            for locale in market.locales if campaign.headline(locale) is None]


def lint(include: Path | None = None) -> list[str]:
    """Every problem in ``include/markets`` and ``include/campaigns`` (empty = all good)."""
    include = Path(include) if include else include_dir()
    markets = load_markets(Path(include) / "markets")
    campaigns = load_campaigns(Path(include) / "campaigns", markets)
    return list(markets.errors.values()) + list(campaigns.errors.values())


def include_dir() -> Path:
    """The include folder as the configuration says *now* (tasks read the config at run time, so an
    edited campaign file — an earlier end, a shortened window — applies on the next run): the
    folder itself, or the local copy of an object-store location (:mod:`campaign_media.config.remote`).

    :raises ConfigError: a folder that does not exist, or a store that cannot be read
    """
    from campaign_media.config import remote

    location = settings.include_location()
    if remote.is_remote(location):
        return remote.local_copy(location)
    folder = Path(location.removeprefix("file://"))
    if not folder.is_dir():
        raise ConfigError(f"[campaign_media] include = {location}: no such folder. Fix: point it at the folder "
                          "holding campaigns/ and markets/ (or an object-store URL such as s3://bucket/prefix).")
    return folder


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
