"""Who may read what on the campaign page: each piece of data belongs to the DAG that made it.

The auth manager says which DAGs a user may read (FAB and Keycloak per DAG, the simple auth
manager all or none); :class:`Reader` turns that into what the page shows. A campaign is listed
when any of its DAGs is readable; a market (its status, copies, manifest, runs, audit records)
needs its market DAG; the usage-window report needs the usage-window DAG, metrics reports the
metrics DAG, the archived final report the archive DAG; an audit record needs the DAG that wrote
it and, when it names a market, that market's DAG. Pure: no Airflow import.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from campaign_media.config.models import Campaign, Market
from campaign_media.ui.status import Archive, CampaignStatus, Stored

INGEST_DAG = "campaign_media_ingest"
USAGE_WINDOWS_DAG, METRICS_DAG, ARCHIVE_DAG = GOVERNANCE_DAGS = (
    "campaign_media_usage_windows", "campaign_media_metrics", "campaign_media_archive")
SIGNOFF_DAG = "campaign_media_signoff"  # a campaign with signoff: its questions and answers


def market_dag(code: str) -> str:
    """The DAG that makes a market's copies."""
    return f"campaign_media_market_{code}"


def dag_ids(campaign: Campaign) -> list[str]:
    """The DAGs that act on this campaign (ingest, one per market, the governance ones, and the
    sign-off DAG where the campaign asks for one)."""
    return [INGEST_DAG, *(market_dag(m) for m in campaign.markets), *GOVERNANCE_DAGS,
            *([SIGNOFF_DAG] if campaign.signoff else [])]


def file_dag(name: str) -> str | None:
    """The DAG whose data a served file is (``delivery/fr.json`` → the French market's), or None
    for a name the files route does not serve."""
    if name.startswith("delivery/"):
        return market_dag(name.removeprefix("delivery/").split("/")[0].removesuffix(".json"))
    owners = {"reports/": METRICS_DAG, "archive/report/": ARCHIVE_DAG, "windows/latest.json": USAGE_WINDOWS_DAG}
    return next((dag for prefix, dag in owners.items() if name.startswith(prefix)), None)


@dataclass(frozen=True)
class Reader:
    """One user's view: ``dags`` are the campaign DAGs their auth manager lets them read."""

    dags: frozenset[str]

    def campaign(self, campaign: Campaign) -> bool:
        return any(dag in self.dags for dag in dag_ids(campaign))

    def markets(self, markets: list[Market]) -> list[Market]:
        return [m for m in markets if market_dag(m.code) in self.dags]

    def runs_of(self, campaign: Campaign) -> list[str]:
        return [dag for dag in dag_ids(campaign) if dag in self.dags]

    def record(self, record: dict[str, Any]) -> bool:
        market = record.get("market")
        return record.get("dag_id") in self.dags and (not market or market_dag(market) in self.dags)

    def file(self, name: str) -> bool:
        return file_dag(name) in self.dags

    def stored(self, stored: Stored) -> Stored:
        """``stored`` without what this reader may not see (audit records are filtered as
        they are read: :func:`campaign_media.ui.status.load` takes :meth:`record`)."""
        def mine(per_market: dict[str, Any]) -> dict[str, Any]:
            return {code: value for code, value in per_market.items() if market_dag(code) in self.dags}

        return replace(stored, states=mine(stored.states), access=mine(stored.access), signoffs=mine(stored.signoffs),
                       manifests=[m for m in stored.manifests if market_dag(m) in self.dags],
                       windows=stored.windows if USAGE_WINDOWS_DAG in self.dags else None,
                       reports=stored.reports if METRICS_DAG in self.dags else [],
                       archive=stored.archive if ARCHIVE_DAG in self.dags else {},
                       watch=stored.watch if INGEST_DAG in self.dags else None)  # ingest's watcher

    def status(self, status: CampaignStatus) -> CampaignStatus:
        """``status`` as this reader sees it: the archive's progress only with the archive DAG."""
        if ARCHIVE_DAG in self.dags:
            return status
        return replace(status, archive=Archive("not shown", f"needs read access to {ARCHIVE_DAG}", None))

    def refusal(self, campaign: Campaign) -> str:
        """What to ask for when a campaign is not readable at all."""
        return (f"you may read none of campaign {campaign.id}'s DAGs; ask an Airflow admin for read access to "
                f"{INGEST_DAG} or one of {', '.join(dag_ids(campaign)[1:])}")
