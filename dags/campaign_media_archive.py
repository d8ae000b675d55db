"""Archive: after a campaign ends (+ grace), its final renditions go to PhotoShelter, verified."""

from __future__ import annotations

from airflow.sdk import DAG, CronTriggerTimetable

from campaign_media.dag_support import START, campaign_param, default_args, load_config
from campaign_media.operators import ArchiveCampaignOperator, SelectCampaignsOperator
from campaign_media.operators.base import CAMPAIGN_LABEL
from campaign_media.pools import PHOTOSHELTER

CAMPAIGN_IDS = sorted(load_config()[1].items)

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


with DAG(
    dag_id="campaign_media_archive",
    schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(300),
    tags=["campaign-media", "archive"],
    doc_md=DOC_MD,
    params={"campaign": campaign_param(CAMPAIGN_IDS)},
):
    due = SelectCampaignsOperator(task_id="due", rule="due_for_archive", campaign="{{ params.campaign }}")
    ArchiveCampaignOperator.partial(task_id="archive", pool=PHOTOSHELTER,
                                    map_index_template=CAMPAIGN_LABEL).expand(campaign_id=due.output)
