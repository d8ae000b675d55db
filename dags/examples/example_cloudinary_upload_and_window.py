"""Example: the single-purpose Cloudinary operators in a DAG of your own.

Uploads one file (a local path or an https URL) under a deterministic public ID, then gives it
an access window — or closes it to anonymous access when no window is given. Trigger it with a
source and a public ID; the window is two ISO times with their zone.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from campaign_media.dags.support import START, default_args
from campaign_media.operators import CloudinaryAccessControlOperator, CloudinaryUploadOperator
from campaign_media.pools import CLOUDINARY

with DAG(
    dag_id="example_cloudinary_upload_and_window",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={**default_args(60), "pool": CLOUDINARY},
    tags=["campaign-media", "example"],
    doc_md=__doc__,
    params={
        "source": Param("", type="string", minLength=1, description="a local path or an https URL"),
        "public_id": Param("", type="string", minLength=1, description="where to store it in Cloudinary"),
        "start": Param("", type="string", description="window start, e.g. 2026-12-01T00:00:00Z (empty: now)"),
        "end": Param("", type="string", description="window end (empty: no end)"),
        "closed": Param(False, type="boolean", description="close it to anonymous access instead"),
    },
):
    upload = CloudinaryUploadOperator(task_id="upload", source="{{ params.source }}",
                                      public_id="{{ params.public_id }}", tags=["example"])
    window = CloudinaryAccessControlOperator(task_id="window", public_ids=["{{ ti.xcom_pull('upload')['public_id'] }}"],
                                             start="{{ params.start }}", end="{{ params.end }}",
                                             closed="{{ params.closed }}")
    upload >> window
