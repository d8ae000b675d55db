"""Delivery metrics: a daily report per campaign (CSV, Parquet and an HTML page with charts)."""

from __future__ import annotations

from airflow.sdk import DAG

# Built by per_campaign_dag (the governance DAGs' one shape).
from campaign_media.dags.support import Config, per_campaign_dag
from campaign_media.operators import DeliveryReportOperator

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

def build(config: Config) -> DAG:
    return per_campaign_dag(config, dag_id="campaign_media_metrics", cron="30 5 * * *", retry_seconds=300,
                            tags=["reporting"], doc_md=DOC_MD, select=("campaigns", "unarchived"),
                            work=DeliveryReportOperator, work_task_id="report")
