"""The lifecycle DAGs, built from the campaign and market files: the one way to get them, for this
repository's ``dags/`` folder and for a deployment that installs the distribution.

A DAG folder needs one file (Airflow reads only files that mention both "airflow" and "dag")::

    # campaign_media.py: the campaign media lifecycle DAGs for Airflow
    from campaign_media.dags import lifecycle_dags

    globals().update(lifecycle_dags())

``lifecycle_dags("ingest", "markets")`` builds only those sets (one file per set keeps a set's
parse error to its own file). The files come from ``[campaign_media] include``: a folder, or an
object-store URL read through a local copy refreshed at most every ``include_cache_seconds``
(``campaign_media.config.remote``). A file that does not validate becomes an import error naming
it, the field and the fix, and every other market and campaign loads.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from airflow.sdk import DAG

from campaign_media.config.loader import ConfigError

# Each set: the module that builds it (``build(config)`` → a DAG or DAGs by ID).
SETS = ("ingest", "markets", "usage_windows", "hand_edits", "signoff", "deadlines", "archive", "metrics",
        "api_health")


def lifecycle_dags(*sets: str) -> dict[str, DAG]:
    """The DAGs of the named sets (all of them when none is named), by DAG ID.

    :param sets: any of :data:`SETS`
    :raises ConfigError: an unknown set, or an include location that cannot be read
    """
    from campaign_media.dags.support import load_config

    unknown = [s for s in sets if s not in SETS]
    if unknown:
        raise ConfigError(f"lifecycle_dags: unknown DAG set(s) {', '.join(map(repr, unknown))}. "
                          f"Fix: name some of {', '.join(SETS)}, or none for all of them.")
    config = load_config()
    dags: dict[str, DAG] = {}
    for name in sets or SETS:
        build: Callable = import_module(f"{__name__}.{name}").build
        built = build(config)
        dags.update(built if isinstance(built, dict) else {built.dag_id: built})
    return dags


__all__ = ["SETS", "lifecycle_dags"]
