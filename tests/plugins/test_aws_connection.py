"""Credentials come from the Airflow AWS connection: a moto server reachable *only* through the
connection's ``endpoint_url`` extra (no AWS_ENDPOINT_URL), for the SageMaker backend's clients and for
``airsage.storage`` inside a task."""
from __future__ import annotations

import json
import logging
import urllib.request

import pytest

pytestmark = pytest.mark.moto


@pytest.fixture(scope="module")
def moto_url():
    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's state is per process, shared with every other in-process moto server (the SageMaker emulator's)
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    yield url
    server.stop()


@pytest.fixture
def connection(moto_url, monkeypatch, tmp_path):
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER", "AWS_PROFILE",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AIRFLOW_CONN_AIRSAGE_TEST_AWS", json.dumps({
        "conn_type": "aws", "login": "conn-key", "password": "conn-secret",
        "extra": {"endpoint_url": moto_url, "region_name": "us-east-1"}}))
    from airsage_airflow import aws

    aws.client.cache_clear()
    yield "airsage_test_aws"
    aws.client.cache_clear()


def test_clients_use_the_connection_endpoint_and_keys(connection):
    from airsage_airflow.aws import client

    s3 = client("s3", connection, "us-east-1")
    assert s3.meta.endpoint_url.startswith("http://127.0.0.1:")
    assert s3._request_signer._credentials.access_key == "conn-key"
    s3.create_bucket(Bucket="from-connection")
    assert "from-connection" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    sm = client("sagemaker", connection, "us-east-1")
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []  # answered by moto, not AWS


def test_storage_inside_a_task_goes_through_the_connection(connection, monkeypatch):
    from airsage import storage
    from airsage_airflow.errors import airsage_errors

    monkeypatch.setenv("AIRSAGE__AWS__CONN_ID", connection)
    from airsage_airflow.aws import client

    client("s3", connection, "us-east-1").create_bucket(Bucket="task-bucket")
    try:
        with airsage_errors():
            storage.write_json("s3://task-bucket/x/doc.json", {"ok": 1})
            assert storage.read_json("s3://task-bucket/x/doc.json") == {"ok": 1}
    finally:
        storage.set_s3_client_factory(None)
