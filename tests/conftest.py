"""Shared fixtures: an isolated Airflow home, and both emulators as real HTTP servers."""

from __future__ import annotations

import email
import inspect
import json
import os
import tempfile
from email import policy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration at import: point it at a throw-away home first.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-test-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
# The key sealing sign-off records, for every process the tests start (tests/unit/test_signoff.py
# shows that records sealed with another key are ignored).
SIGNOFF_KEY = "test-signoff-key-" + "0" * 48
os.environ["AIRFLOW_CONN_CAMPAIGN_MEDIA_SIGNOFF"] = json.dumps({"conn_type": "generic", "password": SIGNOFF_KEY})

from emulators.runner import (  # noqa: E402
    EmulatorProcess,
    cloudinary_connection,
    photoshelter_connection,
    start_cloudinary,
    start_photoshelter,
)

FAST_RETRY = {"retry_base_delay": 0.01, "retry_max_delay": 0.2, "max_retries": 8, "retry_budget_seconds": 20}


@pytest.fixture(scope="session")
def ps_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A seeded PhotoShelter data dir (16 masters over 2 galleries, plus the broken records)."""
    from emulators.photoshelter.seed import seed

    data_dir = tmp_path_factory.mktemp("ps-data")
    return data_dir, seed(data_dir, images=16, galleries=2)


@pytest.fixture(scope="session")
def photoshelter(ps_seed: tuple[Path, dict]) -> EmulatorProcess:
    proc = start_photoshelter(ps_seed[0])
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def cloudinary_emulator(tmp_path_factory: pytest.TempPathFactory) -> EmulatorProcess:
    proc = start_cloudinary(tmp_path_factory.mktemp("cld-data"))
    yield proc
    proc.stop()


@pytest.fixture
def clean_emulators(photoshelter: EmulatorProcess, cloudinary_emulator: EmulatorProcess):
    """Both emulators with counters zeroed and no faults; faults are cleared afterwards too."""
    for proc in (photoshelter, cloudinary_emulator):
        proc.reset()
    yield photoshelter, cloudinary_emulator
    for proc in (photoshelter, cloudinary_emulator):
        proc.reset()


# ``CAMPAIGN_MEDIA_PHOTOSHELTER_API=4``: the suites' PhotoShelter connections speak v4 (make test
# runs the lifecycle modules once so, against the strict emulator).
PS_API = {"api_version": int(os.environ["CAMPAIGN_MEDIA_PHOTOSHELTER_API"])} \
    if os.environ.get("CAMPAIGN_MEDIA_PHOTOSHELTER_API") else {}


def ps_connection(proc: EmulatorProcess, **overrides: object) -> str:
    """The emulator's connection with fast retries (tests wait milliseconds, not seconds)."""
    return photoshelter_connection(proc, **{**overrides, "extra": {**FAST_RETRY, **PS_API,
                                                                  **overrides.get("extra", {})}})


def cld_connection(proc: EmulatorProcess, **overrides: object) -> str:
    return cloudinary_connection(proc, **{**overrides, "extra": {**FAST_RETRY, **overrides.get("extra", {})}})


@pytest.fixture
def connections(clean_emulators, monkeypatch: pytest.MonkeyPatch):
    """``photoshelter_default`` and ``cloudinary_default`` pointing at the emulators."""
    ps, cld = clean_emulators
    monkeypatch.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps))
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
    return ps, cld


@pytest.fixture
def sdk(connections):
    """The SDK's upload and admin functions bound to the emulator's account (the hook's client)."""
    from campaign_media.hooks import CloudinaryHook

    return CloudinaryHook().get_conn()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--order", choices=("forward", "reverse"), default="forward",
                     help="reverse: the modules, and the tests in each, in reverse order (make test's main run: "
                          "a test relying on an earlier neighbour then fails)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "story: the module's tests are the steps of one story, in file order "
                                       "(a step run alone runs the steps before it first)")


def is_story(item: pytest.Item) -> bool:
    return item.get_closest_marker("story") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--order reverse``: the modules in reverse order, and the tests of each too, but for a
    story's steps, which keep their order. This runs before the packages' own ordering rules
    (tests/e2e/conftest.py), which then still hold."""
    if config.getoption("--order") != "reverse":
        return
    items.reverse()
    start = 0
    while start < len(items):  # a story's run of steps (now backwards) put back in file order
        end = start
        while end < len(items) and is_story(items[end]) and items[end].module is items[start].module:
            end += 1
        if end > start:
            items[start:end] = items[start:end][::-1]
            start = end
        else:
            start += 1


@pytest.fixture(autouse=True)
def story_steps(request: pytest.FixtureRequest) -> None:
    """In a module marked ``story``, the steps before this one that have not run yet run first,
    as this test's set-up (with their fixtures): a step selected alone, or after a failed one,
    starts from the state its story reaches by then."""
    if request.node.get_closest_marker("story") is None:
        yield
        return
    done: set[str] = request.module.__dict__.setdefault("_story_done", set())
    for name, step in steps_of(request.module):
        if name == request.function.__name__:
            break
        if name not in done:
            done.add(name)
            for given in parameters_of(step):
                step(**{arg: given[arg] if arg in given else request.getfixturevalue(arg)
                        for arg in inspect.signature(step).parameters})
    yield
    done.add(request.function.__name__)


def parameters_of(step: object) -> list[dict]:
    """Each call of a step: ``[{}]``, or one per value of its ``parametrize`` mark."""
    marks = [m for m in getattr(step, "pytestmark", []) if m.name == "parametrize"]
    if not marks:
        return [{}]
    names = [n.strip() for n in (marks[0].args[0].split(",") if isinstance(marks[0].args[0], str)
                                 else marks[0].args[0])]
    out = []
    for value in marks[0].args[1]:
        values = value.values if hasattr(value, "values") else value if len(names) > 1 else (value,)
        out.append(dict(zip(names, values, strict=True)))
    return out


def steps_of(module: object) -> list[tuple[str, object]]:
    """A story module's test functions in file order."""
    found = [(name, fn) for name, fn in vars(module).items()
             if name.startswith("test_") and inspect.isfunction(fn) and fn.__module__ == module.__name__]
    return sorted(found, key=lambda kv: kv[1].__code__.co_firstlineno)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB in the test AIRFLOW_HOME (for ``dag.test()``): a copy of
    ``CAMPAIGN_MEDIA_TEST_DB_TEMPLATE`` when the suite runner made one, else migrated here."""
    import shutil
    import subprocess
    import sys

    home = Path(os.environ["AIRFLOW_HOME"])
    template = os.environ.get("CAMPAIGN_MEDIA_TEST_DB_TEMPLATE")
    if not (home / "airflow.db").exists() and template and Path(template).exists():
        shutil.copyfile(template, home / "airflow.db")
    if not (home / "airflow.db").exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")})
    return home


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


UI = "http://airflow.brand.example:8080"  # where alert links point in the tests


class Inbox:
    """What the SMTP server received: one parsed message per envelope."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def inbox(monkeypatch):
    """A real SMTP server (aiosmtpd) on a free port, the ``smtp_default`` connection pointing at it
    and ``[campaign_media] alerts = smtp``: what the deployment sends, read back."""
    from aiosmtpd.controller import Controller

    from emulators.runner import free_port

    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": controller.port,
        "extra": {"from_email": "pipelines@brand.example", "disable_ssl": True, "disable_tls": True,
                  "timeout": 5, "retry_limit": 0}}))
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__ALERTS", "smtp")
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__ALERT_TO", "brand-ops@example.com, legal@example.com")
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__UI_BASE_URL", UI)
    yield box
    controller.stop()
