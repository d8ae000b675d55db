"""The campaign lifecycle on Airflow's CeleryExecutor: Postgres, Redis, two workers, one of them
killed mid-run. The run still completes on the other worker, with no duplicate and nothing lost."""

from __future__ import annotations

import contextlib
import json
import shutil
import time

import httpx
import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import free_port, start_cloudinary, start_photoshelter
from tests.conftest import ROOT, cld_connection, ps_connection
from tests.e2e.cluster import CeleryCluster, Postgres, Redis
from tests.e2e.support import (
    CAMPAIGN,
    INGEST,
    MARKETS,
    end_campaign,
    published_masters,
    quiet,
    run_once,
    unsuccessful,
    wait_for,
)

# The steps of one story, in order: a step run alone runs the steps before it first (tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.story]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("celery")
    seeded = seed(base / "ps", images=12, galleries=1)
    with contextlib.ExitStack() as started:  # whatever started is stopped, also when a later start fails
        ps = start_photoshelter(base / "ps")
        started.callback(ps.stop)
        cld = start_cloudinary(base / "cld")
        started.callback(cld.stop)
        pg = Postgres().start()
        started.callback(pg.stop)
        redis = Redis().start()
        started.callback(redis.stop)
        yield from run_cluster(base, seeded, ps, cld, pg, redis)


def run_cluster(base, seeded, ps, cld, pg, redis):
    shutil.copytree(ROOT / "include", base / "include")  # the second test ends the campaign in it
    af = CeleryCluster(base / "airflow", free_port(), {
        "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": ps_connection(ps),
        "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cld_connection(cld),
        "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": (base / "storage").as_uri(),
        "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(base / "include"),
        # many small mapped tasks, to spread over the workers
        "AIRFLOW__CAMPAIGN_MEDIA__INGEST_BATCH_SIZE": "2", "AIRFLOW__CAMPAIGN_MEDIA__RENDER_BATCH_SIZE": "2",
        "AIRFLOW__CAMPAIGN_MEDIA__RETRY_DELAY_SECONDS": "3",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis.port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://airflow:airflow@127.0.0.1:{pg.port}/airflow",
    })
    try:
        af.start()
        yield {"af": af, "ps": ps, "cld": cld, "seed": seeded, "base": base}
    finally:
        af.stop()


def task_instances(af, dag_id: str) -> list[dict]:
    return af.api("GET", f"dags/{dag_id}/dagRuns/~/taskInstances", params={"limit": 1000})["task_instances"]


def test_lifecycle_spreads_over_two_workers_and_survives_losing_one(cluster) -> None:
    af, cld, ps, seeded = cluster["af"], cluster["cld"], cluster["ps"], cluster["seed"]
    deadline = time.monotonic() + 180
    # every one of them parsed (the listing grows as the DAG processor writes each file's DAGs)
    while not {INGEST, *MARKETS} <= {d["dag_id"] for d in af.api("GET", "dags", params={"limit": 100})["dags"]}:
        assert time.monotonic() < deadline, "DAGs not parsed"
        time.sleep(3)
    for dag_id in (INGEST, *MARKETS):
        af.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})
    af.trigger(INGEST, {"force": True})

    # Kill worker1 once it has finished a task and is in the middle of another.
    deadline = time.monotonic() + 240
    while True:
        received, finished = af.celery_tasks("worker1")
        if finished and received - finished:
            af.kill_worker("worker1")
            break
        assert time.monotonic() < deadline, "worker1 never ran a task"
        time.sleep(0.2)
    # Each market runs on ingest's asset events, which a loaded scheduler may turn into runs more
    # than a few seconds apart: wait for every market's manifest to hold every master, then quiet.
    shippable = set(seeded["approved"]) | {seeded["broken"]["unreadable_licence"]}

    def every_market_published() -> bool:
        delivery = cluster["base"] / "storage" / CAMPAIGN / "delivery"
        manifests = [delivery / f"{m.removeprefix('campaign_media_market_')}.json" for m in MARKETS]
        return all(p.exists() and shippable <= set(json.loads(p.read_text())["masters"]) for p in manifests)

    wait_for(every_market_published, timeout=600)
    quiet(af, [INGEST, *MARKETS], settle=15, timeout=600)

    assert not (failed := unsuccessful(af, [INGEST, *MARKETS])), "\n".join(failed)
    retried = [ti for d in (INGEST, *MARKETS) for ti in task_instances(af, d) if ti["try_number"] > 1]
    placed = {name: af.task_instances_run(name) for name in ("worker1", "worker2")}
    print(f"task instances run to the end per worker: {placed}; retried after the kill: "
          f"{[(ti['dag_id'], ti['task_id'], ti['map_index'], ti['try_number']) for ti in retried]}")
    assert placed["worker1"] >= 1 and placed["worker2"] >= 1
    # What worker1 held when killed was either running (then it is retried: try 2) or only
    # prefetched (then task_queued_timeout re-queues it at the same try). Either way every run
    # must succeed with nothing lost and nothing twice, which is what is checked below.
    print(f"lost work came back as {'a retry' if retried else 're-queued prefetched messages'}")

    # Nothing lost: every shippable master is in Cloudinary, each with all its renditions in each
    # market; no duplicate: exactly one PhotoShelter reference asset per rendition.
    assert set(published_masters(cluster)) == shippable
    from campaign_media.config.loader import load_markets

    markets = load_markets().items
    headers = {"X-PS-Api-Key": ps.credentials["api_key"]}
    login = httpx.post(f"{ps.base_url}/psapi/v3/mem/authenticate", headers=headers, data={
        "email": ps.credentials["email"], "password": ps.credentials["password"], "mode": "token"}).json()["data"]
    headers["X-PS-Auth-Token"] = login["token"]
    httpx.post(f"{ps.base_url}/psapi/v3/mem/organization/{login['org'][0]['id']}/authenticate", headers=headers)
    galleries = httpx.get(f"{ps.base_url}/psapi/v3/mem/gallery/query", headers=headers).json()["data"]["Gallery"]
    for code, market in markets.items():
        gallery = next(g for g in galleries if g["name"] == f"Spring Launch 2026 — renditions {code}")
        names = [i["Image"]["file_name"] for i in httpx.get(
            f"{ps.base_url}/psapi/v3/mem/gallery/{gallery['gallery_id']}/images", headers=headers,
            params={"per_page": 1500, "extend": '{"Image": {"fields": "file_name"}}'}).json()["data"]["GalleryImage"]]
        assert len(names) == len(set(names)) == len(shippable) * len(market.renditions), code
    # One upload per master for ingest, one per master per market for its market copy; the kill
    # may make again only what the killed worker had in flight (a task's masters, one batch of 2).
    uploads = cld.calls().get("POST /v1_1/{cloud}/{rt}/upload", 0)
    needed = len(shippable) * (1 + len(markets))
    in_flight = 2 * max(1, len(retried))  # AIRFLOW__CAMPAIGN_MEDIA__*_BATCH_SIZE=2 in this cluster
    print(f"Cloudinary uploads: {uploads} for {needed} copies")
    assert needed <= uploads <= needed + in_flight


def test_usage_windows_metrics_and_archive_on_celery(cluster) -> None:
    """The rest of the lifecycle on the surviving worker: rules, report, the campaign's end,
    then the archive on Postgres-backed Airflow."""
    af, base = cluster["af"], cluster["base"]
    storage = base / "storage" / CAMPAIGN
    states = {m: json.loads((storage / "markets" / m / "state.json").read_text()) for m in ("fr", "jp", "sa")}
    assert run_once(af, "campaign_media_usage_windows") == "success"
    assert run_once(af, "campaign_media_metrics") == "success"
    copies = sum(len(s) for s in states.values())
    assert json.loads((storage / "windows" / "latest.json").read_text())["summary"]["copies"] == copies

    end_campaign(base / "include")
    assert run_once(af, "campaign_media_usage_windows") == "success"
    report = json.loads((storage / "windows" / "latest.json").read_text())
    access = {m: json.loads((storage / "markets" / m / "access.json").read_text()) for m in states}
    assert report["summary"]["closed"] > 0 and not any(a["public"] for m in access.values() for a in m.values())
    assert run_once(af, "campaign_media_archive") == "success"
    done = json.loads((storage / "archive" / "done.json").read_text())
    renditions = sum(len(e["renditions"]) for s in states.values() for e in s.values())
    assert done["summary"]["verified"] == renditions and done["summary"]["copies_deleted"] == copies
    assert (storage / "archive" / "report" / "index.html").exists()
    # The campaign page on the distributed deployment (its API server on Postgres): refused
    # without a login, and the same answer as on standalone.
    page = f"{af.url}/campaign-media/api/campaigns/{CAMPAIGN}"
    assert httpx.get(page, timeout=30).status_code == 401
    data = httpx.get(page, headers={"Authorization": f"Bearer {af.token}"}, timeout=30).json()
    assert {m["status"] for m in data["markets"]} == {"closed"} and data["archive"]["state"] == "done"
    assert data["audit"]["archive_verified"] == renditions
