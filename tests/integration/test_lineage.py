"""OpenLineage: ingest and a market run by Airflow with the OpenLineage provider on and its file
transport, in a process of their own (the provider decides at plugin load whether it listens, so
not in this test session). The emitted events say which PhotoShelter masters became which
Cloudinary masters, which market copies, and which renditions written back to PhotoShelter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import ROOT, cld_connection, ps_connection

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
CAMPAIGN = "spring-launch-2026"


def datasets(event: dict, side: str) -> set[str]:
    return {f"{d['namespace']}/{d['name']}" for d in event.get(side, [])}


def test_ingest_and_a_market_report_their_masters_copies_and_write_backs(tmp_path) -> None:
    seeded = seed(tmp_path / "ps", images=6, galleries=1)
    ps, cld = start_photoshelter(tmp_path / "ps"), start_cloudinary(tmp_path / "cld")
    events_file = tmp_path / "openlineage.jsonl"
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT / "plugins"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": (tmp_path / "storage").as_uri(),
           "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(ROOT / "include"),
           "AIRFLOW__CAMPAIGN_MEDIA__RETRY_DELAY_SECONDS": "1",
           "AIRFLOW__OPENLINEAGE__NAMESPACE": "campaign-media-test",
           "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events_file),
                                                          "append": True}),
           "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": ps_connection(ps),
           "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cld_connection(cld)}
    try:
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                       cwd=tmp_path, timeout=300)
        done = subprocess.run([sys.executable, ROOT / "tests" / "airflow_process.py", "run", "campaign_media_ingest",
                               "campaign_media_market_fr"], env=env, capture_output=True, text=True, cwd=tmp_path,
                              timeout=900)
        assert done.returncode == 0, done.stderr[-4000:]
        states = json.loads(done.stdout.rsplit("RESULT ", 1)[1].split("\n", 1)[0])
        assert {s["state"] for s in states.values()} == {"success"}, states
    finally:
        ps.stop()
        cld.stop()

    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {}
    for event in events:
        if event.get("eventType") == "COMPLETE" and "." in event["job"]["name"]:
            complete.setdefault(event["job"]["name"], []).append(event)
    shippable = set(seeded["approved"]) | {seeded["broken"]["unreadable_licence"]}
    cloud = json.loads(cld_connection(cld))["host"]

    [push] = complete["campaign_media_ingest.push"]  # one batch of six
    org = seeded["account"]["org_id"]  # the organisation the session chose
    assert datasets(push, "inputs") == {f"photoshelter://{org}/{i}" for i in shippable}
    assert datasets(push, "outputs") == {f"cloudinary://{cloud}/campaigns/{CAMPAIGN}/masters/{i}" for i in shippable}

    [render] = complete["campaign_media_market_fr.render"]
    assert datasets(render, "inputs") == datasets(push, "outputs")  # the masters ingest wrote
    outputs = datasets(render, "outputs")
    copies = {n for n in outputs if n.startswith("cloudinary://")}
    assert copies == {f"cloudinary://{cloud}/campaigns/{CAMPAIGN}/markets/fr/{i}" for i in shippable}
    manifest = json.loads((tmp_path / "storage" / CAMPAIGN / "delivery" / "fr.json").read_text())
    written = {r["ps_image_id"] for m in manifest["masters"].values() for r in m["renditions"].values()}
    assert written and outputs - copies == {f"photoshelter://{org}/{i}" for i in written}
