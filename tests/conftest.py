"""Shared test setup: the whole session gets its own Airsage home (data, MLflow, Airflow, jobs) in a temp
dir, set before anything imports Airflow, so tests never touch the developer's ``.airsage``."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from airsage.devenv import airflow_env  # noqa: E402 - must run before Airflow is imported

TEST_HOME = Path(tempfile.mkdtemp(prefix="airsage-test-"))
os.environ.update({k: v for k, v in airflow_env(TEST_HOME, base={}).items() if k != "PYTHONPATH"})
os.environ.pop("AIRSAGE__DATA_ROOT", None)


@pytest.fixture(scope="session")
def airsage_home() -> Path:
    return TEST_HOME


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0:
        shutil.rmtree(TEST_HOME, ignore_errors=True)
