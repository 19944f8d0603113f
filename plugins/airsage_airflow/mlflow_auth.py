"""MLflow credentials from an Airflow connection (the production topology's MLflow server requires a login).

``use_mlflow_connection()`` reads the connection ``AIRSAGE_MLFLOW_CONN_ID`` (default ``mlflow_default``):
its login and password become ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` for the task's
process (MLflow's client sends them as HTTP basic auth), and its host (``http://mlflow:5000``) the tracking URI
when none is set. No such connection (the laptop setup, whose MLflow is a local SQLite store): nothing
changes. The credentials never reach a file or a log line.
"""
from __future__ import annotations

import os

DEFAULT_CONN_ID = "mlflow_default"


def use_mlflow_connection(conn_id: str | None = None) -> bool:
    """Put the connection's MLflow credentials into this process's environment; False when it does not exist."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    tracking = os.environ.get("MLFLOW_TRACKING_URI") or ""
    if tracking and not tracking.startswith(("http://", "https://")) and not conn_id:
        return False  # a local store (the laptop's SQLite): no server, no login, no connection look-up
    conn_id = conn_id or os.environ.get("AIRSAGE_MLFLOW_CONN_ID") or DEFAULT_CONN_ID
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return False
    if conn.login:
        os.environ["MLFLOW_TRACKING_USERNAME"] = conn.login
        os.environ["MLFLOW_TRACKING_PASSWORD"] = conn.password or ""
    if conn.host and not os.environ.get("MLFLOW_TRACKING_URI"):
        scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
        host = conn.host if "://" in conn.host else f"{scheme}://{conn.host}"
        os.environ["MLFLOW_TRACKING_URI"] = f"{host}:{conn.port}" if conn.port else host
    return True
