"""The provider's self-description, found by Airflow through the ``apache_airflow_provider``
entry point of this distribution (``pyproject.toml``): the two connection types with their form
fields (declarative ``conn-fields`` / ``ui-field-behaviour``, the Airflow 3.2+ way: the UI shows
them without importing the hooks), the hooks and the operators.
"""

from __future__ import annotations

from typing import Any

from campaign_media import __version__
from campaign_media.settings_spec import provider_config

PACKAGE = "campaign-media-pipelines"
# The port stays visible: Airflow 3.3.2's Test button (Connections list) sends a missing port as 0
# and then refuses a saved connection whose port is empty ("The host or port to test differs from
# the stored connection"; apache/airflow#73298, fixed after 3.3.2). A stored port avoids it.
HIDDEN = ["schema"]


def _text(label: str, description: str, *, secret: bool = False, kind: str = "string",
          default: Any = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if secret:
        schema["format"] = "password"
    if default is not None:
        schema["default"] = default
    return {"label": label, "description": description, "schema": schema}


# How hard a hook tries a call (campaign_media.hooks.retry.RetryPolicy.from_extras), both types.
RETRY_FIELDS: dict[str, Any] = {
    "max_retries": _text("Max retries", "Retries of a transient failure (5xx, 420/429, dropped connection)",
                         kind="integer", default=5),
    "retry_base_delay": _text("Retry base delay (s)", "First backoff; doubled per attempt, with full jitter",
                              kind="number", default=0.5),
    "retry_max_delay": _text("Retry max delay (s)", "Longest single backoff", kind="number", default=60.0),
    "retry_budget_seconds": _text("Retry budget (s)", "Most waiting per call in all; a named rate limit longer "
                                  "than this defers the task until it ends instead", kind="number", default=300.0),
}

CLOUDINARY: dict[str, Any] = {
    "hook-class-name": "campaign_media.hooks.cloudinary.CloudinaryHook",
    "hook-name": "Cloudinary",
    "connection-type": "cloudinary",
    "ui-field-behaviour": {
        "hidden-fields": HIDDEN,
        "relabeling": {"host": "Cloud name", "login": "API key", "password": "API secret",
                       "port": "Port (443; not used)"},
        "placeholders": {"host": "my-brand (Console → Settings → API Keys)", "login": "123456789012345",
                         "password": "the API secret (masked)", "port": "443"},
    },
    "conn-fields": {
        "cloud_name": _text("Cloud name (extra)", "The cloud name, when the host field holds something else; "
                            "empty: the host field"),
        "auth_token_key": _text("Token key", "The account's token-based access key (Settings → Security); only "
                                "for expiring token URLs on premium plans with a private CDN", secret=True),
        "private_cdn": _text("Private CDN", "Deliver from <cloud>-res.cloudinary.com (where token URLs work)",
                             kind="boolean", default=False),
        "upload_prefix": _text("Upload prefix", "API base URL; leave empty for api.cloudinary.com (the emulator: "
                               "http://127.0.0.1:PORT)"),
        "delivery_host": _text("Delivery host", "CNAME or emulator host:port for delivery URLs; empty for "
                               "res.cloudinary.com"),
        "secure": _text("HTTPS delivery host", "Whether the delivery host answers https (only with a delivery host; "
                        "res.cloudinary.com always does)", kind="boolean", default=False),
        "timeout": _text("Timeout (s)", "Per-request timeout", kind="integer", default=60),
        **RETRY_FIELDS,
        "notification_base_url": _text("Notification base URL", "This Airflow API server's address as Cloudinary "
                                       "can reach it (https://airflow.example.com): video transcodes are then "
                                       "announced by Cloudinary's notifications; empty: polled"),
        "governance": _text("Governance", "context (default), or structured: masters' owner, approval, usage rights "
                            "and licence expiry go into structured metadata fields the console can search (create "
                            "them once with check-account --create-metadata-fields); a campaign file may override"),
    },
}

PHOTOSHELTER: dict[str, Any] = {
    "hook-class-name": "campaign_media.hooks.photoshelter.PhotoShelterHook",
    "hook-name": "PhotoShelter",
    "connection-type": "photoshelter",
    "ui-field-behaviour": {
        "hidden-fields": HIDDEN,
        "relabeling": {"host": "API host", "login": "Email", "password": "Password"},
        "placeholders": {"host": "https://www.photoshelter.com", "login": "pipeline@brand.example",
                         "password": "the account password (masked)", "port": "443"},
    },
    "conn-fields": {
        "api_key": _text("API key", "The PhotoShelter API key (sent as X-PS-Api-Key)", secret=True),
        "org_id": _text("Organisation", "Organisation ID (O0000…); empty: the user's first organisation"),
        "api_version": _text("API version", "3 (default) or 4: v4 for listings, custom metadata and downloads "
                             "(images and videos alike); licences, the time zone and uploads go through v3 either "
                             "way (check-account says which versions the account answers)", kind="integer",
                             default=3),
        "api_path": _text("API path", "Where the v3 API is under the host", default="/psapi/v3"),
        "video_download_path": _text("Video download path", "The v3 route a video original is downloaded from, "
                                     "under the API path ({media_id} is filled in)",
                                     default="mem/video/{media_id}/download"),
        "timeout": _text("Timeout (s)", "Per-request timeout", kind="integer", default=30),
        **RETRY_FIELDS,
        "metadata_write": _text("Metadata write routes", "Only if the account has (undocumented) metadata-write "
                                "routes; off by default", kind="boolean", default=False),
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE,
        "name": "Campaign media (PhotoShelter and Cloudinary)",
        "description": "Hooks, operators and connection types for campaign media between PhotoShelter and "
                       "Cloudinary.",
        "versions": [__version__],
        "connection-types": [CLOUDINARY, PHOTOSHELTER],
        "hooks": [{"integration-name": "Cloudinary", "python-modules": ["campaign_media.hooks.cloudinary"]},
                  {"integration-name": "PhotoShelter", "python-modules": ["campaign_media.hooks.photoshelter"]}],
        "operators": [{"integration-name": "Campaign media", "python-modules": [
            "campaign_media.operators.ingest", "campaign_media.operators.markets",
            "campaign_media.operators.governance", "campaign_media.operators.cloudinary",
            "campaign_media.operators.photoshelter", "campaign_media.operators.signoff",
            "campaign_media.operators.events"]}],
        "triggers": [{"integration-name": "Campaign media", "python-modules": [
            "campaign_media.triggers.photoshelter", "campaign_media.triggers.cloudinary",
            "campaign_media.triggers.events"]}],
        "notifications": ["campaign_media.notifiers.FailureNotifier"],
        "config": provider_config(),
        # Listed as the OpenLineage provider lists its own: Airflow loads it through the
        # airflow.plugins entry point (pyproject.toml), and `airflow plugins` shows it.
        "plugins": [{"name": "campaign_media_page", "plugin-class": "campaign_media.plugin.CampaignPagePlugin"}],
    }


def ui_field_behaviour(connection: dict[str, Any]) -> dict[str, Any]:
    """The ``get_ui_field_behaviour()`` form of a connection type's declarative behaviour."""
    behaviour = connection["ui-field-behaviour"]
    return {"hidden_fields": behaviour["hidden-fields"], "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"]}


# Set in the connection's JSON only (no form field: a JSON object), documented with the fields.
JSON_ONLY = {"photoshelter": {"metadata_write_paths": "Replacement routes for metadata writes, by field (only with "
                                                      "`metadata_write`); a JSON object"}}


def extras_table(connection: dict[str, Any]) -> str:
    """A connection type's extras as a Markdown table (the docs are written from it; a test keeps
    them equal)."""
    rows = ["| extra | form label | default | what |", "| --- | --- | --- | --- |"]
    for name, field in connection["conn-fields"].items():
        default = field["schema"].get("default")
        rows.append(f"| `{name}` | {field['label']} | {'' if default is None else f'`{default}`'} | "
                    f"{field['description']} |")
    rows += [f"| `{name}` | (JSON only) | | {what} |"
             for name, what in JSON_ONLY.get(connection["connection-type"], {}).items()]
    return "\n".join(rows)
