"""The model dashboard's Airflow side: a FastAPI app (``app.create_app``) with Jinja templates, mounted
at ``/airsage`` by the ``AirflowPlugin`` in ``plugins/airsage_dashboard.py``. The data comes from
``airsage.dashboard`` (no Airflow there)."""
