"""Delivery metrics: a daily report per campaign (CSV, Parquet and an HTML page with charts)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from campaign_media.config.loader import load_campaigns, load_markets

RETRY_DELAY = timedelta(seconds=int(os.environ.get("CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS", 300)))
CAMPAIGN_IDS = sorted(load_campaigns(markets=load_markets()).items)

DOC_MD = """
### Campaign media — delivery metrics

Joins, in pandas, PhotoShelter's governance metadata (owner, approval, usage rights, licence)
with Cloudinary's delivery figures (the account usage report; per-asset requests and bandwidth
where the API gives them) and the market delivery manifests (renditions), and writes per
campaign `<storage>/<campaign>/reports/<date>/`: `assets.csv`, `assets.parquet` (one row per
master per market), `totals.json` and `index.html` — most-used assets, bandwidth and
transformations by market and owner, licences near expiry, optimisation opportunities
(requests served without `f_auto`/`q_auto`). The task log prints the page's path. The final
report of a campaign is kept with its archive.
"""


@dag(
    dag_id="campaign_media_metrics",
    schedule=CronTriggerTimetable("30 5 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "campaign-media", "retries": 2, "retry_delay": RETRY_DELAY},
    tags=["campaign-media", "reporting"],
    doc_md=DOC_MD,
    params={"campaign": Param("all", enum=["all", *CAMPAIGN_IDS], description="one campaign, or all")},
)
def campaign_media_metrics() -> None:
    @task
    def campaigns() -> list[str]:
        from campaign_media.operators.archive import unarchived

        return unarchived(get_current_context()["params"]["campaign"])  # archived: nothing left in Cloudinary

    @task(pool="cloudinary_api", map_index_template="{{ campaign_id }}")
    def report(campaign_id: str) -> dict[str, Any]:
        from campaign_media.config.loader import current_campaign
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.operators import metrics

        context = get_current_context()
        context["campaign_id"] = campaign_id  # type: ignore[typeddict-unknown-key]
        now = datetime.now(UTC)
        campaign, markets = current_campaign(campaign_id)
        with PhotoShelterHook() as ps:
            result = metrics.report_campaign(ps, CloudinaryHook(), campaign, markets,
                                             now, "reports", now.strftime("%Y-%m-%d"))
        print(f"delivery report for {campaign_id}: {result['html']}")
        return {k: result[k] for k in ("campaign", "html", "csv", "parquet", "totals")}

    report.expand(campaign_id=campaigns())


campaign_media_metrics()
