"""Usage windows over the emulators with a controllable clock (``dag.test()``, real HTTP).

The market copies are made under the project's include/ (campaign open now); then the config is
switched to one whose French window is two days ahead, so the emulator's clock can be moved to
just before, inside and after it — Cloudinary's own rule must refuse, serve and refuse again.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import yaml

from campaign_media.domain.windows import CLOSED
from campaign_media.runtime import audit, storage
from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import ROOT, cld_connection, ps_connection
from tests.integration.test_lifecycle_dags import CAMPAIGN, UPLOAD, calls, run
from tests.s3 import storage_url

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
PARIS_OFFSET = timedelta(hours=1)  # Europe/Paris in winter (the window below is in late autumn/winter)


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    base = tmp_path_factory.mktemp("windows")
    seeded = seed(base / "ps", images=13, galleries=1)  # the 13th: approved, its licence ended 3 days ago
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    day = (datetime.now(UTC) + timedelta(days=2)).date()  # the French launch day
    include = base / "include"
    shutil.copytree(ROOT / "include", include)
    campaign_file = include / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(campaign_file.read_text())
    data["window"] = {"start": str(day - timedelta(days=5)), "end": str(day + timedelta(days=10)), "timezone": "UTC"}
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    market_file = include / "markets" / "fr.yaml"
    market = yaml.safe_load(market_file.read_text())
    market["window"] = {"start": str(day), "end": str(day + timedelta(days=1))}  # Paris midnights
    market_file.write_text(yaml.safe_dump(market, allow_unicode=True))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
        mp.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", storage_url(base / "storage"))  # on S3 too (make test)
        for dag_id in ("campaign_media_ingest", "campaign_media_market_fr"):
            result, states = run(dagbag, dag_id, **({"force": True} if dag_id.endswith("ingest") else {}))
            assert result.state == "success", states
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(include))
        opens = datetime.combine(day, datetime.min.time(), tzinfo=UTC) - PARIS_OFFSET
        # The first usage-window run under the new window: the copies made public under the old one close.
        first = enforce(dagbag, datetime.now(UTC))
        yield {"ps": ps, "cld": cld, "seed": seeded, "opens": opens, "closes": opens + timedelta(days=2),
               "first run": first}
    ps.stop()
    cld.stop()


def manifest() -> dict:
    return storage.read_json(storage.path(CAMPAIGN, "delivery", "fr.json"))["masters"]


def status(url: str) -> int:
    return httpx.get(url).status_code


def enforce(dagbag, as_of: datetime) -> dict:
    result, states = run(dagbag, "campaign_media_usage_windows", as_of=as_of.isoformat())
    assert result.state == "success", states
    return storage.read_json(storage.path(CAMPAIGN, "windows", "latest.json"))


def public_masters(world) -> list[str]:
    """Masters public in France for the whole window (worldwide rights, licence beyond it)."""
    closes = world["closes"].strftime("%Y-%m-%dT%H:%M:%SZ")
    return sorted(i for i, m in manifest().items() if m["access"]["mode"] == "public" and m["access"]["end"] == closes)


def test_before_inside_after_is_refused_served_refused(world, dagbag) -> None:
    cld, opens, closes = world["cld"], world["opens"], world["closes"]
    report = world["first run"]
    enforce(dagbag, datetime.now(UTC))  # what other tests of this world moved is put back as of now
    masters = manifest()
    image_id = public_masters(world)[0]
    url = masters[image_id]["renditions"]["hero"]["url"]
    # The copies were public (made under the old config): this run closed them, with invalidation.
    closed = {(c["image_id"], c["by"]) for c in report["closed"]}
    assert (image_id, "this run") in closed
    assert masters[image_id]["access"]["start"] == opens.strftime("%Y-%m-%dT%H:%M:%SZ")  # Paris midnight
    try:
        cld.set_clock(now=(opens - timedelta(minutes=1)).isoformat())
        assert status(url) == 401  # before: refused
        cld.set_clock(now=(opens + timedelta(minutes=1)).isoformat())
        assert status(url) == 200  # inside, at 00:01 in Paris (still 23:01 UTC): served, no Airflow run needed
        channel = masters[image_id]["channels"]["web"]["desktop"]
        assert status(channel) == 200
        cld.set_clock(now=(closes + timedelta(minutes=1)).isoformat())
        assert status(url) == 401  # after: refused by Cloudinary's own rule
        # The run after the window closes the copy for good (a long-past window) and purges the CDN.
        report = enforce(dagbag, closes + timedelta(minutes=1))
        assert status(url) == 401
        resource = cld_resource(world, masters[image_id]["public_id"])
        assert resource["access_control"] == CLOSED
        assert resource["invalidations"] >= 2  # closed twice by a run (config change, window end): CDN purged
        assert manifest()[image_id]["access"]["phase"] == "after"
    finally:
        cld.set_clock()


def cld_resource(world, public_id: str) -> dict:
    from campaign_media.hooks import CloudinaryHook

    return CloudinaryHook().resource(public_id)


def test_shortened_licence_closes_delivery_on_the_next_run(world, dagbag) -> None:
    ps, cld, opens = world["ps"], world["cld"], world["opens"]
    inside = opens + timedelta(hours=6)
    enforce(dagbag, inside)
    shortened, untouched = public_masters(world)[:2]
    masters = manifest()
    urls = {i: masters[i]["renditions"]["hero"]["url"] for i in (shortened, untouched)}
    try:
        cld.set_clock(now=inside.isoformat())
        assert {i: status(u) for i, u in urls.items()} == {shortened: 200, untouched: 200}
        # Legal shortens the licence in PhotoShelter: it now ends an hour after `inside`.
        ps.control("POST", f"images/{shortened}/license",
                   {"license_etime": (inside + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S GMT")})
        report = enforce(dagbag, inside)
        assert any(r["image_id"] == shortened for r in report["repaired"])
        cld.set_clock(now=(inside + timedelta(hours=2)).isoformat())
        assert {i: status(u) for i, u in urls.items()} == {shortened: 401, untouched: 200}
    finally:
        cld.set_clock()


def test_unreadable_rights_stay_closed_and_are_reported(world, dagbag) -> None:
    cld, opens = world["cld"], world["opens"]
    unreadable = world["seed"]["broken"]["unreadable_licence"]
    inside = opens + timedelta(hours=6)
    report = enforce(dagbag, inside)
    restricted = {r["image_id"]: r["reason"] for r in report["restricted"] if r["market"] == "fr"}
    assert "unreadable" in restricted[unreadable]
    entry = manifest()[unreadable]
    assert entry["access"]["mode"] == "restricted" and entry["access"]["public"] is False
    try:
        for moment in (opens - timedelta(hours=1), inside, world["closes"] + timedelta(hours=1)):
            cld.set_clock(now=moment.isoformat())
            assert status(entry["renditions"]["hero"]["url"]) == 401, moment
    finally:
        cld.set_clock()


def test_an_expired_licence_is_published_closed_and_never_served(world, dagbag) -> None:
    """A master approved but whose licence ended before the window opens: ingested and made (so
    a renewed licence needs no new upload), but its copy is closed for good ('window over')."""
    cld, opens = world["cld"], world["opens"]
    expired = [i for i in world["seed"]["expired_licence"] if i in world["seed"]["approved"]]
    assert expired, "the seed has an approved master with an expired licence"
    inside = opens + timedelta(hours=6)
    enforce(dagbag, inside)
    entries = manifest()
    decisions = storage.read_json(storage.market_access(CAMPAIGN, "fr"))
    for image_id in expired:
        access = entries[image_id]["access"]
        assert (access["phase"], access["public"]) == ("after", False), access
        assert access["end"] == access["licence_expiry"].replace("+00:00", "Z") < access["start"]  # ended first
        assert decisions[image_id]["rules"][0]["end"] < "2001"  # the closed rule: a second in 2000
        if access["mode"] == "public":
            assert decisions[image_id]["reason"] == "window over"
        try:
            for moment in (opens - timedelta(hours=1), inside):
                cld.set_clock(now=moment.isoformat())
                assert status(entries[image_id]["renditions"]["hero"]["url"]) == 401, moment
        finally:
            cld.set_clock()


def test_signed_only_masters_get_expiring_urls_and_masters_stay_private(world, dagbag) -> None:
    cld, opens = world["cld"], world["opens"]
    inside = opens + timedelta(hours=6)
    report = enforce(dagbag, inside)
    masters = manifest()
    signed = {i: m for i, m in masters.items() if m["access"]["mode"] == "signed" and m["access"]["phase"] != "after"}
    assert signed and len(report["signed"]) == len(signed)  # a signed-only master whose licence ended gets none
    assert all(not m["access"].get("signed") for m in masters.values() if m["access"]["phase"] == "after")
    image_id, entry = next(iter(signed.items()))
    token_url = entry["access"]["signed"]["renditions"]["hero"]
    expires = datetime.fromisoformat(entry["access"]["signed"]["expires_at"].replace("Z", "+00:00"))
    # The campaign's ttl (48 h), but never beyond the window's end (which comes first here).
    assert expires == min(inside + timedelta(hours=48), world["closes"]) == world["closes"]
    try:
        cld.set_clock(now=inside.isoformat())
        assert status(entry["renditions"]["hero"]["url"]) == 401  # never public
        assert status(token_url) == 200
        assert status(token_url.replace("hmac=", "hmac=0")) == 401  # tampered
        cld.set_clock(now=(expires + timedelta(minutes=1)).isoformat())
        assert status(token_url) == 401  # expired
        # Masters are never public, whatever the time.
        master_url = entry["renditions"]["hero"]["url"].replace(f"/markets/fr/{image_id}", f"/masters/{image_id}") \
            .replace("/image/upload/", "/image/authenticated/")
        cld.set_clock(now=inside.isoformat())
        assert status(master_url) == 401
    finally:
        cld.set_clock()


def test_a_copy_that_cannot_be_updated_fails_the_run_but_not_the_others(world, dagbag, monkeypatch) -> None:
    cld, opens, closes = world["cld"], world["opens"], world["closes"]
    enforce(dagbag, closes + timedelta(minutes=1))  # every copy closed for good
    monkeypatch.setattr(dagbag.get_dag("campaign_media_usage_windows").get_task("reconcile"), "retries", 0)
    cld.set_faults(path_prefix="/v1_1/democloud/image/explicit", fail_after=2)
    try:
        result, _ = run(dagbag, "campaign_media_usage_windows", as_of=(opens + timedelta(hours=6)).isoformat())
    finally:
        cld.reset()
    assert result.state == "failed"
    report = storage.read_json(storage.path(CAMPAIGN, "windows", "latest.json"))
    changed = report["opened"] + report["repaired"] + report["closed"]
    assert len(changed) == 2 and report["failed"] and all("transient" in f["reason"] for f in report["failed"])
    # The next run (Cloudinary healthy again) applies the rest.
    report = enforce(dagbag, opens + timedelta(hours=6))
    assert report["failed"] == [] and report["summary"]["failed"] == 0 and report["opened"]


def test_revoked_rights_stop_token_urls_already_issued(world, dagbag) -> None:
    """A signed-only master's rights end while its token URLs are out: the copy is renamed (the
    CDN purged), so those URLs stop at once; the market DAG never makes it again under the old
    ID, and rights given back get token URLs for the new one."""
    ps, cld, opens = world["ps"], world["cld"], world["opens"]
    inside = opens + timedelta(hours=6)
    enforce(dagbag, inside)
    image_id, entry = next((i, m) for i, m in sorted(manifest().items())
                           if m["access"]["mode"] == "signed" and m["access"].get("signed"))
    old_id, issued = entry["public_id"], entry["access"]["signed"]["renditions"]["hero"]
    licence = ps.control("POST", f"images/{image_id}/license", {})["License"]
    try:
        cld.set_clock(now=inside.isoformat())
        assert status(issued) == 200
        ps.control("POST", f"images/{image_id}/license",  # legal withdraws it: the licence ended an hour ago
                   {"license_etime": (inside - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S GMT")})
        report = enforce(dagbag, inside)
        assert [(r["image_id"], r["public_id_now"]) for r in report["revoked"]] == [(image_id, f"{old_id}--r1")]
        assert status(issued) == 404  # not at its expiry (hours away): now
        assert old_id in cld.control("GET", "purges")["purged"]
        now_entry = manifest()[image_id]
        assert now_entry["public_id"] == f"{old_id}--r1" and not now_entry["access"]["signed"]
        assert f"{old_id}--r1" in now_entry["renditions"]["hero"]["url"]
        assert status(now_entry["renditions"]["hero"]["url"]) == 401  # closed, as restricted copies are
        revoked = [r for r in audit.read(CAMPAIGN) if r["action"] == "token_urls_revoked"]
        assert [(r["master"], r["before"]["public_id"], r["after"]["public_id"]) for r in revoked] == \
            [(image_id, old_id, f"{old_id}--r1")]
        # The market DAG keeps the renamed copy (no upload under the old ID, no second write-back).
        uploads = calls(cld, UPLOAD)
        result, states = run(dagbag, "campaign_media_market_fr")
        assert result.state == "success", states
        assert calls(cld, UPLOAD) == uploads
        assert status(issued) == 404
        # Rights given back: new token URLs, for the new ID only.
        ps.control("POST", f"images/{image_id}/license", {"license_etime": licence["license_etime"]})
        report = enforce(dagbag, inside)
        fresh = manifest()[image_id]["access"]["signed"]["renditions"]["hero"]
        assert f"{old_id}--r1" in fresh and status(fresh) == 200 and status(issued) == 404
        assert report["revoked"] == []
    finally:
        cld.set_clock()
        ps.control("POST", f"images/{image_id}/license", {"license_etime": licence["license_etime"]})
