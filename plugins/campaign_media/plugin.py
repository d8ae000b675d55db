"""The Airflow plugin of the project. It mounts two apps on the API server: the campaign page
(``campaign_media.ui``, behind Airflow's login) and the receiver of Cloudinary's notifications
(``campaign_media.notifications``, outside it: Cloudinary cannot log in; it checks signatures).

Registered once, by the distribution's ``airflow.plugins`` entry point (``pyproject.toml``). Two
things used to register it twice: this repository's ``plugins/campaign_page.py`` (it now defines
the plugin only where the distribution is not installed), and a second copy of the distribution's
metadata that setuptools wrote into ``plugins/`` (on ``sys.path`` in every Airflow process, so the
entry point was found twice; ``setup.cfg`` writes it at the repository's root instead).
"""

from __future__ import annotations

import importlib
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from campaign_media.domain.notifications import MOUNT
from campaign_media.ui import PREFIX


class LazyApp:
    """An ASGI app (``module:attribute``) imported on its first request: every Airflow process loads
    plugins (scheduler, triggerer, task runners), and only the API server ever serves these, so they
    need not pay the 1.7 s of importing FastAPI routes, Airflow's security module and the SDK."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._app: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._app is None:
            module, name = self.target.split(":")
            self._app = getattr(importlib.import_module(module), name)
        await self._app(scope, receive, send)


class CampaignPagePlugin(AirflowPlugin):
    name = "campaign_media_page"
    # Mounted in this order: the receiver's prefix lies inside the page's, so it must come first.
    fastapi_apps = [
        {"app": LazyApp("campaign_media.notifications.receiver:app"), "url_prefix": MOUNT,
         "name": "Campaign media: Cloudinary notifications"},
        {"app": LazyApp("campaign_media.ui.app:app"), "url_prefix": PREFIX, "name": "Campaign media"},
    ]
    # A navigation entry; the UI shows the page in its frame at /plugin/campaigns.
    external_views = [{"name": "Campaigns", "href": f"{PREFIX}/", "url_route": "campaigns", "destination": "nav",
                       "category": "browse"}]
