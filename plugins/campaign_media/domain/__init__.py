"""Pure decisions: approval, public IDs, rendition specs, usage windows, embedded metadata, batch shapes.

No I/O and no Airflow: a module here imports only the config models, the error root and each other.
"""
