"""The campaign page in the Airflow UI (an Airflow 3 plugin: a FastAPI app and a navigation entry)."""

PREFIX = "/campaign-media"  # where Airflow's API server mounts the page's app
