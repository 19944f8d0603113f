"""The embedded (laptop) environment: where Airflow and MLflow keep their state, as environment variables.

One source of truth for the Makefile, the demo and the end-to-end tests:
``eval "$(python -m airsage.devenv)"`` exports it into a shell. Everything lives under ``AIRSAGE__HOME``
(default ``<repo>/.airsage``, git-ignored): Airflow's SQLite database and logs, MLflow's SQLite store and
artifacts, the data root and the local jobs.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from airsage.config import REPO_ROOT


def airflow_env(home: str | os.PathLike | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    base = dict(os.environ if base is None else base)
    home = Path(home or base.get("AIRSAGE__HOME") or REPO_ROOT / ".airsage").resolve()
    airflow_home = Path(base.get("AIRFLOW_HOME") or home / "airflow")
    env = {
        "AIRSAGE__HOME": str(home),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # 30 s busy timeout (SQLAlchemy's default is 5 s): the api-server, scheduler, dag-processor, triggerer and
        # task processes all write this one file, and a UI action (a HITL answer) that waited >5 s for the lock
        # failed with HTTP 500 "Database error" on a loaded 2-core machine (apache/airflow#66726).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}?timeout=30",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,approver:op,reviewer:user",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
        "AIRFLOW__API__PORT": base.get("AIRFLOW__API__PORT", "8080"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": base.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "MLFLOW_TRACKING_URI": base.get("MLFLOW_TRACKING_URI") or f"sqlite:///{home / 'mlflow.db'}",
        "AIRSAGE__MLFLOW__ARTIFACT_ROOT": base.get("AIRSAGE__MLFLOW__ARTIFACT_ROOT") or str(home / "mlartifacts"),
        "PYTHONPATH": os.pathsep.join(p for p in [str(REPO_ROOT / "plugins"), base.get("PYTHONPATH", "")] if p),
        "NO_PROXY": "*",  # macOS fork-safety for the local executor / triggerer
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    return {**base, **env}


def main(argv: list[str] | None = None) -> None:
    env = airflow_env()
    keys = [k for k in env if k.startswith(("AIRSAGE__", "AIRFLOW", "MLFLOW_", "PYTHONPATH", "NO_PROXY", "GIT_PYTHON"))]
    for k in sorted(keys):
        print(f"export {k}={shlex.quote(env[k])}")


if __name__ == "__main__":
    main(sys.argv[1:])
