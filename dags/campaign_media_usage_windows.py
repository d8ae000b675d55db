"""Usage windows: every 15 minutes, PhotoShelter rights → Cloudinary delivery rules, reconciled."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from campaign_media.config.loader import load_campaigns, load_markets
from campaign_media.windows import AS_OF_PATTERN, parse_as_of

RETRY_DELAY = timedelta(seconds=int(os.environ.get("CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS", 60)))
CAMPAIGN_IDS = sorted(load_campaigns(markets=load_markets()).items)

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


@dag(
    dag_id="campaign_media_usage_windows",
    schedule=CronTriggerTimetable("*/15 * * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=UTC),
    catchup=False,  # only the present matters: a missed run is repaired by the next one
    max_active_runs=1,
    default_args={"owner": "campaign-media", "retries": 2, "retry_delay": RETRY_DELAY},
    tags=["campaign-media", "governance"],
    doc_md=DOC_MD,
    params={
        "campaign": Param("all", enum=["all", *CAMPAIGN_IDS], description="one campaign, or all"),
        "as_of": Param("", type="string", pattern=AS_OF_PATTERN,
                       description="evaluate at this ISO time with its zone (…Z or …+01:00) instead of now"),
    },
)
def campaign_media_usage_windows() -> None:
    @task
    def campaigns() -> list[str]:
        from campaign_media.operators.archive import unarchived

        return unarchived(get_current_context()["params"]["campaign"])  # archived: nothing left in Cloudinary

    @task(pool="photoshelter_api", map_index_template="{{ campaign_id }}")  # it holds a PhotoShelter session
    def reconcile(campaign_id: str) -> dict[str, Any]:
        from campaign_media.config.loader import current_campaign
        from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
        from campaign_media.operators import usage_windows

        context = get_current_context()
        context["campaign_id"] = campaign_id  # type: ignore[typeddict-unknown-key]
        now = parse_as_of(context["params"]["as_of"], datetime.now(UTC))
        campaign, markets = current_campaign(campaign_id)
        with PhotoShelterHook() as ps:
            return usage_windows.reconcile(ps, CloudinaryHook(), campaign, markets,
                                           now, context["run_id"])

    @task
    def summary(results: list[dict[str, Any]]) -> None:
        for result in results or []:
            print(f"{result['campaign']}: opened {result['opened']}, closed {result['closed']}, repaired "
                  f"{result['repaired']}, restricted {result['restricted']}, signed {result['signed']} "
                  f"({result['copies']} market copies) — report: {result['report']}")

    summary(reconcile.expand(campaign_id=campaigns()))


campaign_media_usage_windows()
