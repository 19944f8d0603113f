"""Every database URL in docker-compose.yaml names a driver that the pinned packages install.

Needs no service: SQLAlchemy resolves each URL's dialect and imports its DB-API module, the first thing each
component does at start. (A driverless ``postgresql://`` means psycopg 3 under SQLAlchemy 2.1, and Airflow 3
derives ``postgresql+asyncpg://`` from its metadata URL for its async engine.)
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.topology
REPO = Path(__file__).resolve().parents[2]


def compose_urls() -> dict[str, str]:
    """``{where: SQLAlchemy URL}`` for every database URL compose passes to a component."""
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    env = compose["x-airsage-common"]["environment"]
    metadata = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    urls = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "Airflow's async engine (derived)": re.sub(r"^postgresql(\+\w+)?:", "postgresql+asyncpg:", metadata)}
    if "AIRFLOW__CELERY__RESULT_BACKEND" in env:
        urls["AIRFLOW__CELERY__RESULT_BACKEND"] = env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+")
    store = re.search(r"--backend-store-uri\s+(\S+)", compose["services"]["mlflow"]["command"])
    assert store, "compose's mlflow command has no --backend-store-uri"
    urls["mlflow --backend-store-uri"] = store.group(1)
    return urls


def test_every_compose_database_url_has_its_driver_installed():
    from sqlalchemy.engine import make_url

    missing = {}
    for where, url in compose_urls().items():
        parsed = make_url(url)
        try:
            parsed.get_dialect().import_dbapi()
        except ImportError as exc:
            missing[where] = f"{parsed.drivername}: {exc}"
    assert not missing, (f"driver not installed for {missing}; name an installed driver in the URL "
                         "(postgresql+psycopg2://) or pin the driver in include/docker/requirements-prod.txt")
