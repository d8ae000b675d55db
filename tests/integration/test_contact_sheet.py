"""The contact sheet: a market's renditions as previews a reviewer can look at before signing,
made through a signed URL on the page's side and cached (strict emulators over HTTP, ``dag.test()``).
The browser half is in ``tests/e2e/test_campaign_page.py``."""

from __future__ import annotations

import io
import re

import pytest
from fastapi import HTTPException
from PIL import Image

from campaign_media.runtime import storage
from campaign_media.ui.access import GOVERNANCE_DAGS, Reader
from tests.integration.test_lifecycle_dags import CAMPAIGN, run
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
REVIEWER = Reader(frozenset({"campaign_media_ingest", "campaign_media_market_jp", *GOVERNANCE_DAGS}))
DELIVERY = ("GET /{cloud}/{rt}/{dtype}/{rest:anypath}", "GET /{rt}/{dtype}/{rest:anypath}")  # shared host, private CDN


def deliveries(cld) -> int:
    calls = cld.calls()
    return sum(calls.get(route, 0) for route in DELIVERY)


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    with seeded_world(tmp_path_factory.mktemp("contact-sheet"), images=6) as world:
        for dag_id, conf in (("campaign_media_ingest", {"force": True}), ("campaign_media_market_jp", {}),
                             ("campaign_media_usage_windows", {})):
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        yield world


def test_every_rendition_previews_and_restricted_masters_are_marked(world) -> None:
    from campaign_media.ui.app import contact_sheet, rendition_preview

    made = storage.read_json(storage.market_state(CAMPAIGN, "jp"))
    decided = storage.read_json(storage.market_access(CAMPAIGN, "jp"))
    html = contact_sheet(CAMPAIGN, "jp", REVIEWER, 1)
    sources = re.findall(r"<img loading='lazy' src='([^']+)'", html)
    assert len(sources) == sum(len(e["renditions"]) for e in made.values())
    assert "cloudinary" not in html.lower() and "s--" not in html and "127.0.0.1" not in html
    restricted = [i for i, d in decided.items() if d["mode"] == "restricted"]
    assert restricted, "the seed has EMEA-only masters, restricted in Japan"
    for image_id in restricted:
        assert re.search(rf"<section class='master marked' data-master='{image_id}'>", html), image_id
    # A restricted copy is closed to the public, yet its rendition previews for the reviewer.
    image_id = restricted[0]
    name = sorted(made[image_id]["renditions"])[0]
    rendition = made[image_id]["renditions"][name]
    answer = rendition_preview(CAMPAIGN, "jp", image_id, name, REVIEWER)
    picture = Image.open(io.BytesIO(answer.body))
    assert picture.format == "JPEG" and max(picture.size) == 240
    ratio = rendition["width"] / rendition["height"]
    assert abs(picture.size[0] / picture.size[1] - ratio) < 0.02  # the rendition's own crop, fitted
    assert answer.headers["cache-control"].startswith("private")
    # ... fetched once: the second answer comes from the cache, with no delivery request.
    before = deliveries(world["cld"])
    assert before >= 1  # the first preview was a delivery request
    assert rendition_preview(CAMPAIGN, "jp", image_id, name, REVIEWER).body == answer.body
    assert deliveries(world["cld"]) == before


def test_a_market_the_caller_may_not_read_and_unknown_renditions_are_refused(world) -> None:
    from campaign_media.ui.app import contact_sheet, rendition_preview

    with pytest.raises(HTTPException) as refused:
        contact_sheet(CAMPAIGN, "fr", REVIEWER, 1)
    assert refused.value.status_code == 403
    image_id = sorted(storage.read_json(storage.market_state(CAMPAIGN, "jp")))[0]
    with pytest.raises(HTTPException) as missing:
        rendition_preview(CAMPAIGN, "jp", image_id, "no-such-rendition", REVIEWER)
    assert missing.value.status_code == 404
