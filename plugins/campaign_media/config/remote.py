"""Campaign and market files kept on an object store (``[campaign_media] include = s3://bucket/prefix``).

DAG files are parsed every 30 s by every DAG processor, and tasks read the configuration too, so
nothing reads the store on each parse: the files are copied into a local folder, and that copy
is used until it is ``include_cache_seconds`` old. Then one listing (names and ETags) says
whether anything changed; only then are the files fetched again, into a new folder that replaces
the old one atomically (a symlink swap), so a reader never sees half a copy. A store that cannot
be listed raises :class:`ConfigError` naming the URL and the cause: the DAG file shows it as its
import error, never a silent, empty set of DAGs.

The local copy: ``$AIRFLOW_HOME/campaign-media-include/<hash of the URL>/current`` →
``gen-<time>/{campaigns,markets}/*.yaml``, beside ``listing.json`` (when listed, what was there).
A connection other than the scheme's default is named in the URL, as Airflow's object storage
reads it: ``s3://my_aws_conn@bucket/campaign-config``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from campaign_media import settings
from campaign_media.config.errors import ConfigError

KINDS = ("campaigns", "markets")
KEEP_SECONDS = 600  # an older copy than the current one is removed after this long (a reader may hold it)


def is_remote(location: str) -> bool:
    """An object-store URL (``s3://``, ``gs://``…), not a folder or a ``file://`` URL."""
    scheme, sep, _ = location.partition("://")
    return bool(sep) and scheme != "file"


def cache_root() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return home / "campaign-media-include"


def local_copy(url: str) -> Path:
    """The folder holding the current copy of ``url``'s ``campaigns/`` and ``markets/``, refreshed
    when older than ``include_cache_seconds``.

    :raises ConfigError: the store cannot be listed or read, or holds no campaign or market file
    """
    cache = cache_root() / hashlib.sha256(url.encode()).hexdigest()[:16]
    current = cache / "current"
    listing = _read_listing(cache)
    fresh = listing and time.time() - listing["listed_at"] < settings.get("include_cache_seconds")
    if fresh and current.is_dir():
        return current.resolve()
    files = _list(url)
    cache.mkdir(parents=True, exist_ok=True)
    if not (listing and listing["files"] == files and current.is_dir()):
        _swap_in(cache, _fetch(url, files, cache))
    _write_listing(cache, {"url": url, "listed_at": time.time(), "files": files})
    _prune(cache)
    return current.resolve()


def _store(url: str) -> tuple[Any, str]:
    """The fsspec filesystem behind ``url`` (through Airflow's object storage: its connection) and the
    location's path on it."""
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(url)
    return root.fs, root.path.rstrip("/")


def _list(url: str) -> dict[str, str]:
    """``{"markets/fr.yaml": fingerprint}`` for the YAML files directly in ``campaigns/`` and ``markets/``."""
    try:
        fs, base = _store(url)
        files: dict[str, str] = {}
        for kind in KINDS:
            for path, info in fs.find(f"{base}/{kind}", detail=True).items():
                name = path.rstrip("/").rsplit("/", 1)[-1]
                if path.rstrip("/") != f"{base}/{kind}/{name}" or not name.endswith((".yaml", ".yml")):
                    continue
                tag = info.get("ETag") or info.get("etag") or info.get("md5Hash")
                changed = info.get("LastModified") or info.get("mtime")
                files[f"{kind}/{name}"] = str(tag or f"{info.get('size')}:{changed}")
    except Exception as exc:  # any failure of the store is the same problem for the person who fixes it
        raise ConfigError(f"[campaign_media] include = {url}: the store cannot be listed ({type(exc).__name__}: "
                          f"{exc}). Fix: check the URL, its connection (s3://<conn_id>@bucket/prefix) and that this "
                          "machine reaches the store; the DAGs from it load again once it answers.") from exc
    if not files:
        raise ConfigError(f"[campaign_media] include = {url}: no campaigns/*.yaml or markets/*.yaml there. Fix: "
                          "check the prefix, or upload the include folder's campaigns/ and markets/ to it.")
    return files


def _fetch(url: str, files: dict[str, str], cache: Path) -> Path:
    """Every listed file, fetched (concurrently where the filesystem can) into a new folder of ``cache``."""
    fs, base = _store(url)
    target = cache / f".fetch-{uuid.uuid4().hex}"
    try:
        bodies = fs.cat([f"{base}/{name}" for name in files], on_error="raise")
        for name in files:
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bodies[f"{base}/{name}"])
    except Exception as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise ConfigError(f"[campaign_media] include = {url}: listed but not read ({type(exc).__name__}: {exc}). "
                          "Fix: check the connection may read the objects (not only list them).") from exc
    generation = cache / f"gen-{time.time_ns()}"
    target.rename(generation)
    return generation


def _swap_in(cache: Path, generation: Path) -> None:
    link = cache / f".link-{uuid.uuid4().hex}"
    link.symlink_to(generation.name)
    os.replace(link, cache / "current")  # atomic: readers resolve either the old copy or the new


def _prune(cache: Path) -> None:
    current = (cache / "current").resolve()
    for old in cache.glob("gen-*"):
        if old != current and time.time() - old.stat().st_mtime > KEEP_SECONDS:
            shutil.rmtree(old, ignore_errors=True)


def _read_listing(cache: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((cache / "listing.json").read_text(encoding="utf-8"))
    return None


def _write_listing(cache: Path, listing: dict[str, Any]) -> None:
    tmp = cache / f".listing-{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(listing, sort_keys=True), encoding="utf-8")
    os.replace(tmp, cache / "listing.json")
