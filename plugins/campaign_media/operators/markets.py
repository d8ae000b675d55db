"""Market operators: a market's copies and renditions of the masters, their write-back to
PhotoShelter, and the market's delivery manifest."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Context

from campaign_media import settings
from campaign_media.config.models import Campaign
from campaign_media.domain.batches import MarketBatch, MarketResult
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.operators.base import BatchOperator, CampaignMediaOperator, as_bool
from campaign_media.steps.shared import selection


class PlanRenditionsOperator(CampaignMediaOperator):
    """Find the masters whose market copy is missing or stale (new file, changed rendition spec,
    write-back not finished) in the campaigns that launch in ``market`` and have not closed there;
    write them to batch manifests. Returns the batch descriptors for
    ``MakeRenditionsOperator.partial(...).expand(batch=plan.output)``.

    :param market: the market code (a file in ``include/markets/``; templated)
    :param campaign: a campaign ID, or ``"all"`` (templated)
    :param force: remake every rendition (templated)
    :param dry_run: build URLs only: no API writes (templated)
    """

    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "market", "campaign", "force", "dry_run")

    def __init__(self, *, market: str, campaign: str = "all", force: bool | str = False,
                 dry_run: bool | str = False, batch_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.market = market
        self.campaign = campaign
        self.force = force
        self.dry_run = dry_run
        self.batch_size = batch_size

    def run(self, context: Context) -> list[MarketBatch]:
        from campaign_media.steps import variants

        market = self.market_config(self.market)
        # Asset-triggered runs have no data interval: judge "active" at the run's own time.
        now = context.get("data_interval_end") or context.get("logical_date") or datetime.now(UTC)
        chosen = selection.for_market(self.config()[1], market, self.campaign, now)
        options = {"batch_size": self.batch_size} if self.batch_size else {}
        self.claim_dag(context)  # let go by PublishDeliveryOperator
        with self.photoshelter() as ps:
            return variants.plan(ps, self.cloudinary_hook, chosen, market, context["run_id"],
                                 force=as_bool(self.force), dry_run=as_bool(self.dry_run), **options)


class MakeRenditionsOperator(BatchOperator):
    """For one batch: each master's market copy with all its renditions in one upload call
    (eager), its access window set, then each new rendition written back to PhotoShelter exactly
    once (the file name is the key). Returns a :class:`~campaign_media.domain.batches.MarketResult`.

    :param batch: a :class:`~campaign_media.domain.batches.MarketBatch` from :class:`PlanRenditionsOperator` (templated)
    """

    def run_batch(self, ps: PhotoShelterHook, campaign: Campaign, batch: MarketBatch) -> MarketResult:
        from campaign_media.steps import variants

        result = variants.render(ps, self.cloudinary_hook, campaign, self.market_config(batch["market"]), batch)
        if not batch["dry_run"]:
            self.lineage_from("rendered", result["path"], ps.org_id)
        return result


class FinishVideoRenditionsOperator(CampaignMediaOperator):
    """Wait, *deferred*, for the video derivatives Cloudinary makes asynchronously (no worker and no
    pool slot held: :class:`~campaign_media.triggers.cloudinary.VideoRenditionsTrigger` polls in the
    triggerer), then record them and write the video and poster renditions back to PhotoShelter
    exactly once. A copy still transcoding at the deadline is named and the task fails after the
    rest is done; the next run waits for it again (no second upload). Nothing to wait for (no
    video masters): done at once.

    :param market: the market code (templated)
    :param batches: the plan's batch descriptors (``plan.output``)
    :param poll_seconds: how often the trigger asks (default ``[campaign_media] video_poll_seconds``, 30; with
        notifications on, ``video_fallback_poll_seconds``, 300)
    :param timeout: how long to wait in all (default 2 hours)
    """

    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "market", "batches")

    def __init__(self, *, market: str, batches: Any, poll_seconds: float | None = None,
                 timeout: timedelta = timedelta(hours=2), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.market = market
        self.batches = batches
        self.poll_seconds = poll_seconds
        self.timeout = timeout

    def _batches(self) -> list[MarketBatch]:
        return [b for b in self.batches or [] if not b["dry_run"]]

    def run(self, context: Context) -> dict[str, Any]:
        from campaign_media.steps import videos
        from campaign_media.steps.variants import event_path
        from campaign_media.triggers.cloudinary import VideoRenditionsTrigger

        waiting = videos.waiting(self._batches())
        if not waiting:
            return {"completed": 0, "written_back": 0, "still_transcoding": 0, "gone": 0, "failed": 0}
        # With notifications on, the uploads asked Cloudinary to announce each copy made: those
        # recorded from now on wake the trigger (the look below covers what was made before).
        path = event_path(self.cloudinary_hook)
        notified = path != "admin"
        since = time.time() if notified else None
        # One look before deferring: copies already made are finished without a deferral (and
        # without Airflow's race with a trigger that fires within seconds, apache/airflow#71580).
        rest = videos.still_transcoding(self.cloudinary_hook, waiting)
        if not rest:
            return self._finish(context, {"looks": {"before_deferring": len(waiting), "poll": 0, "notified": 0}})
        poll = self.poll_seconds or settings.get("video_fallback_poll_seconds" if notified else "video_poll_seconds")
        self.log.info("market %s: %d of %d video copies still being transcoded by Cloudinary; waiting deferred "
                      "(the worker slot is free), %s", self.market, len(rest), len(waiting),
                      f"woken by Cloudinary's events ({path}), asking anyway every {poll:.0f} s" if notified
                      else f"asking every {poll:.0f} s ([campaign_media] cloudinary_events = admin, or this "
                           "connection is not the one whose events the triggerer pulls)")
        self.defer(trigger=VideoRenditionsTrigger(waiting=rest, deadline=(datetime.now(UTC) + self.timeout)
                                                  .isoformat(), poll_seconds=poll,
                                                  cloudinary_conn_id=self.cloudinary_conn_id,
                                                  notified_since=since, looked=True),
                   method_name="finish")

    def finish(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Where the deferred task comes back when the trigger fires. A rate limit met here defers
        the task like one met in :meth:`run` (it then comes back through ``run``, which waits for
        the copies again: a second look costs one Admin call per copy, no upload)."""
        return self.run_or_wait(context, lambda ctx: self._finish(ctx, event or {}))

    def _finish(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        from campaign_media.steps import videos

        for copy_id, error in (event.get("errors") or {}).items():
            self.log.warning("video copy %s: the last look failed: %s", copy_id, error)
        with self.photoshelter() as ps:
            made = videos.finish(ps, self.cloudinary_hook, self.config()[1], self.market_config(self.market),
                                 self._batches(), event.get("pending") or [], event.get("gone") or [])
        # With how the trigger learnt of them: looks after a notification, and polled looks (the
        # first look at every copy when the wait began is one of these).
        counts: dict[str, Any] = {**made, "looks": event.get("looks") or {}}
        self.log.info("market %s, video renditions: %s", self.market, counts)
        return counts


class PublishDeliveryOperator(CampaignMediaOperator):
    """Fold the batches' results into the market state and write each touched campaign's delivery
    manifest (``<storage>/<campaign>/delivery/<market>.json``). Cloudinary only (URLs).

    It reads each batch's result file, not the render tasks' XComs, so with
    ``trigger_rule="all_done"`` it also publishes what a failed batch finished before it failed.

    :param market: the market code (templated)
    :param batches: the plan's batch descriptors (``plan.output``)
    """

    opens_photoshelter_session = False
    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "market", "batches")

    def __init__(self, *, market: str, batches: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.market = market
        self.batches = batches

    def run(self, context: Context) -> list[dict[str, Any]]:
        from campaign_media.runtime import storage
        from campaign_media.steps import variants

        market = self.market_config(self.market)
        results = [{"campaign": b["campaign"], "path": b["result"], "dry_run": b["dry_run"]}
                   for b in self.batches or [] if storage.read_json(b["result"]) is not None]
        campaigns = self.config()[1]
        summary = [variants.publish(self.cloudinary_hook, campaigns[cid], market, results)
                   for cid in sorted({r["campaign"] for r in results})]
        self.log.info("market %s: %s", market.code, summary)
        self.release_dag(context)
        return summary
