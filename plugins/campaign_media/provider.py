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
        "auth_token_key": _text("Token key", "The account's token-based access key (Settings → Security); only "
                                "for expiring token URLs on premium plans with a private CDN", secret=True),
        "private_cdn": _text("Private CDN", "Deliver from <cloud>-res.cloudinary.com (where token URLs work)",
                             kind="boolean", default=False),
        "upload_prefix": _text("Upload prefix", "API base URL; leave empty for api.cloudinary.com (the emulator: "
                               "http://127.0.0.1:PORT)"),
        "delivery_host": _text("Delivery host", "CNAME or emulator host:port for delivery URLs; empty for "
                               "res.cloudinary.com"),
        "timeout": _text("Timeout (s)", "Per-request timeout", kind="integer", default=60),
        "max_retries": _text("Max retries", "Retries of a transient failure (5xx, 420/429, dropped connection)",
                             kind="integer", default=5),
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
        "timeout": _text("Timeout (s)", "Per-request timeout", kind="integer", default=30),
        "max_retries": _text("Max retries", "Retries of a transient failure (5xx, 420/429, dropped connection)",
                             kind="integer", default=5),
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
            "campaign_media.operators.photoshelter", "campaign_media.operators.signoff"]}],
        "triggers": [{"integration-name": "Campaign media", "python-modules": [
            "campaign_media.triggers.photoshelter", "campaign_media.triggers.cloudinary"]}],
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
