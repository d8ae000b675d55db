"""The embedded-default stack (emulators + ``airflow standalone``) shared by the e2e modules."""

from __future__ import annotations

import contextlib

import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import free_port, start_cloudinary, start_photoshelter
from scripts.standalone import Standalone
from tests.conftest import cld_connection, ps_connection
from tests.system import require_system_packages


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    require_system_packages()
    base = tmp_path_factory.mktemp("e2e")
    seeded = seed(base / "ps", images=12, galleries=1)
    with contextlib.ExitStack() as started:  # whatever started is stopped, also when a later start fails
        ps = start_photoshelter(base / "ps")
        started.callback(ps.stop)
        cld = start_cloudinary(base / "cld")
        started.callback(cld.stop)
        af = Standalone(base / "airflow", free_port(), {
            "AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": ps_connection(ps),
            "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cld_connection(cld),
            "CAMPAIGN_MEDIA_STORAGE": (base / "storage").as_uri(),
            "CAMPAIGN_MEDIA_CLAIM_POLL_SECONDS": "10",  # a run waiting for another looks again sooner
        })
        started.callback(af.stop)
        af.start()
        yield {"af": af, "ps": ps, "cld": cld, "seed": seeded, "storage": base / "storage"}


