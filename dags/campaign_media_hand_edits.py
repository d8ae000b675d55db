"""The campaign media hand-edits DAGs for Airflow: built by the factory in campaign_media.dags."""

from campaign_media.dags import lifecycle_dags

globals().update(lifecycle_dags("hand_edits"))
