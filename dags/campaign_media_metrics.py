"""Delivery metrics: a daily report per campaign (CSV, Parquet and an HTML page with charts)."""

from __future__ import annotations

from airflow.sdk import DAG, CronTriggerTimetable

from campaign_media.dag_support import START, campaign_param, default_args, load_config
from campaign_media.operators import DeliveryReportOperator, SelectCampaignsOperator
from campaign_media.operators.base import CAMPAIGN_LABEL
from campaign_media.pools import PHOTOSHELTER

CAMPAIGN_IDS = sorted(load_config()[1].items)

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


with DAG(
    dag_id="campaign_media_metrics",
    schedule=CronTriggerTimetable("30 5 * * *", timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(300),
    tags=["campaign-media", "reporting"],
    doc_md=DOC_MD,
    params={"campaign": campaign_param(CAMPAIGN_IDS)},
):
    campaigns = SelectCampaignsOperator(task_id="campaigns", rule="unarchived", campaign="{{ params.campaign }}")
    DeliveryReportOperator.partial(task_id="report", pool=PHOTOSHELTER,
                                   map_index_template=CAMPAIGN_LABEL).expand(campaign_id=campaigns.output)
