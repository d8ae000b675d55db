"""Every ``[campaign_media]`` key: its default, meaning and type, as plain data (no Airflow
import), so the provider's self-description (``provider.py``), which Airflow reads while its own
configuration is still loading, can declare the section from the same table the package reads
(``settings.py``) and the docs are written from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SECTION = "campaign_media"


@dataclass(frozen=True)
class Setting:
    """One key of ``[campaign_media]``: its default, how to read it, the 0.8 variable it replaces,
    and the key it was called before a rename (both still read, with a deprecation warning)."""

    key: str
    default: Any
    cast: Callable[[str], Any]
    doc: str
    old_env: str | None = None
    old_key: str | None = None


SETTINGS: dict[str, Setting] = {s.key: s for s in [
    Setting("storage", "", str, "where manifests, reports, state and the audit trail live: any URL Airflow's "
            "object storage reads (s3://bucket/prefix, gs://…, file:///…); empty: $AIRFLOW_HOME/campaign-media",
            "CAMPAIGN_MEDIA_STORAGE"),
    Setting("include", "", str, "where campaigns/ and markets/ are: a folder, or an object-store URL (s3://bucket/"
            "prefix, gs://…) read through a local copy; empty: this repository's include/ (an installed "
            "distribution must set it)", "CAMPAIGN_MEDIA_INCLUDE"),
    Setting("include_cache_seconds", 60.0, float, "with include on an object store: how long its local copy is used "
            "before the store is listed again (DAG parsing and tasks read the copy; a listing that fails is an "
            "import error naming the URL)"),
    Setting("ingest_batch_size", 100, int, "masters per mapped ingest task", "CAMPAIGN_MEDIA_BATCH_SIZE"),
    Setting("render_batch_size", 50, int, "masters per mapped market render task", "CAMPAIGN_MEDIA_BATCH_SIZE"),
    Setting("ingest_threads", 4, int, "masters in flight per ingest task (and per archive task)",
            "CAMPAIGN_MEDIA_TASK_THREADS", old_key="task_threads"),
    Setting("render_threads", 8, int, "masters in flight per market render task", "CAMPAIGN_MEDIA_RENDER_THREADS"),
    Setting("claim_poll_seconds", 30.0, float, "how often a run waiting for another run's claim looks again",
            "CAMPAIGN_MEDIA_CLAIM_POLL_SECONDS"),
    Setting("retry_delay_seconds", None, int, "every lifecycle task's retry delay; empty: each DAG's own "
            "(60 s to 300 s)", "CAMPAIGN_MEDIA_RETRY_DELAY_SECONDS"),
    Setting("max_rate_limit_wait_hours", 6.0, float, "the longest a task waits deferred for a rate limit's named "
            "reset; a service asking for longer fails the task, naming the figure", old_key="max_wait_hours"),
    Setting("max_download_mb", 20480, int, "the most a download of unknown size may bring (MB); a download of "
            "known size may bring that size plus 10 %"),
    Setting("video_poll_seconds", 30.0, float, "how often the video trigger asks Cloudinary for derivatives",
            "CAMPAIGN_MEDIA_VIDEO_POLL_SECONDS"),
    Setting("video_fallback_poll_seconds", 300.0, float, "with Cloudinary's notifications on (the connection's "
            "notification_base_url), how often the video trigger asks anyway, in case a notification is lost"),
    Setting("watch_poll_seconds", 15.0, float, "the shortest time between two polls of a watched PhotoShelter "
            "source for approvals and new files (a campaign's source.watch.interval overrides it; the call budget "
            "below may make it longer); 0: no watcher, the daily ingest run only", old_key="watch_interval_seconds"),
    Setting("watch_calls_per_hour", 240, int, "the PhotoShelter calls each watched source's polls may spend an "
            "hour: a poll costs one listing call per 1,000 media, so a small source polls at the shortest interval "
            "and a 100,000-media source every 25 minutes; 0: no budget (the shortest interval always)"),
    Setting("access_logs", "", str, "where the access logs of the CDN in front of the delivery host are (a folder "
            "or object-store URL: s3://bucket/cloudfront/, file:///…): the metrics report's per-asset requests and "
            "bytes come from them; empty: from Cloudinary's API (which has none on a real account)"),
    Setting("access_logs_format", "cloudfront", str, "the access logs' format: cloudfront (CloudFront's standard "
            "log), jsonl (JSON lines, Fastly/Akamai-style), or csv (url,bytes,status,time)"),
    Setting("alerts", "none", str, "where alerts go (a task failed for good): smtp (e-mail through the SMTP "
            "provider), slack (where the Slack provider is installed), or none (logged only)"),
    Setting("alert_to", "", str, "comma-separated e-mail addresses alerts go to (alerts = smtp)"),
    Setting("alert_from", "", str, "the sender of alert e-mails; empty: the SMTP connection's from_email"),
    Setting("alert_smtp_conn_id", "smtp_default", str, "the SMTP connection alerts are sent through"),
    Setting("alert_slack_conn_id", "slack_default", str, "the Slack webhook connection alerts are posted through"),
    Setting("deadline_tolerance_minutes", 20.0, float, "how long after a market copy's window end (or an archive's "
            "due date) the deadline check waits for a usage-window run to have confirmed it before it alerts"),
    Setting("notification_connections", "cloudinary_default", str, "the Cloudinary connections whose "
            "notifications the API server's receiver accepts (comma-separated); a POST naming any other is "
            "refused like a wrong signature, with no lookup"),
    Setting("cloudinary_events", "pull", str, "how the pipeline hears of Cloudinary's events: pull (the triggerer "
            "long-polls a Cloudinary poll channel, so no public endpoint is needed: video waits end on transcode "
            "events and people's edits to market copies are repaired at once) or admin (none: video waits ask the "
            "Admin API every video_poll_seconds and edits wait for the next reconciliation run); a connection with "
            "notification_base_url also has transcodes POSTed to the receiver (webhook)"),
    Setting("events_channel", "", str, "the poll channel's name; empty: campaign-media-<connection id> (two "
            "deployments on one Cloudinary account need two names)"),
    Setting("events_wait_seconds", 60, int, "how long one long poll of the channel waits for events (0-60): an "
            "idle channel costs 3600 / this many calls an hour"),
    Setting("signoff_key_conn_id", "campaign_media_signoff", str, "the connection whose password seals launch "
            "sign-off records (kept in Airflow's secrets backend or database, never in storage); records it does "
            "not check are ignored"),
    Setting("ui_base_url", "", str, "the Airflow UI's address as people reach it, for links in alerts; empty: "
            "[api] base_url"),
]}
TYPES = {int: "integer", float: "float", str: "string"}


def provider_config() -> dict[str, Any]:
    """The ``[campaign_media]`` section as a provider declares it (``get_provider_info()["config"]``):
    Airflow then knows every key, its default and meaning (``airflow config list``, ``airflow config
    get-value campaign_media render_batch_size``)."""
    from campaign_media import __version__

    options = {s.key: {"description": s.doc, "version_added": __version__, "type": TYPES.get(s.cast, "string"),
                       "example": None, "default": None if s.default in (None, "") else str(s.default)}
               for s in SETTINGS.values()}
    return {SECTION: {"description": "Campaign media pipelines: storage, include folder, batch sizes, alerts, "
                                     "sign-off and notifications (docs/configuration.md).", "options": options}}


def table() -> str:
    """The settings as a Markdown table (docs/configuration.md is written from it; a test keeps them equal)."""
    rows = ["| key | default | what | replaces |", "| --- | --- | --- | --- |"]
    for s in SETTINGS.values():
        default = "" if s.default in (None, "") else s.default
        replaces = ", ".join(f"`{old}`" for old in (s.old_key, s.old_env) if old) or "(new)"
        rows.append(f"| `{s.key}` | {default} | {s.doc} | {replaces} |")
    return "\n".join(rows)
