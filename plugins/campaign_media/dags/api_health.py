"""API health: can this deployment reach and use PhotoShelter and Cloudinary right now?"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, dag, task

from campaign_media.dags.support import START, Config, default_args
from campaign_media.pools import CLOUDINARY, PHOTOSHELTER

DOC_MD = """
### Campaign media — API health

Logs in to **PhotoShelter** (token + organisation login, one listing of the library's top level)
and pings **Cloudinary**'s Admin API, reading the hourly rate-limit headroom and the usage report.

Then runs the **read-only account check** (`python -m campaign_media.cli check-account`): the
session's time zone, where the listing puts custom metadata and licences, whether the download
route serves the listing's original, signed reads of authenticated masters, token URLs, and
whether Admin listings carry `access_control`. Its capability report is what the market and
usage-window DAGs read to choose their path (signed URLs only where token access works).

* **Reads:** connections `photoshelter_default` and `cloudinary_default`.
* **Writes:** `<storage>/_account/capabilities.json`, and `<storage>/_deployment/worker.json`
  (which run wrote, from which host: `campaign-media doctor` reads it to tell whether storage is
  shared); each task returns a small summary (no secrets) as its XCom. Nothing in either account
  changes.
* **When it fails:** the task log names the call and the reason (bad key, unknown organisation,
  quota spent until a given time). Fix the connection, then clear the failed task.
* **Backfill:** not meaningful — it checks the APIs as they are now.
"""


@dag(
    dag_id="campaign_media_api_health",
    schedule="@hourly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(60),
    tags=["campaign-media", "health"],
    doc_md=DOC_MD,
)
def campaign_media_api_health() -> None:
    @task(pool=PHOTOSHELTER)
    def photoshelter() -> dict[str, Any]:
        from campaign_media.hooks import PhotoShelterHook
        from campaign_media.operators.waiting import failing_fast

        with failing_fast(), PhotoShelterHook() as hook:
            hook.login()
            top = hook.get_children()
            return {"org_id": hook.org_id, "collections": len(top["collections"]),
                    "galleries": len(top["galleries"])}

    @task(pool=CLOUDINARY)
    def cloudinary() -> dict[str, Any]:
        from campaign_media.hooks import CloudinaryHook
        from campaign_media.operators.waiting import failing_fast

        with failing_fast():
            hook = CloudinaryHook()
            usage = hook.usage()
            return {"cloud_name": hook.cloud_name, "reachable": hook.ping(),
                    "resources": usage.get("resources"), "storage_bytes": usage.get("storage", {}).get("usage"),
                    "bandwidth_bytes": usage.get("bandwidth", {}).get("usage")}

    @task(pool=PHOTOSHELTER)
    def account_check() -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from campaign_media.account.capabilities import summary
        from campaign_media.account.check import run, table
        from campaign_media.account.doctor import note_worker
        from campaign_media.config.loader import current_config
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.operators.waiting import failing_fast

        with failing_fast(), PhotoShelterHook() as ps:
            report = run(ps, CloudinaryHook(), list(current_config()[1].values()))
        print(table(report))
        context = get_current_context()
        note_worker(context["dag"].dag_id, context["run_id"])  # campaign-media doctor: storage is shared
        return summary(report)

    [photoshelter(), cloudinary()] >> account_check()



def build(config: Config) -> DAG:
    """The DAG is the same for every configuration (the account check reads it at run time)."""
    return campaign_media_api_health()
