"""What every DAG file shares: the configuration read the same way, the default arguments, and
the ``campaign`` Param. DAG files stay declarations; decisions live in the domain modules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, BaseOperator, CronTriggerTimetable, Param

from campaign_media import settings
from campaign_media.config.loader import Loaded, include_dir, load_campaigns, load_markets
from campaign_media.config.models import Campaign, Market

START = datetime(2026, 11, 1, tzinfo=UTC)
OWNER = "campaign-media"
Config = tuple[Loaded[Market], Loaded[Campaign]]


def load_config() -> Config:
    """The markets and campaigns of the configured include folder (``[campaign_media] include``: a
    folder, or an object-store URL read through its local copy), with the errors of the files that
    did not validate."""
    folder = include_dir()
    markets = load_markets(folder / "markets")
    return markets, load_campaigns(folder / "campaigns", markets=markets)


def masters_asset(campaign_id: str) -> Asset:
    """What ingest emits when a campaign's masters changed: it starts the campaign's market DAGs."""
    return Asset(name=f"campaign_media.{campaign_id}.masters", uri=f"campaign-media://{campaign_id}/masters")


def delivery_asset(campaign_id: str, market: str) -> Asset:
    """What a market DAG emits when it published a campaign's delivery manifest: it starts the sign-off DAG."""
    return Asset(name=f"campaign_media.{campaign_id}.delivery.{market}",
                 uri=f"campaign-media://{campaign_id}/delivery/{market}")


def default_args(retry_seconds: int, *, exponential: bool = False) -> dict[str, Any]:
    """Owner, retries, and the alert when a task fails for good (``campaign_media.notifiers``);
    ``[campaign_media] retry_delay_seconds`` overrides the delay (tests)."""
    from campaign_media.notifiers import FailureNotifier

    delay = timedelta(seconds=settings.get("retry_delay_seconds") or retry_seconds)
    return {"owner": OWNER, "retries": 2, "retry_delay": delay, "on_failure_callback": FailureNotifier(),
            **({"retry_exponential_backoff": True} if exponential else {})}


def campaign_param(campaign_ids: list[str] | Any) -> Param:
    return Param("all", enum=["all", *sorted(campaign_ids)], description="one campaign, or all")


def per_campaign_dag(config: Config, *, dag_id: str, cron: str, retry_seconds: int, tags: list[str], doc_md: str,
                     select: tuple[str, str], work: type[BaseOperator], work_task_id: str,
                     extra_params: dict[str, Param] | None = None, assets: list[Asset] | None = None,
                     **work_args: Any) -> DAG:
    """The shape the governance DAGs share: one task picks the campaigns (``select``: its task ID and
    the :class:`~campaign_media.operators.SelectCampaignsOperator` rule), then ``work`` runs once per
    campaign (mapped, labelled by campaign, in the PhotoShelter pool), one run at a time on a UTC cron.

    :param config: the markets and campaigns (:func:`load_config`)
    :param dag_id: the DAG's ID
    :param cron: its schedule, a cron expression in UTC
    :param retry_seconds: its tasks' retry delay (``[campaign_media] retry_delay_seconds`` overrides it)
    :param tags: the DAG's tags (``campaign-media`` is added)
    :param doc_md: the DAG's documentation in the UI
    :param select: ``(task_id, rule)`` of the task that picks the campaigns
    :param work: the per-campaign operator, expanded over ``campaign_id``
    :param work_task_id: its task ID
    :param extra_params: Params beside ``campaign``
    :param assets: it also runs when one of these is updated
    :param work_args: arguments every mapped ``work`` task gets (templated ones may use ``params``)
    """
    from campaign_media.operators import SelectCampaignsOperator
    from campaign_media.operators.base import CAMPAIGN_LABEL
    from campaign_media.pools import PHOTOSHELTER

    campaign_ids = sorted(config[1].items)
    from airflow.sdk import AssetAny, AssetOrTimeSchedule

    cron_schedule = CronTriggerTimetable(cron, timezone="UTC")
    schedule = AssetOrTimeSchedule(timetable=cron_schedule, assets=AssetAny(*assets)) if assets else cron_schedule
    with DAG(dag_id=dag_id, schedule=schedule, start_date=START, catchup=False,
             max_active_runs=1, default_args=default_args(retry_seconds), tags=["campaign-media", *tags],
             doc_md=doc_md, params={"campaign": campaign_param(campaign_ids), **(extra_params or {})}) as dag:
        task_id, rule = select
        chosen = SelectCampaignsOperator(task_id=task_id, rule=rule, campaign="{{ params.campaign }}")
        work.partial(task_id=work_task_id, pool=PHOTOSHELTER, map_index_template=CAMPAIGN_LABEL,
                     **work_args).expand(campaign_id=chosen.output)
    return dag


def approval_assets(campaigns: dict[str, Campaign], now: datetime | None = None,
                    photoshelter_conn_id: str | None = None) -> list[Any]:
    """One asset per watched PhotoShelter source of the campaigns not over yet, each with an
    ``AssetWatcher`` running :class:`~campaign_media.triggers.PhotoShelterChangeTrigger`
    (``[campaign_media] watch_poll_seconds``, a campaign's ``source.watch``). None when the
    deployment watches nothing: the ingest DAG then runs on its timetable only."""
    from airflow.sdk import Asset, AssetWatcher

    from campaign_media.domain.watch import CONNECTION, asset_uri, watched_sources
    from campaign_media.triggers import PhotoShelterChangeTrigger

    photoshelter_conn_id = photoshelter_conn_id or CONNECTION
    active = [c for c in campaigns.values() if not c.ended(now or datetime.now(UTC))]
    sources = watched_sources(active, photoshelter_conn_id, settings.get("watch_poll_seconds"))
    return [Asset(name=f"campaign_media.photoshelter.{key}", uri=asset_uri(key),
                  watchers=[AssetWatcher(name=f"campaign_media_watch_{key}", trigger=PhotoShelterChangeTrigger(
                      source=key, campaigns=entry["campaigns"], interval=entry["interval"],
                      photoshelter_conn_id=photoshelter_conn_id,
                      calls_per_hour=float(settings.get("watch_calls_per_hour"))))])
            for key, entry in sorted(sources.items())]


def repair_asset(target: str) -> Asset:
    """Updated when hand edits call for ``target``'s run: a market code (copies made again) or
    ``windows`` (usage windows reconciled). Emitted by the hand-edits DAG."""
    return Asset(name=f"campaign_media.hand_edits.{target}", uri=f"campaign-media://hand-edits/{target}")


def hand_edits_asset() -> Any | None:
    """The asset Cloudinary's pulled events update, with its ``AssetWatcher`` running
    :class:`~campaign_media.triggers.events.CloudinaryEventsTrigger` on the deployment's poll
    channel; None when ``[campaign_media] cloudinary_events`` is not ``pull``."""
    from airflow.sdk import AssetWatcher

    from campaign_media.domain.events import CONNECTION, channel_name
    from campaign_media.triggers.events import CloudinaryEventsTrigger

    if settings.get("cloudinary_events") != "pull":
        return None
    channel = channel_name(CONNECTION, settings.get("events_channel"))
    return Asset(name="campaign_media.cloudinary.events", uri=f"campaign-media://cloudinary-events/{channel}",
                 watchers=[AssetWatcher(name="campaign_media_cloudinary_events", trigger=CloudinaryEventsTrigger(
                     channel=channel, cloudinary_conn_id=CONNECTION,
                     wait_seconds=int(settings.get("events_wait_seconds"))))])

