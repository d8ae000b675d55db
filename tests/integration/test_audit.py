"""The audit trail over a whole lifecycle, run by ``dag.test()`` against fresh emulators: every
master published, copy made, rendition written back, window change, CDN purge, archive item and
deletion appears exactly once, with its run; a retried task writes no duplicate; the CLI answers
per master and per market; the archive keeps the trail."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import ObjectStoragePath

from campaign_media.cli import main as cli
from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import audit, storage
from campaign_media.steps import ingest
from tests.integration.test_lifecycle_dags import CAMPAIGN, run
from tests.integration.worlds import ended_include, seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    """The whole lifecycle once, against emulators of its own: ingest, France, the usage windows,
    a licence ended by legal and the windows again, then the campaign's end, the windows and the
    archive. What the tests read in between is kept in the world."""
    with seeded_world(tmp_path_factory.mktemp("audit"), images=6, videos=1) as world:
        ps = world["ps"]
        for dag_id, conf in (("campaign_media_ingest", {"force": True}), ("campaign_media_market_fr", {}),
                             ("campaign_media_usage_windows", {})):
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        # Legal ends one licence: the next windows run closes that copy (and purges the CDN).
        world["state"] = storage.read_json(storage.market_state(CAMPAIGN, "fr"))
        world["ended"] = ended = world["seed"]["approved"][1]
        ps.control("POST", f"images/{ended}/license",
                   {"license_etime": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S GMT")})
        result, states = run(dagbag, "campaign_media_usage_windows")
        assert result.state == "success", states
        world["windows_run"] = storage.read_json(storage.windows_report(CAMPAIGN))
        # The campaign ends: every copy closes, then the archive keeps and verifies, and cleans up.
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(ended_include(world["base"])))
        for dag_id in ("campaign_media_usage_windows", "campaign_media_archive"):
            result, states = run(dagbag, dag_id)
            assert result.state == "success", (dag_id, states)
        world["final_windows"] = storage.read_json(storage.windows_report(CAMPAIGN))
        yield world


def once(records: list[dict], **subject) -> dict:
    """The one record matching ``subject`` (fails on none or on a duplicate)."""
    found = [r for r in records if all(r.get(k) == v for k, v in subject.items())]
    assert len(found) == 1, (subject, found)
    return found[0]


def test_the_lifecycle_leaves_one_record_per_action(world) -> None:
    state, ended = world["state"], world["ended"]
    windows_run, final_windows = world["windows_run"], world["final_windows"]

    records = audit.read(CAMPAIGN)
    assert len({r["key"] for r in records}) == len(records)  # no record twice
    reports = [storage.read_json(p) for p in storage.path(CAMPAIGN, "ingest").glob("*/report.json")]
    for uploaded in (u for r in reports for u in r["uploaded"]):
        published = once(records, action="master_published", master=uploaded["image_id"])
        assert published["after"]["file"] == uploaded["file"] and published["dag_id"] == "campaign_media_ingest"
    for image_id, entry in state.items():
        made = once(records, action="copy_made", market="fr", master=image_id)
        assert made["after"]["public_id"] == entry["public_id"] and made["version"] == entry["version"]
        assert made["after"]["rules"] == entry["rules"] and made["run_type"] == "manual"
        for name, rendition in entry["renditions"].items():
            if rendition.get("write_back", True):
                back = once(records, action="written_back", market="fr", master=image_id,
                            after={"ps_image_id": rendition["ps_image_id"], "file_name": rendition["file_name"]})
                assert back["details"]["rendition"] == name
    licence = [r for r in records if r["master"] == ended and r["action"] == "window_closed"]
    assert len(licence) == 1 and licence[0]["reason"] == "window over", licence  # its licence ended
    assert licence[0]["after"][0]["end"].startswith("2000-") and licence[0]["before"] != licence[0]["after"]
    once(records, action="cdn_purge", market="fr", master=ended)
    # Every window change any usage-window run reported is one record, and there is no other:
    # counted per copy and kind over all the runs' reports (a record per change, exactly once).
    runs_reports = [storage.read_json(p) for p in storage.path(CAMPAIGN, "windows").glob("*.json")
                    if p.name != "latest.json"]
    assert len(runs_reports) == 3 and windows_run in runs_reports and final_windows in runs_reports
    def by(item: dict) -> str:
        return item.get("by") or item["details"]["by"]

    reported = [(i["image_id"], i["market"], kind, by(i)) for report in runs_reports
                for kind in ("opened", "closed", "repaired") for i in report[kind]]
    changes = [r for r in records if r["action"].startswith("window_") or r["action"] == "restricted"]
    assert changes and all(by(r) in ("this run", "Cloudinary's rule") for r in changes)
    # per copy: as many records as reported changes (a restricted copy's record says "restricted")
    assert Counter((m, k, b) for m, k, _, b in reported) == Counter((r["master"], r["market"], by(r))
                                                                      for r in changes)
    # and the kind of each change, where the record names it
    kinds = Counter((r["master"], r["market"], r["action"].removeprefix("window_"), by(r))
                    for r in changes if r["action"] != "restricted")
    assert not kinds - Counter(reported), kinds - Counter(reported)
    done = storage.read_json(storage.archive_file(CAMPAIGN, "done.json"))
    for key, item in done["items"].items():
        market, image_id, rendition = key.split("/")
        kept = once(records, action="archive_verified", market=market, master=image_id,
                    details={"rendition": rendition})
        assert kept["after"]["sha256"] == item["sha256"]
    for image_id in state:
        once(records, action="copy_deleted", market="fr", master=image_id)
    # The archive keeps the whole trail next to its final report.
    kept_trail = list(csv.DictReader(io.StringIO(storage.path(CAMPAIGN, "archive", "audit.csv").read_text())))
    assert len(kept_trail) >= len(records) - len([r for r in records if r["action"] == "copy_deleted"])
    assert Counter(r["action"] for r in kept_trail)["archive_verified"] == len(done["items"])


def test_a_retried_task_writes_no_duplicate(tmp_path, airflow_db) -> None:
    """A try that died before saving its progress is redone by the next: the same records, once
    (an account of its own: its records would be a second publication in the lifecycle's)."""
    with seeded_world(tmp_path, images=4):
        retried_push()


def retried_push() -> None:
    markets = load_markets()
    campaign = load_campaigns(markets=markets).items[CAMPAIGN]
    ps, cld = PhotoShelterHook(), CloudinaryHook()
    batches = ingest.plan(ps, cld, [campaign], "retry-check", None, None, force=True)
    first_try = audit.RunInfo(dag_id="campaign_media_ingest", run_id="manual__retry-check", task_id="push",
                              map_index=0, try_number=1, run_type="manual", user="tester",
                              day=datetime.now(UTC).strftime("%Y-%m-%d"))
    with audit.recording(first_try):
        done = ingest.push(ps, cld, campaign, batches[0])
    path = audit.task_file(CAMPAIGN, first_try)
    written = path.read_text().splitlines()
    assert done["uploaded"] + done["context_updated"] > 0
    assert len(written) == done["uploaded"] + done["context_updated"]  # one record per master handled
    ObjectStoragePath(batches[0]["result"]).unlink()  # the try died before saving its progress
    with audit.recording(replace(first_try, try_number=2)):
        ingest.push(ps, cld, campaign, batches[0])
    again = path.read_text().splitlines()
    assert again == written  # redone, recorded once: the first try's records stand
    assert {json.loads(line)["try_number"] for line in again} == {1}


def test_the_cli_answers_per_master_and_per_market(world, capsys) -> None:
    master = world["seed"]["approved"][1]
    assert cli(["audit", "--campaign", CAMPAIGN, "--master", master, "--format", "json"]) == 0
    about = json.loads(capsys.readouterr().out)
    assert {r["master"] for r in about} == {master}
    assert {"master_published", "copy_made", "window_closed", "archive_verified", "copy_deleted"} <= \
        {r["action"] for r in about}
    assert cli(["audit", "--campaign", CAMPAIGN, "--market", "fr", "--action", "copy_made", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["market"] for r in rows} == {"fr"} and {r["action"] for r in rows} == {"copy_made"}
    assert cli(["audit", "--campaign", CAMPAIGN, "--format", "counts"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["copy_made"] == len(rows) and counts["archive_verified"] > 0
    assert cli(["audit", "--campaign", CAMPAIGN, "--master", master]) == 0
    table = capsys.readouterr().out
    assert "window_closed" in table and master in table and "run_type" in table
