"""The campaign page for a plugins folder without the distribution installed (``plugins/`` copied
alone). Where the distribution is installed, its ``airflow.plugins`` entry point registers the page,
and this file defines nothing, so the page is registered once either way. The ``campaign_media``
package itself is kept out of plugin discovery (``.airflowignore``)."""

from importlib.metadata import entry_points

_TARGET = "campaign_media.plugin:CampaignPagePlugin"

if not any(ep.value == _TARGET for ep in entry_points(group="airflow.plugins")):
    from campaign_media.plugin import CampaignPagePlugin

    __all__ = ["CampaignPagePlugin"]
