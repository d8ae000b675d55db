"""The embedded-default stack (emulators + ``airflow standalone``) shared by the e2e modules."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import free_port, start_cloudinary, start_photoshelter
from scripts.standalone import Standalone
from tests.conftest import ROOT, cld_connection, ps_connection
from tests.system import require_system_packages

HERE = Path(__file__).parent


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    require_system_packages()
    base = tmp_path_factory.mktemp("e2e")
    seeded = seed(base / "ps", images=12, galleries=1)
    shutil.copytree(ROOT / "include", base / "include")  # the stack's own copy: a test ends the campaign in it
    with contextlib.ExitStack() as started:  # whatever started is stopped, also when a later start fails
        ps = start_photoshelter(base / "ps")
        started.callback(ps.stop)
        cld = start_cloudinary(base / "cld")
        started.callback(cld.stop)
        af = Standalone(base / "airflow", free_port(), {
            "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": ps_connection(ps),
            "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cld_connection(cld),
            "AIRFLOW__CAMPAIGN_MEDIA__STORAGE": (base / "storage").as_uri(),
            "AIRFLOW__CAMPAIGN_MEDIA__INCLUDE": str(base / "include"),
            "AIRFLOW__CAMPAIGN_MEDIA__CLAIM_POLL_SECONDS": "10",  # a run waiting for another looks again sooner
        })
        started.callback(af.stop)
        af.start()
        yield {"af": af, "ps": ps, "cld": cld, "seed": seeded, "storage": base / "storage",
               "include": base / "include"}


ENDS_THE_CAMPAIGN = "test_campaign_page.py"  # ends the shared stack's campaign: must run after the rest


def pytest_collection_modifyitems(items) -> None:
    """Run the module that ends the stack's campaign right after the package's other tests."""
    last = [item for item in items if item.path.name == ENDS_THE_CAMPAIGN]
    if not last:
        return
    rest = [item for item in items if item not in last]
    after = max((n for n, item in enumerate(rest) if item.path.parent == HERE), default=len(rest) - 1)
    items[:] = rest[:after + 1] + last + rest[after + 1:]
