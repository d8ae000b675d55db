"""The campaign page's files route serves manifests and reports only, whatever links say."""

from __future__ import annotations

import json

import pytest
from fastapi import HTTPException

from campaign_media.ui.access import GOVERNANCE_DAGS, Reader

CAMPAIGN = "spring-launch-2026"
# Reads every DAG: what the simple auth manager gives a signed-in user.
EVERYONE = Reader(frozenset({"campaign_media_ingest", "campaign_media_market_fr", "campaign_media_market_jp",
                             "campaign_media_market_sa", *GOVERNANCE_DAGS}))


@pytest.fixture
def stored(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", tmp_path.as_uri())
    base = tmp_path / CAMPAIGN
    (base / "delivery").mkdir(parents=True)
    (base / "markets" / "fr").mkdir(parents=True)
    (base / "delivery" / "fr.json").write_text(json.dumps({"masters": {}}))
    (base / "markets" / "fr" / "state.json").write_text(json.dumps({"secret": "state"}))
    return base


def test_a_manifest_is_served(stored) -> None:
    from campaign_media.ui.app import stored_file

    assert json.loads(stored_file(CAMPAIGN, "delivery/fr.json", EVERYONE).body) == {"masters": {}}


def test_a_link_out_of_the_served_folders_is_refused(stored, tmp_path) -> None:
    from campaign_media.ui.app import stored_file

    (stored / "delivery" / "link.json").symlink_to(stored / "markets" / "fr" / "state.json")
    (tmp_path / "elsewhere.json").write_text("{}")
    (stored / "reports").mkdir()
    (stored / "reports" / "out").symlink_to(tmp_path)  # a linked folder leading out of the campaign
    for name in ("delivery/link.json", "reports/out/elsewhere.json", "markets/fr/state.json", "delivery/../x"):
        with pytest.raises(HTTPException) as refused:
            stored_file(CAMPAIGN, name, EVERYONE)
        assert refused.value.status_code == 404, name
    # a link that stays inside a served folder is still served
    (stored / "delivery" / "latest.json").symlink_to(stored / "delivery" / "fr.json")
    assert json.loads(stored_file(CAMPAIGN, "delivery/latest.json", EVERYONE).body) == {"masters": {}}


def test_token_urls_are_withheld_from_a_served_manifest_and_kept_in_storage(stored) -> None:
    """A signed-only master's token URLs open its copy to whoever holds them until they expire:
    the page serves the manifest without them; the stored manifest a CMS reads keeps them."""
    from campaign_media.ui.app import WITHHELD, stored_file

    token = "http://cdn.example/demo/image/authenticated/s--x--/c_fill/campaigns/c/markets/fr/I1.jpg?__cld_token__=exp=1~hmac=ab"
    manifest = {"masters": {"I1": {"renditions": {"hero": {"url": "http://cdn.example/I1.jpg"}},
                                   "access": {"mode": "signed", "signed": {"expires_at": "2027-01-01T00:00:00Z",
                                                                           "renditions": {"hero": token}}}}}}
    (stored / "delivery" / "fr.json").write_text(json.dumps(manifest))
    served = json.loads(stored_file(CAMPAIGN, "delivery/fr.json", EVERYONE).body)
    assert "__cld_token__" not in json.dumps(served)
    signed = served["masters"]["I1"]["access"]["signed"]
    assert signed == {"expires_at": "2027-01-01T00:00:00Z", "renditions": {"hero": WITHHELD}}
    assert served["masters"]["I1"]["renditions"] == manifest["masters"]["I1"]["renditions"]  # the rest as stored
    assert json.loads((stored / "delivery" / "fr.json").read_text()) == manifest
