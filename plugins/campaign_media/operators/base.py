"""What the project's operators share: connection IDs, lazy cached hooks, the configuration."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from airflow.sdk import Context

from campaign_media.config.models import Campaign, Market
from campaign_media.hooks.cloudinary import CloudinaryHook
from campaign_media.hooks.photoshelter import PhotoShelterHook
from campaign_media.operators.waiting import WaitingOperator
from campaign_media.runtime import claims

BATCH_LABEL = "{{ batch_label }}"  # map_index_template of the batch operators (they set it)
CAMPAIGN_LABEL = "{{ campaign_id }}"  # map_index_template of the per-campaign operators


def as_bool(value: Any) -> bool:
    """A flag that may arrive rendered from a template (``"{{ params.force }}"`` → ``"False"``)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class CampaignMediaOperator(WaitingOperator):
    """Base of the lifecycle operators: both hooks, made on first use and kept for the task.

    :param photoshelter_conn_id: the PhotoShelter connection (type *PhotoShelter*)
    :param cloudinary_conn_id: the Cloudinary connection (type *Cloudinary*)
    """

    template_fields: Sequence[str] = ("photoshelter_conn_id", "cloudinary_conn_id")
    ui_color = "#e8f0fe"
    opens_photoshelter_session = True  # belongs in the ``photoshelter_api`` pool (campaign_media.pools)

    def __init__(self, *, photoshelter_conn_id: str = PhotoShelterHook.default_conn_name,
                 cloudinary_conn_id: str = CloudinaryHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.photoshelter_conn_id = photoshelter_conn_id
        self.cloudinary_conn_id = cloudinary_conn_id

    @cached_property
    def photoshelter_hook(self) -> PhotoShelterHook:
        return PhotoShelterHook(self.photoshelter_conn_id)

    @cached_property
    def cloudinary_hook(self) -> CloudinaryHook:
        return CloudinaryHook(self.cloudinary_conn_id)

    @contextmanager
    def photoshelter(self) -> Iterator[PhotoShelterHook]:
        """The PhotoShelter hook with its session closed afterwards (never hiding the task's error)."""
        with self.photoshelter_hook as hook:
            yield hook

    def lineage_from(self, kind: str, result_path: str, org_id: str | None) -> None:
        """Say where this try's lineage is: a batch result file (``kind``: ``ingested`` or
        ``rendered``, :mod:`campaign_media.domain.lineage`), read only if OpenLineage asks."""
        self._lineage_source = (kind, result_path, org_id or "unknown-organisation", self.cloudinary_hook.cloud_name)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The OpenLineage provider's question after a successful try: the datasets it read and
        wrote, ``photoshelter://<org>/<id>`` and ``cloudinary://<cloud>/<public id>``. None (the
        provider's default lineage) for a task that read or wrote no asset."""
        source = getattr(self, "_lineage_source", None)
        if source is None:
            return None
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        from campaign_media.domain import lineage
        from campaign_media.runtime import storage

        kind, path, org_id, cloud_name = source
        inputs, outputs = getattr(lineage, kind)(org_id, cloud_name, storage.read_json(path, {}))
        return OperatorLineage(inputs=[Dataset(namespace=ns, name=name) for ns, name in inputs],
                               outputs=[Dataset(namespace=ns, name=name) for ns, name in outputs])

    @staticmethod
    def claim_dag(context: Context) -> None:
        """Claim the DAG for this run, or wait (deferred) while another of its runs does the same
        work (``campaign_media.runtime.claims``)."""
        import httpx
        from airflow.sdk.exceptions import AirflowRuntimeError

        ti = context["ti"]

        def state_of(run_id: str) -> str:
            try:
                state = ti.get_dagrun_state(dag_id=ti.dag_id, run_id=run_id)
            except AirflowRuntimeError:  # not found, as a worker's supervisor answers
                return "deleted"
            except httpx.HTTPStatusError as exc:  # the same, answered in-process (dag.test)
                if exc.response.status_code == 404:
                    return "deleted"  # the run was deleted (dag.test deletes a rerun's old run): stale
                raise
            return str(getattr(state, "value", state))  # an enum: str() would give "DagRunState.RUNNING"

        claims.claim(ti.dag_id, ti.run_id, state_of)

    @staticmethod
    def release_dag(context: Context) -> None:
        claims.release(context["ti"].dag_id, context["ti"].run_id)

    @staticmethod
    def config() -> tuple[dict[str, Market], dict[str, Campaign]]:
        """The valid markets and campaigns, read now."""
        from campaign_media.config.loader import current_config

        return current_config()

    @classmethod
    def campaign_and_markets(cls, campaign_id: str) -> tuple[Campaign, list[Market]]:
        from campaign_media.config.loader import current_campaign

        return current_campaign(campaign_id)

    @classmethod
    def market_config(cls, code: str) -> Market:
        """The valid market ``code``, read now; an unknown or invalid one is a :class:`ConfigError`."""
        from campaign_media.config.loader import ConfigError

        markets = cls.config()[0]
        if code not in markets:
            raise ConfigError(f"no valid market {code!r} in include/markets/ (valid: {sorted(markets)}); add "
                             f"include/markets/{code}.yaml or fix its errors (python -m campaign_media.cli lint)")
        return markets[code]


class BatchOperator(CampaignMediaOperator):
    """Works through one batch written by a plan operator; map it over the plan with
    ``.partial(task_id=..., map_index_template=BATCH_LABEL).expand(batch=plan.output)``.

    :param batch: the batch descriptor (templated)
    """

    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "batch")

    def __init__(self, *, batch: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch

    def run(self, context: Context) -> Any:
        context["batch_label"] = self.batch["label"]  # type: ignore[typeddict-unknown-key]
        campaign, _ = self.campaign_and_markets(self.batch["campaign"])
        with self.photoshelter() as ps:
            return self.run_batch(ps, campaign, self.batch)

    def run_batch(self, ps: PhotoShelterHook, campaign: Campaign, batch: Any) -> Any:
        raise NotImplementedError
