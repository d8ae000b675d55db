"""Ingest operators: approved PhotoShelter masters → Cloudinary, planned, pushed in mapped
batches, reported."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import Context

from campaign_media.config.models import Campaign
from campaign_media.domain.batches import IngestBatch, IngestResult
from campaign_media.domain.watch import named_media
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.operators.base import BatchOperator, CampaignMediaOperator, as_bool
from campaign_media.steps.shared import selection


class PlanIngestOperator(CampaignMediaOperator):
    """List the campaigns' approved masters that changed in the run's data interval and are not
    in Cloudinary at that version; write them to batch manifests in storage.

    Returns the batch descriptors (small: paths and counts), ready for
    ``IngestMastersOperator.partial(...).expand(batch=plan.output)``. A run without a data
    interval (triggered by hand) examines every master.

    :param campaign: a campaign ID, or ``"all"`` (templated)
    :param force: ignore the interval and the versions Cloudinary has (a full re-sync; templated)
    :param gallery_ids: read these PhotoShelter galleries instead of the campaign's ``source``
        (templated), e.g. a gallery a person picks when triggering
    :param batch_size: masters per batch (one mapped task each)
    """

    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "campaign", "force", "gallery_ids")

    def __init__(self, *, campaign: str = "all", force: bool | str = False, gallery_ids: list[str] | None = None,
                 batch_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.force = force
        self.gallery_ids = gallery_ids
        self.batch_size = batch_size

    def run(self, context: Context) -> list[IngestBatch]:
        from campaign_media.steps import ingest

        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        campaigns = selection.for_ingest(self.config()[1], self.campaign, start or datetime.now(UTC))
        if self.gallery_ids:
            source = {"gallery_ids": [str(g) for g in self.gallery_ids]}
            campaigns = [c.model_copy(update={"source": c.source.model_copy(update=source)}) for c in campaigns]
        options = {"batch_size": self.batch_size} if self.batch_size else {}
        named = named_media([event.extra for events in (context.get("triggering_asset_events") or {}).values()
                             for event in events])
        if named is not None:
            self.log.info("triggered by the PhotoShelter watcher: %s", {c: len(ids) for c, ids in named.items()})
        self.claim_dag(context)  # let go by IngestReportOperator
        with self.photoshelter() as ps:
            return ingest.plan(ps, self.cloudinary_hook, campaigns, context["run_id"], start, end,
                               force=as_bool(self.force), named=None if as_bool(self.force) else named, **options)


class IngestMastersOperator(BatchOperator):
    """Push one batch of masters: each original streamed from PhotoShelter into Cloudinary
    (authenticated delivery), checked against PhotoShelter's figures; a master whose bytes did
    not change only gets its context refreshed. One master's failure never stops the others.
    Returns an :class:`~campaign_media.domain.batches.IngestResult`.

    :param batch: an :class:`~campaign_media.domain.batches.IngestBatch` from :class:`PlanIngestOperator` (templated)
    """

    def run_batch(self, ps: PhotoShelterHook, campaign: Campaign, batch: IngestBatch) -> IngestResult:
        from campaign_media.steps import ingest

        result = ingest.push(ps, self.cloudinary_hook, campaign, batch)
        self.lineage_from("ingested", result["path"], ps.org_id)
        return result


class IngestReportOperator(CampaignMediaOperator):
    """Merge the plan and the batch results into one report per campaign (``report.json``);
    returns the totals per campaign.

    :param results: the pushes' results (``push.output``)
    :param campaign: a campaign ID, or ``"all"`` (templated)
    """

    opens_photoshelter_session = False
    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "campaign", "results")

    def __init__(self, *, results: Any, campaign: str = "all", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results
        self.campaign = campaign

    def run(self, context: Context) -> dict[str, Any]:
        from campaign_media.steps import ingest

        ids = [cid for cid in sorted(self.config()[1]) if selection.picked(cid, self.campaign)]
        try:
            totals = ingest.report(ids, context["run_id"], list(self.results or []))
        finally:
            self.release_dag(context)
        self.log.info("ingest totals: %s", totals)
        return totals
