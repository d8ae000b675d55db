"""Airflow's plugins folder entry for the campaign page (``campaign_media.ui``): the API server
serves it and the UI lists it under Browse. The one file here Airflow loads as a plugin; the
``campaign_media`` package itself is kept out of plugin discovery (``.airflowignore``)."""

from campaign_media.plugin import CampaignPagePlugin

__all__ = ["CampaignPagePlugin"]
