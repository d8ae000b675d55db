"""docker-compose.yaml: the Celery deployment of the official file, wired to the emulators."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from tests.system import require_system_packages

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")


def test_compose_has_the_celery_stack_and_the_emulators() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-worker", "airflow-triggerer", "airflow-init", "photoshelter-emulator",
            "cloudinary-emulator"} <= set(services)
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    ps = json.loads(DEFAULT.sub(r"\1", env["AIRFLOW_CONN_PHOTOSHELTER_DEFAULT"]))
    cld = json.loads(DEFAULT.sub(r"\1", env["AIRFLOW_CONN_CLOUDINARY_DEFAULT"]))
    assert ps["host"] == "http://photoshelter-emulator:8701" and ps["extra"]["api_key"]
    assert cld["extra"]["upload_prefix"] == "http://cloudinary-emulator:8702"
    assert "--port 8701 --data-dir" in services["photoshelter-emulator"]["command"][0]
    assert "--port 8702 --data-dir" in services["cloudinary-emulator"]["command"][0]
    init = services["airflow-init"]["command"][1]
    assert "campaign_media.cli pools > /tmp/pools.json && airflow pools import" in init  # the one definition
    for mount in ("./dags:/opt/airflow/dags", "./plugins:/opt/airflow/plugins", "./include:/opt/airflow/include"):
        assert mount in services["airflow-worker"]["volumes"]
    require_system_packages()  # Debian's docker-compose validates the whole file (make system-deps installs it)
    subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"], check=True)
