"""S3 for the storage suites (moto in server mode, ``emulators/s3.py``), one server per session.

``CAMPAIGN_MEDIA_TEST_STORAGE=s3`` makes :func:`storage_url` put a suite's storage there, which is
how ``make test`` runs the lifecycle modules once more on S3.
"""

from __future__ import annotations

import atexit
import os
import uuid
from pathlib import Path

from emulators.s3 import BUCKET, CONN_ID, S3Server

__all__ = ["BUCKET", "S3Server", "on_s3", "shared", "storage_url"]


_shared: S3Server | None = None


def shared() -> S3Server:
    """One server for the whole session, started on first use; its connection is put in the
    environment (every Airflow process the tests start inherits it)."""
    global _shared
    if _shared is None:
        _shared = S3Server().start()
        atexit.register(_shared.stop)
        os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = _shared.connection()
    return _shared


def on_s3() -> bool:
    return os.environ.get("CAMPAIGN_MEDIA_TEST_STORAGE", "local") == "s3"


def storage_url(local: Path) -> str:
    """Where a suite keeps its storage: ``local`` (a folder), or a fresh prefix on the S3 server
    when ``CAMPAIGN_MEDIA_TEST_STORAGE=s3``."""
    return shared().url(f"storage-{uuid.uuid4().hex[:8]}") if on_s3() else local.as_uri()
