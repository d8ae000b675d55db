"""The distribution installed the way a deployment installs it: a fresh venv with only Airflow 3.3.2
(this repository's constraints), then the wheel built from this checkout. Nothing of the
repository is on that venv's path: the DAG folder is the one file from docs/deployment.md, written
outside the repository, over a copy of include/ that lives elsewhere too. Then the lifecycle's
ingest and one market run with ``dag.test()`` against the emulators (this repository's own
processes, over HTTP: they are not part of the wheel)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import ROOT, cld_connection, ps_connection

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
EXPECTED_DAGS = {"campaign_media_ingest", "campaign_media_usage_windows", "campaign_media_signoff",
                 "campaign_media_deadlines", "campaign_media_archive", "campaign_media_metrics",
                 "campaign_media_api_health", "campaign_media_hand_edits", "campaign_media_market_fr",
                 "campaign_media_market_jp", "campaign_media_market_sa"}


def docs_dag_file() -> str:
    """The one-file DAG folder docs/deployment.md tells a deployment to write."""
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    return next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "lifecycle_dags()" in block)


def sh(*args: object, env: dict | None = None, cwd: Path | None = None, timeout: int = 900) -> str:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The wheel, a fresh venv holding Airflow and it, and an environment for that venv's processes."""
    base = tmp_path_factory.mktemp("distribution")
    source = base / "source"  # built from a copy: the build's leftovers stay out of this checkout
    for name in ("pyproject.toml", "setup.cfg", "README.md", "LICENSE"):
        source.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "plugins" / "campaign_media", source / "plugins" / "campaign_media",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sh(sys.executable, "-m", "build", "--outdir", base / "dist", source, timeout=600)
    [wheel] = (base / "dist").glob("*.whl")  # built from the sdist, so the sdist is complete too
    venv = base / "venv"
    sh(sys.executable, "-m", "venv", venv)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    sh(*pip, "apache-airflow==3.3.2", "-c", ROOT / "constraints.txt")
    sh(*pip, wheel, "-c", ROOT / "constraints.txt")
    (base / "dags").mkdir()
    (base / "dags" / "campaign_media.py").write_text(docs_dag_file(), encoding="utf-8")
    shutil.copytree(ROOT / "include", base / "config", ignore=shutil.ignore_patterns("schema"))
    (base / "plugins").mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AIRFLOW", "CAMPAIGN_MEDIA", "PYTHON", "VIRTUAL_ENV"))}
    env.update({"AIRFLOW_HOME": str(base / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(base / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(base / "plugins"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(base / "config"),
                "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": (base / "storage").as_uri(),
                "AIRFLOW__CAMPAIGN_MEDIA__RETRY_DELAY_SECONDS": "1", "REPOSITORY": str(ROOT),
                "PATH": f"{venv / 'bin'}:{env.get('PATH', '')}"})
    sh(venv / "bin" / "airflow", "db", "migrate", env=env, cwd=base)
    return {"base": base, "wheel": wheel, "venv": venv, "env": env}


def inside(installed: dict, *args: str, **env: str) -> dict:
    script = installed["base"] / "airflow_process.py"  # a copy: run from here, its folder is first on sys.path
    shutil.copy(ROOT / "tests" / "airflow_process.py", script)
    out = sh(installed["venv"] / "bin" / "python", script, *args,
             env={**installed["env"], **env}, cwd=installed["base"])
    return json.loads(out.rsplit("RESULT ", 1)[1].split("\n", 1)[0])


def test_the_wheel_holds_the_package_only(installed) -> None:
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"campaign_media", f"{installed['wheel'].name.split('-py3')[0]}.dist-info"}
    assert "campaign_media/py.typed" in names and "campaign_media/dags/__init__.py" in names
    packages = sh(installed["venv"] / "bin" / "python", "-m", "pip", "list", "--format=json", env=installed["env"])
    listed = {p["name"].lower() for p in json.loads(packages)}
    assert {"campaign-media-pipelines", "cloudinary", "httpx", "pandas"} <= listed
    assert not listed & {"pytest", "moto", "respx", "playwright"}  # nothing of the tests came along


def test_init_writes_a_starter_include_folder_that_lints(installed) -> None:
    """The wheel carries the market template: ``campaign-media init`` works outside the repository."""
    out = sh(installed["venv"] / "bin" / "campaign-media", "init", installed["base"] / "starter",
             env=installed["env"], cwd=installed["base"])
    assert "ok: 1 market(s) (gb), 1 campaign(s) (example-campaign)" in out
    assert (installed["base"] / "starter" / "markets" / "_template.yaml").read_text() == \
        (ROOT / "include" / "markets" / "_template.yaml").read_text()


def test_airflow_lists_the_provider_and_its_connection_types(installed) -> None:
    providers = json.loads(sh("airflow", "providers", "list", "-o", "json", env=installed["env"],
                              cwd=installed["base"]))
    assert "campaign-media-pipelines" in {p["package_name"] for p in providers}
    assert sh(installed["venv"] / "bin" / "campaign-media", "--version", env=installed["env"]).strip() == \
        f"campaign-media {version_of(installed)}"  # the console script
    # the provider declares [campaign_media]: Airflow knows each key and its default
    assert sh("airflow", "config", "get-value", "campaign_media", "render_batch_size", env=installed["env"],
              cwd=installed["base"]).strip() == "50"
    seen = inside(installed, "inspect")
    assert seen["hooks"] == {"cloudinary": "campaign_media.hooks.cloudinary.CloudinaryHook",
                             "photoshelter": "campaign_media.hooks.photoshelter.PhotoShelterHook"}
    assert "/site-packages/campaign_media/" in seen["package_file"] and not seen["repository_on_path"]


def test_a_one_file_dag_folder_outside_the_repository_parses_into_the_lifecycle(installed) -> None:
    seen = inside(installed, "inspect")
    assert seen["import_errors"] == {}
    assert set(seen["dags"]) == EXPECTED_DAGS
    assert seen["filelocs"] == [str(installed["base"] / "dags" / "campaign_media.py")]


def test_the_plugin_registers_once_with_or_without_this_repositorys_plugins_folder(installed) -> None:
    alone = inside(installed, "inspect")
    assert alone["plugins"].count("campaign_media_page") == 1 and alone["plugin_errors"] == {}
    assert "campaign_media.plugin:CampaignPagePlugin" in " ".join(alone["plugin_sources"])
    # This repository's plugins/ as the plugins folder (so on sys.path): still once, no error.
    both = inside(installed, "inspect", AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"))
    assert both["plugins"].count("campaign_media_page") == 1 and both["plugin_errors"] == {}
    listed = json.loads(sh("airflow", "plugins", "-o", "json", env=installed["env"], cwd=installed["base"]))
    assert [p["name"] for p in listed].count("campaign_media_page") == 1


def test_the_docs_dag_folder_runs_ingest_and_a_market_against_the_emulators(installed) -> None:
    base = installed["base"]
    seeded = seed(base / "ps", images=6, galleries=1)
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    try:
        states = inside(installed, "run", "campaign_media_ingest", "campaign_media_market_fr",
                        AIRFLOW_CONN_PHOTOSHELTER_DEFAULT=ps_connection(ps),
                        AIRFLOW_CONN_CLOUDINARY_DEFAULT=cld_connection(cld))
        assert states["campaign_media_ingest"]["state"] == "success", states
        assert states["campaign_media_market_fr"]["state"] == "success", states
        report = json.loads(next((base / "storage").glob("spring-launch-2026/ingest/*/report.json")).read_text())
        uploaded = {o["image_id"] for o in report["uploaded"]}
        assert uploaded == set(seeded["approved"]) | {seeded["broken"]["unreadable_licence"]}
        delivery = json.loads((base / "storage" / "spring-launch-2026" / "delivery" / "fr.json").read_text())
        assert set(delivery["masters"]) == uploaded
        assert all(entry["renditions"] for entry in delivery["masters"].values())
    finally:
        ps.stop()
        cld.stop()


def version_of(installed: dict) -> str:
    """The version in the wheel's name (``campaign_media_pipelines-0.9.0-py3-none-any.whl``)."""
    return installed["wheel"].name.split("-")[1]


def test_doctor_passes_with_a_triggerer_the_pools_and_one_api_health_run(installed, tmp_path) -> None:
    """The install section's last step: with the pools made, a triggerer running and one
    API-health run done, ``campaign-media doctor`` finds nothing to fix (and before the pools, it
    names them)."""
    import time

    base, bin_ = installed["base"], installed["venv"] / "bin"
    seed(tmp_path / "ps", images=3, galleries=1)
    ps, cld = start_photoshelter(tmp_path / "ps"), start_cloudinary(tmp_path / "cld")
    env = {**installed["env"], "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": ps_connection(ps),
           "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cld_connection(cld)}
    triggerer = subprocess.Popen([bin_ / "airflow", "triggerer"], env=env, cwd=base, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        if "cloudinary_api" in sh(bin_ / "airflow", "pools", "list", env=env, cwd=base):
            sh(bin_ / "airflow", "pools", "delete", "cloudinary_api", env=env, cwd=base)
        missing = subprocess.run([bin_ / "campaign-media", "doctor"], env=env, cwd=base, capture_output=True,
                                 text=True, timeout=300)
        assert missing.returncode == 1 and "fix: campaign-media pools --create" in missing.stdout, missing.stdout
        sh(bin_ / "campaign-media", "pools", "--create", env=env, cwd=base)
        states = inside(installed, "run", "campaign_media_api_health",
                        AIRFLOW_CONN_PHOTOSHELTER_DEFAULT=ps_connection(ps),
                        AIRFLOW_CONN_CLOUDINARY_DEFAULT=cld_connection(cld))
        assert states["campaign_media_api_health"]["state"] == "success", states
        deadline = time.monotonic() + 120
        while True:
            done = subprocess.run([bin_ / "campaign-media", "doctor"], env=env, cwd=base, capture_output=True,
                                  text=True, timeout=300)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(3)  # the triggerer's first heartbeat
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ok    triggerer: alive" in done.stdout and "ok    storage shared: campaign_media_api_health run" \
            in done.stdout
        assert "Traceback" not in done.stdout + done.stderr
    finally:
        triggerer.terminate()
        triggerer.wait(30)
        ps.stop()
        cld.stop()
