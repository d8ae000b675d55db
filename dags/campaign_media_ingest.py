"""Ingest: approved PhotoShelter masters of every active campaign → Cloudinary."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from campaign_media.config.loader import load_campaigns, load_markets

RETRY_DELAY = timedelta(seconds=int(os.environ.get("CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS", 120)))
CAMPAIGNS = load_campaigns(markets=load_markets()).items  # local YAML only: no I/O beyond the files
MASTER_ASSETS = {cid: Asset(name=f"campaign_media.{cid}.masters", uri=f"campaign-media://{cid}/masters")
                 for cid in sorted(CAMPAIGNS)}

DOC_MD = """
### Campaign media — ingest approved masters

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


@dag(
    dag_id="campaign_media_ingest",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # ingest runs never race each other for the same masters
    default_args={"owner": "campaign-media", "retries": 2, "retry_delay": RETRY_DELAY,
                  "retry_exponential_backoff": True},
    tags=["campaign-media", "ingest"],
    doc_md=DOC_MD,
    params={
        "campaign": Param("all", enum=["all", *sorted(CAMPAIGNS)], description="one campaign, or all"),
        "force": Param(False, type="boolean", description="ignore the data interval and stored versions"),
    },
)
def campaign_media_ingest() -> None:
    @task(pool="photoshelter_api")
    def plan() -> list[dict[str, Any]]:
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.operators import ingest

        context = get_current_context()
        # A run triggered without a logical date has no data interval: it examines every
        # master (still skipping versions Cloudinary already has).
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        chosen = context["params"]["campaign"]
        # Campaigns not over by the interval's start: masters approved before launch ship early,
        # so renditions are ready when the window opens (usage windows govern visibility).
        since = start or datetime.now(UTC)
        campaigns = [c for cid, c in sorted(CAMPAIGNS.items()) if chosen in ("all", cid) and not c.ended(since)]
        with PhotoShelterHook() as ps:
            return ingest.plan(ps, CloudinaryHook(), campaigns, context["run_id"], start, end,
                               force=context["params"]["force"])

    @task(pool="photoshelter_api", map_index_template="{{ batch_label }}")  # it holds a PhotoShelter session
    def push(batch: dict[str, Any]) -> dict[str, Any]:
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.operators import ingest

        get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
        with PhotoShelterHook() as ps:
            return ingest.push(ps, CloudinaryHook(), CAMPAIGNS[batch["campaign"]], batch)

    @task(trigger_rule="none_failed")  # also when there was nothing to push; not when a push failed
    def report(batches: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, Any]:
        from campaign_media.operators import ingest

        context = get_current_context()
        chosen = context["params"]["campaign"]
        ids = [cid for cid in sorted(CAMPAIGNS) if chosen in ("all", cid)]
        totals = ingest.report(ids, context["run_id"], list(results or []))
        print(f"ingest totals: {totals}")
        return totals

    @task(outlets=list(MASTER_ASSETS.values()))
    def announce(totals: dict[str, Any]) -> None:
        """Emit the masters assets only when something new reached Cloudinary."""
        if not any(t.get("uploaded") for t in totals.values()):
            raise AirflowSkipException("nothing new was uploaded; market DAGs are not triggered")

    batches = plan()
    results = push.expand(batch=batches)
    announce(report(batches, results))


campaign_media_ingest()
