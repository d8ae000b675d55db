"""Launch sign-off: after a market's renditions are made and written back, its owners are asked (Required Actions)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, task

from campaign_media.dags.support import START, Config, default_args, delivery_asset
from campaign_media.operators import ApplyUsageWindowsOperator
from campaign_media.operators.signoff import PlanSignoffsOperator, SignoffOperator
from campaign_media.pools import PHOTOSHELTER

DOC_MD = """
### Campaign media — launch sign-off

For campaigns whose file says `signoff:`. A market's copies stay **closed**, inside their window
too, until someone the campaign names says yes. The market and usage-window runs fail closed.

* **Asks** when a market DAG has made and written back renditions that no yes covers (each
  market's delivery asset starts this DAG; hourly as well). One request per campaign and market,
  or one per campaign with `per_market: false`. It names the window, the number of masters and
  renditions, and links to the contact sheet and the campaign page. It goes to Airflow's
  **Required Actions** (Browse → Required Actions, or the REST API's `hitlDetails`), assigned to
  the campaign's approvers, and to the alert channel (`[campaign_media] alerts`).
* **Approve** opens the windows at once: the `reconcile` task applies them. **Refuse** (with a
  reason) keeps them closed, names who refused and why on the campaign page, and sends an alert.
  **No answer** by the deadline (`signoff.deadline` before the market opens) keeps them closed,
  marks the request overdue, and alerts.
* A master added after a yes needs a new yes (`additions: new_yes`), or is covered by the
  standing yes (`additions: standing`).
* Every question and answer is an audit record: `signoff_asked`, `signoff_approved`,
  `signoff_refused`, `signoff_overdue` (who, when, what they saw).
"""

HOURLY = CronTriggerTimetable("17 * * * *", timezone="UTC")


def delivery_assets(config: Config) -> list[Asset]:
    """Each market's delivery asset of every campaign: a market run that publishes starts this DAG."""
    markets, campaigns = config
    return [delivery_asset(cid, code) for cid, c in sorted(campaigns.items.items())
            for code in c.markets if code in markets.items]


def build(config: Config) -> DAG:
    delivery = delivery_assets(config)
    with DAG(dag_id="campaign_media_signoff", start_date=START, catchup=False, default_args=default_args(60),
             schedule=AssetOrTimeSchedule(timetable=HOURLY, assets=AssetAny(*delivery)) if delivery else HOURLY,
             tags=["campaign-media", "governance", "signoff"], doc_md=DOC_MD, max_active_runs=8) as dag:
        plan = PlanSignoffsOperator(task_id="plan")
        # the campaign and market of the request's ID: the stored request the task answers
        label = "{{ task.req['id'].split('|')[1:] | join(' ') }}"
        asked = SignoffOperator.partial(task_id="signoff", map_index_template=label).expand(req=plan.output)

        @task(trigger_rule="all_done")
        def answered(results: Any) -> list[str]:
            """The campaigns whose sign-off was answered: their windows applied now, not in 15 minutes."""
            return sorted({r["campaign"] for r in results if r})

        ApplyUsageWindowsOperator.partial(task_id="reconcile", pool=PHOTOSHELTER).expand(
            campaign_id=answered(asked.output))
    return dag
