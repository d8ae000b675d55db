"""Hand edits: people's changes to market copies in Cloudinary, repaired on Cloudinary's events."""

from __future__ import annotations

from airflow.sdk import DAG

from campaign_media.dags.support import START, Config, default_args, hand_edits_asset, repair_asset
from campaign_media.operators.events import SORT_TASK, HandEditsOperator, RequestRepairOperator
from campaign_media.pools import CLOUDINARY

DOC_MD = """
### Campaign media — hand edits

Runs when Cloudinary tells the deployment (a **poll channel** the triggerer long-polls: no public
endpoint) that a person deleted, renamed, opened the access of, or edited the governance fields
of a market copy (`campaigns/<campaign>/markets/<market>/…`). Changes the pipeline made itself
never start it.

* `sort_edits` records each edit in its campaign's audit trail ("deleted by hand … made again"),
  renames a renamed copy back, and alerts for campaigns with `on_hand_edit: alert` (a takedown
  belongs in PhotoShelter: the alert says so).
* `repair_<market>` asks that market's run to make deleted copies again; `repair_windows` asks
  `campaign_media_usage_windows` to put access and governance fields back from the rights. Each
  is skipped when no edit calls for it.
"""


def build(config: Config) -> dict[str, DAG]:
    events = hand_edits_asset()
    if events is None:  # [campaign_media] cloudinary_events = admin: no events, no DAG
        return {}
    markets = sorted(config[0].items)
    with DAG(dag_id="campaign_media_hand_edits", schedule=[events], start_date=START, catchup=False,
             max_active_runs=1, default_args=default_args(60), tags=["campaign-media", "governance"],
             doc_md=DOC_MD) as dag:
        sort = HandEditsOperator(task_id=SORT_TASK, pool=CLOUDINARY)
        for target in [*markets, "windows"]:
            sort >> RequestRepairOperator(task_id=f"repair_{target}", target=target, outlets=[repair_asset(target)])
    return {dag.dag_id: dag}
