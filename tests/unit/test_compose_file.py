"""docker-compose.yaml: the Celery deployment of the official file, wired to the emulators."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import yaml

from tests.system import require_system_packages

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = re.compile(r"\$\{[A-Z0-9_]+:?-([^}]*)\}")
SECRETS = {"AIRFLOW_JWT_SECRET": "test-jwt-secret",
           "AIRFLOW_FERNET_KEY": "dGVzdC1mZXJuZXQta2V5LTMyLWJ5dGVzLWxvbmchIQ==",
           "CAMPAIGN_MEDIA_SIGNOFF_KEY": "test-signoff-key"}


def compose_config(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    require_system_packages()  # Debian's docker-compose validates the whole file (make system-deps installs it)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "CLOUDINARY_", "PHOTOSHELTER_",
                                                                      "COMPOSE_"))}
    return subprocess.run(["docker-compose", "-f", str(ROOT / "docker-compose.yaml"), *extra, "config"],
                          capture_output=True, text=True, env={**clean, **env}, cwd="/")


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
    assert "campaign_media.cli pools --create" in init  # the one definition
    for mount in ("./dags:/opt/airflow/dags", "./plugins:/opt/airflow/plugins", "./include:/opt/airflow/include"):
        assert mount in services["airflow-worker"]["volumes"]
    result = compose_config({**SECRETS, "COMPOSE_PROFILES": "emulators"})
    assert result.returncode == 0, result.stderr


def test_the_jwt_secret_and_fernet_key_are_shared_and_required() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY:?")
    missing = compose_config({"AIRFLOW_FERNET_KEY": SECRETS["AIRFLOW_FERNET_KEY"]})
    assert missing.returncode != 0 and "set AIRFLOW_JWT_SECRET in .env" in missing.stderr
    rendered = yaml.safe_load(compose_config(SECRETS).stdout)
    secrets = {rendered["services"][name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
               for name in ("airflow-apiserver", "airflow-worker", "airflow-scheduler", "airflow-triggerer")}
    assert secrets == {"test-jwt-secret"}  # one secret for every component


def test_emulators_are_a_profile_and_see_no_project_secrets() -> None:
    rendered = yaml.safe_load(compose_config(SECRETS).stdout)["services"]
    for name in ("photoshelter-emulator", "cloudinary-emulator"):  # a real deployment never starts them
        assert rendered.get(name, {"profiles": ["emulators"]})["profiles"] == ["emulators"]
    assert not any(service.get("profiles") for name, service in rendered.items() if "emulator" not in name)
    with_emulators = yaml.safe_load(compose_config({**SECRETS, "COMPOSE_PROFILES": "emulators"}).stdout)
    for name in ("photoshelter-emulator", "cloudinary-emulator"):
        mounts = [v["source"] if isinstance(v, dict) else v for v in with_emulators["services"][name]["volumes"]]
        assert not any(str(m).rstrip("/") == str(ROOT) for m in mounts), f"{name} mounts the whole project (.env)"
        assert "environment" not in with_emulators["services"][name]


def test_an_empty_account_variable_means_unset() -> None:
    env = {**SECRETS, "CLOUDINARY_UPLOAD_PREFIX": "", "CLOUDINARY_DELIVERY_HOST": "", "CLOUDINARY_AUTH_TOKEN_KEY": ""}
    rendered = yaml.safe_load(compose_config(env).stdout)
    conn = json.loads(rendered["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_CLOUDINARY_DEFAULT"])
    assert conn["extra"]["upload_prefix"] == "" and conn["extra"]["delivery_host"] == ""  # Cloudinary's own hosts
    unset = yaml.safe_load(compose_config(SECRETS).stdout)
    conn = json.loads(unset["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_CLOUDINARY_DEFAULT"])
    assert conn["extra"]["upload_prefix"] == "http://cloudinary-emulator:8702"  # left out: the emulator


def test_init_owns_the_volumes_and_the_image_pins_what_it_installs() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    init = compose["services"]["airflow-init"]["command"][1]
    assert 'chown -R "${AIRFLOW_UID:-50000}:0" /opt/airflow/logs /opt/airflow/campaign-media' in init
    dockerfile = (ROOT / "Dockerfile").read_text()
    specs = re.findall(r'"([a-z0-9-]+[^"]*)"', dockerfile.split("RUN pip install", 1)[1].split("COPY", 1)[0])
    assert specs and all("==" in spec for spec in specs), specs
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, line


def test_env_example_keeps_emulator_values_and_account_placeholders_apart() -> None:
    text = (ROOT / ".env.example").read_text()
    required, emulators, accounts = text.split("# ---")[1:4]
    assert "AIRFLOW_JWT_SECRET=" in required and "AIRFLOW_FERNET_KEY=" in required
    assert "COMPOSE_PROFILES=emulators" in emulators
    assert all(line.startswith("#") for line in accounts.splitlines()[1:] if line.strip())  # opt-in, together
    assert "#CLOUDINARY_UPLOAD_PREFIX=\n" in accounts and "#PHOTOSHELTER_API_KEY=change-me" in accounts


def rendered_connections(env: dict[str, str]) -> dict[str, str]:
    """The two connections (and the access logs' location) as compose renders them for the init container."""
    result = compose_config({**SECRETS, **env})
    assert result.returncode == 0, result.stderr
    environment = yaml.safe_load(result.stdout)["services"]["airflow-init"]["environment"]
    return {k: environment[k] for k in ("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", "AIRFLOW_CONN_CLOUDINARY_DEFAULT",
                                        "AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS")}


def test_init_refuses_real_credentials_aimed_at_the_emulators() -> None:
    """A real Cloudinary key and secret with CLOUDINARY_UPLOAD_PREFIX left out would send the secret
    over plain HTTP to cloudinary-emulator: compose's init check refuses, naming what to set."""
    from campaign_media.account.deployment import problems

    init = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]["airflow-init"]["command"][1]
    assert init.lstrip().startswith("python -m campaign_media.cli check-deployment &&")  # before anything else
    assert problems(rendered_connections({"COMPOSE_PROFILES": "emulators"})) == []  # the emulators, as shipped
    real = {"CLOUDINARY_CLOUD_NAME": "brand", "CLOUDINARY_API_KEY": "987654321098765",
            "CLOUDINARY_API_SECRET": "a-real-secret-0123"}
    half = [p for p in problems(rendered_connections(real)) if "plain HTTP" in p]
    assert len(half) == 1 and half[0].startswith("Cloudinary: a real credential would go over plain HTTP to "
                                                 "http://cloudinary-emulator:8702")
    assert "set CLOUDINARY_UPLOAD_PREFIX and CLOUDINARY_DELIVERY_HOST" in half[0] and "a-real-secret" not in half[0]
    # Only the required lines filled: the emulator's token key, internal notification address and
    # CDN log folder would stay; each is refused, naming the variable.
    required = {**real, "CLOUDINARY_UPLOAD_PREFIX": "", "CLOUDINARY_DELIVERY_HOST": ""}
    kept = problems(rendered_connections(required))
    assert [p.split(" ", 2)[1] for p in kept] == ["CLOUDINARY_AUTH_TOKEN_KEY", "CLOUDINARY_NOTIFICATION_BASE_URL",
                                                  "AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS"], kept
    whole = {**required, "CLOUDINARY_AUTH_TOKEN_KEY": "", "CLOUDINARY_PRIVATE_CDN": "",
             "CLOUDINARY_NOTIFICATION_BASE_URL": "", "AIRFLOW__CAMPAIGN_MEDIA__ACCESS_LOGS": ""}
    assert problems(rendered_connections(whole)) == []  # Cloudinary's own https hosts, nothing of the emulator's
    ps_half = problems(rendered_connections({"PHOTOSHELTER_API_KEY": "REALKEY1234", "PHOTOSHELTER_PASSWORD": "x1"}))
    assert len(ps_half) == 1 and "set PHOTOSHELTER_HOST" in ps_half[0]
    ps_whole = {"PHOTOSHELTER_API_KEY": "REALKEY1234", "PHOTOSHELTER_HOST": "https://www.photoshelter.com"}
    assert problems(rendered_connections(ps_whole)) == []


def test_the_check_deployment_command_exits_non_zero_with_the_reason(monkeypatch, capsys) -> None:
    from campaign_media.cli import main

    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", json.dumps({
        "conn_type": "cloudinary", "host": "brand", "login": "1", "password": "a-real-secret",
        "extra": {"upload_prefix": "http://cloudinary-emulator:8702"}}))
    monkeypatch.delenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", raising=False)
    assert main(["check-deployment"]) == 1
    assert "refused: Cloudinary: a real credential would go over plain HTTP" in capsys.readouterr().err
