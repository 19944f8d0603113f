"""Airsage's tasks authenticate to a login-protected MLflow server with the Airflow connection's credentials."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI", "AIRSAGE_MLFLOW_CONN_ID"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_the_connection_becomes_mlflow_credentials_and_uri(clean_env):
    from airsage_airflow.mlflow_auth import use_mlflow_connection

    clean_env.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", "http://airsage:s3cret@mlflow:5000")
    assert use_mlflow_connection() is True
    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("airsage", "s3cret")
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_a_set_tracking_uri_is_kept_and_no_connection_changes_nothing(clean_env):
    from airsage_airflow.mlflow_auth import use_mlflow_connection

    clean_env.setenv("MLFLOW_TRACKING_URI", "http://other:5000")
    clean_env.setenv("AIRFLOW_CONN_MLFLOW_PROD", "http://svc:pw@mlflow:5000")
    clean_env.setenv("AIRSAGE_MLFLOW_CONN_ID", "mlflow_prod")
    assert use_mlflow_connection() is True and os.environ["MLFLOW_TRACKING_URI"] == "http://other:5000"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "svc"
    clean_env.delenv("MLFLOW_TRACKING_USERNAME")
    assert use_mlflow_connection("no_such_connection") is False
    assert "MLFLOW_TRACKING_USERNAME" not in os.environ
