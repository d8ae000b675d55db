"""Campaign and market files: defaults, validation messages, the lint command."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from campaign_media.cli import main as cli
from campaign_media.config.loader import INCLUDE, lint, load_campaigns, load_markets
from campaign_media.config.models import Market, moment


@pytest.fixture
def include(tmp_path: Path) -> Path:
    target = tmp_path / "include"
    shutil.copytree(INCLUDE, target)
    return target


def test_shipped_files_are_valid() -> None:
    assert lint() == []
    markets = load_markets()
    assert set(markets.items) >= {"fr", "jp", "sa"}
    assert load_campaigns(markets=markets).items["spring-launch-2026"].markets == ["fr", "jp", "sa"]


MINIMAL = "code: de\nlocales: [de-DE]\ntimezone: Europe/Berlin\nusage_rights: any\n"


def test_a_short_market_gets_sensible_defaults(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(MINIMAL)
    market = load_markets(include / "markets").items["de"]
    assert [r.name for r in market.renditions] == ["hero", "square", "story"]
    assert market.breakpoints == [320, 640, 1024, 1600] and market.overlay.font_size == 48


def market_errors(include: Path, body: str) -> str:
    """The lint message for ``include/markets/de.yaml`` holding ``body`` (other files still load)."""
    path = include / "markets" / "de.yaml"
    path.write_text(body)
    markets = load_markets(include / "markets")
    assert {"fr", "jp", "sa"} <= set(markets.items)
    return markets.errors[str(path)]


def test_errors_name_the_file_the_field_and_the_fix(include: Path) -> None:
    de = market_errors(include, MINIMAL.replace("Europe/Berlin", "Europe/Berlinn")
                       + "renditions:\n  - {name: hero, widht: 10}\n  - {name: story, crop: fil, width: 10}\n")
    assert de.splitlines() == [
        f"{include / 'markets' / 'de.yaml'}: 3 problem(s)",
        "  - timezone = 'Europe/Berlinn': unknown time zone. Fix: did you mean 'Europe/Berlin'? "
        "Write timezone: Europe/Berlin.",
        "  - renditions[hero].widht: unknown field. Fix: rename widht to width (did you mean 'width'?).",
        "  - renditions[story].crop = 'fil': Input should be 'fill', 'fit', 'limit', 'scale', 'pad', 'thumb' or "
        "'crop'. Fix: write crop: fill (did you mean 'fill'?).",
    ]
    (include / "markets" / "it.yaml").write_text("code: it\n locales: [x\n")
    (include / "markets" / "nl.yaml").write_text(MINIMAL.replace("code: de", "code: holland"))
    markets = load_markets(include / "markets")
    assert "not valid YAML at line 2" in markets.errors[str(include / "markets" / "it.yaml")]
    assert "rename the file to holland.yaml" in markets.errors[str(include / "markets" / "nl.yaml")]


# The four traps a careful user fell into writing a market from the template, each with its message.
def test_trap_quality_as_a_number_is_valid(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(
        MINIMAL + "renditions:\n  - {name: hero, width: 1600, quality: 80}\n  - {name: sq, width: 9, quality: '75'}\n")
    market = load_markets(include / "markets").items["de"]
    assert [r.quality for r in market.renditions] == ["80", "75"]
    assert market_errors(include, MINIMAL + "renditions:\n  - {name: hero, width: 1600, quality: 180}\n"
                         ).splitlines()[1] == (
        "  - renditions[hero].quality = 180: quality must be auto (or auto:best, auto:good, auto:eco, auto:low) "
        "or a whole number from 1 to 100. Fix: write quality: auto or, for a fixed level, quality: 80.")


def test_trap_unquoted_aspect_ratio_says_to_quote_it(include: Path) -> None:
    message = market_errors(include, MINIMAL + "renditions:\n  - {name: story, width: 1080, aspect_ratio: 9:16}\n")
    assert message.splitlines()[1] == (
        "  - renditions[story].aspect_ratio = 556: YAML read an unquoted ratio as the number 556 "
        "(base 60: 9:16 = 9*60+16). Fix: quote it: aspect_ratio: \"9:16\".")
    (include / "markets" / "de.yaml").write_text(
        MINIMAL + "renditions:\n  - {name: story, width: 1080, aspect_ratio: \"9:16\"}\n"
        "  - {name: wide, width: 1080, aspect_ratio: 1.5}\n")
    assert [r.aspect_ratio for r in load_markets(include / "markets").items["de"].renditions] == ["9:16", "1.5"]


def test_trap_usage_rights_must_be_said_explicitly(include: Path) -> None:
    message = market_errors(include, MINIMAL.replace("usage_rights: any\n", ""))
    assert message.splitlines()[1] == (
        "  - usage_rights: required field is missing. Fix: add usage_rights: [worldwide-digital] "
        "(the PhotoShelter values cleared here) or usage_rights: any.")
    assert market_errors(include, MINIMAL.replace("usage_rights: any", "usage_rights: worldwide-digital")
                         ).splitlines()[1] == (
        "  - usage_rights = 'worldwide-digital': usage_rights is a list of PhotoShelter usage-rights values, or any. "
        "Fix: write usage_rights: [worldwide-digital] (or usage_rights: any to clear every value).")
    (include / "markets" / "de.yaml").write_text(MINIMAL.replace("any", "[worldwide-digital]"))
    market = load_markets(include / "markets").items["de"]
    assert market.clears("worldwide-digital") and not market.clears("emea-web-only")


def test_trap_missing_headline_is_an_error_unless_the_market_draws_none(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(MINIMAL)
    campaign_file = include / "campaigns" / "spring-launch-2026.yaml"
    campaign_file.write_text(campaign_file.read_text().replace("markets: [fr, jp, sa]", "markets: [fr, jp, sa, de]"))
    markets = load_markets(include / "markets")
    campaigns = load_campaigns(include / "campaigns", markets)
    assert campaigns.errors[str(campaign_file)].splitlines()[1] == (
        "  - copy.de-DE: required field is missing (market 'de' has locale 'de-DE' and draws the headline on its "
        "renditions). Fix: add under copy: de-DE: {headline: \"…\"}, or set overlay: none in "
        f"{include / 'markets' / 'de.yaml'} if its renditions carry no text.")
    # The campaign keeps running in its sound markets.
    assert campaigns.items["spring-launch-2026"].markets == ["fr", "jp", "sa"]
    (include / "markets" / "de.yaml").write_text(MINIMAL + "overlay: none\n")
    markets = load_markets(include / "markets")
    assert lint(include) == [] and not markets.items["de"].draws_headline
    campaign = load_campaigns(include / "campaigns", markets).items["spring-launch-2026"]
    from campaign_media.domain.renditions import headline_for, transformation
    assert headline_for(campaign, markets.items["de"]) is None
    assert not any("overlay" in step for step in transformation(markets.items["de"].renditions[0],
                                                                markets.items["de"], "ignored"))


def test_misspelt_keys_and_values_get_a_did_you_mean(include: Path) -> None:
    message = market_errors(include, MINIMAL + "overlay: {font_sise: 30}\nchannels: [webb]\n")
    assert "  - overlay.font_sise: unknown field. Fix: rename font_sise to font_size (did you mean 'font_size'?)." \
        in message.splitlines()
    assert "  - channels[0] = 'webb': Input should be 'web', 'mobile', 'ecommerce' or 'social'. " \
        "Fix: write channels: web (did you mean 'web'?)." in message.splitlines()
    campaign_file = include / "campaigns" / "spring-launch-2026.yaml"
    campaign_file.write_text(campaign_file.read_text().replace("markets: [fr, jp, sa]", "markets: [fr, jpp]"))
    assert lint(include)[-1].splitlines()[1] == \
        "  - markets = 'jpp': unknown market. Fix: write jp (did you mean 'jp'?)."


def test_committed_json_schemas_are_current_and_accept_the_shipped_files() -> None:
    import json

    import jsonschema
    import yaml

    from campaign_media.cli import SCHEMAS, schema
    for kind in SCHEMAS:
        committed = (INCLUDE / "schema" / f"{kind}.schema.json").read_text(encoding="utf-8")
        assert committed == schema(kind), "run: python -m campaign_media.cli schema --write include/schema"
        validator = jsonschema.Draft202012Validator(json.loads(committed),
                                                    format_checker=jsonschema.FormatChecker())
        for path in sorted((INCLUDE / f"{kind}s").glob("*.yaml")):
            data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
            assert not list(validator.iter_errors(data)), path
    market = json.loads(schema("market"))
    bad = {"code": "de", "locales": ["de-DE"], "timezone": "Europe/Berlin",
           "renditions": [{"name": "s", "width": 10, "aspect_ratio": 556}]}
    errors = list(jsonschema.Draft202012Validator(market).iter_errors(bad))
    assert {e.validator for e in errors} >= {"required", "anyOf"}  # usage_rights missing; 556 is no ratio


def test_lint_command(include: Path, capsys) -> None:
    assert cli(["lint", str(include)]) == 0
    assert "ok: 3 market(s)" in capsys.readouterr().out
    (include / "markets" / "de.yaml").write_text("code: de\n")
    assert cli(["lint", str(include)]) == 1
    err = capsys.readouterr().err
    assert "de.yaml: 3 problem(s)" in err and "  - locales: required field is missing. Fix: add locales: [de-DE]." \
        in err and "1 file(s) need fixing" in err


def test_window_bounds_are_local_midnight_and_inclusive() -> None:
    assert moment(date(2026, 3, 1), "Asia/Tokyo") == datetime(2026, 2, 28, 15, tzinfo=UTC)
    assert moment(date(2026, 3, 1), "Europe/Paris", end=True) == datetime(2026, 3, 1, 23, tzinfo=UTC)
    with pytest.raises(ValueError, match="window.end is before window.start"):
        Market.model_validate({"code": "x", "locales": ["en"], "timezone": "UTC", "usage_rights": "any",
                               "window": {"start": "2026-05-01", "end": "2026-04-01"}})


def test_campaign_overlap_and_headline_fallback() -> None:
    campaign = load_campaigns().items["spring-launch-2026"]
    assert campaign.overlaps(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    assert not campaign.overlaps(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    assert campaign.headline("fr-CA") == "Le printemps est là" and campaign.headline("de-DE") is None


def test_market_window_is_the_intersection_in_local_time(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(MINIMAL + "window: {start_offset_days: 10, end: 2027-01-31}\n")
    markets = load_markets(include / "markets").items
    campaign = load_campaigns(include / "campaigns").items["spring-launch-2026"]
    start, end = campaign.market_window(markets["de"])
    assert start == datetime(2026, 3, 10, 23, tzinfo=UTC)  # the campaign's start (Berlin midnight) + 10 days
    assert end == datetime(2027, 1, 31, 23, tzinfo=UTC)  # Berlin midnight after the inclusive end date
    jp_start, jp_end = campaign.market_window(markets["jp"])
    assert jp_start == datetime(2026, 3, 19, 15, tzinfo=UTC)  # Tokyo midnight of 2026-03-20
    assert jp_end == datetime(2027, 2, 28, 15, tzinfo=UTC)  # the campaign's end, at Tokyo's midnight
    assert not campaign.ended(datetime(2026, 1, 1, tzinfo=UTC)) and not campaign.ended(jp_end)  # on elsewhere
    assert campaign.ended(datetime(2027, 3, 1, 12, tzinfo=UTC))  # the last midnight on Earth (UTC-12)
    with pytest.raises(ValueError, match="not both"):
        Market.model_validate({"code": "x", "locales": ["en"], "timezone": "UTC", "usage_rights": "any",
                               "window": {"start": "2026-05-01", "start_offset_days": 3}})


def test_bare_campaign_dates_are_each_markets_midnight_unless_a_zone_is_named(include: Path, capsys) -> None:
    """A campaign launching on the 1st opens Kiritimati (UTC+14) and Los Angeles (UTC-8) each at its
    own midnight; naming a zone makes it one instant everywhere (a simultaneous global launch)."""
    for code, zone in (("ki", "Pacific/Kiritimati"), ("us", "America/Los_Angeles")):
        (include / "markets" / f"{code}.yaml").write_text(MINIMAL.replace("code: de", f"code: {code}").replace(
            "Europe/Berlin", zone).replace("de-DE", "en-US") + "overlay: none\n")
    campaign_file = include / "campaigns" / "spring-launch-2026.yaml"
    campaign_file.write_text(campaign_file.read_text().replace("markets: [fr, jp, sa]", "markets: [fr, ki, us]"))
    markets = load_markets(include / "markets").items
    campaign = load_campaigns(include / "campaigns", load_markets(include / "markets")).items["spring-launch-2026"]
    assert campaign.market_window(markets["ki"])[0] == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert campaign.market_window(markets["us"])[0] == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert campaign.market_window(markets["us"])[1] == datetime(2027, 3, 1, 8, tzinfo=UTC)
    # Without a market: started once the first place on Earth reached the date, over after the last.
    assert campaign.bounds() == (datetime(2026, 2, 28, 10, tzinfo=UTC), datetime(2027, 3, 1, 12, tzinfo=UTC))
    assert not campaign.ended(datetime(2027, 3, 1, 11, tzinfo=UTC)) and campaign.ended(
        datetime(2027, 3, 1, 12, tzinfo=UTC))
    assert cli(["lint", str(include)]) == 0
    out = capsys.readouterr().out
    assert "spring-launch-2026: each market at its own midnight:" in out
    assert "us (America/Los_Angeles): opens 2026-03-01 00:00 local = 2026-03-01 08:00 UTC" in out
    assert "ki (Pacific/Kiritimati): opens 2026-03-01 00:00 local = 2026-02-28 10:00 UTC" in out
    campaign_file.write_text(campaign_file.read_text().replace("end: 2027-02-28}", "end: 2027-02-28, timezone: UTC}"))
    campaign = load_campaigns(include / "campaigns", load_markets(include / "markets")).items["spring-launch-2026"]
    assert campaign.market_window(markets["ki"])[0] == campaign.market_window(markets["us"])[0] == \
        datetime(2026, 3, 1, tzinfo=UTC)
    assert cli(["lint", str(include)]) == 0
    assert "one instant everywhere (UTC midnights)" in capsys.readouterr().out


@pytest.mark.parametrize(("line", "expected"), [
    ("renditions:\n  - {name: hero, width: 1600, gravity: \"auto/e_grayscale\"}\n",
     "  - renditions[hero].gravity = 'auto/e_grayscale': gravity must be one of north_west, north, "),
    ("overlay: {color: \"white,e_pixelate:40\"}\n",
     "  - overlay.color = 'white,e_pixelate:40': color must be a colour name or #RRGGBB (anything else would "
     "reach Cloudinary as more transformation steps). Fix: write e.g. color: \"#ffffff\""),
    ("overlay: {font_family: \"Arial_10/e_blur:2000/l_text:x\"}\n",
     "  - overlay.font_family = 'Arial_10/e_blur:2000/l_text:x': font_family must be a font name of letters, "
     "digits, spaces and hyphens"),
    ("overlay: {gravity: sout}\n", "Fix: write gravity: south (did you mean 'south'?)"),
])
def test_values_copied_into_transformations_cannot_add_steps(include: Path, line: str, expected: str) -> None:
    """Gravity, colour and font reach Cloudinary's transformation text: each is from the documented
    set or a safe pattern, and a value that would add a step is refused naming file, field and fix."""
    message = market_errors(include, MINIMAL + line)
    assert expected in message, message
    assert str(include / "markets" / "de.yaml") in message


def test_documented_gravities_colours_and_fonts_are_accepted(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(
        MINIMAL + "renditions:\n  - {name: hero, width: 1600, gravity: \"auto:faces\"}\n"
        "  - {name: sq, width: 900, gravity: north_east}\n"
        "overlay: {color: \"#1a2b3c\", font_family: Open Sans, gravity: south_west}\n")
    market = load_markets(include / "markets").items["de"]
    assert [r.gravity for r in market.renditions] == ["auto:faces", "north_east"]
    assert (market.overlay.color, market.overlay.font_family) == ("#1a2b3c", "Open Sans")
