"""What every DAG file shares: the configuration read the same way, the default arguments, and
the ``campaign`` Param. DAG files stay declarations; decisions live in the domain modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param

from campaign_media import settings
from campaign_media.config.loader import Loaded, load_campaigns, load_markets
from campaign_media.config.models import Campaign, Market

START = datetime(2026, 11, 1, tzinfo=UTC)
OWNER = "campaign-media"


def load_config() -> tuple[Loaded[Market], Loaded[Campaign]]:
    """The markets and campaigns in ``include/`` (local YAML only: no I/O beyond the files), with
    the errors of the files that did not validate."""
    markets = load_markets()
    return markets, load_campaigns(markets=markets)


def default_args(retry_seconds: int, *, exponential: bool = False) -> dict[str, Any]:
    """Owner and retries; ``[campaign_media] retry_delay_seconds`` overrides the delay (tests)."""
    delay = timedelta(seconds=settings.get("retry_delay_seconds") or retry_seconds)
    return {"owner": OWNER, "retries": 2, "retry_delay": delay,
            **({"retry_exponential_backoff": True} if exponential else {})}


def campaign_param(campaign_ids: list[str] | Any) -> Param:
    return Param("all", enum=["all", *sorted(campaign_ids)], description="one campaign, or all")
