"""Legal deadlines: alert when a market copy's window end or an archive due date was not confirmed on time."""

from __future__ import annotations

from airflow.sdk import DAG, Param

from campaign_media.dags.support import Config, per_campaign_dag
from campaign_media.domain.windows import AS_OF_PATTERN
from campaign_media.operators import DeadlinesOperator

DOC_MD = """
### Campaign media — deadlines

A market's window end, a licence end and an archive due date are legal deadlines. Cloudinary's
own rule closes each market copy at its end even while Airflow is down; this DAG checks that
Airflow **confirmed** it. A usage-window run must have decided as of the moment or later, and
the copy must not have failed there, within `[campaign_media] deadline_tolerance_minutes`
(20 by default). An ended campaign must be archived by its due date (end + `archive.grace_days`).

* **Alerts** once per missed deadline through the deployment's alert channel
  (`[campaign_media] alerts`: e-mail, Slack or none). It names the campaign, the market, how
  many copies had to close and when, and what to do.
* **Catches:** the usage-window DAG paused across a window end, its runs failing, a scheduler that
  was down (the alert goes out when the scheduler is back), an archive that did not run.
* **Reads only** what the DAGs stored (no API call), so it is cheap to run every 10 minutes.
* `as_of` judges another moment (tests, what-ifs).
"""

def build(config: Config) -> DAG:
    return per_campaign_dag(
        config, dag_id="campaign_media_deadlines", cron="*/10 * * * *", retry_seconds=60, tags=["governance"],
        doc_md=DOC_MD, select=("campaigns", "unarchived"), work=DeadlinesOperator, work_task_id="check",
        as_of="{{ params.as_of }}",
        extra_params={"as_of": Param("", type="string", pattern=AS_OF_PATTERN, description="judge at this ISO "
                                     "time with its zone (…Z or …+01:00) instead of now")})
