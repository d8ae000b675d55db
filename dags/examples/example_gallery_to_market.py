"""Example: a DAG built only from this project's operators.

Copies the approved masters of one PhotoShelter gallery to Cloudinary (under a campaign's
rules: approval field, tags, public IDs) and makes one market's renditions of them, written
back to PhotoShelter, with the market's delivery manifest. Trigger it with a gallery ID; every
step is idempotent, so re-running it only fills in what is missing.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from campaign_media.dags.support import START, default_args
from campaign_media.operators import (
    IngestMastersOperator,
    MakeRenditionsOperator,
    PhotoShelterGalleryToManifestOperator,
    PlanIngestOperator,
    PlanRenditionsOperator,
    PublishDeliveryOperator,
)
from campaign_media.operators.base import BATCH_LABEL
from campaign_media.pools import PHOTOSHELTER

with DAG(
    dag_id="example_gallery_to_market",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={**default_args(60), "pool": PHOTOSHELTER},  # every step here but publish logs in
    tags=["campaign-media", "example"],
    doc_md=__doc__,
    params={
        "gallery_id": Param("", type="string", minLength=1, description="the PhotoShelter gallery to copy"),
        "campaign": Param("spring-launch-2026", type="string",
                          description="the campaign whose rules apply (include/campaigns/<id>.yaml)"),
        "market": Param("fr", type="string", description="the market to make renditions for"),
    },
):
    listed = PhotoShelterGalleryToManifestOperator(task_id="list_gallery", gallery_id="{{ params.gallery_id }}")
    plan = PlanIngestOperator(task_id="plan_ingest", campaign="{{ params.campaign }}", force=True,
                              gallery_ids=["{{ params.gallery_id }}"])
    push = IngestMastersOperator.partial(task_id="push_masters", map_index_template=BATCH_LABEL).expand(
        batch=plan.output)
    renditions = PlanRenditionsOperator(task_id="plan_renditions", market="{{ params.market }}",
                                        campaign="{{ params.campaign }}", trigger_rule="none_failed")
    render = MakeRenditionsOperator.partial(task_id="make_renditions", map_index_template=BATCH_LABEL).expand(
        batch=renditions.output)
    publish = PublishDeliveryOperator(task_id="publish", market="{{ params.market }}", batches=renditions.output,
                                      trigger_rule="all_done")
    render >> publish

    listed >> plan
    push >> renditions
