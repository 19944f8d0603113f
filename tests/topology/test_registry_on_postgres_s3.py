"""The registry flow on compose's storage: an MLflow server (PostgreSQL backend store, artifacts on S3) reached
over HTTP, and the Airsage data root on S3 (moto standing in for MinIO).

Runs the real steps — example data and label import on ``s3://``, a training job through ``LocalBackend``,
registration, approval, ``models:/credit_risk@champion`` — and then checks each store from outside
Airsage: the audit objects and artifacts with boto3, the alias over MLflow's REST API, the registry tables in
PostgreSQL. This proves ``atomic_dir`` / ``write_if_absent`` on S3, the registry over HTTP and S3 artifacts
together.
"""
from __future__ import annotations

import dataclasses
import json
import os

import pytest

from topology_support import http_json

pytestmark = [pytest.mark.topology, pytest.mark.moto]

MODEL = "credit_risk"
DATA_ROOT = "s3://airsage/data"
ARTIFACT_ROOT = "s3://mlflow/artifacts"
# A stand-in for the Clarify jobs' merged analysis.json (Clarify itself is tested elsewhere and is not storage):
# within the use case's max_bias limits, so the version registers as PendingManualApproval.
BIAS = {"post_training_bias_metrics": {"label": "default", "label_value_or_threshold": "1", "facets": {
    "sex": [{"value_or_threshold": "female",
             "metrics": [{"name": "DPPL", "value": 0.04}, {"name": "DI", "value": 0.93}]}],
    "age_group": [{"value_or_threshold": "18-25",
                   "metrics": [{"name": "DPPL", "value": -0.03}, {"name": "DI", "value": 1.05}]}]}}}


@pytest.fixture
def compose_env(mlflow_server, s3, tmp_path, monkeypatch):
    """This process configured like compose's containers (docker-compose.yaml ``x-airsage-common``)."""
    for key in [k for k in list(os.environ) if k.startswith(("AIRSAGE__", "MLFLOW_", "AWS_"))]:
        monkeypatch.delenv(key)
    env = {**s3.env, "MLFLOW_TRACKING_URI": mlflow_server.url, "AIRSAGE__HOME": str(tmp_path / "home"),
           "AIRSAGE__DATA_ROOT": DATA_ROOT, "AIRSAGE__MLFLOW__ARTIFACT_ROOT": ARTIFACT_ROOT,
           "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_train_register_approve_and_serve_over_http_with_s3(compose_env, mlflow_server, s3, postgres, tmp_path):
    from airsage.lifecycle import governance, labels, training
    from airsage.compute.local import LocalBackend
    from airsage.config import get_usecase
    from airsage.data.generator import generate
    from airsage.registry import ModelRegistry

    uc = get_usecase(MODEL)
    assert uc.data_root() == f"{DATA_ROOT}/{MODEL}"

    # data and label import on S3 (atomic_path / atomic_dir; lineage logged over HTTP)
    data = labels.prepare_example_data(uc, days=2, rows_per_day=600)
    imported = labels.import_labels(uc, data["manifest"])
    assert imported["created"] and imported["uri"].startswith(f"{DATA_ROOT}/{MODEL}/datasets/")
    assert imported["mlflow_run_id"]
    dataset = labels.latest_dataset(uc).to_dict()
    assert dataset["version"] == imported["version"] and dataset["rows"] == 1200
    ds_key = dataset["uri"].removeprefix("s3://airsage/")
    ds_keys = s3.keys("airsage", ds_key + "/")
    assert f"{ds_key}/manifest.json" in ds_keys, ds_keys
    assert not [k for k in ds_keys if ".tmp" in k or "staging" in k], f"staging leftovers: {ds_keys}"

    # training through the local backend (SageMaker's contract; model.tar.gz lands on S3)
    run_key = "topology-1"
    backend = LocalBackend(jobs_dir=tmp_path / "jobs")
    spec = training.train_spec(uc, dataset, run_key)
    handle = backend.submit(spec)
    try:
        status = backend.wait(handle, poll_s=1.0, timeout_s=300)
    except Exception:
        print(backend.log_tail(handle, 80))
        raise
    outputs = dict(status.outputs)
    assert outputs["model_artifact"].startswith(f"{DATA_ROOT}/{MODEL}/training/")

    registered = training.register_trained(uc, job={"outputs": outputs}, dataset=dataset, run_key=run_key,
                                           actor="topology-test", bias=BIAS)
    assert registered["status"] == "PendingManualApproval", registered["gates"]
    version = str(registered["version"])
    approved = governance.decide(uc, version, "approve", actor="topology-approver",
                               comment="Topology test: gates passed.")
    assert approved["status"] == "Approved" and approved["model_card"]

    # serving: the alias resolves to the approved version; the bundle loads and scores
    resolved = ModelRegistry.from_settings().resolve(f"models:/{MODEL}@champion")
    assert (resolved.version, str(resolved.status)) == (version, "Approved")
    rows = generate(50, seed=7, day="2026-11-22")
    proba = resolved.load_bundle().predict_proba(rows)
    assert proba.shape == (50,) and ((proba >= 0) & (proba <= 1)).all()
    # the copy logged with the run (MLflow's S3 artifact store) loads to the same model
    logged_only = dataclasses.replace(resolved, model_artifact_uri=None)
    assert (logged_only.load_bundle().predict_proba(rows) == proba).all()

    # audit log: immutable objects in S3 (write_if_absent), read with boto3
    audit_keys = sorted(s3.keys("airsage", f"data/_audit/{MODEL}/"))
    assert [k.rsplit("/", 1)[1] for k in audit_keys] == ["event-0000000001.json", "event-0000000002.json"]
    client = s3.client()
    events = [json.loads(client.get_object(Bucket="airsage", Key=k)["Body"].read()) for k in audit_keys]
    assert [(e["action"], e["version"]) for e in events] == [("register", version), ("approve", version)]
    assert events[1]["actor"] == "topology-approver"

    # MLflow over its REST API: the champion alias, the approval tag
    status_code, body = http_json(
        "GET", f"{mlflow_server.url}/api/2.0/mlflow/registered-models/alias?name={MODEL}&alias=champion")
    assert status_code == 200, body
    mv = body["model_version"]
    assert mv["version"] == version
    assert {t["key"]: t["value"] for t in mv["tags"]}["approval_status"] == "Approved"

    # run artifacts (the job's model.tar.gz, evaluation, model card) are objects in the mlflow bucket
    art_keys = s3.keys("mlflow", "artifacts/")
    assert any(k.endswith(f"/{resolved.run_id}/artifacts/model_artifact/model.tar.gz") for k in art_keys), art_keys
    assert any(k.endswith(f"/{resolved.run_id}/artifacts/clarify/analysis.json") for k in art_keys), art_keys
    assert any("/model_card/" in k for k in art_keys), art_keys

    # the backend store really is PostgreSQL: the registry tables hold the version and the alias
    store = mlflow_server.backend_store_uri
    assert postgres.query(store, "SELECT version FROM model_versions WHERE name = %s", (MODEL,)) == [(int(version),)]
    assert postgres.query(store, "SELECT alias, version FROM registered_model_aliases WHERE name = %s",
                          (MODEL,)) == [("champion", int(version))]


def test_server_proxies_artifacts_to_s3(mlflow_server, s3, monkeypatch):
    """A client with no S3 settings at all logs through the server (``mlflow-artifacts:``) into the bucket."""
    import mlflow

    for key in [k for k in list(os.environ) if k.startswith(("AWS_", "MLFLOW_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = mlflow.MlflowClient(tracking_uri=mlflow_server.url)
    exp_id = client.create_experiment(f"topology-proxy-{id(client):x}")
    assert client.get_experiment(exp_id).artifact_location.startswith("mlflow-artifacts:")
    run = client.create_run(exp_id)
    client.log_text(run.info.run_id, "proxied", "note.txt")
    key = f"artifacts/{exp_id}/{run.info.run_id}/artifacts/note.txt"
    assert key in s3.keys("mlflow", f"artifacts/{exp_id}/")
    assert s3.client().get_object(Bucket="mlflow", Key=key)["Body"].read() == b"proxied"
