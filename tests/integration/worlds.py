"""Two copies of one seeded account run through the whole lifecycle, and their end states
compared: shared by the fault-injection and the crash-safety suites."""


from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
from campaign_media.runtime import storage
from emulators.photoshelter.seed import seed
from emulators.runner import EmulatorProcess, start_cloudinary, start_photoshelter
from tests.conftest import ROOT
from tests.integration.test_lifecycle_dags import CAMPAIGN, run

SEED = 20261128
# 3 % of calls lose their connection: 1 % before the call is carried out, 2 % after it (a lost
# reply, the case that makes a naive retry write twice; weighted up on purpose).
FAULTS = {"p_5xx": 0.10, "p_429": 0.05, "p_drop": 0.01, "p_lost_reply": 0.02, "retry_after": 0.2,
          "seed": SEED}
# Patient enough to outlast an emulator restart (about two seconds without an answer).
RETRY = {"retry_base_delay": 0.05, "retry_max_delay": 1.0, "max_retries": 14, "retry_budget_seconds": 90}
MARKETS = ("fr", "jp")
LIFECYCLE = ("campaign_media_ingest", *(f"campaign_media_market_{m}" for m in MARKETS), "campaign_media_usage_windows",
             "campaign_media_metrics", "campaign_media_archive")
VOLATILE = {"version", "created_at", "asset_id", "version_id", "etag", "signature", "archived_at", "ps_image_id",
            "PhotoShelter Image ID", "sha256", "stored_sha256", "generated_at", "uploaded_at", "updated_at",
            "expires_at", "interval", "run_id", "checked_at", "as_of", "requests", "bandwidth_bytes", "report",
            "html", "csv", "parquet",
            # the account's own traffic counts every retried download: legitimately higher under faults
            "account_requests", "account_bandwidth_bytes",
            "remaining", "reset_at",  # the Admin API's hourly quota left: every run spends some
            "made_at"}  # when a market copy was made (a sign-off request waits for a burst to settle)


def connections(ps: EmulatorProcess, cld: EmulatorProcess) -> dict[str, str]:
    from emulators.runner import cloudinary_connection, photoshelter_connection

    return {"AIRFLOW_CONN_PHOTOSHELTER_DEFAULT": photoshelter_connection(ps, extra=RETRY),
            "AIRFLOW_CONN_CLOUDINARY_DEFAULT": cloudinary_connection(cld, extra=RETRY)}


class Restarter(threading.Thread):
    """Restarts each emulator once, when it has served ``after`` calls, and puts its faults back."""

    def __init__(self, procs: list[EmulatorProcess], after: int) -> None:
        super().__init__(daemon=True)
        self.pending, self.after, self.done, self.stop_flag = list(procs), after, [], threading.Event()
        self.injected: Counter[str] = Counter()  # faults served, over both emulators and their restarts

    def collect(self, proc: EmulatorProcess) -> None:
        self.injected.update(proc.control("GET", "calls")["faults"])

    def run(self) -> None:
        while self.pending and not self.stop_flag.is_set():
            proc = self.pending[0]
            try:
                served = proc.control("GET", "calls")["total"]
            except Exception:  # noqa: BLE001 - the emulator is between answers; ask again
                served = 0
            if served >= self.after:
                self.collect(proc)
                proc.restart()
                proc.set_faults(**FAULTS)
                self.done.append(proc.module)
                self.pending.pop(0)
            time.sleep(0.2)


@contextlib.contextmanager
def governed_world(dagbag, base: Path, *, galleries: int, extra: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A campaign of 8 images ingested, rendered for France and reconciled, against emulators of
    its own (connections with ``extra``); both emulators stop however the block ends."""
    with seeded_world(base, images=8, galleries=galleries, extra=extra) as world:
        for dag_id, conf in (("campaign_media_ingest", {"force": True}), ("campaign_media_market_fr", {}),
                             ("campaign_media_usage_windows", {})):
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        yield world


# dag.test() runs a deferred task's trigger, but no asset watcher: nothing pulls the events channel,
# so these worlds poll the Admin API for transcodes. The pulled path is proven where a triggerer
# runs the watcher: tests/integration/test_pulled_events.py drives it, tests/e2e runs it.
NO_WATCHER = "admin"


@contextlib.contextmanager
def seeded_world(base: Path, *, images: int, videos: int = 0, galleries: int = 1,
                 extra: dict[str, Any] | None = None, cld_args: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Fresh emulators seeded with a campaign (``images`` and ``videos``), connections (with
    ``extra``) and storage pointing at them, video derivatives looked for every second; stopped
    however the block ends."""
    from tests.conftest import cld_connection, ps_connection

    seeded = seed(base / "ps", images=images, galleries=galleries, videos=videos)
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld", args=cld_args)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps, extra=extra or {}))
            mp.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld, extra=extra or {}))
            mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (base / "storage").as_uri())
            mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__VIDEO_POLL_SECONDS", "1")
            mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__CLOUDINARY_EVENTS", NO_WATCHER)
            yield {"ps": ps, "cld": cld, "seed": seeded, "base": base, "mp": mp}
    finally:
        ps.stop()
        cld.stop()


def seed_and_end(base: Path) -> Path:
    """Seed the account once (``base/seed-ps``, copied into each world: same IDs, same files);
    return an include folder where the campaign ended yesterday, archived without grace."""
    seed(base / "seed-ps", images=8, galleries=2)
    return ended_include(base)


def ended_include(base: Path) -> Path:
    """A copy of the include folder (``base/include``) where the campaign ended yesterday and is
    archived without grace."""
    ended = base / "include"
    shutil.copytree(ROOT / "include", ended)
    campaign_file = ended / "campaigns" / f"{CAMPAIGN}.yaml"
    data = yaml.safe_load(campaign_file.read_text())
    data["window"] = {"start": "2026-03-01", "end": str((datetime.now(UTC) - timedelta(days=1)).date()),
                      "timezone": "UTC"}
    data["archive"] = {**data["archive"], "grace_days": 0}
    campaign_file.write_text(yaml.safe_dump(data, allow_unicode=True))
    return ended


def new_world(base: Path, name: str) -> Path:
    world = base / name
    shutil.copytree(base / "seed-ps", world / "ps")
    return world


def point_at(mp: pytest.MonkeyPatch, world: Path, ps: EmulatorProcess, cld: EmulatorProcess) -> None:
    """Connections, storage and the live campaign file of this world."""
    for key, value in connections(ps, cld).items():
        mp.setenv(key, value)
    mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (world / "storage").as_uri())
    mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(ROOT / "include"))
    mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__CLOUDINARY_EVENTS", NO_WATCHER)


def quick_retries(mp: pytest.MonkeyPatch, dagbag) -> None:
    """Airflow's own retries stay, a second apart (the DAGs are parsed already)."""
    for dag_id in LIFECYCLE:
        for task in dagbag.get_dag(dag_id).tasks:
            mp.setattr(task, "retry_delay", timedelta(seconds=1))
            mp.setattr(task, "retry_exponential_backoff", False)


def run_worlds(tmp_path_factory, dagbag, name: str, runs: dict[str, Any]) -> dict[str, Any]:
    """One seeded account, copied into a world per entry of ``runs`` (``label -> run(dagbag,
    world, ended, mp)``), each run through the lifecycle; their end states by label."""
    base = tmp_path_factory.mktemp(name)
    ended = seed_and_end(base)
    with pytest.MonkeyPatch.context() as mp:
        quick_retries(mp, dagbag)
        return {label: run(dagbag, new_world(base, label), ended, mp) for label, run in runs.items()}


def lifecycle(dagbag, base: Path, ended: Path, mp: pytest.MonkeyPatch, *, faulty: bool = False) -> dict[str, Any]:
    """Run every DAG of the lifecycle against this world's emulators; return its end state."""
    ps, cld = start_photoshelter(base / "ps"), start_cloudinary(base / "cld")
    restarter = Restarter([ps, cld], after=60) if faulty else None
    try:
        point_at(mp, base, ps, cld)
        if faulty:
            for proc in (ps, cld):
                proc.set_faults(**FAULTS)
            restarter.start()
        for dag_id, conf in [("campaign_media_ingest", {"force": True}),
                             *((f"campaign_media_market_{m}", {}) for m in MARKETS),
                             ("campaign_media_usage_windows", {}), ("campaign_media_metrics", {})]:
            result, states = run(dagbag, dag_id, **conf)
            assert result.state == "success", (dag_id, states)
        live = snapshot(base)
        mp.setenv("AIRFLOW__CAMPAIGN_MEDIA__INCLUDE", str(ended))  # the campaign has ended: archive it
        result, states = run(dagbag, "campaign_media_archive")
        assert result.state == "success", ("archive", states)
        if faulty:
            restarter.stop_flag.set()
            restarter.join(10)
            assert restarter.done == ["emulators.photoshelter", "emulators.cloudinary"], "both restarted mid-run"
            for proc in (ps, cld):
                restarter.collect(proc)
                proc.reset()
            # every kind of fault really happened (how often depends on timing: the restarts)
            assert all(restarter.injected[kind] >= 1 for kind in ("5xx", "429", "drop", "lost")), restarter.injected
            print(f"faults injected: {dict(restarter.injected)}")
        return {"live": live, "archived": snapshot(base)}
    finally:
        ps.stop()
        cld.stop()


def normalise(value: Any, base: Path) -> Any:
    """Set aside what legitimately differs between two runs: versions, times, new IDs, hosts."""
    if isinstance(value, dict):
        return {k: normalise(v, base) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [normalise(v, base) for v in value]
    if isinstance(value, str):
        value = value.replace(str(base), "<base>").replace(base.as_uri(), "<base>")
        value = re.sub(r"https?://[^/\s]+", "<host>", value)
        value = re.sub(r"/v\d+/", "/v/", value)
        value = re.sub(r"/s--[^/]+--/", "/s--sig--/", value)
        return re.sub(r"\?\S*", "", value)
    return value


def snapshot(base: Path) -> dict[str, Any]:
    cld = CloudinaryHook()
    assets = {}
    for dtype in (MASTER_DELIVERY, "upload"):
        for res in cld.iter_resources(prefix=f"campaigns/{CAMPAIGN}/", delivery_type=dtype):
            assets[f"{dtype}:{res['public_id']}"] = {
                k: res.get(k) for k in ("bytes", "width", "height", "format", "tags", "context")}
            full = cld.resource(res["public_id"], dtype)
            assets[f"{dtype}:{res['public_id']}"].update(
                access_control=full.get("access_control"),
                derived=sorted(d["transformation"] for d in full.get("derived", [])))
    with PhotoShelterHook() as ps:
        top = ps.get_children("root")
        collections = Counter(c["name"] for c in top["collections"])
        galleries: dict[str, Any] = {}
        for _, gallery in ps.walk_galleries("root"):
            names = Counter(ps.gallery_file_names(gallery["gallery_id"]))
            listed = [r for r in ps.iter_gallery_images(gallery["gallery_id"], extend={
                "Image": {"fields": "image_id,file_name", "params": {}}})]
            galleries.setdefault(gallery["name"], []).append(
                {"files": sorted(Counter(r["Image"]["file_name"] for r in listed).items()), "unique": len(names)})
    files = {}
    root = Path(storage.root().path)
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root).as_posix()
        if "/ingest/" in relative or "/runs/" in relative or "/windows/" in relative and "latest" not in relative:
            continue  # per-run files are named after their run
        if relative.startswith("_claims/"):
            continue  # which run held a DAG, and when: coordination, not the end state
        files[relative] = storage.read_json(str(path))
    return normalise({"cloudinary": assets, "collections": sorted(collections.items()), "galleries": galleries,
                      "storage": files}, base)


def differences(quiet: Any, faulty: Any, path: str = "") -> list[str]:
    """Where two end states differ, as readable paths (the first few are shown on failure)."""
    if isinstance(quiet, dict) and isinstance(faulty, dict):
        out = []
        for key in sorted(set(quiet) | set(faulty)):
            if key not in faulty or key not in quiet:
                out.append(f"{path}/{key}: only in the {'quiet' if key in quiet else 'faulty'} run")
            else:
                out += differences(quiet[key], faulty[key], f"{path}/{key}")
        return out
    return [] if quiet == faulty else [f"{path}: quiet {quiet!r:.200} != faulty {faulty!r:.200}"]


