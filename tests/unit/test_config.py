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


def test_a_ten_line_market_gets_sensible_defaults(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text("code: de\nlocales: [de-DE]\ntimezone: Europe/Berlin\n")
    market = load_markets(include / "markets").items["de"]
    assert [r.name for r in market.renditions] == ["hero", "square", "story"]
    assert market.breakpoints == [320, 640, 1024, 1600] and market.overlay.font_size == 48


def test_errors_name_the_file_the_field_and_the_fix(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(
        "code: de\nlocales: [de-DE]\ntimezone: Europe/Berlinn\nrenditions:\n  - {name: hero, widht: 10}\n")
    (include / "markets" / "it.yaml").write_text("code: it\n locales: [x\n")
    (include / "markets" / "nl.yaml").write_text("code: holland\nlocales: [nl-NL]\ntimezone: Europe/Amsterdam\n")
    markets = load_markets(include / "markets")
    assert {"fr", "jp", "sa"} <= set(markets.items)  # the others still load
    de = markets.errors[str(include / "markets" / "de.yaml")]
    assert "field 'timezone'" in de and "Europe/Berlinn" in de and "IANA" in de
    assert "field 'renditions.0.widht'" in de and "Fix: remove it or fix its spelling" in de
    assert "not valid YAML at line 2" in markets.errors[str(include / "markets" / "it.yaml")]
    assert "rename the file to holland.yaml" in markets.errors[str(include / "markets" / "nl.yaml")]


def test_campaign_with_unknown_market(include: Path) -> None:
    path = include / "campaigns" / "spring-launch-2026.yaml"
    path.write_text(path.read_text().replace("markets: [fr, jp, sa]", "markets: [fr, xx]"))
    errors = lint(include)
    assert len(errors) == 1 and "unknown market(s) ['xx']" in errors[0]


def test_lint_command(include: Path, capsys) -> None:
    assert cli(["lint", str(include)]) == 0
    assert "ok: 3 market(s)" in capsys.readouterr().out
    (include / "markets" / "de.yaml").write_text("code: de\n")
    assert cli(["lint", str(include)]) == 1
    err = capsys.readouterr().err
    assert "de.yaml" in err and "field 'locales'" in err and "1 file(s) need fixing" in err


def test_window_bounds_are_local_midnight_and_inclusive() -> None:
    assert moment(date(2026, 3, 1), "Asia/Tokyo") == datetime(2026, 2, 28, 15, tzinfo=UTC)
    assert moment(date(2026, 3, 1), "Europe/Paris", end=True) == datetime(2026, 3, 1, 23, tzinfo=UTC)
    with pytest.raises(ValueError, match="window.end is before window.start"):
        Market.model_validate({"code": "x", "locales": ["en"], "timezone": "UTC",
                               "window": {"start": "2026-05-01", "end": "2026-04-01"}})


def test_campaign_overlap_and_headline_fallback() -> None:
    campaign = load_campaigns().items["spring-launch-2026"]
    assert campaign.overlaps(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    assert not campaign.overlaps(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    assert campaign.headline("fr-CA") == "Le printemps est là" and campaign.headline("de-DE") is None


def test_market_window_is_the_intersection_in_local_time(include: Path) -> None:
    (include / "markets" / "de.yaml").write_text(
        "code: de\nlocales: [de-DE]\ntimezone: Europe/Berlin\nwindow: {start_offset_days: 10, end: 2027-01-31}\n")
    markets = load_markets(include / "markets").items
    campaign = load_campaigns(include / "campaigns").items["spring-launch-2026"]
    start, end = campaign.market_window(markets["de"])
    assert start == datetime(2026, 3, 11, tzinfo=UTC)  # campaign start (UTC midnight) + 10 days
    assert end == datetime(2027, 1, 31, 23, tzinfo=UTC)  # Berlin midnight after the inclusive end date
    jp_start, jp_end = campaign.market_window(markets["jp"])
    assert jp_start == datetime(2026, 3, 19, 15, tzinfo=UTC)  # Tokyo midnight of 2026-03-20
    assert jp_end == datetime(2027, 3, 1, tzinfo=UTC)  # the campaign's end bounds it
    assert not campaign.ended(datetime(2026, 1, 1, tzinfo=UTC)) and campaign.ended(jp_end)
    with pytest.raises(ValueError, match="not both"):
        Market.model_validate({"code": "x", "locales": ["en"], "timezone": "UTC",
                               "window": {"start": "2026-05-01", "start_offset_days": 3}})
