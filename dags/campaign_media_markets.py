"""One variants DAG per market file in include/markets/ (adding a market = adding a YAML file).

A market file that does not validate becomes an import error in the Airflow UI that names
the file, the field and the fix; every other market keeps loading and running.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import (
    DAG,
    Asset,
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Param,
    dag,
    get_current_context,
    task,
)

from campaign_media.config.loader import ConfigError, load_campaigns, load_markets
from campaign_media.config.models import Market

RETRY_DELAY = timedelta(seconds=int(os.environ.get("CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS", 120)))
MARKETS = load_markets()
CAMPAIGNS = load_campaigns(markets=MARKETS)

DOC_MD = """
### Campaign media — market **{name}** (`{code}`)

For each active campaign that launches in **{name}** (locales {locales}, time zone `{timezone}`),
makes this market's copy of every approved master in Cloudinary
(`campaigns/<campaign>/markets/{code}/<image id>`) with its renditions — {renditions} — with the
campaign's localized headline drawn on them and its own access window (opening at midnight
`{timezone}`), all in **one** API call (eager transformations). Each published rendition is
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


def market_dag(market: Market) -> DAG:
    campaigns = sorted(cid for cid, c in CAMPAIGNS.items.items() if market.code in c.markets)
    masters = [Asset(name=f"campaign_media.{cid}.masters", uri=f"campaign-media://{cid}/masters")
               for cid in campaigns]
    delivery = [Asset(name=f"campaign_media.{cid}.delivery.{market.code}",
                      uri=f"campaign-media://{cid}/delivery/{market.code}") for cid in campaigns]
    daily = CronTriggerTimetable("0 6 * * *", timezone=market.timezone)

    @dag(
        dag_id=f"campaign_media_market_{market.code}",
        schedule=AssetOrTimeSchedule(timetable=daily, assets=AssetAny(*masters)) if masters else daily,
        start_date=datetime(2026, 11, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        default_args={"owner": "campaign-media", "retries": 2, "retry_delay": RETRY_DELAY,
                      "retry_exponential_backoff": True},
        tags=["campaign-media", "market", market.code],
        doc_md=DOC_MD.format(name=market.name or market.code, code=market.code, locales=", ".join(market.locales),
                             timezone=market.timezone, renditions=", ".join(r.name for r in market.renditions),
                             channels=", ".join(market.channels), breakpoints=market.breakpoints),
        params={
            "campaign": Param("all", enum=["all", *campaigns], description="one campaign, or all"),
            "dry_run": Param(False, type="boolean", description="build URLs only: no API writes"),
            "force": Param(False, type="boolean", description="remake every rendition"),
        },
    )
    def variants() -> None:
        @task(pool="cloudinary_api")
        def plan() -> list[dict[str, Any]]:
            from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
            from campaign_media.operators import variants as step

            context = get_current_context()
            # Asset-triggered runs have no data interval: judge "active" at the run's own time.
            params = context["params"]
            now = context.get("data_interval_end") or context.get("logical_date") or datetime.now(UTC)
            # Every campaign whose window in this market has not closed: renditions are made
            # before launch so they are ready when the market's window opens.
            chosen = [c for c in (CAMPAIGNS.items[cid] for cid in campaigns if params["campaign"] in ("all", cid))
                      if (c.market_window(market)[1] or now + timedelta(seconds=1)) > now]
            with PhotoShelterHook() as ps:
                return step.plan(ps, CloudinaryHook(), chosen, market, context["run_id"],
                                 force=params["force"], dry_run=params["dry_run"])

        @task(pool="cloudinary_api", map_index_template="{{ batch_label }}")
        def render(batch: dict[str, Any]) -> dict[str, Any]:
            from campaign_media.hooks import CloudinaryHook, PhotoShelterHook
            from campaign_media.operators import variants as step

            get_current_context()["batch_label"] = batch["label"]  # type: ignore[typeddict-unknown-key]
            with PhotoShelterHook() as ps:
                return step.render(ps, CloudinaryHook(), CAMPAIGNS.items[batch["campaign"]], market, batch)

        @task(outlets=delivery)
        def publish(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
            from campaign_media.hooks import CloudinaryHook
            from campaign_media.operators import variants as step

            results = list(results or [])
            touched = sorted({r["campaign"] for r in results})
            summary = [step.publish(CloudinaryHook(), CAMPAIGNS.items[cid], market, results) for cid in touched]
            print(f"market {market.code}: {summary}")
            return summary

        publish(render.expand(batch=plan()))

    return variants()


for _code, _market in sorted(MARKETS.items.items()):
    globals()[f"market_{_code}"] = market_dag(_market)

if MARKETS.errors or CAMPAIGNS.errors:  # campaign files too: a campaign runs on in its sound markets
    invalid_market_files = InvalidMarketFiles(
        dag_id="campaign_media_invalid_market_files",
        description="\n".join([*MARKETS.errors.values(), *CAMPAIGNS.errors.values()])
        + "\nThe other markets and campaigns are loaded and run normally.",
        schedule=None,
    )
