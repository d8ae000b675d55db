"""Stored documents are replaced whole or not at all, and an unreadable one says which file it is."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from campaign_media.runtime import storage

ROOT = Path(__file__).resolve().parents[2]

# A writer limited to 4 KiB files (RLIMIT_FSIZE; SIGXFSZ ignored so the write fails with EFBIG):
# the same cut a full disk or a quota makes in the middle of a write.
LIMITED_WRITER = """
import json, resource, signal, sys
from campaign_media.runtime import storage
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # after the imports: only the write is limited
try:
    storage.write_json(sys.argv[1], {"masters": {f"I{n:05d}": {"version": "v" * 40} for n in range(400)}})
except OSError as exc:
    print("refused:", exc.errno)
"""


def test_a_write_cut_short_leaves_the_last_good_document(tmp_path) -> None:
    state = tmp_path / "markets" / "fr" / "state.json"
    storage.write_json(state.as_uri(), {"masters": {"I00001": {"version": "good"}}})
    result = subprocess.run([sys.executable, "-c", LIMITED_WRITER, state.as_uri()], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "plugins"), "PATH": "/usr/bin:/bin",
                                 "PYTHONDONTWRITEBYTECODE": "1", "AIRFLOW_HOME": str(tmp_path / "home")},
                            timeout=120)
    assert "refused: 27" in result.stdout, result.stdout + result.stderr  # EFBIG: the write was cut
    assert storage.read_json(state.as_uri()) == {"masters": {"I00001": {"version": "good"}}}
    assert [p.name for p in state.parent.iterdir()] == ["state.json"]  # no temporary file left behind


def test_an_unreadable_document_names_its_file_and_what_to_do(tmp_path) -> None:
    broken = tmp_path / "state.json"
    broken.write_text('{"masters": {"I1": {"ver')
    with pytest.raises(storage.UnreadableDocument, match=r"state.json is not readable JSON \(.*\): it was cut short "
                                                        r"or edited by hand. Move it aside"):
        storage.read_json(broken.as_uri())
    assert storage.read_json((tmp_path / "absent.json").as_uri(), {}) == {}  # absent is not unreadable


def test_two_writers_of_one_manifest_never_leave_a_mixed_file(tmp_path) -> None:
    """The market DAG's publish and the usage-window run both write the delivery manifest: each
    read sees one writer's whole document, never an interleaving ("Extra data")."""
    manifest = (tmp_path / "delivery" / "fr.json").as_uri()
    docs = {name: {"by": name, "masters": {f"I{n}": name * 50 for n in range(300)}} for name in ("publish", "windows")}
    storage.write_json(manifest, docs["publish"])
    stop, seen, errors = threading.Event(), set(), []

    def writer(name: str) -> None:
        for _ in range(60):
            storage.write_json(manifest, docs[name])

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.add(storage.read_json(manifest)["by"])
            except Exception as exc:  # noqa: BLE001 - any failure to read is the defect
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in docs]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert errors == [] and seen <= set(docs) and seen
    assert json.loads(Path(manifest.removeprefix("file://")).read_text())["by"] in docs


def test_storage_given_as_a_plain_path_is_written_whole_too(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", str(tmp_path / "store"))  # no file:// scheme
    written = storage.write_json(storage.path("c", "ingest", "run-1", "plan.json"), {"to_push": 1})
    assert storage.read_json(written) == {"to_push": 1}
    assert [p.name for p in (tmp_path / "store" / "c" / "ingest" / "run-1").iterdir()] == ["plan.json"]
