"""The Airflow plugin that serves the campaign page, loaded from the plugins folder
(``plugins/campaign_page.py``), so ``airflow standalone`` and the compose deployment (which
mounts ``plugins/``) load it the same way. (A distribution's ``airflow.plugins`` entry point was
the alternative: with ``plugins/`` on ``sys.path`` the editable install's metadata is found twice
and Airflow reports the second copy as a plugin import error.)"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from campaign_media.ui import PREFIX


class LazyApp:
    """The page's ASGI app, imported on its first request: every Airflow process loads plugins
    (scheduler, triggerer, task runners), and only the API server ever serves the page, so they
    need not pay the 1.7 s of importing FastAPI routes and Airflow's security module."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from campaign_media.ui.app import app

        await app(scope, receive, send)


class CampaignPagePlugin(AirflowPlugin):
    name = "campaign_media_page"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": PREFIX, "name": "Campaign media"}]
    # A navigation entry; the UI shows the page in its frame at /plugin/campaigns.
    external_views = [{"name": "Campaigns", "href": f"{PREFIX}/", "url_route": "campaigns", "destination": "nav",
                       "category": "browse"}]
