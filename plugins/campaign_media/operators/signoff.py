"""Launch sign-off in Airflow: which markets to ask, and the ask itself as a Human-in-the-loop
task (``airflow.providers.standard.operators.hitl``). On Airflow 3.3 a waiting task sits in
``awaiting_input`` and holds no worker slot or triggerer, until it is answered from the UI's
Required Actions or the REST API. The answer is recorded, and the market and usage-window runs
read it: unsigned copies stay closed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import BaseNotifier, Context, Param
from airflow.sdk.exceptions import AirflowFailException

from campaign_media.operators.base import CampaignMediaOperator

APPROVE, REFUSE = "Approve", "Refuse"


class PlanSignoffsOperator(CampaignMediaOperator):
    """The sign-off requests to make now: per campaign with ``signoff:`` and market, the masters
    made and written back that no yes covers and no open request shows yet. Each request is
    stored (``awaiting``) before it is returned, so the next run does not ask again. No API call.

    :param campaign: a campaign ID, or ``"all"`` (templated)
    """

    opens_photoshelter_session = False
    template_fields: Sequence[str] = (*CampaignMediaOperator.template_fields, "campaign")

    def __init__(self, *, campaign: str = "all", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign

    def run(self, context: Context) -> list[dict[str, Any]]:
        from campaign_media.domain.signoff import deadline, ready, request, to_ask
        from campaign_media.notifiers import ui_base
        from campaign_media.runtime import audit, signoffs, storage

        markets, campaigns = self.config()
        now = datetime.now(UTC)
        out = []
        for campaign in sorted(campaigns.values(), key=lambda c: c.id):
            if campaign.signoff is None or self.campaign not in ("all", campaign.id):
                continue
            ours = [markets[m] for m in campaign.markets if m in markets and campaign.signoff_for(m)]
            if not ours:  # every market opted out
                continue
            groups = [[m] for m in ours] if campaign.signoff.per_market else [ours]
            for group in groups:
                made = {m.code: storage.read_json(storage.market_state(campaign.id, m.code), {}) or {} for m in group}
                masters = {i: v for m in group for i, v in ready(made[m.code]).items()}
                code = group[0].code if campaign.signoff.per_market else None
                asked = signoffs.requests(campaign, group[0].code)
                new = to_ask(campaign, asked, masters)
                if not new:
                    continue
                renditions = sum(len(made[m.code][i].get("renditions") or {}) for m in group for i in new
                                 if i in made[m.code])
                due = min((d for d in (deadline(campaign, m) for m in group) if d), default=None)
                due = due if due and due > now else None  # asked after it (the window is open): answer soon
                request_id = f"{context['run_id']}|{campaign.id}|{code or 'all'}"
                if not signoffs.claim_request(campaign, group[0].code, new, request_id):
                    continue  # another run asks about exactly these
                req = request(campaign, group[0] if code else None, new, renditions, now, request_id, ui_base(), due)
                signoffs.save_request(campaign, group[0].code, req)
                audit.record(campaign.id, "signoff_asked", market=code, after={
                    "masters": len(new), "renditions": renditions, "assignees": req["assignees"],
                    "deadline": req["deadline"]}, reason="renditions made and written back")
                out.append(req)
        self.log.info("sign-off requests: %s", [(r["campaign"], r["market"], len(r["masters"])) for r in out] or "none")
        return out


class SignoffRequestNotifier(BaseNotifier):
    """Sends the request to the deployment's alert channel (``[campaign_media] alerts``)."""

    template_fields = ()

    def __init__(self, req: dict[str, Any]) -> None:
        super().__init__()
        self.req = req

    def notify(self, context: Any) -> None:
        from campaign_media.domain.alerts import Alert
        from campaign_media.domain.signoff import request_text
        from campaign_media.notifiers import send, ui_base

        subject, body = request_text(self.req)
        # The UI's page of a mapped task's Required Action (the provider's generate_link_to_ui puts
        # map_index in the query, which Airflow 3.3's UI answers "No Task Instance found").
        ti = context["ti"]
        answer = (f"{ui_base().rstrip('/')}/dags/{ti.dag_id}/runs/{quote(ti.run_id, safe='')}/tasks/{ti.task_id}"
                  f"/mapped/{ti.map_index}/required_actions")
        send(Alert(f"[campaign media] {subject}", body.replace("**", "").split("\n\n"),
                   {"answer it (Required Actions)": answer, "the contact sheet": self.req["contact_sheet"],
                    "the campaign page": self.req["campaign_page"]}))


class SignoffOperator(HITLOperator):
    """Ask for one market's (or the campaign's) launch sign-off and record the answer.

    :param req: a request from :class:`PlanSignoffsOperator` (map with ``expand(req=...)``)
    """

    def __init__(self, *, req: dict[str, Any], **kwargs: Any) -> None:
        from datetime import timedelta

        from campaign_media.domain.signoff import request_text

        subject, body = request_text(req)
        due = datetime.fromisoformat(req["deadline"].replace("Z", "+00:00")) if req.get("deadline") else None
        left = (due - datetime.now(UTC)) if due else None
        super().__init__(subject=subject, body=body, options=[APPROVE, REFUSE],
                         params={"reason": Param(None, type=["null", "string"],
                                                 description="why: shown on the campaign page and in the audit trail "
                                                             "(say it when you refuse)")},
                         assigned_users=[{"id": u, "name": u} for u in req["assignees"]],
                         response_timeout=left if left and left > timedelta(0) else None,
                         notifiers=[SignoffRequestNotifier(req)], **kwargs)
        self.req = req

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from campaign_media.runtime import audit

        with audit.recording(audit.RunInfo.from_context(context)):
            if "error" in event:  # the deadline passed without an answer: closed, and said
                self.answered(context, "overdue", None, f"no answer by {self.req['deadline']}")
                raise AirflowFailException(f"sign-off of {self.req['campaign']} {self.req['market'] or ''} not "
                                           f"answered by {self.req['deadline']}: its copies stay closed")
            result = super().execute_complete(context, event)
            chosen = result["chosen_options"][0]
            user = result.get("responded_by_user") or {}
            reason = (result.get("params_input") or {}).get("reason") or ""
            self.answered(context, "approved" if chosen == APPROVE else "refused", user.get("name") or
                          user.get("id"), reason)
        return {"campaign": self.req["campaign"], "market": self.req["market"], "answer": chosen}

    def answered(self, context: Context, state: str, by: str | None, reason: str) -> None:
        """Store and audit the answer; a refusal or a missed deadline is also sent as an alert."""
        from campaign_media.config.loader import current_campaign
        from campaign_media.domain.alerts import Alert
        from campaign_media.notifiers import send
        from campaign_media.runtime import audit, signoffs

        campaign, markets = current_campaign(self.req["campaign"])
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {**self.req, "state": state, "by": by, "at": at, "reason": reason}
        signoffs.save_request(campaign, self.req["market"] or markets[0].code, record)
        audit.record(campaign.id, f"signoff_{state}", market=self.req["market"], before={"state": "awaiting"},
                     after={"by": by, "masters": len(self.req["masters"]), "renditions": self.req["renditions"],
                            "contact_sheet": self.req["contact_sheet"]}, reason=reason or state)
        if state != "approved":
            what = f"refused by {by}: {reason or 'no reason given'}" if state == "refused" else reason
            where = f"{campaign.id} in market {self.req['market']}" if self.req["market"] else campaign.id
            send(Alert(f"[campaign media] sign-off {state}: {where}",
                       [f"The launch sign-off of {where} was {what}.",
                        "Its copies stay closed. What to do: fix what was refused and make the renditions again "
                        "(the market DAG with force), which asks again; or ask again by clearing this task."],
                       {"the contact sheet": self.req["contact_sheet"],
                        "the campaign page": self.req["campaign_page"]}))
