"""Every tunable of the package, in one place, read through Airflow's configuration.

Each setting is a key of the ``[campaign_media]`` section of ``airflow.cfg``, so the usual
``AIRFLOW__CAMPAIGN_MEDIA__<KEY>`` environment variable sets it too (``docs/configuration.md``
has the table). A value is read where it is used, not at import: Airflow's config lookup costs a
few microseconds, and a task then sees the value of the process it runs in (tests and the demo
point storage and the include folder elsewhere per run).

The 0.8 environment variables (``CAMPAIGN_MEDIA_STORAGE``, ``CAMPAIGN_MEDIA_BATCH_SIZE``, …) still
work for one release: a value found only there is used with a ``DeprecationWarning`` naming the
new key. ``CAMPAIGN_MEDIA_BATCH_SIZE`` used to mean 100 masters per ingest task and 50 per market
task (two modules read it with two defaults); it now sets both ``ingest_batch_size`` and
``render_batch_size`` when neither is set, and the two keys tune them apart.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from airflow.sdk.configuration import conf

from campaign_media.exceptions import CampaignMediaError
from campaign_media.settings_spec import SECTION, SETTINGS, Setting, provider_config, table

__all__ = ["SECTION", "SETTINGS", "Setting", "SettingError", "get", "include_location", "provider_config",
           "storage_url", "table"]
PROJECT_INCLUDE = Path(__file__).resolve().parents[2] / "include"  # this repository's include/


_warned: set[str] = set()


class SettingError(CampaignMediaError, ValueError):
    """A ``[campaign_media]`` value that does not parse: the message names the key and what it means."""

    retryable = False


def get(key: str) -> Any:
    """The value of ``[campaign_media] key`` now (config file or ``AIRFLOW__CAMPAIGN_MEDIA__KEY``),
    else its key before a rename, else its 0.8 environment variable (both with a deprecation
    warning), else its default."""
    setting = SETTINGS[key]
    raw = conf.get(SECTION, key, fallback=None)
    # Where Airflow loaded the provider's section, an unset key reads as its declared default.
    unset = raw in (None, "") or (setting.default is not None and raw == str(setting.default))
    if unset and setting.old_key and conf.get(SECTION, setting.old_key, fallback=None) not in (None, ""):
        raw, unset = conf.get(SECTION, setting.old_key), False
        _deprecated(setting.old_key, f"[{SECTION}] {setting.old_key} is now [{SECTION}] {key}: rename it in "
                    f"airflow.cfg (or AIRFLOW__{SECTION.upper()}__{setting.old_key.upper()} to "
                    f"AIRFLOW__{SECTION.upper()}__{key.upper()})")
    if unset and setting.old_env and os.environ.get(setting.old_env):
        raw = os.environ[setting.old_env]
        _deprecated(setting.old_env, f"{setting.old_env} is deprecated: set [{SECTION}] {key} in airflow.cfg or "
                    f"AIRFLOW__{SECTION.upper()}__{key.upper()} instead")
    if raw in (None, ""):
        return setting.default
    try:
        return setting.cast(raw)
    except ValueError:
        raise SettingError(f"[{SECTION}] {key} = {raw!r} is not a valid {setting.cast.__name__}: "
                         f"{setting.doc}") from None


def _deprecated(name: str, message: str) -> None:
    """Warn once per process that an old name was read."""
    if name not in _warned:
        _warned.add(name)
        warnings.warn(message, DeprecationWarning, stacklevel=3)


def include_location() -> str:
    """Where campaigns/ and markets/ are, as configured now: a folder or an object-store URL; this
    repository's include/ when unset (an installed distribution has none, so it must be set)."""
    value = get("include")
    if value:
        return value
    if PROJECT_INCLUDE.is_dir():
        return str(PROJECT_INCLUDE)
    raise SettingError(f"[{SECTION}] include is not set. Fix: set it (or AIRFLOW__CAMPAIGN_MEDIA__INCLUDE) to the "
                       "folder or object-store URL (s3://bucket/campaign-config) that holds campaigns/ and markets/")


def storage_url() -> str:
    """The storage root's URL as configured now ($AIRFLOW_HOME/campaign-media when unset)."""
    url = get("storage")
    if not url:
        home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
        url = (home / "campaign-media").resolve().as_uri()
    return url


