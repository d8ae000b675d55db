"""The read-only account check against permissive and strict emulators, and the market DAG
choosing its path from the capability report it writes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from campaign_media.cli import main as cli
from campaign_media.domain.masters import MASTER_DELIVERY, master_public_id
from campaign_media.domain.windows import CLOSED
from campaign_media.hooks import CloudinaryHook
from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import ROOT, cld_connection, ps_connection

pytestmark = [pytest.mark.integration]
CAMPAIGN = "spring-launch-2026"
MODES = {"permissive": {"strict": False}, "strict": {"strict": True, "private_cdn": False},
         "strict-private-cdn": {"strict": True, "private_cdn": True}}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("account")
    return base, seed(base / "ps", images=6, galleries=1, videos=1)


@pytest.fixture(params=list(MODES))
def account(request, seeded, monkeypatch, tmp_path):
    """One PhotoShelter data set served permissive or strict, and a Cloudinary account of that
    mode holding one authenticated master and one market copy (as after ingest and a market)."""
    base, data = seeded
    strict = MODES[request.param]["strict"]
    ps = start_photoshelter(base / "ps", strict=strict)
    cld = start_cloudinary(tmp_path / "cld", strict=strict, private_cdn=MODES[request.param].get("private_cdn", True))
    monkeypatch.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (tmp_path / "storage").as_uri())
    hook = CloudinaryHook()
    master = hook.upload(ROOT / "docs" / "img" / "airflow-grid.png", master_public_id(CAMPAIGN, "I0000probe00001"),
                         delivery_type=MASTER_DELIVERY)
    hook.upload(hook.delivery_url(master["public_id"], delivery_type=MASTER_DELIVERY, format="png"),
                f"campaigns/{CAMPAIGN}/markets/fr/I0000probe00001", access_control=CLOSED)
    try:
        yield request.param, data
    finally:
        ps.stop()
        cld.stop()


def check(capsys) -> dict:
    assert cli(["check-account", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_account_check_reports_what_each_account_does(account, capsys) -> None:
    mode, data = account
    report = check(capsys)
    ps, cld = report["photoshelter"], report["cloudinary"]
    entry = ps["campaigns"][CAMPAIGN]
    assert ps["login"] and ps["org_id"]
    assert entry["approved"] > 0 and entry["readable_licences"] > 0  # both shapes are read
    assert entry["download"]["matches"] is True  # the download route serves the listing's original
    videos = entry["videos"]  # the demo campaign ships videos: the media listing and a video download are tried
    assert videos["media_listing"] is True and videos["readable_videos"] == 1
    assert videos["download"]["matches"] is True and videos["download"]["video_id"] == data["videos"][0]
    assert ("Video.CustomMetadata" in videos["key_paths"]) == (mode != "permissive")
    assert cld["ping"] and cld["signed_delivery"] is True
    assert cld["signed_probe"]["unsigned"] == 401
    assert cld["rate_limit"]["limit"] == 500
    # No notification_base_url: events pulled (the default); the channel's triggers not made yet
    events = cld["notifications"]
    assert events["receiver"] is None and events["event_path"] == "pull"
    assert events["channel"] == "poll://campaign-media-cloudinary_default"
    assert events["triggers"].startswith("6 to create, 0 in place, 0 to delete")
    assert events["video_waits"].startswith("woken by events pulled from poll://campaign-media-cloudinary_default")
    if mode == "permissive":
        assert ps["timezone"] == "GMT"
        assert "CustomMetadata" in entry["key_paths"] and "License" in entry["key_paths"]
        assert cld["token_access"] is True and cld["listing_access_control"] is True
    else:
        assert ps["timezone"] == "America/New_York"
        assert "Image.CustomMetadata" in entry["key_paths"] and "CustomMetadata" not in entry["key_paths"]
        assert " " in entry["sample_time"] and not entry["sample_time"].endswith("GMT")  # local, no zone
        assert cld["listing_access_control"] is False
        assert cld["token_access"] is (mode == "strict-private-cdn")
    assert entry["sample_time_read_as"].endswith("Z")  # read as an instant (UTC)


def test_the_same_record_reads_as_the_same_instant_in_both_zones(seeded, monkeypatch, tmp_path, capsys) -> None:
    """Permissive PhotoShelter writes times in GMT with their zone, strict in the session's zone
    (New York) without one: the account check reads the same record as the same instant."""
    base, _ = seeded
    entries = {}
    for mode in ("permissive", "strict"):
        ps = start_photoshelter(base / "ps", strict=mode == "strict")
        cld = start_cloudinary(tmp_path / f"cld-{mode}", strict=mode == "strict")
        try:
            monkeypatch.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
            monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
            monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (tmp_path / f"storage-{mode}").as_uri())
            entries[mode] = check(capsys)["photoshelter"]["campaigns"][CAMPAIGN]
        finally:
            ps.stop()
            cld.stop()
    permissive, strict = entries["permissive"], entries["strict"]
    assert permissive["sample_time"].endswith("GMT") and not strict["sample_time"].endswith("GMT")
    assert permissive["sample_time"] != strict["sample_time"]  # the same moment, written two ways
    assert permissive["sample_time_read_as"] == strict["sample_time_read_as"]
    assert strict["sample_time_read_as"].endswith("Z")


def test_the_table_is_written_for_a_person(account, capsys) -> None:
    mode, _ = account
    assert cli(["check-account"]) == 0
    out = capsys.readouterr().out
    assert "token URLs (premium; signed_urls needs it)" in out and "report: " in out
    assert re.search(r"media listing \(videos\) +yes \(1 videos sampled, 1 readable\)", out), out
    assert ("NO" in out.split("token URLs")[1].splitlines()[0]) == (mode == "strict")


def test_the_market_dag_picks_its_path_from_the_report(account, capsys, tmp_path, monkeypatch) -> None:
    """signed_urls needs token access: refused with the feature and the setting named where the
    check found none, at lint and at run time; the same campaign without it runs."""
    mode, _ = account
    check(capsys)
    from campaign_media.account.capabilities import TokenAccessMissing
    from campaign_media.config.loader import load_campaigns, load_markets
    from campaign_media.hooks import PhotoShelterHook
    from campaign_media.steps import variants

    markets = load_markets().items
    campaign = load_campaigns(markets=load_markets()).items[CAMPAIGN]
    with PhotoShelterHook() as ps:
        if mode == "strict":
            with pytest.raises(TokenAccessMissing, match="token-based access.*private CDN.*check-account"):
                variants.plan(ps, CloudinaryHook(), [campaign], markets["fr"], "run-1")
            include = tmp_path / "include"
            shutil.copytree(ROOT / "include", include)
            assert cli(["lint", str(include)]) == 1
            assert "signed_urls: campaign spring-launch-2026 asks for signed_urls" in capsys.readouterr().err
            campaign = campaign.model_copy(update={"signed_urls": None})
        batches = variants.plan(ps, CloudinaryHook(), [campaign], markets["fr"], "run-2")
    assert sum(b["count"] for b in batches) == 1  # the one master


def test_a_market_run_judges_token_access_on_the_master_it_plans(account) -> None:
    """With no report yet, a market run asking for signed_urls has the check try the master it is
    about to use: a listing that does not show that master yet (an ingest running beside it)
    leaves token access unjudged, which is retried rather than refused for good."""
    from campaign_media.account import check as account_check
    from campaign_media.account.capabilities import Capabilities, TokenAccessUnknown, require_token_access
    from campaign_media.config.loader import load_campaigns, load_markets

    mode, _ = account
    campaign = load_campaigns(markets=load_markets()).items[CAMPAIGN]
    cld = CloudinaryHook()
    unseen = account_check.run(None, cld, [])["cloudinary"]  # what a listing too early finds: no master to try
    assert unseen["token_access"] is None and "no authenticated master yet" in unseen["notes"][0]
    with pytest.raises(TokenAccessUnknown, match="no authenticated master yet") as caught:
        require_token_access(campaign, Capabilities.load(), True)
    assert caught.value.retryable
    master = {"public_id": master_public_id(CAMPAIGN, "I0000probe00001"), "format": "png"}
    # the same listing, but the master named: judged on it
    assert account_check.run(None, cld, [], master=master)["cloudinary"]["token_access"] is (mode != "strict")
    account_check.run(None, cld, [])
    account_check.for_campaigns(cld, [campaign], master)  # the report is unjudged again: the check runs
    assert Capabilities.load().token_access is (mode != "strict")
