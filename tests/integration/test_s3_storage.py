"""Storage and the include folder on S3 (``moto`` in server mode, through Airflow's object storage
and ``s3fs``, with an ``aws`` connection): the create-only writes claims rely on, whole-object
replacement, the campaign page reading from the bucket, and campaign files read from the bucket at
parse time (a local copy, one listing per ``include_cache_seconds``, an import error when the store
cannot be listed). The lifecycle itself runs on S3 as ``tests/integration/test_lifecycle_dags.py``
with ``CAMPAIGN_MEDIA_TEST_STORAGE=s3`` (``make test``)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from campaign_media.config.errors import ConfigError
from campaign_media.dags.support import load_config
from tests.conftest import ROOT
from tests.s3 import BUCKET, S3Server, shared

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def s3() -> S3Server:
    return shared()


@pytest.fixture
def on_s3(s3: S3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    url = s3.url(f"storage-{request.node.name[:40]}-{time.monotonic_ns()}")
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", url)
    return url


def keys(s3: S3Server, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_create_only_writes_let_exactly_one_of_many_racing_writers_win(s3, on_s3) -> None:
    from campaign_media.runtime import storage

    target = storage.path("_claims", "race", "000000000001.json")
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def write(n: int) -> None:
        barrier.wait()
        if storage.create_json(target, {"run_id": f"run-{n}"}):
            wins.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1  # S3's conditional PUT (If-None-Match: *), not a check-then-write
    assert storage.read_json(target) == {"run_id": f"run-{wins[0]}"}
    storage.write_json(target, {"run_id": "replaced"})  # a whole-object replacement
    assert storage.read_json(target) == {"run_id": "replaced"}
    assert storage.read_json(storage.path("nothing", "here.json"), default="none") == "none"


def test_a_claim_on_s3_keeps_a_second_run_out_until_released(s3, on_s3) -> None:
    from campaign_media.runtime import claims

    claims.claim("campaign_media_ingest", "run-a", state_of=lambda run_id: "running")
    assert claims.holder("campaign_media_ingest") == "run-a"
    with pytest.raises(claims.RunInProgress):
        claims.claim("campaign_media_ingest", "run-b", state_of=lambda run_id: "running")
    claims.release("campaign_media_ingest", "run-a")
    claims.claim("campaign_media_ingest", "run-b", state_of=lambda run_id: "running")
    assert claims.holder("campaign_media_ingest") == "run-b"
    prefix = on_s3.split(f"{BUCKET}/", 1)[1]
    assert keys(s3, f"{prefix}/_claims/campaign_media_ingest/")  # the generations are objects in the bucket


def test_the_campaign_page_reads_a_campaign_from_the_bucket(s3, on_s3, airflow_db) -> None:
    from campaign_media.runtime import storage
    from campaign_media.ui import app as page_app
    from campaign_media.ui.access import Reader, dag_ids

    _, campaigns = load_config()
    campaign = campaigns.items["spring-launch-2026"]
    manifest = {"campaign": campaign.id, "market": "fr", "masters": {}, "generated_at": "2026-12-04T00:00:00+00:00"}
    storage.write_json(storage.delivery_manifest(campaign.id, "fr"), manifest)
    reader = Reader(frozenset(dag_ids(campaign)))
    served = page_app.stored_file(campaign.id, "delivery/fr.json", reader)
    assert json.loads(served.body) == manifest
    data = page_app.campaign_data(campaign.id, reader)
    assert data["campaign"] == campaign.id and [m["market"] for m in data["markets"]] == campaign.markets
    assert campaign.name in page_app.campaign_page(campaign.id, reader)


def test_campaign_files_on_s3_are_read_through_a_cached_local_copy(s3, monkeypatch, tmp_path) -> None:
    from campaign_media.config import remote

    prefix = f"config-{time.monotonic_ns()}"
    s3.upload_include(ROOT / "include", prefix)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", s3.url(prefix))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE_CACHE_SECONDS", "3600")
    local = {p.stem for p in (ROOT / "include" / "markets").glob("[!_]*.yaml")}
    markets, campaigns = load_config()
    assert set(markets.items) == local and "spring-launch-2026" in campaigns.items and not markets.errors

    # Within include_cache_seconds nothing is asked of the store, even when it changed.
    calls: list[str] = []
    real_list = remote._list
    monkeypatch.setattr(remote, "_list", lambda url: calls.append(url) or real_list(url))
    s3.client().delete_object(Bucket=BUCKET, Key=f"{prefix}/markets/jp.yaml")
    assert set(load_config()[0].items) == local and calls == []

    # Once it is due, one listing; the changed copy is swapped in whole.
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE_CACHE_SECONDS", "0")
    markets, campaigns = load_config()
    assert set(markets.items) == local - {"jp"} and len(calls) == 1
    assert campaigns.errors  # a campaign naming jp: reported, the others load
    copies = list((tmp_path / "campaign-media-include").glob("*/gen-*"))
    assert len(copies) == 2 and all(p.is_dir() for p in copies)

    # A store that cannot be listed is an error naming the URL (the DAG file's import error).
    missing = s3.url(prefix).replace(BUCKET, "no-such-bucket-here")
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", missing)
    with pytest.raises(ConfigError) as raised:
        load_config()
    assert f"include = {missing}: the store cannot be listed" in str(raised.value) and "Fix:" in str(raised.value)


def test_a_dag_folder_over_an_include_on_s3_parses_and_reports_an_unreachable_store(s3, tmp_path) -> None:
    """DagBag in a process of its own (as the DAG processor parses): the lifecycle DAGs from the bucket,
    the parse time cold and warm, and an import error when the store does not answer."""
    import os
    import subprocess
    import sys

    prefix = f"config-{time.monotonic_ns()}"
    s3.upload_include(ROOT / "include", prefix)
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "campaign_media.py").write_text(
        "# the campaign media DAGs, for airflow\nfrom campaign_media.dags import lifecycle_dags\n\n"
        "globals().update(lifecycle_dags())\n")
    script = ("import json, sys, time\nfrom airflow.dag_processing.dagbag import DagBag\n"
              "t = time.perf_counter(); bag = DagBag(dag_folder=sys.argv[1])\n"
              "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': bag.import_errors, "
              "'seconds': time.perf_counter() - t}))\n")

    def parse(include: str) -> dict:
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": include,
               "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"), "PYTHONPATH": str(ROOT / "plugins")}
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "dags")], env=env, capture_output=True,
                             text=True, timeout=300, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold = parse(s3.url(prefix))
    # Within include_cache_seconds (60 by default) the next parse reads the local copy and asks the
    # store nothing: a market file deleted from the bucket meanwhile is still parsed from the copy.
    s3.client().delete_object(Bucket=BUCKET, Key=f"{prefix}/markets/jp.yaml")
    warm = parse(s3.url(prefix))
    assert cold["errors"] == {} and "campaign_media_market_jp" in cold["dags"] and warm["dags"] == cold["dags"]
    print(f"\nparse of the one-file DAG folder, include on S3: cold {cold['seconds']:.2f} s, "
          f"warm {warm['seconds']:.2f} s")
    unreachable = S3Server()  # a port nothing listens on
    gone = s3.url(prefix).replace("aws_default@", "unreachable_s3@")
    os.environ["AIRFLOW_CONN_UNREACHABLE_S3"] = json.dumps(
        {"conn_type": "aws", "login": "testing", "password": "testing",
         "extra": {"endpoint_url": unreachable.endpoint, "region_name": "us-east-1",
                   "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}}}})
    try:
        failed = parse(gone)
    finally:
        del os.environ["AIRFLOW_CONN_UNREACHABLE_S3"]
    [message] = failed["errors"].values()
    assert failed["dags"] == [] and gone in message and "cannot be listed" in message and "Fix:" in message
    assert Path(tmp_path / "dags" / "campaign_media.py").exists()
