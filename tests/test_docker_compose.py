"""docker-compose.yaml describes the production topology consistently (no Docker engine here to run it)."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
AIRFLOW = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"}


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_services_present():
    services = compose()["services"]
    assert AIRFLOW | {"postgres", "redis", "minio", "mlflow", "airflow-init"} <= set(services)


def test_airflow_components_share_one_consistent_config():
    services = compose()["services"]
    for name in AIRFLOW | {"airflow-init", "mlflow"}:
        svc = services[name]
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert env["AIRSAGE__DATA_ROOT"].startswith("s3://")
        mounts = {v.split(":")[1] for v in svc["volumes"]}
        assert {"/opt/airsage/dags", "/opt/airsage/plugins", "/opt/airsage/include"} <= mounts
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] in mounts and env["AIRFLOW__CORE__PLUGINS_FOLDER"] in mounts
        for dep in svc["depends_on"]:
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_referenced_files_exist_and_versions_match():
    c = compose()
    df = c["services"]["airflow-scheduler"]["build"]["dockerfile"]
    assert (REPO / df).exists()
    assert (REPO / "include/docker/initdb.sql").exists()
    reqs = (REPO / "requirements.txt").read_text()
    assert "apache-airflow==3.3" in reqs and "mlflow==3." in reqs
    used = {v.split(":")[0] for s in c["services"].values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert used <= set(c["volumes"]), used - set(c["volumes"])
    mlflow_cmd = c["services"]["mlflow"]["command"]
    assert "postgresql" in mlflow_cmd and "s3://mlflow" in mlflow_cmd


def test_mlflow_requires_a_login_and_airsage_uses_credentials_from_an_airflow_connection():
    import configparser
    from urllib.parse import urlsplit

    c = compose()
    mlflow = c["services"]["mlflow"]
    assert "--app-name basic-auth" in mlflow["command"]
    env = mlflow["environment"]
    ini_path = env["MLFLOW_AUTH_CONFIG_PATH"]
    assert ini_path.startswith("/opt/airsage/include/")
    ini = configparser.ConfigParser()
    ini.read(REPO / "include" / ini_path.removeprefix("/opt/airsage/include/"))
    auth = ini["mlflow"]
    assert auth["default_permission"] == "READ"  # people read; only Airsage's account may change the registry
    assert auth["database_uri"].startswith("postgresql+psycopg2://") and auth["database_uri"].endswith("/mlflow_auth")
    assert "CREATE DATABASE mlflow_auth" in (REPO / "include/docker/initdb.sql").read_text()
    assert "flask-wtf==" in (REPO / "include/docker/requirements-prod.txt").read_text().lower()  # mlflow[auth]
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"] and env["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    for name in AIRFLOW | {"airflow-init"}:
        conn = urlsplit(c["services"][name]["environment"]["AIRFLOW_CONN_MLFLOW_DEFAULT"])
        assert (conn.username, conn.password) == (auth["admin_username"], env["MLFLOW_AUTH_ADMIN_PASSWORD"])
        assert f"http://{conn.hostname}:{conn.port}" == c["services"][name]["environment"]["MLFLOW_TRACKING_URI"]
