"""Usage windows: every 15 minutes, PhotoShelter rights → Cloudinary delivery rules, reconciled."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from campaign_media.dags.support import Config, per_campaign_dag, repair_asset
from campaign_media.domain.windows import AS_OF_PATTERN
from campaign_media.operators import ApplyUsageWindowsOperator

DOC_MD = """
### Campaign media — usage windows

Keeps every published asset deliverable exactly while it may be used. For each campaign and
each of its markets, the effective window of a master is the **campaign window ∩ the market's
window (its own time zone) ∩ the master's licence** from PhotoShelter, read fresh every run.

* **Cloudinary enforces it by itself:** each market copy carries an `access_control` rule with
  the window's start and end, so it opens and closes on time even while Airflow is down.
* **This DAG reconciles:** a licence shortened in PhotoShelter, an approval withdrawn, rights
  that cannot be read, an ended window, or rules changed by hand are repaired; closing also
  invalidates the CDN. Masters themselves are checked to be token-only.
* **Fails closed:** unreadable or missing rights, or rights not cleared for the market, keep the
  asset restricted (token only) and reported.
* **Signed delivery:** masters whose usage rights the campaign lists under `signed_urls` get
  expiring token URLs in the delivery manifest instead of public ones.
* **Report:** `<storage>/<campaign>/windows/<run>.json` (and `latest.json`): opened, closed,
  repaired, restricted, signed. Safe to run any time; `as_of` evaluates another moment (what-if).
* **Backfill:** harmless but pointless: every run judges the present (or `as_of`), never its
  logical date, so an old interval cannot reopen anything.
"""

# Only the present matters (catchup off): a missed run is repaired by the next one. Archived
# campaigns have nothing left in Cloudinary to govern.
def build(config: Config) -> DAG:
    return per_campaign_dag(
        config, dag_id="campaign_media_usage_windows", cron="*/15 * * * *", retry_seconds=60, tags=["governance"],
        doc_md=DOC_MD, select=("campaigns", "unarchived"), work=ApplyUsageWindowsOperator,
        work_task_id="reconcile", as_of="{{ params.as_of }}", assets=[repair_asset("windows")],
        extra_params={"as_of": Param("", type="string", pattern=AS_OF_PATTERN, description="evaluate at this ISO "
                                     "time with its zone (…Z or …+01:00) instead of now")})
