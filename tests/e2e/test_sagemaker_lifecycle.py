"""The example use case's lifecycle through Airflow with every job on the SageMaker backend.

The use case is ``credit_risk`` exactly as shipped, plus what moving it to SageMaker takes: one
``compute.<job>.backend: sagemaker`` line per job, a ``sagemaker:`` section (role, S3 prefix,
registry mirror) and an S3 data root. (The test asserts that nothing else differs.) AWS is the
``sagemaker_emulator``: moto's server, plus the jobs moto does not run, run from their requests under
SageMaker's container contract, so every step after a job reads real outputs.

``python -m airsage.demo`` then runs the DAGs one after the other (``airflow dags test``; the operator
defers to the amazon provider's ``SageMakerTrigger``, which ``dags test`` runs in line). Asserted: the
exact SageMaker requests (kinds, names, images, channels, environment, data capture), the S3 layout the
jobs and steps leave, the MLflow registry (an approved champion) and its SageMaker Model Registry mirror,
the monitoring outputs; then that re-scoring a partition replaces its outputs, and a tuning job.
"""
from __future__ import annotations

import getpass

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.moto]
REPO = Path(__file__).resolve().parents[2]
BUCKET = "airsage-e2e"
ROLE = "arn:aws:iam::123456789012:role/airsage-sagemaker"
JOBS = ("train", "tune", "transform", "clarify", "monitor")
PARTITION = "2026-11-21"


def sagemaker_usecase() -> dict:
    """credit_risk.yaml + the lines that move it to SageMaker."""
    doc = yaml.safe_load((REPO / "include" / "usecases" / "credit_risk.yaml").read_text())
    doc["data"] = {"root": f"s3://{BUCKET}/data/credit_risk"}
    doc["compute"] = {job: {"backend": "sagemaker"} for job in JOBS}
    doc["sagemaker"] = {"role_arn": ROLE, "s3_prefix": f"s3://{BUCKET}/sagemaker", "region": "us-east-1",
                        "mirror_model_registry": True, "poll_interval_s": 2}
    return doc


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    from sagemaker_emulator import running

    with running(tmp_path_factory.mktemp("sagemaker-jobs"), BUCKET) as emu:
        yield emu


@pytest.fixture(scope="module")
def env(tmp_path_factory, emulator):
    from airsage.devenv import airflow_env

    home = tmp_path_factory.mktemp("sm-home")
    usecases = home / "usecases"
    usecases.mkdir()
    (usecases / "credit_risk.yaml").write_text(yaml.safe_dump(sagemaker_usecase(), sort_keys=False))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRSAGE__", "AIRFLOW", "MLFLOW_", "AWS_"))}
    base.update({
        "AIRSAGE__USECASES_DIR": str(usecases),
        "AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-creds"),
        # what a user of moto / a private endpoint sets: the Airflow AWS connection the trigger uses
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "extra": {
            "endpoint_url": emulator.url, "region_name": "us-east-1"}}),
    })
    return airflow_env(home, base=base)


def run(cmd: list[str], env: dict, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def first_run(env, emulator):
    proc = run([sys.executable, "-m", "airsage.demo"], env)
    emulator.wait_idle()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    return proc


def registry(env) -> dict:
    code = ("import json, mlflow\n"
            "c = mlflow.MlflowClient()\n"
            "rm = c.get_registered_model('credit_risk')\n"
            "vs = c.search_model_versions(\"name='credit_risk'\")\n"
            "print(json.dumps({'aliases': {k: str(v) for k, v in rm.aliases.items()},"
            " 'versions': {v.version: dict(c.get_model_version('credit_risk', v.version).tags) for v in vs}}))\n")
    out = run([sys.executable, "-c", code], env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_switching_is_only_the_sagemaker_lines():
    shipped = yaml.safe_load((REPO / "include" / "usecases" / "credit_risk.yaml").read_text())
    moved = sagemaker_usecase()
    assert {k for k in moved if moved[k] != shipped.get(k)} == {"data", "compute", "sagemaker"}


def test_every_job_ran_on_sagemaker(first_run, emulator):
    jobs = {(kind, name): job for (kind, name), job in emulator.jobs.items()}
    kinds = Counter(kind for kind, _ in jobs)
    assert kinds["train"] == 1, kinds
    assert kinds["processing"] >= 4, kinds  # pre + post Clarify, baseline suggestion, the monitoring analysis
    assert kinds["transform"] == 1, kinds
    failed = {name: job.reason for (_, name), job in jobs.items() if job.state != "Completed"}
    assert not failed, failed

    (train,) = emulator.calls("CreateTrainingJob")
    assert train["TrainingJobName"].startswith("credit-risk-train-")
    assert train["RoleArn"] == ROLE
    assert "sagemaker-xgboost:3.2-0" in train["AlgorithmSpecification"]["TrainingImage"]
    assert json.loads(train["HyperParameters"]["sagemaker_program"]) == "airsage_train.py"
    (channel,) = train["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"].startswith(f"s3://{BUCKET}/data/credit_risk/datasets/ds-")
    assert train["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/data/credit_risk/training"

    processing = emulator.calls("CreateProcessingJob")
    entrypoints = Counter(p["AppSpecification"]["ContainerEntrypoint"][-1] for p in processing)
    assert entrypoints["airsage.entrypoints.clarify"] == 2, entrypoints
    assert entrypoints["airsage.entrypoints.monitor"] >= 2, entrypoints
    for p in processing:
        assert {i["InputName"] for i in p["ProcessingInputs"]} >= {"code"}
        assert all(i["S3Input"]["S3Uri"].startswith(f"s3://{BUCKET}/") for i in p["ProcessingInputs"])

    (model,) = emulator.calls("CreateModel")
    (transform,) = emulator.calls("CreateTransformJob")
    assert model["PrimaryContainer"]["ModelDataUrl"] == train_artifact(train)
    assert transform["ModelName"] == model["ModelName"]
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == \
        f"s3://{BUCKET}/data/credit_risk/scoring/dt={PARTITION}"
    assert transform["TransformInput"]["ContentType"] == "application/x-parquet"
    assert transform["TransformInput"]["SplitType"] == "None"  # SageMaker cannot split Parquet: whole files
    assert transform["DataCaptureConfig"]["DestinationS3Uri"].startswith(f"s3://{BUCKET}/data/credit_risk/capture/")


def train_artifact(train: dict) -> str:
    return f"{train['OutputDataConfig']['S3OutputPath']}/{train['TrainingJobName']}/output/model.tar.gz"


def test_registry_holds_the_sagemaker_trained_champion(first_run, env, emulator):
    reg = registry(env)
    assert reg["aliases"] == {"champion": "1"}
    tags = reg["versions"]["1"]
    assert tags["approval_status"] == "Approved" and tags["approved_by"] == getpass.getuser()
    (train,) = emulator.calls("CreateTrainingJob")
    assert tags["model_artifact_uri"] == train_artifact(train)

    sm = emulator.sagemaker()
    packages = sm.list_model_packages(ModelPackageGroupName="credit-risk")["ModelPackageSummaryList"]
    assert len(packages) == 1
    package = sm.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == train_artifact(train)
    # made once the version's monitoring baseline existed: the drift checks' baselines are all there
    baselines = f"s3://{BUCKET}/data/credit_risk/monitor/baselines/v1"
    assert package["DriftCheckBaselines"]["ModelDataQuality"] == {
        "Statistics": {"ContentType": "application/json", "S3Uri": f"{baselines}/statistics.json"},
        "Constraints": {"ContentType": "application/json", "S3Uri": f"{baselines}/constraints.json"}}
    assert {"Bias", "Explainability", "ModelQuality"} <= set(package["DriftCheckBaselines"])


def test_s3_layout_after_the_lifecycle(first_run, emulator):
    root = f"s3://{BUCKET}/data/credit_risk"
    (train,) = emulator.calls("CreateTrainingJob")
    job = train["TrainingJobName"]
    assert emulator.keys(f"{root}/training/{job}/") == [f"data/credit_risk/training/{job}/output/model.tar.gz",
                                                        f"data/credit_risk/training/{job}/output/output.tar.gz"]
    reports = emulator.keys(f"{root}/reports/clarify/")
    for stage in ("pre_training", "post_training"):
        assert any(k.endswith(f"/{stage}/analysis.json") for k in reports), reports
        assert any(k.endswith(f"/{stage}/_SUCCESS") for k in reports), reports
    outs = emulator.keys(f"{root}/predictions/dt={PARTITION}/", "*.out")
    inputs = emulator.keys(f"{root}/scoring/dt={PARTITION}/", "*.parquet")
    assert len(outs) == len(inputs) > 0
    captures = emulator.keys(f"{root}/capture/dt={PARTITION}/", "*.parquet")
    assert len(captures) == 1, captures
    manifests = emulator.keys(f"{root}/capture/sagemaker/")
    assert any("/input/" in k for k in manifests) and any("/output/" in k for k in manifests), manifests
    baseline = emulator.keys(f"{root}/monitor/baselines/")
    assert any(k.endswith("constraints.json") for k in baseline), baseline
    runs = emulator.keys(f"{root}/monitor/runs/dt={PARTITION}/")
    assert any(k.endswith("constraint_violations.json") for k in runs), runs
    # the code went up once, under its content hash
    code = emulator.keys(f"s3://{BUCKET}/sagemaker/code/")
    assert len(code) == 1 and code[0].endswith("/sourcedir.tar.gz")


def test_scored_records_match_the_inputs(first_run, emulator, tmp_path):
    import pandas as pd

    root = f"s3://{BUCKET}/data/credit_risk"
    s3 = emulator.s3()

    def frame(keys):
        parts = []
        for k in keys:
            p = tmp_path / k.replace("/", "_")
            s3.download_file(BUCKET, k, str(p))
            parts.append(pd.read_parquet(p))
        return pd.concat(parts, ignore_index=True)

    scored = frame(emulator.keys(f"{root}/predictions/dt={PARTITION}/", "*.out"))
    inputs = frame(emulator.keys(f"{root}/scoring/dt={PARTITION}/", "*.parquet"))
    assert scored["application_id"].tolist() == inputs["application_id"].tolist()
    assert {"inference_id", "score", "predicted_label", "model_name", "model_version"} <= set(scored.columns)
    assert scored["model_version"].astype(str).eq("1").all() and scored["score"].between(0, 1).all()


def test_rescoring_a_partition_replaces_its_outputs(first_run, env, emulator):
    """The nightly transform of a partition run again (a new Airflow run): a new SageMaker job whose
    outputs and imported capture replace the partition's, never add to them; nothing is retrained."""
    before = Counter(op for op, _ in emulator.requests if op.startswith("Create"))
    root = f"s3://{BUCKET}/data/credit_risk"
    outs_before = emulator.keys(f"{root}/predictions/dt={PARTITION}/")
    airflow = str(Path(sys.executable).with_name("airflow"))
    proc = run([airflow, "dags", "test", "credit_risk__batch_transform", "-c", json.dumps({"partition": PARTITION})],
               env)
    emulator.wait_idle()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "state=failed" not in out.lower(), out[-6000:]
    after = Counter(op for op, _ in emulator.requests if op.startswith("Create"))
    assert after["CreateTrainingJob"] == before["CreateTrainingJob"] == 1
    assert after["CreateTransformJob"] == before["CreateTransformJob"] + 1
    assert emulator.keys(f"{root}/predictions/dt={PARTITION}/") == outs_before
    assert len(emulator.keys(f"{root}/capture/dt={PARTITION}/", "*.parquet")) == 1
    assert list(registry(env)["versions"]) == ["1"]


@pytest.fixture(scope="module")
def tuned(first_run, env, emulator):
    """Tuning on: the training DAG run again, its job now a hyperparameter tuning job (version 2)."""
    path = Path(env["AIRSAGE__USECASES_DIR"]) / "credit_risk.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["training"]["tuning"].update({"enabled": True, "max_trials": 2})
    doc["training"]["hyperparameters"]["num_round"] = 40
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        airflow = str(Path(sys.executable).with_name("airflow"))
        proc = run([airflow, "dags", "test", "credit_risk__train", "-c", json.dumps({"await_approval": False})], env)
        emulator.wait_idle()
    finally:
        path.write_text(original)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "state=failed" not in out.lower(), out[-6000:]
    return proc


def test_tuning_runs_as_a_sagemaker_tuning_job(tuned, env, emulator):
    """The best trial's model is registered like a trained one; the champion does not move."""
    (tuning,) = emulator.calls("CreateHyperParameterTuningJob")
    name = tuning["HyperParameterTuningJobName"]
    assert len(name) <= 32
    assert tuning["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 2
    job = emulator.jobs[("tune", name)]
    assert job.state == "Completed", job.reason
    best = job.extra["describe"]["BestTrainingJob"]["TrainingJobName"]
    reg = registry(env)
    tags = reg["versions"]["2"]
    assert tags["approval_status"] in ("PendingManualApproval", "Rejected")
    assert tags["model_artifact_uri"] == (f"{tuning['TrainingJobDefinition']['OutputDataConfig']['S3OutputPath']}"
                                          f"/{best}/output/model.tar.gz")
    assert reg["aliases"] == {"champion": "1"}  # a new version never moves the champion by itself


def test_a_version_not_approved_is_refused_before_any_sagemaker_call(tuned, env, emulator):
    """Governance: scoring with version 2 (not approved) fails the transform DAG with the reason and the
    fix, and creates no SageMaker model or transform job."""
    status = registry(env)["versions"]["2"]["approval_status"]
    before = Counter(op for op, _ in emulator.requests if op.startswith("Create"))
    airflow = str(Path(sys.executable).with_name("airflow"))
    proc = run([airflow, "dags", "test", "credit_risk__batch_transform",
                "-c", json.dumps({"partition": PARTITION, "model_version": "2"})], env)
    out = proc.stdout + proc.stderr
    assert "ModelNotApprovedError" in out or "only Approved versions can be served" in out, out[-4000:]
    assert f"approval_status='{status}'" in out, out[-4000:]
    after = Counter(op for op, _ in emulator.requests if op.startswith("Create"))
    assert after["CreateModel"] == before["CreateModel"] and after["CreateTransformJob"] == before["CreateTransformJob"]


def test_shadow_scoring_on_sagemaker_is_its_own_transform_job(tuned, env, emulator, tmp_path):
    """With ``shadow.sagemaker_jobs`` a pending version is scored by its own transform job (no data capture);
    the champion's job, predictions and capture are as before, and the comparison is written."""
    import pandas as pd

    if registry(env)["versions"]["2"]["approval_status"] != "PendingManualApproval":
        pytest.skip("the tuned version 2 failed a gate (Rejected): nothing is pending to score in shadow")
    path = Path(env["AIRSAGE__USECASES_DIR"]) / "credit_risk.yaml"
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["shadow"]["sagemaker_jobs"] = True
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    before = len(emulator.calls("CreateTransformJob"))
    try:
        airflow = str(Path(sys.executable).with_name("airflow"))
        proc = run([airflow, "dags", "test", "credit_risk__batch_transform", "-c", json.dumps({"partition": PARTITION})],
                   env)
        emulator.wait_idle()
    finally:
        path.write_text(original)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "state=failed" not in out.lower(), out[-6000:]
    calls = emulator.calls("CreateTransformJob")[before:]
    assert len(calls) == 2, [c["TransformJobName"] for c in calls]
    champion, challenger = sorted(calls, key=lambda c: "shadow" in c["TransformJobName"])
    assert "DataCaptureConfig" in champion and "DataCaptureConfig" not in challenger
    root = f"s3://{BUCKET}/data/credit_risk"
    assert challenger["TransformOutput"]["S3OutputPath"].startswith(f"{root}/shadow/v2/jobs/")
    s3 = emulator.s3()
    local = tmp_path / "compare.json"
    s3.download_file(BUCKET, f"data/credit_risk/shadow/v2/compare/dt={PARTITION}.json", str(local))
    comparison = json.loads(local.read_text())
    inputs = emulator.keys(f"{root}/scoring/dt={PARTITION}/", "*.parquet")
    parts = []
    for k in inputs:
        p = tmp_path / k.replace("/", "_")
        s3.download_file(BUCKET, k, str(p))
        parts.append(pd.read_parquet(p))
    assert comparison["rows"] == len(pd.concat(parts)) and comparison["challenger_version"] == "2"
    # the champion's predictions stay the champion's
    assert not emulator.keys(f"{root}/predictions/dt={PARTITION}/", "*shadow*")
