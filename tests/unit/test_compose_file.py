"""docker-compose.yaml is valid and wires Airflow to the emulators with the documented flags."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_wires_airflow_to_the_emulators() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert {"photoshelter-emulator", "cloudinary-emulator", "airflow"} <= set(services)
    env = services["airflow"]["environment"]
    ps = json.loads(env["AIRFLOW_CONN_PHOTOSHELTER_DEFAULT"])
    cld = json.loads(env["AIRFLOW_CONN_CLOUDINARY_DEFAULT"])
    assert ps["host"] == "http://photoshelter-emulator:8701" and ps["extra"]["api_key"]
    assert cld["extra"]["upload_prefix"] == "http://cloudinary-emulator:8702"
    assert "--port 8701 --data-dir" in services["photoshelter-emulator"]["command"][0]
    assert "--port 8702 --data-dir" in services["cloudinary-emulator"]["command"][0]
    if shutil.which("docker-compose"):  # Debian's docker-compose validates the whole file too
        subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"], check=True)
