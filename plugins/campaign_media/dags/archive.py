"""Archive: after a campaign ends (+ grace), its final renditions go to PhotoShelter, verified."""

from __future__ import annotations

from airflow.sdk import DAG

# Built by per_campaign_dag (the governance DAGs' one shape).
from campaign_media.dags.support import Config, per_campaign_dag
from campaign_media.operators import ArchiveCampaignOperator

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

def build(config: Config) -> DAG:
    return per_campaign_dag(config, dag_id="campaign_media_archive", cron="0 3 * * *", retry_seconds=300,
                            tags=["archive"], doc_md=DOC_MD, select=("due", "due_for_archive"),
                            work=ArchiveCampaignOperator, work_task_id="archive")
