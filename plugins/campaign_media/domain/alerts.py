"""What an alert says (pure): the campaign and market, what failed or is asked, what to do, and
links into the UI. The notifier (``campaign_media.notifiers``) only sends it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

MARKET_DAG = "campaign_media_market_"
NEXT_STEP = ("Fix what the error names, then clear the failed task in the UI (the run → the task → Clear): "
             "every step carries on from its saved progress, so nothing already done is redone or lost.")


@dataclass(frozen=True)
class Alert:
    """One message, in plain text and HTML, with the links it names."""

    subject: str
    lines: list[str]
    links: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join([*self.lines, "", *(f"{name}: {url}" for name, url in self.links.items())]) + "\n"

    @property
    def html(self) -> str:
        body = "".join(f"<p>{escape(line)}</p>" for line in self.lines)
        anchors = "".join(f"<li><a href=\"{escape(url)}\">{escape(name)}</a></li>" for name, url in self.links.items())
        return f"<html><body>{body}<ul>{anchors}</ul></body></html>"


def market_of(dag_id: str) -> str | None:
    """The market a market DAG works on (``campaign_media_market_fr`` → ``fr``)."""
    return dag_id[len(MARKET_DAG):] if dag_id.startswith(MARKET_DAG) else None


def ui_links(base: str, *, dag_id: str, run_id: str, task_id: str, map_index: int = -1,
             campaign: str | None = None) -> dict[str, str]:
    """The failed task's page in the Airflow UI and, for a campaign, its campaign page."""
    base = base.rstrip("/")
    task = f"{base}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id)}" + (
        f"/mapped/{map_index}" if map_index >= 0 else "")
    return {"the failed task (log, Clear)": task,
            **({"the campaign page": f"{base}/campaign-media/campaigns/{quote(campaign)}"} if campaign else {})}


def failure_alert(*, dag_id: str, task_id: str, run_id: str, error: str, ui_base: str, map_index: int = -1,
                  campaign: str | None = None, try_number: int = 1, retried: bool = True) -> Alert:
    """The message for a task that failed for good.

    :param error: the error's message, already redacted (no secrets, no signed URLs)
    :param retried: whether Airflow retried it first (``False``: an error retrying cannot cure)
    """
    market = market_of(dag_id)
    where = " · ".join(x for x in (f"campaign {campaign}" if campaign else "", f"market {market}" if market else "",
                                   f"{dag_id}.{task_id}") if x)
    subject = f"[campaign media] failed: {where}"
    how = f"after {try_number} tries" if retried else "at once: retrying cannot fix this"
    return Alert(subject, [f"{dag_id} → {task_id} failed {how} (run {run_id}).", f"What failed: {error}",
                           f"What to do: {NEXT_STEP}"],
                 ui_links(ui_base, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index,
                          campaign=campaign))


def deadline_alert(campaign: str, market: str | None, what: str, ui_base: str) -> Alert:
    """The message for a missed legal deadline (a window end not confirmed, an archive overdue)."""
    where = f"campaign {campaign}" + (f" · market {market}" if market else "")
    base = ui_base.rstrip("/")
    return Alert(f"[campaign media] deadline missed: {where}", [what],
                 {"the usage-window DAG": f"{base}/dags/campaign_media_usage_windows",
                  "the campaign page": f"{base}/campaign-media/campaigns/{quote(campaign)}"})
