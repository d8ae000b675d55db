"""API health: can this deployment reach and use PhotoShelter and Cloudinary right now?"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task

DOC_MD = """
### Campaign media — API health

Logs in to **PhotoShelter** (token + organisation login, one listing of the library's top level)
and pings **Cloudinary**'s Admin API, reading the hourly rate-limit headroom and the usage report.

* **Reads:** connections `photoshelter_default` and `cloudinary_default`.
* **Writes:** nothing; each task returns a small summary (no secrets) as its XCom.
* **When it fails:** the task log names the call and the reason (bad key, unknown organisation,
  quota spent until a given time). Fix the connection, then clear the failed task.
* **Backfill:** not meaningful — it checks the APIs as they are now.
"""


@dag(
    dag_id="campaign_media_api_health",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "campaign-media", "retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["campaign-media", "health"],
    doc_md=DOC_MD,
)
def campaign_media_api_health() -> None:
    @task
    def photoshelter() -> dict[str, Any]:
        from campaign_media.hooks import PhotoShelterHook

        with PhotoShelterHook() as hook:
            hook.login()
            top = hook.get_children()
            return {"org_id": hook.org_id, "collections": len(top["collections"]),
                    "galleries": len(top["galleries"])}

    @task
    def cloudinary() -> dict[str, Any]:
        from campaign_media.hooks import CloudinaryHook

        hook = CloudinaryHook()
        usage = hook.usage()
        return {"cloud_name": hook.cloud_name, "reachable": hook.ping(),
                "resources": usage.get("resources"), "storage_bytes": usage.get("storage", {}).get("usage"),
                "bandwidth_bytes": usage.get("bandwidth", {}).get("usage")}

    photoshelter()
    cloudinary()


campaign_media_api_health()
