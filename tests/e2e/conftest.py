"""The embedded-default stack (emulators + ``airflow standalone``) shared by the e2e modules."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import free_port, start_cloudinary, start_photoshelter
from scripts.standalone import Standalone
from tests.conftest import ROOT, cld_connection, ps_connection
from tests.system import require_system_packages

HERE = Path(__file__).parent


@contextlib.contextmanager
def running_stack(base: Path, *, images: int = 12, waiting: int = 0, env: dict[str, str] | None = None,
                  edit_include: Callable[[Path], None] | None = None) -> Iterator[dict]:
    """Seeded emulators and ``airflow standalone`` on free ports under ``base``; ``env`` adds to
    Airflow's environment; ``waiting``: more pending masters (the seed's); ``edit_include``
    changes the stack's copy of include/ before Airflow reads it. Whatever started is stopped,
    also when a later start fails."""
    seeded = seed(base / "ps", images=images, galleries=1, waiting=waiting)
    shutil.copytree(ROOT / "include", base / "include")  # the stack's own copy: a test ends the campaign in it
    if edit_include is not None:
        edit_include(base / "include")
    with contextlib.ExitStack() as started:
        ps = start_photoshelter(base / "ps")
        started.callback(ps.stop)
        cld = start_cloudinary(base / "cld")
        started.callback(cld.stop)
        port = free_port()
        af = Standalone(base / "airflow", port, {
            "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": ps_connection(ps),
            # Video transcodes announced to the API server's receiver, as a deployment would set it
            "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cld_connection(
                cld, extra={"notification_base_url": f"http://127.0.0.1:{port}"}),
            "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": (base / "storage").as_uri(),
            "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(base / "include"),
            "AIRFLOW__CAMPAIGN_MEDIA__CLAIM_POLL_SECONDS": "10",  # a run waiting for another looks again sooner
            **(env or {}),
        })
        started.callback(af.stop)
        af.start()
        yield {"af": af, "ps": ps, "cld": cld, "seed": seeded, "storage": base / "storage",
               "include": base / "include"}


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    require_system_packages()
    # No PhotoShelter watcher here: these modules count runs and change PhotoShelter on purpose;
    # event-driven ingest has its own stack (test_event_driven_ingest.py).
    with running_stack(tmp_path_factory.mktemp("e2e"),
                       env={"AIRFLOW__CAMPAIGN_MEDIA__WATCH_POLL_SECONDS": "0"}) as started:
        yield started


ENDS_THE_CAMPAIGN = "test_campaign_page.py"  # ends the shared stack's campaign: must run after the rest
OWN_STACK_FIRST = ("test_event_driven_ingest.py", "test_signoff.py")  # own standalones: before the shared one
MAKES_THE_RUNS = "test_standalone.py"  # runs the shared stack's pipeline
READS_THE_RUNS = ("test_ui_permissions.py",)  # reads what it wrote: after it (alone, it runs the pipeline itself)


def pytest_collection_modifyitems(items) -> None:
    """Run the module with its own stack first (two standalones at once would share two cores),
    the modules reading the shared stack's pipeline runs after the module making them (whatever
    ``--order`` says: running them again costs minutes), and the module that ends the shared stack's
    campaign right after the package's other tests."""
    first = [item for item in items if item.path.name in OWN_STACK_FIRST]
    last = [item for item in items if item.path.name == ENDS_THE_CAMPAIGN]
    readers = [item for item in items if item.path.name in READS_THE_RUNS]
    rest = [item for item in items if item not in last and item not in first and item not in readers]
    makers = [n for n, item in enumerate(rest) if item.path.name == MAKES_THE_RUNS]
    at = max(makers) + 1 if makers else len(rest)
    rest[at:at] = readers
    here = [n for n, item in enumerate(rest) if item.path.parent == HERE]
    start = min(here, default=0)
    after = max(here, default=len(rest) - 1)
    items[:] = rest[:start] + first + rest[start:after + 1] + last + rest[after + 1:]
