"""The whole lifecycle under injected faults ends exactly where it ends without them.

Two copies of one seeded account (same image IDs, same files) are run through ingest, two
markets, usage windows, metrics, the campaign's end and the archive: once against quiet
emulators, once against emulators that fail 10 % of calls with a 503, 5 % with a 429 and
``Retry-After``, 1 % with a dropped connection and 2 % with a *lost reply* (the call is carried
out, its answer never arrives: the case that makes a naive retry write twice), and that are each
restarted once mid-run. The seed is fixed, so a failure reproduces. The end states — Cloudinary's
assets and rules, PhotoShelter's galleries and files, the stored state, manifests and reports —
must be equal once the values that legitimately differ (versions, times, new IDs, hosts) are
set aside, and nothing may exist twice.
"""

from __future__ import annotations

from functools import partial

import pytest

from tests.integration.worlds import CAMPAIGN, differences, lifecycle, run_worlds

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory, airflow_db, dagbag):
    return run_worlds(tmp_path_factory, dagbag, "faults",
                      {"quiet": lifecycle, "faulty": partial(lifecycle, faulty=True)})


def test_live_state_under_faults_equals_the_quiet_run(worlds) -> None:
    quiet, faulty = worlds["quiet"]["live"], worlds["faulty"]["live"]
    assert quiet["cloudinary"] and any(k.startswith("upload:") for k in quiet["cloudinary"])
    # every master and copy once, same rules and renditions; every write-back once; the same state,
    # manifests, access decisions and reports
    found = differences(quiet, faulty)
    assert not found, "\n".join(found[:40])


def test_archived_state_under_faults_equals_the_quiet_run(worlds) -> None:
    quiet, faulty = worlds["quiet"]["archived"], worlds["faulty"]["archived"]
    done = quiet["storage"][f"{CAMPAIGN}/archive/done.json"]
    assert done["summary"]["missing"] == 0 and done["summary"]["verified"] == done["summary"]["renditions"] > 0
    found = differences(quiet, faulty)
    assert not found, "\n".join(found[:40])


def test_nothing_exists_twice(worlds) -> None:
    for name in ("quiet", "faulty"):
        state = worlds[name]["archived"]
        assert all(count == 1 for _, count in state["collections"]), state["collections"]
        for gallery, copies in state["galleries"].items():
            assert len(copies) == 1, f"{name}: gallery {gallery!r} exists {len(copies)} times"
            assert all(count == 1 for _, count in copies[0]["files"]), f"{name}: a file twice in {gallery!r}"
