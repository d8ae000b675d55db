# The project's Airflow image: the official one plus this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
# = campaign_media.__version__ (a unit test keeps them equal); reports carry the same version.
LABEL org.opencontainers.image.title="campaign-media-pipelines" \
      org.opencontainers.image.version="0.9.0"
COPY requirements.txt constraints.txt /opt/project/
RUN pip install --no-cache-dir -r /opt/project/requirements.txt -c /opt/project/constraints.txt \
    "apache-airflow-providers-postgres==7.1.1" "apache-airflow==3.3.2"
# The project as a distribution: its provider entry point registers the Cloudinary and
# PhotoShelter connection types (the mounted plugins/ stays first on PYTHONPATH for the code).
COPY pyproject.toml setup.cfg README.md LICENSE /opt/project/
COPY plugins/campaign_media /opt/project/plugins/campaign_media
RUN pip install --no-cache-dir --no-deps /opt/project
# The DAG folder is the package's factory (one file per DAG set); campaign and market files come
# from [campaign_media] include: the copy baked here, a mounted folder, or an object-store URL.
COPY dags/ /opt/airflow/dags/
COPY include/ /opt/airflow/include/
