# The project's Airflow image: the official one plus this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
# = campaign_media.__version__ (a unit test keeps them equal); reports carry the same version.
LABEL org.opencontainers.image.title="campaign-media-pipelines" \
      org.opencontainers.image.version="0.6.0"
COPY requirements.txt constraints.txt /opt/project/
RUN pip install --no-cache-dir -r /opt/project/requirements.txt -c /opt/project/constraints.txt \
    "apache-airflow-providers-celery" "apache-airflow-providers-postgres" "apache-airflow==3.3.2"
