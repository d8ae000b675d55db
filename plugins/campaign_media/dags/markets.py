"""One variants DAG per market file in include/markets/ (adding a market = adding a YAML file).

A market file that does not validate becomes an import error in the Airflow UI that names
the file, the field and the fix; every other market keeps loading and running.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param

from campaign_media.config.loader import ConfigError
from campaign_media.config.models import Market
from campaign_media.dags.support import (
    START,
    Config,
    campaign_param,
    default_args,
    delivery_asset,
    masters_asset,
    repair_asset,
)
from campaign_media.operators import (
    FinishVideoRenditionsOperator,
    MakeRenditionsOperator,
    PlanRenditionsOperator,
    PublishDeliveryOperator,
)
from campaign_media.operators.base import BATCH_LABEL
from campaign_media.pools import CLOUDINARY, PHOTOSHELTER

DOC_MD = """
### Campaign media — market **{name}** (`{code}`)

For each active campaign that launches in **{name}** (locales {locales}, time zone `{timezone}`),
makes this market's copy of every approved master in Cloudinary
(`campaigns/<campaign>/markets/{code}/<image id>`) with its renditions — {renditions} — with the
campaign's localized headline drawn on them and its own access window (opening at midnight
`{timezone}`), all in **one** API call (eager transformations). A video master's copy gets its
video renditions — {video_renditions} — the same way, transcoded asynchronously by Cloudinary; the
`videos` task waits for them *deferred* (no worker slot held). Each published rendition is
then stored in the campaign's PhotoShelter gallery *"<campaign> — renditions {code}"* as a
reference asset whose metadata names its master, master version, market, transformation and
Cloudinary URL — exactly once. Access is then kept right by `campaign_media_usage_windows`.

* **Reads:** Cloudinary masters (`cloudinary_default`), the market state in `<storage>`.
* **Writes:** Cloudinary market copies and their renditions; PhotoShelter reference assets; per
  campaign `<storage>/<campaign>/delivery/{code}.json`, the delivery manifest (stored
  renditions, plus on-the-fly `f_auto`/`q_auto` URLs per channel {channels} and device, and a responsive
  `srcset` over {breakpoints}).
* **Runs:** when ingest publishes new masters of a campaign (asset), daily at 06:00 `{timezone}`,
  or by hand with `campaign`, `dry_run` (URLs only, no API calls, nothing stored) and `force`
  (remake everything).
* **Idempotent:** a master whose version and rendition spec are unchanged and whose renditions
  are written back is skipped; a changed master gets new renditions and new reference assets.
* **Backfill:** safe; runs only fill in what is missing for the current state of the masters.
"""


class InvalidMarketFiles(DAG):
    """Stands for the market files that did not validate: bagging it raises their errors, which
    Airflow shows as this file's import error while the valid markets' DAGs load normally."""

    def validate(self) -> None:
        raise ConfigError(self.description)


def market_dag(market: Market, config: Config) -> DAG:
    campaigns = sorted(cid for cid, c in config[1].items.items() if market.code in c.markets)
    masters = [masters_asset(cid) for cid in campaigns]
    delivery = [delivery_asset(cid, market.code) for cid in campaigns]
    daily = CronTriggerTimetable("0 6 * * *", timezone=market.timezone)

    with DAG(
        dag_id=f"campaign_media_market_{market.code}",
        schedule=AssetOrTimeSchedule(timetable=daily, assets=AssetAny(*masters, repair_asset(market.code))),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(120, exponential=True),
        tags=["campaign-media", "market", market.code],
        doc_md=DOC_MD.format(name=market.name or market.code, code=market.code, locales=", ".join(market.locales),
                             timezone=market.timezone, renditions=", ".join(r.name for r in market.renditions),
                             video_renditions=", ".join(r.name for r in market.video_renditions) or "none",
                             channels=", ".join(market.channels), breakpoints=market.breakpoints),
        params={
            "campaign": campaign_param(campaigns),
            "dry_run": Param(False, type="boolean", description="build URLs only: no API writes"),
            "force": Param(False, type="boolean", description="remake every rendition"),
        },
    ) as dag:
        # plan and render open PhotoShelter sessions (write-back gallery, uploads): its pool
        plan = PlanRenditionsOperator(task_id="plan", market=market.code, campaign="{{ params.campaign }}",
                                      force="{{ params.force }}", dry_run="{{ params.dry_run }}", pool=PHOTOSHELTER)
        render = MakeRenditionsOperator.partial(task_id="render", pool=PHOTOSHELTER,
                                                map_index_template=BATCH_LABEL).expand(batch=plan.output)
        # Video copies are transcoded by Cloudinary in the background: waited for deferred (no
        # worker slot), then written back. all_done: the videos of a failed batch's others count.
        videos = FinishVideoRenditionsOperator(task_id="videos", market=market.code, batches=plan.output,
                                               pool=PHOTOSHELTER, trigger_rule="all_done")
        # all_done: what a failed batch finished before failing is published too
        publish = PublishDeliveryOperator(task_id="publish", market=market.code, batches=plan.output,
                                          outlets=delivery, pool=CLOUDINARY, trigger_rule="all_done")
        # The run's verdict, its only leaf: failed when the plan, a batch, the videos or the publish failed (with
        # publish as the leaf, a run whose batches failed was marked successful); none_failed, so a
        # run with nothing to make (no batch: render skipped) succeeds.
        done = EmptyOperator(task_id="done", trigger_rule="none_failed")
        render >> videos >> publish >> done
        [render, videos] >> done
    return dag


def build(config: Config) -> dict[str, DAG]:
    """One DAG per valid market file, and, when market or campaign files did not validate, the DAG
    that stands for them (its import error names each file, field and fix)."""
    markets, campaigns = config
    dags = {f"campaign_media_market_{code}": market_dag(market, config)
            for code, market in sorted(markets.items.items())}
    if markets.errors or campaigns.errors:  # campaign files too: a campaign runs on in its sound markets
        dags["campaign_media_invalid_market_files"] = InvalidMarketFiles(
            dag_id="campaign_media_invalid_market_files",
            description="\n".join([*markets.errors.values(), *campaigns.errors.values()])
            + "\nThe other markets and campaigns are loaded and run normally.",
            schedule=None,
        )
    return dags
