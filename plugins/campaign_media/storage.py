"""Where manifests and reports live: object storage (``ObjectStoragePath``), a local folder by default.

Set ``CAMPAIGN_MEDIA_STORAGE`` to any fsspec URL Airflow's object storage supports
(``s3://bucket/campaign-media``, ``gs://...``, ``file:///...``) to move them; the default is
``$AIRFLOW_HOME/campaign-media``. XComs carry only paths into this tree, never payloads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow.sdk import ObjectStoragePath


def root() -> ObjectStoragePath:
    url = os.environ.get("CAMPAIGN_MEDIA_STORAGE")
    if not url:
        home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
        url = (home / "campaign-media").resolve().as_uri()
    return ObjectStoragePath(url)


def path(*parts: str) -> ObjectStoragePath:
    """A path below the storage root, e.g. ``path("spring", "delivery", "fr.json")``."""
    target = root()
    for part in parts:
        target = target / part
    return target


def write_json(target: ObjectStoragePath | str, data: Any) -> str:
    target = ObjectStoragePath(str(target)) if isinstance(target, str) else target
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    return str(target)


def read_json(target: ObjectStoragePath | str, default: Any = None) -> Any:
    target = ObjectStoragePath(str(target)) if isinstance(target, str) else target
    if not target.exists():
        return default
    with target.open("r", encoding="utf-8") as src:
        return json.load(src)


def write_bytes(target: ObjectStoragePath | str, data: bytes) -> str:
    target = ObjectStoragePath(str(target)) if isinstance(target, str) else target
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        out.write(data)
    return str(target)
