"""Shared test setup: the whole session gets its own Airsage home (data, MLflow, Airflow, jobs) in a temp
dir, set before anything imports Airflow, so tests never touch the developer's ``.airsage``.

AWS without an account (compute and registry tests):

* ``moto_server`` (session): one moto server (S3, SageMaker, ... every service moto has) in a thread
  on 127.0.0.1 and a free port; yields its URL.
* ``aws`` (function): points boto3 at that server (``AWS_ENDPOINT_URL``), with dummy credentials and
  region ``us-east-1``, no profile or config files, and resets moto's state first so tests do not
  see each other's buckets or jobs. Yields the URL.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from airsage.devenv import airflow_env  # noqa: E402 - must run before Airflow is imported

TEST_HOME = Path(tempfile.mkdtemp(prefix="airsage-test-"))
os.environ.update({k: v for k, v in airflow_env(TEST_HOME, base={}).items() if k != "PYTHONPATH"})
os.environ.pop("AIRSAGE__DATA_ROOT", None)

MOTO_REGION = "us-east-1"  # the region of the aws fixture


@pytest.fixture(scope="session")
def airsage_home() -> Path:
    return TEST_HOME


@pytest.fixture(scope="session")
def moto_server():
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch, tmp_path):
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
    monkeypatch.setenv("AWS_REGION", MOTO_REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - localhost moto server
        assert resp.status == 200
    yield moto_server


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0:
        shutil.rmtree(TEST_HOME, ignore_errors=True)


# The longest files first. pytest-xdist (`--dist loadfile --no-loadscope-reorder`, see the Makefile) hands whole
# files to the workers in collection order; by default it would order them by their number of tests, which
# put the 13-minute lifecycle file (4 tests) last, to run alone while the other worker idled (37-minute CI).
# Started first, the many short files fill the other worker around them. (Order within a file is kept.)
LONG_FIRST = ("tests/e2e/test_lifecycle.py", "tests/browser/", "tests/e2e/test_sagemaker_lifecycle.py",
              "tests/e2e/test_byom_lifecycle.py", "tests/e2e/test_hitl_api.py", "tests/e2e/test_monitor_dag.py",
              "tests/e2e/", "tests/badinput/", "tests/topology/", "tests/packaging/")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        node = item.nodeid.replace("\\", "/")
        node = node if node.startswith("tests/") else f"tests/{node}"
        return next((i for i, prefix in enumerate(LONG_FIRST) if node.startswith(prefix)), len(LONG_FIRST))

    items.sort(key=rank)  # stable: the files' own order and each file's test order are kept
