"""Provider-style unit tests of the operators: hooks and steps replaced by fakes, templated
fields rendered, XCom shapes checked. (Against the emulators: tests/integration/test_operators.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowFailException

from campaign_media.config.loader import ConfigError
from campaign_media.operators import (
    ApplyUsageWindowsOperator,
    ArchiveCampaignOperator,
    CloudinaryAccessControlOperator,
    CloudinaryUploadOperator,
    DeliveryReportOperator,
    IngestMastersOperator,
    IngestReportOperator,
    MakeRenditionsOperator,
    PhotoShelterGalleryToManifestOperator,
    PlanIngestOperator,
    PlanRenditionsOperator,
    PublishDeliveryOperator,
    SelectCampaignsOperator,
)
from campaign_media.operators.base import as_bool

CAMPAIGN = "spring-launch-2026"
START = datetime(2026, 11, 20, tzinfo=UTC)
END = datetime(2026, 11, 21, tzinfo=UTC)


def context(**params: Any) -> dict[str, Any]:
    ti = mock.MagicMock(dag_id="d", run_id="manual__1")  # claims: no other run of "d" is going
    ti.get_dagrun_state.return_value = "success"
    return {"params": params, "run_id": "manual__1", "data_interval_start": START, "data_interval_end": END,
            "logical_date": START, "ds": "2026-11-20", "ti": ti}


def rendered(op, ctx: dict[str, Any]):
    op.render_template_fields(ctx)
    return op


@pytest.fixture
def hooks(monkeypatch):
    """Both hooks of the lifecycle operators replaced by mocks (no connection is read)."""
    ps, cld = mock.MagicMock(name="ps"), mock.MagicMock(name="cld")
    ps.__enter__.return_value = ps
    from campaign_media.operators.base import CampaignMediaOperator

    monkeypatch.setattr(CampaignMediaOperator, "photoshelter_hook", property(lambda self: ps))
    monkeypatch.setattr(CampaignMediaOperator, "cloudinary_hook", property(lambda self: cld))
    return ps, cld


def test_flags_arrive_rendered_as_text() -> None:
    assert as_bool("True") and as_bool("true") and not as_bool("False") and not as_bool("") and as_bool(True)


def test_plan_ingest_renders_params_and_passes_the_interval(hooks, monkeypatch) -> None:
    ps, cld = hooks
    seen: dict[str, Any] = {}

    def plan(ps_, cld_, campaigns, run_key, start, end, *, force, **kw):
        seen.update(campaigns=campaigns, run_key=run_key, start=start, end=end, force=force, ps=ps_, cld=cld_)
        return [{"campaign": CAMPAIGN, "path": "p", "result": "r", "count": 1, "label": "x"}]

    monkeypatch.setattr("campaign_media.steps.ingest.plan", plan)
    op = PlanIngestOperator(task_id="plan", campaign="{{ params.campaign }}", force="{{ params.force }}",
                            gallery_ids=["{{ params.gallery }}"])
    out = rendered(op, context(campaign=CAMPAIGN, force=True, gallery="G42")).execute(
        context(campaign=CAMPAIGN, force=True))
    assert op.campaign == CAMPAIGN and op.force == "True" and op.gallery_ids == ["G42"]
    assert seen["force"] is True and (seen["start"], seen["end"], seen["run_key"]) == (START, END, "manual__1")
    assert [c.id for c in seen["campaigns"]] == [CAMPAIGN]
    assert seen["campaigns"][0].source.gallery_ids == ["G42"]  # the override, not the campaign's source
    assert seen["ps"] is ps and seen["cld"] is cld
    assert ps.__exit__.called  # the session was closed
    assert out == [{"campaign": CAMPAIGN, "path": "p", "result": "r", "count": 1, "label": "x"}]


def test_ingest_masters_labels_the_mapped_task_and_returns_the_small_result(hooks, monkeypatch) -> None:
    batch = {"campaign": CAMPAIGN, "path": "b", "result": "r", "count": 2, "label": f"{CAMPAIGN} · batch 1 (2 masters)"}
    result = {"campaign": CAMPAIGN, "path": "r", "uploaded": 2, "context_updated": 0, "failed": 0}
    monkeypatch.setattr("campaign_media.steps.ingest.push", lambda ps, cld, campaign, b: result if b == batch else None)
    ctx = context()
    assert IngestMastersOperator(task_id="push", batch=batch).execute(ctx) == result
    assert ctx["batch_label"] == batch["label"]


def test_ingest_report_covers_the_chosen_campaigns(monkeypatch) -> None:
    got: dict[str, Any] = {}
    monkeypatch.setattr("campaign_media.steps.ingest.report",
                        lambda ids, run_key, results: got.update(ids=ids, results=results) or {"x": 1})
    op = rendered(IngestReportOperator(task_id="report", campaign="{{ params.campaign }}", results=[{"a": 1}]),
                  context(campaign="all"))
    assert op.execute(context()) == {"x": 1}
    assert got == {"ids": [CAMPAIGN], "results": [{"a": 1}]}


def test_plan_renditions_resolves_the_market_and_flags(hooks, monkeypatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("campaign_media.steps.variants.plan",
                        lambda ps, cld, campaigns, market, run_key, *, force, dry_run: seen.update(
                            market=market.code, campaigns=[c.id for c in campaigns], force=force,
                            dry_run=dry_run) or [])
    op = rendered(PlanRenditionsOperator(task_id="plan", market="{{ params.market }}", dry_run="{{ params.dry }}"),
                  context(market="jp", dry=True))
    assert op.execute(context()) == []
    assert seen == {"market": "jp", "campaigns": [CAMPAIGN], "force": False, "dry_run": True}


def test_an_unknown_market_is_a_clear_error(hooks) -> None:
    """A config error fails the task without retries (retrying cannot add the file)."""
    with pytest.raises(AirflowFailException,
                       match=r"no valid market 'xx' in include/markets/.*add include/markets/xx.yaml") as failed:
        PlanRenditionsOperator(task_id="plan", market="xx").execute(context())
    assert isinstance(failed.value.__cause__, ConfigError) and isinstance(failed.value.__cause__, ValueError)


def test_make_renditions_and_publish(hooks, monkeypatch) -> None:
    batch = {"campaign": CAMPAIGN, "market": "fr", "path": "b", "result": "r", "spec": "s", "gallery_id": "G",
             "dry_run": False, "count": 1, "label": "spring · fr · batch 1 (1 masters)"}
    monkeypatch.setattr("campaign_media.steps.variants.render",
                        lambda ps, cld, campaign, market, b: {
                            "campaign": campaign.id, "market": market.code, "path": "r", "rendered": 1, "failed": 0,
                            "dry_run": False})
    ctx = context()
    result = MakeRenditionsOperator(task_id="render", batch=batch).execute(ctx)
    # the step got the batch's campaign and market as configured objects, resolved by the operator
    assert (result["campaign"], result["market"]) == (CAMPAIGN, "fr") and ctx["batch_label"] == batch["label"]
    monkeypatch.setattr("campaign_media.steps.variants.publish",
                        lambda cld, campaign, market, results: {"campaign": campaign.id, "market": market.code,
                                                                "results": [r["path"] for r in results]})
    monkeypatch.setattr("campaign_media.runtime.storage.read_json",
                        lambda path, default=None: {} if path == "r" else None)
    never_ran = {**batch, "result": "missing"}  # a batch whose task never wrote a result
    summary = PublishDeliveryOperator(task_id="publish", market="fr", batches=[batch, never_ran]).execute(context())
    assert summary == [{"campaign": CAMPAIGN, "market": "fr", "results": ["r"]}]


def test_select_campaigns_rules(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", tmp_path.as_uri())
    op = rendered(SelectCampaignsOperator(task_id="s", rule="unarchived", campaign="{{ params.campaign }}"),
                  context(campaign=CAMPAIGN))
    assert op.execute(context()) == [CAMPAIGN]
    (tmp_path / CAMPAIGN / "archive").mkdir(parents=True)
    (tmp_path / CAMPAIGN / "archive" / "done.json").write_text("{}")
    assert op.execute(context()) == []
    with pytest.raises(ValueError, match="rule must be"):
        SelectCampaignsOperator(task_id="s", rule="everything")  # type: ignore[arg-type]


def test_usage_windows_operator_renders_as_of(hooks, monkeypatch) -> None:
    seen: dict[str, Any] = {}

    def reconcile(ps, cld, campaign, markets, now, run_key):
        seen.update(now=now, markets=[m.code for m in markets])
        return {"campaign": campaign.id, "opened": 1, "closed": 0, "repaired": 0, "restricted": 0, "signed": 0,
                "copies": 3, "report": "x"}

    monkeypatch.setattr("campaign_media.steps.usage_windows.reconcile", reconcile)
    op = rendered(ApplyUsageWindowsOperator(task_id="w", campaign_id="{{ params.c }}", as_of="{{ params.as_of }}"),
                  context(c=CAMPAIGN, as_of="2026-12-01T09:00:00+01:00"))
    ctx = context()
    op.execute(ctx)
    assert ctx["campaign_id"] == CAMPAIGN  # the mapped task's label
    assert seen["now"] == datetime(2026, 12, 1, 8, tzinfo=UTC) and seen["markets"] == ["fr", "jp", "sa"]


def test_report_and_archive_operators(hooks, monkeypatch) -> None:
    report = {"campaign": CAMPAIGN, "html": "h", "csv": "c", "parquet": "p", "totals": {}, "requests": {}}
    calls: list[tuple] = []
    monkeypatch.setattr("campaign_media.steps.metrics.report_campaign",
                        lambda ps, cld, campaign, markets, now, *parts: calls.append(parts) or report)
    assert DeliveryReportOperator(task_id="r", campaign_id=CAMPAIGN).execute(context()) == \
        {k: report[k] for k in ("campaign", "html", "csv", "parquet", "totals")}
    monkeypatch.setattr("campaign_media.steps.archive.archived", lambda cid: None)
    monkeypatch.setattr("campaign_media.steps.archive.archive_campaign",
                        lambda ps, cld, campaign, markets, now, rep: {"status": "archived", "verified": 1,
                                                                       "renditions": 1, "gallery": "g",
                                                                       "report": rep["html"]})
    assert ArchiveCampaignOperator(task_id="a", campaign_id=CAMPAIGN).execute(context())["report"] == "h"
    assert calls[-1] == ("archive", "report")  # the final report is kept with the archive


def test_a_spent_quota_defers_the_task_until_its_reset_and_resumes_it(hooks, monkeypatch) -> None:
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    from airflow.sdk.exceptions import TaskDeferred

    from campaign_media.hooks.cloudinary import CloudinaryRateLimited
    from campaign_media.hooks.retry import RetryBudgetExceeded

    reset = datetime(2026, 11, 28, 22, tzinfo=UTC)
    quota = CloudinaryRateLimited("Cloudinary list resources failed: 420 Rate Limit Exceeded")
    quota.rate_limited, quota.retry_at = True, reset
    outcomes: list[Any] = [quota, ["batch"]]

    def plan(*args, **kwargs):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr("campaign_media.steps.variants.plan", plan)
    op = PlanRenditionsOperator(task_id="plan", market="fr")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, DateTimeTrigger) and trigger.moment > reset
    assert (trigger.moment - reset).total_seconds() <= 10
    assert getattr(op, deferred.value.method_name)(context(), event=trigger.moment) == ["batch"]
    # Without a named moment (a 5xx outage) the task fails as usual: Airflow's retries take over.
    monkeypatch.setattr("campaign_media.steps.variants.plan",
                        lambda *a, **k: (_ for _ in ()).throw(RetryBudgetExceeded("503 six times")))
    with pytest.raises(RetryBudgetExceeded):
        op.execute(context())


def test_a_rate_limit_met_when_the_video_task_resumes_defers_it_too(hooks, monkeypatch) -> None:
    """The video task's second half (where its trigger brings it back) waits for a named reset
    like any task, instead of failing and spending a retry."""
    from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    from airflow.sdk.exceptions import TaskDeferred

    from campaign_media.hooks.cloudinary import CloudinaryRateLimited
    from campaign_media.operators import FinishVideoRenditionsOperator

    quota = CloudinaryRateLimited("Cloudinary resource failed: 420 Rate Limit Exceeded")
    quota.rate_limited, quota.retry_at = True, datetime.now(UTC) + timedelta(minutes=20)
    monkeypatch.setattr("campaign_media.steps.videos.finish", lambda *a, **k: (_ for _ in ()).throw(quota))
    op = FinishVideoRenditionsOperator(task_id="videos", market="fr", batches=[])
    with pytest.raises(TaskDeferred) as deferred:
        op.finish(context(), event={"pending": [], "gone": [], "errors": {}})
    assert isinstance(deferred.value.trigger, DateTimeTrigger) and deferred.value.method_name == "resume_after_wait"


def test_a_reset_beyond_the_longest_wait_fails_the_task_with_the_figure(hooks, monkeypatch) -> None:
    from datetime import timedelta

    from campaign_media.hooks.cloudinary import CloudinaryRateLimited

    quota = CloudinaryRateLimited("Cloudinary list resources failed: 420 Rate Limit Exceeded")
    quota.rate_limited, quota.retry_at = True, datetime.now(UTC) + timedelta(hours=30)
    monkeypatch.setattr("campaign_media.steps.variants.plan", lambda *a, **k: (_ for _ in ()).throw(quota))
    with pytest.raises(AirflowFailException, match=r"30\.0 h from now, beyond the 6 h this deployment waits "
                                                   r"\(\[campaign_media\] max_rate_limit_wait_hours\)"):
        PlanRenditionsOperator(task_id="plan", market="fr").execute(context())
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__MAX_RATE_LIMIT_WAIT_HOURS", "48")  # a deployment that waits longer
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred):
        PlanRenditionsOperator(task_id="plan", market="fr").execute(context())


def test_a_plan_waits_while_another_run_of_its_dag_is_going(hooks, monkeypatch, tmp_path) -> None:
    from airflow.sdk.api.datamodels._generated import DagRunState
    from airflow.sdk.exceptions import TaskDeferred

    from campaign_media.runtime import claims

    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", tmp_path.as_uri())
    monkeypatch.setattr("campaign_media.steps.variants.plan", lambda *a, **k: [])
    claims.claim("d", "backfill__1", lambda run_id: "running")
    ctx = context()
    ctx["ti"].get_dagrun_state.return_value = DagRunState.RUNNING  # what the Task SDK answers: an enum
    with pytest.raises(TaskDeferred):
        PlanRenditionsOperator(task_id="plan", market="fr").execute(ctx)
    ctx["ti"].get_dagrun_state.return_value = DagRunState.SUCCESS  # it ended: the claim is taken over
    assert PlanRenditionsOperator(task_id="plan", market="fr").execute(ctx) == []
    assert claims.holder("d") == "manual__1"


def test_cloudinary_upload_operator_returns_no_url(monkeypatch) -> None:
    hook = mock.MagicMock()
    hook.upload.return_value = {"public_id": "a/b", "version": 3, "width": 10, "height": 5, "bytes": 99,
                                "format": "jpg", "secure_url": "https://x/s--SIG--/a/b.jpg"}
    monkeypatch.setattr(CloudinaryUploadOperator, "hook", property(lambda self: hook))
    op = rendered(CloudinaryUploadOperator(task_id="u", source="{{ params.src }}", public_id="c/{{ ds }}",
                                           tags=["{{ params.tag }}"], delivery_type="authenticated"),
                  context(src="/tmp/x.jpg", tag="t1"))
    out = op.execute(context())
    assert out == {"public_id": "a/b", "version": 3, "width": 10, "height": 5, "bytes": 99, "format": "jpg"}
    hook.upload.assert_called_once_with("/tmp/x.jpg", "c/2026-11-20", overwrite=True, tags=["t1"], context=None,
                                        eager=None, delivery_type="authenticated")


def test_access_control_operator_rules(monkeypatch) -> None:
    hook = mock.MagicMock()
    monkeypatch.setattr(CloudinaryAccessControlOperator, "hook", property(lambda self: hook))
    op = rendered(CloudinaryAccessControlOperator(task_id="a", public_ids=["x", "y"], start="{{ params.s }}",
                                                  end="2026-12-31T23:00:00+01:00"), context(s="2026-12-01T00:00:00Z"))
    out = op.execute(context())
    assert out["access_control"] == [{"access_type": "anonymous", "start": "2026-12-01T00:00:00Z",
                                      "end": "2026-12-31T22:00:00Z"}]
    assert hook.set_access_control.call_count == 2 and hook.set_access_control.call_args.kwargs["invalidate"]
    with pytest.raises(ValueError, match="has no time zone"):
        CloudinaryAccessControlOperator(task_id="b", public_ids=["x"], start="2026-12-01T00:00:00").rules()
    closed = CloudinaryAccessControlOperator(task_id="c", public_ids=["x"], closed=True).rules()
    assert closed[0]["start"].startswith("2000-01-01") and "end" in closed[0]


def test_gallery_manifest_operator_writes_storage_not_xcom(monkeypatch, tmp_path) -> None:
    hook = mock.MagicMock()
    hook.__enter__.return_value = hook
    hook.session_timezone.return_value = "GMT"
    hook.iter_gallery_images.return_value = iter([
        {"image_id": "I1", "Image": {"file_name": "a.jpg", "file_size": 5, "width": 2, "height": 1}}])
    monkeypatch.setattr(PhotoShelterGalleryToManifestOperator, "hook", property(lambda self: hook))
    target = tmp_path / "m.json"
    op = rendered(PhotoShelterGalleryToManifestOperator(task_id="m", gallery_id="{{ params.g }}",
                                                        manifest_path=str(target)), context(g="G1"))
    out = op.execute(context())
    import json

    from campaign_media.runtime import storage

    assert (out["gallery_id"], out["count"]) == ("G1", 1)
    written = json.loads(target.read_text())
    assert storage.read_json(out["path"]) == written  # the XCom names where the manifest is
    assert written["images"][0]["image_id"] == "I1" and written["images"][0]["file_name"] == "a.jpg"
    assert hook.__exit__.called


def test_operators_map_with_partial_and_expand() -> None:
    from airflow.sdk import DAG

    with DAG("mapping_check", schedule=None, start_date=START):
        plan = PlanIngestOperator(task_id="plan")
        mapped = IngestMastersOperator.partial(task_id="push", map_index_template="{{ batch_label }}").expand(
            batch=plan.output)
        usage = ApplyUsageWindowsOperator.partial(task_id="w").expand_kwargs([{"campaign_id": CAMPAIGN}])
    # the mapped task expands over the plan's XCom (and so runs after it), one task per batch
    assert mapped.upstream_task_ids == {"plan"} and mapped.expand_input.value["batch"].operator is plan
    assert [k["campaign_id"] for k in usage.expand_input.value] == [CAMPAIGN]
