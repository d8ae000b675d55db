"""Governance operators: which campaigns a run covers, usage windows, the delivery report and
the archive."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from airflow.sdk import Context

from campaign_media.operators.base import CampaignMediaOperator
from campaign_media.steps.shared import selection


class SelectCampaignsOperator(CampaignMediaOperator):
    """The campaign IDs a run covers, for ``.expand(campaign_id=select.output)``. No API call.

    :param rule: ``"unarchived"`` (still in Cloudinary: govern and report) or ``"due_for_archive"``
        (ended at least ``archive.grace_days`` ago)
    :param campaign: a campaign ID, or ``"all"`` (templated)
    """

    opens_photoshelter_session = False
    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "campaign",)

    def __init__(self, *, rule: Literal["unarchived", "due_for_archive"], campaign: str = "all",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if rule not in ("unarchived", "due_for_archive"):
            raise ValueError(f"rule must be 'unarchived' or 'due_for_archive', not {rule!r}")
        self.rule = rule
        self.campaign = campaign

    def run(self, context: Context) -> list[str]:
        campaigns = self.config()[1]
        if self.rule == "unarchived":
            chosen = selection.unarchived(campaigns, self.campaign)
        else:
            chosen = selection.due_for_archive(campaigns, self.campaign, datetime.now(UTC))
        self.log.info("campaigns (%s): %s", self.rule, chosen or "none")
        return chosen


class _PerCampaign(CampaignMediaOperator):
    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "campaign_id",)

    def __init__(self, *, campaign_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign_id = campaign_id

    def label(self, context: Context) -> None:
        context["campaign_id"] = self.campaign_id  # type: ignore[typeddict-unknown-key]


class _AsOf(_PerCampaign):
    """A per-campaign task that judges a moment: now, or ``as_of`` (an ISO time with its zone)."""

    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "campaign_id", "as_of")

    def __init__(self, *, campaign_id: str, as_of: str = "", **kwargs: Any) -> None:
        super().__init__(campaign_id=campaign_id, **kwargs)
        self.as_of = as_of

    def moment(self) -> datetime:
        from campaign_media.domain.windows import parse_as_of

        return parse_as_of(self.as_of or "", datetime.now(UTC))


class ApplyUsageWindowsOperator(_AsOf):
    """Reconcile one campaign's delivery rules with PhotoShelter's rights as of now (or
    ``as_of``): each market copy's ``access_control`` repaired where it differs (closing purges
    the CDN); writes the run's report; returns its counts.

    :param campaign_id: the campaign (templated; map with ``expand(campaign_id=...)``)
    :param as_of: evaluate at this ISO time with its zone instead of now (templated; empty: now)
    """

    def run(self, context: Context) -> dict[str, Any]:
        from campaign_media.steps import usage_windows

        self.label(context)
        now = self.moment()
        campaign, markets = self.campaign_and_markets(self.campaign_id)
        with self.photoshelter() as ps:
            result = usage_windows.reconcile(ps, self.cloudinary_hook, campaign, markets, now, context["run_id"])
        self.log.info("%s: opened %s, closed %s, repaired %s, restricted %s, signed %s (%s market copies) — "
                      "report: %s", result["campaign"], result["opened"], result["closed"], result["repaired"],
                      result["restricted"], result["signed"], result["copies"], result["report"])
        return result


class DeliveryReportOperator(_PerCampaign):
    """One campaign's delivery report: PhotoShelter governance joined with Cloudinary delivery
    figures and the manifests, written as CSV, Parquet, HTML and totals under
    ``<storage>/<campaign>/reports/<date>/``. Returns the paths.

    :param campaign_id: the campaign (templated)
    """

    def run(self, context: Context) -> dict[str, Any]:
        from campaign_media.steps import metrics

        self.label(context)
        now = datetime.now(UTC)
        campaign, markets = self.campaign_and_markets(self.campaign_id)
        with self.photoshelter() as ps:
            result = metrics.report_campaign(ps, self.cloudinary_hook, campaign, markets, now,
                                             "reports", now.strftime("%Y-%m-%d"))
        self.log.info("delivery report for %s: %s", self.campaign_id, result["html"])
        return {k: result[k] for k in ("campaign", "html", "csv", "parquet", "totals")}


class ArchiveCampaignOperator(_PerCampaign):
    """Archive an ended campaign: its final delivery report first, then every published rendition
    stored in the archive gallery and verified (bytes or pixels), then — only when all are
    verified — the Cloudinary copies deleted and masters restricted or deleted. Progress survives
    a crash; an archived campaign is a no-op.

    :param campaign_id: the campaign (templated)
    """

    def run(self, context: Context) -> dict[str, Any]:
        from campaign_media.steps import archive, metrics

        self.label(context)
        campaign, markets = self.campaign_and_markets(self.campaign_id)
        now = datetime.now(UTC)
        with self.photoshelter() as ps:
            if archive.archived(campaign.id) is None:
                report = metrics.report_campaign(ps, self.cloudinary_hook, campaign, markets, now, "archive", "report")
            else:
                report = {}
            result = archive.archive_campaign(ps, self.cloudinary_hook, campaign, markets, now, report)
        self.log.info("%s: %s — %s/%s renditions in PhotoShelter gallery %r; final report: %s", self.campaign_id,
                      result["status"], result["verified"], result["renditions"], result["gallery"], result["report"])
        return result


class DeadlinesOperator(_AsOf):
    """Alert once for each legal deadline of a campaign that was missed: a market copy's window end
    no usage-window run has confirmed within ``[campaign_media] deadline_tolerance_minutes`` (the
    DAG paused, the scheduler down, runs failing), or an archive past its due date. Reads only
    what the DAGs stored; returns what it found.

    :param campaign_id: the campaign (templated)
    :param as_of: judge at this ISO time with its zone instead of now (templated; empty: now)
    """

    opens_photoshelter_session = False

    def run(self, context: Context) -> dict[str, Any]:
        from datetime import timedelta

        from campaign_media import settings
        from campaign_media.domain.alerts import deadline_alert
        from campaign_media.notifiers import send, ui_base
        from campaign_media.steps import deadlines

        self.label(context)
        now = self.moment()
        campaign, markets = self.campaign_and_markets(self.campaign_id)
        missed = deadlines.check(campaign, markets, now, timedelta(minutes=settings.get("deadline_tolerance_minutes")))
        new = deadlines.not_alerted(campaign.id, missed)
        for item in new:
            self.log.warning("deadline missed: %s", item.describe())
            send(deadline_alert(item.campaign, item.market, item.describe(), ui_base()))
        deadlines.alerted(campaign.id, new, now)  # after sending: a send that failed is tried again
        return {"campaign": campaign.id, "missed": [m.key for m in missed], "alerted": [m.key for m in new]}
