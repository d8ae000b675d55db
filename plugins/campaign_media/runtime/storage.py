"""Where manifests and reports live: object storage (``ObjectStoragePath``), a local folder by default.

Set ``[campaign_media] storage`` (``AIRFLOW__CAMPAIGN_MEDIA__STORAGE``) to any fsspec URL that Airflow's object
storage supports (``s3://bucket/campaign-media``, ``gs://...``, ``file:///...``) to move them; the default is
``$AIRFLOW_HOME/campaign-media``. XComs carry only paths into this tree, never payloads.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from airflow.sdk import ObjectStoragePath

from campaign_media import settings
from campaign_media.exceptions import CampaignMediaError


def root() -> ObjectStoragePath:
    return ObjectStoragePath(settings.storage_url())


def path(*parts: str) -> ObjectStoragePath:
    """A path below the storage root, e.g. ``path("spring", "delivery", "fr.json")``."""
    target = root()
    for part in parts:
        target = target / part
    return target


# ---------------------------------------------------------------- the tree, in one place
# <root>/_account/capabilities.json                      what the account can do (account check)
# <root>/_claims/<dag_id>/<generation>.json              the run doing a DAG's work now (claims)
# <root>/_watch/<source key>.json                        the PhotoShelter watcher's watermark and last poll
# <root>/_deadlines/<campaign>.json                      the missed deadlines an alert was sent for
# <root>/<campaign>/ingest/<run>/{plan,batch-*,result-*,report}.json
# <root>/<campaign>/markets/<market>/state.json         renditions made per master (variants)
# <root>/<campaign>/markets/<market>/access.json        access decisions and signed URLs (windows)
# <root>/<campaign>/markets/<market>/signoff.json       launch sign-off requests and answers (or
#                                                        <campaign>/signoff.json: one yes for every market)
# <root>/<campaign>/markets/<market>/writebacks/<master>.json  each write-back's link to the master
# <root>/<campaign>/markets/<market>/runs/<run>/{batch-*,result-*}.json
# <root>/<campaign>/markets/<market>/previews/<master>/<rendition>-<key>.jpg  contact-sheet previews (cache)
# <root>/<campaign>/delivery/<market>.json              the delivery manifest a CMS consumes
# <root>/<campaign>/windows/{<run>,latest}.json         usage-window reports
# <root>/<campaign>/reports/<date>/                     delivery metrics (CSV, Parquet, HTML)
# <root>/<campaign>/archive/{verified,missing,done}.json and archive/report/


def capabilities() -> ObjectStoragePath:
    return path("_account", "capabilities.json")


def watch_file(source_key: str) -> ObjectStoragePath:
    """A watched PhotoShelter source's watermark (fingerprint per medium) and its last poll."""
    return path("_watch", f"{source_key}.json")


def claim_folder(dag_id: str) -> ObjectStoragePath:
    return path("_claims", dag_id)


def claim_file(dag_id: str, generation: int) -> ObjectStoragePath:
    """One generation of a DAG's claim: the highest one in :func:`claim_folder` is in force."""
    return claim_folder(dag_id) / f"{generation:012d}.json"


def create_json(target: ObjectStoragePath | str, data: Any) -> bool:
    """Write ``data`` at ``target`` only if nothing is there yet; False when something is. Atomic on
    local disk (``O_EXCL``) and on object stores whose filesystem creates conditionally (s3fs sends
    ``If-None-Match: *``); elsewhere fsspec checks, then writes. Readers never see it half written."""
    target = ObjectStoragePath(str(target)) if isinstance(target, str) else target
    body = json.dumps(data, sort_keys=True).encode()
    local = local_path(target)
    if local is None:
        try:
            target.fs.pipe_file(target.path, body, mode="create")
        except FileExistsError:
            return False
        return True
    # Written whole to a temporary file first, then linked into place: a link fails when the name
    # exists (as O_EXCL would), and a reader never sees the file half written.
    tmp = _synced_temp(local, body)
    try:
        os.link(tmp, local)
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True


def ingest_run(campaign: str, run_key: str) -> ObjectStoragePath:
    """The folder of one ingest run: its plan, batches, results and report."""
    return path(campaign, "ingest", run_key)


def market_run(campaign: str, market: str, run_key: str) -> ObjectStoragePath:
    """The folder of one market run's batches and results."""
    return path(campaign, "markets", market, "runs", run_key)


def batch_file(folder: ObjectStoragePath, index: int) -> ObjectStoragePath:
    return folder / f"batch-{index:04d}.json"


def result_file(folder: ObjectStoragePath, index: int) -> ObjectStoragePath:
    return folder / f"result-{index:04d}.json"


def market_state(campaign: str, market: str) -> ObjectStoragePath:
    return path(campaign, "markets", market, "state.json")


def market_access(campaign: str, market: str) -> ObjectStoragePath:
    """Where the usage-window DAG records each master's access decision and signed URLs."""
    return path(campaign, "markets", market, "access.json")


def writeback_record(campaign: str, market: str, image_id: str) -> ObjectStoragePath:
    """The sidecar record of a master's write-backs in a market: each rendition's link to the
    master, by rendition name (one file per master: a file per rendition cost a write each)."""
    return path(campaign, "markets", market, "writebacks", f"{image_id}.json")


def delivery_manifest(campaign: str, market: str) -> ObjectStoragePath:
    return path(campaign, "delivery", f"{market}.json")


def windows_report(campaign: str, run_key: str = "latest") -> ObjectStoragePath:
    return path(campaign, "windows", f"{run_key}.json")


def signoff_record(campaign: str, market: str | None) -> ObjectStoragePath:
    """A market's launch sign-off requests and answers (``None``: the campaign's, when one yes opens all)."""
    return path(campaign, "markets", market, "signoff.json") if market else path(campaign, "signoff.json")


def deadline_alerts(campaign: str) -> ObjectStoragePath:
    """The deadlines an alert was sent for (``campaign_media.steps.deadlines``)."""
    return path("_deadlines", f"{campaign}.json")


def metrics_report(campaign: str, day: str) -> ObjectStoragePath:
    return path(campaign, "reports", day)


def archive_file(campaign: str, name: str) -> ObjectStoragePath:
    """``verified.json`` (progress), ``missing.json``, ``done.json`` or the ``report`` folder."""
    return path(campaign, "archive", name)


def local_real_path(target: ObjectStoragePath) -> Path | None:
    """Where ``target`` really is on local disk (symlinks followed), or None on an object store
    (no links there: a key is what it says)."""
    local = local_path(target)
    return local.resolve() if local is not None else None


def served_name(target: ObjectStoragePath, base: ObjectStoragePath, prefixes: tuple[str, ...]) -> str | None:
    """``target``'s real name below ``base`` when it is under one of ``prefixes`` (``"delivery/"``,
    …), else None — after following links on local disk, so a link cannot lead out of what may be
    served (and a link inside is known by what it leads to)."""
    real, real_base = local_real_path(target), local_real_path(base)
    if real is None or real_base is None:
        relative = str(target).removeprefix(str(base).rstrip("/") + "/")
        ok = relative != str(target) and ".." not in relative.split("/") and relative.startswith(prefixes)
        return relative if ok else None
    if not real.is_relative_to(real_base):
        return None
    relative = real.relative_to(real_base).as_posix()
    return relative if relative.startswith(prefixes) else None


def write_json(target: ObjectStoragePath | str, data: Any, *, compact: bool = False) -> str:
    """Serialised first, then written in one piece: ``json.dump`` into an object-storage file
    makes one tracked write per token (most of a batch's CPU when progress is saved often).
    ``compact`` (progress saved after every master) skips the indentation, which would make
    Python encode it token by token rather than in C."""
    text = json.dumps(data, ensure_ascii=False, indent=None if compact else 1, sort_keys=True, default=str)
    return write_bytes(target, text.encode("utf-8"))


class UnreadableDocument(CampaignMediaError, ValueError):
    """A stored document that is not valid JSON: cut short (a full disk or a killed process
    before writes became atomic) or edited by hand. The message names the file and what to do."""

    retryable = False

    def __init__(self, target: ObjectStoragePath, reason: str) -> None:
        super().__init__(f"{target} is not readable JSON ({reason}): it was cut short or edited by hand. Move it "
                         "aside (keep it for the record) and run the task again: docs/troubleshooting.md says what "
                         "each stored file is and what the next run rebuilds without it")
        self.path = str(target)


def read_json(target: ObjectStoragePath | str, default: Any = None) -> Any:
    """The document at ``target``, or ``default`` when there is none; :class:`UnreadableDocument`
    when it is there but not JSON."""
    target = ObjectStoragePath(str(target)) if isinstance(target, str) else target
    try:
        raw = target.fs.cat_file(target.path)
    except FileNotFoundError:
        return default
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnreadableDocument(target, str(exc)) from exc


def write_bytes(target: ObjectStoragePath | str, data: bytes) -> str:
    """Replace the document at ``target`` whole, or leave the last good one: on local disk a
    temporary file in the same folder, flushed and synced, then renamed over it (``os.replace``);
    an object store replaces whole objects by itself (a single PUT)."""
    target = ObjectStoragePath(str(target)) if isinstance(target, str) else target
    local = local_path(target)
    if local is not None:
        _replace_file(local, data)
        return str(target)
    # One call to the filesystem: ``open()`` on the path adds about 2 ms of wrapping per file,
    # which a batch that saves a record per rendition feels.
    try:
        target.fs.pipe_file(target.path, data)
    except FileNotFoundError:  # a filesystem with folders (not an object store): made on first write
        target.parent.mkdir(parents=True, exist_ok=True)
        target.fs.pipe_file(target.path, data)
    return str(target)


def local_path(target: ObjectStoragePath) -> Path | None:
    """The local file behind ``target`` (links not followed), or None on an object store."""
    return Path(target.path) if target.protocol in ("file", "local", "") else None  # "": a plain path


def _synced_temp(path: Path, data: bytes) -> str:
    """A temporary file beside ``path`` holding ``data``, flushed and synced to disk."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except FileNotFoundError:  # a folder not made yet: made on the first write only
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _replace_file(path: Path, data: bytes) -> None:
    tmp = _synced_temp(path, data)
    try:
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already once replaced
