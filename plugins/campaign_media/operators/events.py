"""Operators of the hand-edits DAG: sort what people changed in Cloudinary, and ask the runs
that repair it."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowSkipException

from campaign_media.operators.base import CampaignMediaOperator

SORT_TASK = "sort_edits"


class HandEditsOperator(CampaignMediaOperator):
    """The hand edits queued by ``CloudinaryEventsTrigger`` and not handled yet: renames undone,
    each edit in its campaign's audit trail, alerts sent for ``on_hand_edit: alert`` campaigns.
    Returns ``{"markets": [...], "windows": bool, ...}`` for the repair tasks."""

    opens_photoshelter_session = False

    def run(self, context: Context) -> dict[str, Any]:
        from campaign_media import notifiers
        from campaign_media.domain.events import HandEdit
        from campaign_media.runtime import notices
        from campaign_media.steps import hand_edits

        # The queue in storage is the record, not the run's triggering events: Airflow may fold a
        # burst of events into one run, and a run started by events an earlier run already handled
        # (they were queued before it read the queue) must not handle them twice.
        queued = notices.queued_edits(self.cloudinary_conn_id)
        edits = list(dict.fromkeys(HandEdit.from_dict(e) for _, doc in queued for e in doc))
        result = hand_edits.handle(self.cloudinary_hook, self.config()[1], edits)
        for entry, _ in queued:  # handled: a later event queues anew
            entry.unlink(missing_ok=True)
        if result["alerted"]:
            notifiers.send(hand_edits.alert(result["alerted"]))
        self.log.info("hand edits: %d found, %d repaired, %d alerted, %d outside the campaigns; markets to make "
                      "copies again: %s; usage windows: %s", len(edits), result["repaired"],
                      len(result["alerted"]), result["unknown"], result["markets"] or "none", result["windows"])
        return result


class RequestRepairOperator(CampaignMediaOperator):
    """Succeeds (and so emits its outlet asset's event, which starts the repairing DAG) when the
    sort asked for ``target`` (a market code, or ``windows``); skipped otherwise."""

    opens_photoshelter_session = False

    def __init__(self, *, target: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def run(self, context: Context) -> str:
        asked = context["ti"].xcom_pull(task_ids=SORT_TASK) or {}
        wanted = asked.get("windows") if self.target == "windows" else self.target in asked.get("markets", [])
        if not wanted:
            raise AirflowSkipException(f"no hand edit for {self.target}")
        return self.target
