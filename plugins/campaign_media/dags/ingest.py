"""Ingest: approved PhotoShelter masters of every active campaign → Cloudinary."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronDataIntervalTimetable, Param, task
from airflow.sdk.exceptions import AirflowSkipException

from campaign_media.dags.support import START, Config, approval_assets, campaign_param, default_args, masters_asset
from campaign_media.operators import IngestMastersOperator, IngestReportOperator, PlanIngestOperator
from campaign_media.operators.base import BATCH_LABEL
from campaign_media.pools import PHOTOSHELTER

DAILY = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")

DOC_MD = """
### Campaign media — ingest approved masters

**When:** within a poll interval of an approval or a new file in PhotoShelter (the watcher on the
triggerer: every `[campaign_media] watch_poll_seconds`, 15 s, or longer as the source's call
budget `watch_calls_per_hour`, 240, allows; such a run ingests exactly the media its events
name), and daily at 00:00 UTC as the net for anything an event missed.

For every campaign in `include/campaigns/` whose window overlaps the run's data interval, lists
the masters in its PhotoShelter source, keeps those **approved** by the campaign's approval rule
(staff, contributor and UGC submissions alike) that were **approved or changed inside the data
interval**, and pushes them to Cloudinary under a deterministic public ID
(`campaigns/<campaign>/masters/<PhotoShelter image id>`, delivery type `authenticated`: signed
URLs only) with tags (campaign, markets, owner) and governance context (owner, approval, usage
rights, licence expiry, PhotoShelter ID, version and file hash). Each original is streamed from
PhotoShelter's download route through the worker (to disk, never whole in memory; chunked
upload above 20 MB) and checked against PhotoShelter's width, height and size.

* **Reads:** PhotoShelter (`photoshelter_default`), Cloudinary listing (`cloudinary_default`).
* **Writes:** Cloudinary masters; per run, `<storage>/<campaign>/ingest/<run>/plan.json`,
  `batch-*.json`, `result-*.json` and `report.json` (counts, uploads, skipped media and why).
* **Idempotent:** a master whose version is already in Cloudinary is not pushed again; a
  changed record whose file is the same (same SHA-256: a rights or caption edit) only gets its
  context updated; a new file is re-uploaded in place and makes new renditions downstream.
* **Emits:** `campaign-media://<campaign>/masters` when something was uploaded, which triggers the
  market DAGs of that campaign.
* **Backfill:** Trigger → Backfill over a date range re-examines exactly the media approved or
  changed in each day; overlapping backfills upload nothing twice. `force=true` ignores the
  interval and the stored versions (a full re-sync).
"""


def build(config: Config) -> DAG:
    campaigns = config[1].items
    approvals = approval_assets(campaigns)  # one per watched PhotoShelter source (none: daily only)
    master_assets = [masters_asset(cid) for cid in sorted(campaigns)]
    with DAG(
        dag_id="campaign_media_ingest",
        # On what the PhotoShelter watcher fires (approvals, new files), and daily as the net.
        schedule=AssetOrTimeSchedule(timetable=DAILY, assets=AssetAny(*approvals)) if approvals else DAILY,
        start_date=START,
        catchup=False,
        max_active_runs=1,  # scheduled runs one at a time; backfill runs are kept apart by the claim (runtime.claims)
        default_args=default_args(120, exponential=True),
        tags=["campaign-media", "ingest"],
        doc_md=DOC_MD,
        params={
            "campaign": campaign_param(campaigns),
            "force": Param(False, type="boolean", description="ignore the data interval and stored versions"),
        },
    ) as dag:
        plan = PlanIngestOperator(task_id="plan", campaign="{{ params.campaign }}", force="{{ params.force }}",
                                  pool=PHOTOSHELTER)
        push = IngestMastersOperator.partial(task_id="push", pool=PHOTOSHELTER,
                                             map_index_template=BATCH_LABEL).expand(batch=plan.output)
        # also when there was nothing to push; not when a push failed
        report = IngestReportOperator(task_id="report", campaign="{{ params.campaign }}", results=push.output,
                                      trigger_rule="none_failed")

        @task(outlets=master_assets)
        def announce(totals: dict[str, Any]) -> None:
            """Emit the masters assets only when something new reached Cloudinary."""
            if not any(t.get("uploaded") for t in totals.values()):
                raise AirflowSkipException("nothing new was uploaded; market DAGs are not triggered")

        announce(report.output)
    return dag
