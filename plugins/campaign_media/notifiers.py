"""Alerts that reach people, through Airflow's notifier interface (``BaseNotifier``).

Every lifecycle task fails with :class:`FailureNotifier` as its ``on_failure_callback``
(``dags.support.default_args``). Where a message goes is the deployment's choice
(``[campaign_media] alerts``): ``smtp`` sends e-mail through the SMTP provider Airflow installs
(the ``alert_smtp_conn_id`` connection, to ``alert_to``), ``slack`` posts through the Slack
provider's webhook hook where that provider is installed, ``none`` (the default) only logs.
Messages are redacted: no secret the masker knows, no signed URL.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from campaign_media import settings
from campaign_media.domain.alerts import Alert, failure_alert
from campaign_media.exceptions import NOT_RETRIED, CampaignMediaError
from campaign_media.hooks.cloudinary import redact as without_signed_urls

log = logging.getLogger(__name__)
CHANNELS = ("none", "smtp", "slack")


class AlertNotSent(CampaignMediaError, RuntimeError):
    """The configured channel could not take the message (named, with the fix)."""

    retryable = False


def redacted(text: str) -> str:
    """Secrets the masker knows and signed URLs taken out."""
    try:
        from airflow.sdk._shared.secrets_masker import redact
    except ImportError:  # pragma: no cover - the masker moved: signed URLs are still taken out
        return without_signed_urls(text)
    return without_signed_urls(str(redact(text)))


def ui_base() -> str:
    """Where links point: ``[campaign_media] ui_base_url``, else Airflow's ``[api] base_url``."""
    from airflow.sdk.configuration import conf

    return settings.get("ui_base_url") or conf.get("api", "base_url", fallback="") or "http://localhost:8080"


def send(alert: Alert) -> str:
    """Send ``alert`` where the deployment says; returns the channel used."""
    channel = settings.get("alerts")
    if channel not in CHANNELS:
        raise AlertNotSent(f"[campaign_media] alerts = {channel!r}: use one of {', '.join(CHANNELS)}")
    if channel == "none":
        log.info("alert (not sent: [campaign_media] alerts = none): %s", alert.subject)
        return channel
    to = [a.strip() for a in settings.get("alert_to").split(",") if a.strip()]
    if channel == "smtp":
        if not to:
            raise AlertNotSent("[campaign_media] alerts = smtp needs alert_to (comma-separated addresses)")
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=settings.get("alert_smtp_conn_id")) as smtp:
            smtp.send_email_smtp(to=to, subject=alert.subject, html_content=alert.html,
                                 from_email=settings.get("alert_from") or None,
                                 custom_headers={"X-Campaign-Media": "alert"})
        return channel
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
    except ImportError as exc:
        raise AlertNotSent("[campaign_media] alerts = slack, but the Slack provider is not installed: "
                           "pip install apache-airflow-providers-slack, or choose smtp or none") from exc
    SlackWebhookHook(slack_webhook_conn_id=settings.get("alert_slack_conn_id")).send(text=alert.text)
    return channel


class FailureNotifier(BaseNotifier):
    """A task failed for good: say which campaign and market, what failed, what to do, and link
    to the task and the campaign page."""

    template_fields = ()

    def notify(self, context: Any) -> None:
        ti, task = context["ti"], context["task"]
        exc = context.get("exception")
        text = str(exc) if exc else ""
        campaign = getattr(task, "campaign_id", None) or (context.get("params") or {}).get("campaign")
        alert = failure_alert(
            dag_id=ti.dag_id, task_id=ti.task_id, run_id=ti.run_id, map_index=getattr(ti, "map_index", -1),
            campaign=campaign if campaign not in (None, "", "all") else None,
            error=redacted(f"{type(exc).__name__}: {text.replace(NOT_RETRIED, '')}" if exc else
                           "no error was recorded"),
            ui_base=ui_base(), try_number=getattr(ti, "try_number", 1),
            retried=not (isinstance(exc, CampaignMediaError) and not exc.retryable) and NOT_RETRIED not in text)
        try:
            send(alert)
        except Exception as failed:  # noqa: BLE001 - an alert that cannot go out must not hide the task's error
            log.error("the alert for %s.%s could not be sent: %s", ti.dag_id, ti.task_id, redacted(str(failed)))
