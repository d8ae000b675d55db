"""Launch sign-off in Airflow: which markets to ask, and the ask itself as a Human-in-the-loop
task (``airflow.providers.standard.operators.hitl``). On Airflow 3.3 a waiting task sits in
``awaiting_input`` and holds no worker slot or triggerer, until it is answered from the UI's
Required Actions or the REST API. The answer is recorded, and the market and usage-window runs
read it: unsigned copies stay closed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import BaseNotifier, Context, Param
from airflow.sdk.exceptions import AirflowFailException

from campaign_media.account.approvers import ids_are_usernames
from campaign_media.domain.signoff import ANSWERED, stored_time
from campaign_media.exceptions import ComeBackLater
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
        from campaign_media.domain.signoff import deadline, ready, request, settles_at, to_ask
        from campaign_media.notifiers import ui_base
        from campaign_media.runtime import audit, signoffs, storage

        markets, campaigns = self.config()
        now = datetime.now(UTC)
        out: list[dict[str, Any]] = []
        plans = []  # (campaign, group, made, masters to show, due) of each request to make
        for campaign in sorted(campaigns.values(), key=lambda c: c.id):
            if campaign.signoff is None or self.campaign not in ("all", campaign.id):
                continue
            ours = [markets[m] for m in campaign.markets if m in markets and campaign.signoff_for(m)]
            for group in ([[m] for m in ours] if campaign.signoff.per_market else [ours] if ours else []):
                made = {m.code: storage.read_json(storage.market_state(campaign.id, m.code), {}) or {} for m in group}
                asked = signoffs.requests(campaign, group[0].code)
                # this run's own requests still open (its plan task cleared): handed out again as stored
                out += [{k: v for k, v in r.items() if k != "seal"} for r in asked
                        if str(r.get("id", "")).startswith(f"{context['run_id']}|") and r["state"] not in ANSWERED]
                new = to_ask(campaign, asked, {i: v for m in group for i, v in ready(made[m.code]).items()})
                if new:
                    due = min((d for d in (deadline(campaign, m) for m in group) if d), default=None)
                    plans.append((campaign, group, made, new, due if due and due > now else None, len(asked)))
        later = [t for t in (settles_at(c, [s[i].get("made_at") for s in made.values() for i in new if i in s],
                                        due, now) for c, _, made, new, due, _ in plans) if t]
        if later:  # a burst still arriving: asked about once, when it has settled
            raise Settling(f"{len(plans)} sign-off request(s) to make; the latest masters were made less than "
                           "signoff.settle ago, so more may come", max(later))
        for campaign, group, made, new, due, n in plans:
            code = group[0].code if campaign.signoff.per_market else None
            renditions = sum(len(s[i].get("renditions") or {}) for s in made.values() for i in new if i in s)
            request_id = f"{context['run_id']}|{campaign.id}|{code or 'all'}"
            if not signoffs.claim_request(campaign, group[0].code, n, request_id):
                continue  # another run made this market's next request
            req = request(campaign, group[0] if code else None, new, renditions, now, request_id, ui_base(), due)
            signoffs.save_request(campaign, group[0].code, req)
            audit.record(campaign.id, "signoff_asked", market=code, after={
                "masters": len(new), "renditions": renditions, "assignees": req["assignees"],
                "deadline": req["deadline"]}, reason="renditions made and written back")
            out.append(req)
        self.log.info("sign-off requests: %s", [(r["campaign"], r["market"], len(r["masters"])) for r in out] or "none")
        return out


class Settling(ComeBackLater):
    """Masters made moments ago: the requests wait until the burst has settled (the task defers)."""


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

    The request comes from the plan task's XCom, which users allowed to edit XComs could rewrite:
    so what is asked, and of whom, is taken from the sealed stored request with the same ID and
    from the campaign file, when the task asks and again when it is answered. An answer from
    anyone the campaign file does not name is refused, audited, and the question asked again.

    :param req: a request from :class:`PlanSignoffsOperator` (map with ``expand(req=...)``)
    """

    def __init__(self, *, req: dict[str, Any], **kwargs: Any) -> None:
        from campaign_media.domain.signoff import request_text

        subject, body = request_text(req)
        super().__init__(subject=subject, body=body, options=[APPROVE, REFUSE],
                         params={"reason": Param(None, type=["null", "string"],
                                                 description="why: shown on the campaign page and in the audit trail "
                                                             "(say it when you refuse)")},
                         notifiers=[SignoffRequestNotifier(req)], **kwargs)
        self.req = req

    def execute(self, context: Context) -> Any:
        from campaign_media.domain.signoff import request_text
        from campaign_media.runtime import audit

        with audit.recording(audit.RunInfo.from_context(context)):
            stored = self.stored_request(context)
        self.req = stored  # the task's label and everything below: what was stored
        self.subject, self.body = request_text(stored)
        approvers = self.approvers()
        # Airflow matches assigned users by the auth manager's user ID, which is the username only
        # under the simple auth manager (FAB's is a number): elsewhere the answer is checked by name.
        self.assigned_users = [{"id": u, "name": u} for u in approvers] if ids_are_usernames() else []
        self.response_timeout = time_left(stored.get("deadline"))
        self.notifiers = [SignoffRequestNotifier(stored)]
        return super().execute(context)

    def approvers(self) -> list[str]:
        """Who may answer, read from the campaign file now."""
        from campaign_media.config.loader import current_campaign

        campaign, _ = current_campaign(self.req["campaign"])
        if campaign.signoff is None:
            return []
        market = self.req.get("market")
        return campaign.signoff.approvers_for(market) if market else list(campaign.signoff.approvers)

    def stored_request(self, context: Context) -> dict[str, Any]:
        """The sealed stored request this task answers, found by the ID the plan gave it (its run,
        campaign and market). What else the XCom says is not used: a difference is audited, and the
        task asks and records what is stored. The task fails when no stored request has the ID or
        the ID is another run's."""
        from campaign_media.config.loader import current_campaign
        from campaign_media.runtime import audit, signoffs

        request_id = str(self.req.get("id") or "")
        run_id, _, rest = request_id.partition("|")
        campaign_id, _, code = rest.rpartition("|")
        stored = None
        if run_id == context["run_id"] and campaign_id:
            campaign, markets = current_campaign(campaign_id)
            if campaign.signoff is not None:
                stored = signoffs.find(campaign, markets[0].code if code == "all" else code, request_id)
        if stored is None:
            what = "it is another run's" if run_id != context["run_id"] else "no stored request has its ID"
            audit.record(campaign_id or str(self.req.get("campaign")), "signoff_request_mismatch",
                         market=code or None, after={"request": request_id, "task": ti_info(context)}, reason=what)
            raise AirflowFailException(
                f"the sign-off request this task was handed ({request_id!r}) is not in the stored sign-off record: "
                f"{what}. Nothing was recorded and the copies stay closed; clear the plan task of this run to ask "
                "again")
        stored = {k: v for k, v in stored.items() if k != "seal"}
        differs = [k for k in ("campaign", "market", "masters", "assignees", "deadline")
                   if stored.get(k) != self.req.get(k)]
        if differs:
            audit.record(stored["campaign"], "signoff_request_mismatch", market=stored["market"],
                         after={"request": request_id, "task": ti_info(context), "fields": differs},
                         reason=f"the task's request differs from the stored one in {', '.join(differs)}: "
                                "the stored one is asked and answered")
        return stored

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from campaign_media.runtime import audit

        with audit.recording(audit.RunInfo.from_context(context)):
            stored = self.req = self.stored_request(context)
            if "error" in event:  # the deadline passed without an answer: closed, and said
                self.answered(context, stored, "overdue", {}, None, f"no answer by {stored['deadline']}")
                raise AirflowFailException(f"sign-off of {stored['campaign']} {stored['market'] or ''} not "
                                           f"answered by {stored['deadline']}: its copies stay closed")
            result = super().execute_complete(context, event)
            chosen = result["chosen_options"][0]
            user = dict(result.get("responded_by_user") or {})
            approvers = self.approvers()
            approver = user.get("name") in approvers
            if approver:
                reason = (result.get("params_input") or {}).get("reason") or ""
                self.answered(context, stored, "approved" if chosen == APPROVE else "refused", user,
                              result.get("responded_at"), reason)
            else:
                self.not_an_approver(context, stored, user, approvers)
        if not approver:
            return self.execute(context)  # asked again: the task waits for an approver's answer
        return {"campaign": stored["campaign"], "market": stored["market"], "answer": chosen}

    def not_an_approver(self, context: Context, stored: dict[str, Any], user: dict[str, Any],
                        approvers: list[str]) -> None:
        from campaign_media.domain.alerts import Alert
        from campaign_media.notifiers import send
        from campaign_media.runtime import audit

        who = user.get("name") or user.get("id") or "someone"
        audit.record(stored["campaign"], "signoff_answer_refused", market=stored["market"],
                     after={"by": who, "by_id": user.get("id"), "task": ti_info(context)},
                     reason=f"{who} is not an approver of this market (the campaign file names "
                            f"{', '.join(approvers) or 'nobody'})")
        where = f"{stored['campaign']} in market {stored['market']}" if stored["market"] else stored["campaign"]
        send(Alert(f"[campaign media] sign-off answer refused: {where}",
                   [f"{who} answered the launch sign-off of {where}, but the campaign file names "
                    f"{', '.join(approvers) or 'nobody'} as its approvers. The answer was not recorded; "
                    "the request is open again for an approver."],
                   {"the contact sheet": stored["contact_sheet"], "the campaign page": stored["campaign_page"]}))

    def answered(self, context: Context, stored: dict[str, Any], state: str, user: dict[str, Any],
                 at: datetime | str | None, reason: str) -> None:
        """Seal, store and audit the answer with what Airflow recorded (who, which task, when); a
        refusal or a missed deadline is also sent as an alert."""
        from campaign_media.config.loader import current_campaign
        from campaign_media.domain.alerts import Alert
        from campaign_media.notifiers import send
        from campaign_media.runtime import audit, signoffs

        campaign, markets = current_campaign(stored["campaign"])
        when = at if isinstance(at, datetime) else datetime.fromisoformat(at) if at else datetime.now(UTC)
        by = user.get("name") or user.get("id")
        record = {**stored, "state": state, "by": by, "by_id": user.get("id"), "task": ti_info(context),
                  "at": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "reason": reason}
        signoffs.save_request(campaign, stored["market"] or markets[0].code, record)
        audit.record(campaign.id, f"signoff_{state}", market=stored["market"], before={"state": "awaiting"},
                     after={"by": by, "masters": len(stored["masters"]), "renditions": stored["renditions"],
                            "contact_sheet": stored["contact_sheet"]}, reason=reason or state)
        if state != "approved":
            what = f"refused by {by}: {reason or 'no reason given'}" if state == "refused" else reason
            where = f"{campaign.id} in market {stored['market']}" if stored["market"] else campaign.id
            send(Alert(f"[campaign media] sign-off {state}: {where}",
                       [f"The launch sign-off of {where} was {what}.",
                        "Its copies stay closed. What to do: fix what was refused and make the renditions again "
                        "(the market DAG with force), which asks again; or ask again by clearing this task."],
                       {"the contact sheet": stored["contact_sheet"],
                        "the campaign page": stored["campaign_page"]}))


def ti_info(context: Context) -> dict[str, Any]:
    """The task instance answering, as the record names it."""
    ti = context["ti"]
    return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index}


def time_left(deadline: str | None) -> timedelta | None:
    """How long the request waits for its answer (``None``: no deadline, or it has passed)."""
    if not deadline:
        return None
    now = datetime.now(UTC)
    left = stored_time(deadline, now) - now
    return left if left > timedelta(0) else None
