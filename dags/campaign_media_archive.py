"""Archive: after a campaign ends (+ grace), its final renditions go to PhotoShelter, verified."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from campaign_media.config.loader import load_campaigns, load_markets

RETRY_DELAY = timedelta(seconds=int(os.environ.get("CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS", 300)))
CAMPAIGN_IDS = sorted(load_campaigns(markets=load_markets()).items)

DOC_MD = """
### Campaign media — archive after the campaign ends

For each campaign whose window ended at least `archive.grace_days` ago:

1. writes the final **delivery report** into `<storage>/<campaign>/archive/report/` (before
   anything is deleted);
2. streams every published rendition of every market — as Cloudinary serves it — into the
   PhotoShelter gallery `archive.gallery` (default *"<campaign> — archive"*), with metadata that
   links it to its master, market, transformation, URL, SHA-256 and delivery figures;
3. **verifies** each stored file: downloaded back from PhotoShelter, size and SHA-256 must equal
   what Cloudinary served. Progress is saved per item (`archive/verified.json`);
4. only when everything is verified, **cleans up** Cloudinary: market copies deleted (with their
   derivatives, CDN invalidated), masters restricted or deleted (`archive.masters`).

A failed or partial archive cleans up nothing, lists what is missing (`archive/missing.json`)
and fails the task; the next run carries on from the verified items. An archived campaign
(`archive/done.json`) is a no-op.
"""


@dag(
    dag_id="campaign_media_archive",
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "campaign-media", "retries": 2, "retry_delay": RETRY_DELAY},
    tags=["campaign-media", "archive"],
    doc_md=DOC_MD,
    params={"campaign": Param("all", enum=["all", *CAMPAIGN_IDS], description="one campaign, or all")},
)
def campaign_media_archive() -> None:
    @task
    def due() -> list[str]:
        from campaign_media.config.loader import current_config

        chosen = get_current_context()["params"]["campaign"]
        now = datetime.now(UTC)
        _, config = current_config()
        ready = [cid for cid, c in sorted(config.items()) if chosen in ("all", cid) and c.archive_due(now)]
        print(f"campaigns due for archive at {now:%Y-%m-%d %H:%M} UTC: {ready or 'none'}")
        return ready

    @task(pool="photoshelter_api", map_index_template="{{ campaign_id }}")
    def archive(campaign_id: str) -> dict[str, Any]:
        from campaign_media.config.loader import current_campaign
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.operators import archive as step

        get_current_context()["campaign_id"] = campaign_id  # type: ignore[typeddict-unknown-key]
        campaign, markets = current_campaign(campaign_id)
        with PhotoShelterHook() as ps:
            result = step.archive_campaign(ps, CloudinaryHook(), campaign, markets,
                                           datetime.now(UTC))
        print(f"{campaign_id}: {result['status']} — {result['verified']}/{result['renditions']} renditions in "
              f"PhotoShelter gallery {result['gallery']!r}; final report: {result['report']}")
        return result

    archive.expand(campaign_id=due())


campaign_media_archive()
