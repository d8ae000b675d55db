"""``campaign-media init <folder>``: a starter include folder for a deployment's own campaigns.

It holds the market template (the one this repository's ``include/markets/_template.yaml`` links
to), one market, one campaign and the two JSON Schemas. The campaign uses only what a standard
Cloudinary account offers (no ``signed_urls``: token URLs are a premium feature) and images only,
so ``campaign-media lint`` passes whatever the account check found. Nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

TEMPLATE = "markets/_template.yaml"

MARKET = """\
# yaml-language-server: $schema=../schema/market.schema.json
# A market made from markets/_template.yaml, which documents every field.
code: gb
name: United Kingdom
locales: [en-GB]
timezone: Europe/London
usage_rights: any                 # every PhotoShelter usage-rights value is cleared here
"""

CAMPAIGN = """\
# yaml-language-server: $schema=../schema/campaign.schema.json
# A campaign on a standard Cloudinary account: images, one market. Rename the file with its id.
id: example-campaign
name: Example Campaign
source:
  collection_name: Example Campaign   # every gallery below this PhotoShelter collection
window: {{start: {start}, end: {end}}}   # bare dates: each market opens and closes at its own midnight
markets: [gb]
copy:
  en-GB: {{headline: "Hello from the example campaign"}}
approval: {{field: Approval Status, value: Approved}}
# Premium (token-based access, private CDN): deliver masters with these usage rights only by
# expiring token URLs. Confirm it with `campaign-media check-account` first.
# signed_urls: {{usage_rights: [web-only], ttl_hours: 48}}
archive: {{gallery: Example Campaign — archive, grace_days: 7}}
"""


def files(today: date, schemas: dict[str, str]) -> dict[str, str]:
    """The starter folder's files by relative path; the campaign runs 90 days from ``today``."""
    template = resources.files("campaign_media.config").joinpath("starter", TEMPLATE).read_text(encoding="utf-8")
    return {TEMPLATE: template, "markets/gb.yaml": MARKET,
            "campaigns/example-campaign.yaml": CAMPAIGN.format(start=today, end=today + timedelta(days=90)),
            **{f"schema/{kind}.schema.json": text for kind, text in schemas.items()}}


def write(folder: Path, contents: dict[str, str], say: Callable[[str], None]) -> list[Path]:
    """Write ``contents`` under ``folder``, saying each file before it is written. Refuses (and
    writes nothing) when any of them exists already; returns the paths written."""
    targets = {folder / name: text for name, text in contents.items()}
    there = [str(path) for path in targets if path.exists()]
    if there:
        raise FileExistsError(f"{len(there)} starter file(s) exist already: {', '.join(there)}. Nothing was "
                              "written: choose an empty folder, or move those files away first")
    for path, text in targets.items():
        say(f"writing {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
