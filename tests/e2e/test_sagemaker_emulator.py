"""SageMakerBackend against the SageMaker emulator (moto + the jobs run from their requests), without Airflow.

Fast companions of test_sagemaker_lifecycle.py for what the lifecycle does not reach: a job that fails
(SageMaker's FailureReason reaches the caller; a resubmit reattaches to the failed job and creates
nothing), and the CSV batch transform path (SageMaker splits lines, batches them, appends inference ids)
read back by Airsage's capture import: two implementations of SageMaker's documented behaviour that
must agree.
"""
from __future__ import annotations

import io
import json

import pytest

from airsage.lifecycle import common, training, transform
from airsage.compute.sagemaker import SageMakerBackend
from airsage.config import get_usecase
from airsage.errors import JobFailedError

pytestmark = pytest.mark.moto
BUCKET = "airsage-emu"
ROLE = "arn:aws:iam::123456789012:role/airsage-sagemaker"
PARTITION = "2026-11-20"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    from sagemaker_emulator import running

    with running(tmp_path_factory.mktemp("emu-jobs"), BUCKET) as emu:
        yield emu


@pytest.fixture
def aws_env(emulator, monkeypatch, tmp_path):
    for k, v in {"AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return emulator


def usecase(**transform):
    uc = get_usecase("credit_risk")
    sm = uc.sagemaker.model_copy(update={"role_arn": ROLE, "s3_prefix": f"s3://{BUCKET}/sagemaker"})
    compute = uc.compute.model_copy(update={j: uc.compute.train.model_copy(update={"backend": "sagemaker"})
                                            for j in ("train", "transform")})
    training = uc.training.model_copy(update={"hyperparameters": {"max_depth": 3, "eta": 0.2, "num_round": 20},
                                              "baseline_algorithm": "none"})
    return uc.model_copy(update={
        "sagemaker": sm, "compute": compute, "training": training,
        "data": uc.data.model_copy(update={"root": f"s3://{BUCKET}/data/credit_risk"}),
        "transform": uc.transform.model_copy(update=transform)})


def put_parquet(emu, key, frame):
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    emu.s3().put_object(Bucket=BUCKET, Key=key, Body=buf.getvalue())


@pytest.fixture(scope="module")
def trained(emulator, tmp_path_factory):
    """One training job on the emulator (module-scoped: the transform tests score with its model)."""
    from airsage.data.generator import generate

    mp = pytest.MonkeyPatch()
    for k, v in {"AWS_ENDPOINT_URL": emulator.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        mp.setenv(k, v)
    try:
        uc = usecase()
        put_parquet(emulator, "data/credit_risk/datasets/ds-emu/part-0.parquet", generate(1500, seed=3))
        dataset = {"version": "ds-emu", "uri": f"s3://{BUCKET}/data/credit_risk/datasets/ds-emu"}
        spec = training.train_spec(uc, dataset, "emu1")
        backend = common.backend_for(uc, "train")
        status = backend.run(spec, poll_s=0.5)
    finally:
        mp.undo()
    return uc, spec, status


def test_training_job_writes_sagemakers_layout_and_metrics(trained, emulator):
    uc, spec, status = trained
    assert status.state == "Completed"
    assert status.outputs["model_artifact"] == f"s3://{BUCKET}/data/credit_risk/training/{spec.name}/output/model.tar.gz"
    assert emulator.keys(f"s3://{BUCKET}/data/credit_risk/training/{spec.name}/") == [
        f"data/credit_risk/training/{spec.name}/output/model.tar.gz",
        f"data/credit_risk/training/{spec.name}/output/output.tar.gz"]
    assert 0.5 < status.details["metrics"]["test:auc"] <= 1.0  # MetricDefinitions applied to the job's log


def test_a_failed_job_reports_sagemakers_failure_reason_and_is_not_recreated(aws_env, trained):
    import pandas as pd

    uc, _, _ = trained
    bad = pd.DataFrame({"application_id": ["a", "b"], "income": [1.0, 2.0]})  # no label, no features
    put_parquet(aws_env, "data/credit_risk/datasets/ds-bad/part-0.parquet", bad)
    spec = training.train_spec(uc, {"version": "ds-bad", "uri": f"s3://{BUCKET}/data/credit_risk/datasets/ds-bad"},
                               "emu-bad")
    backend = common.backend_for(uc, "train")
    with pytest.raises(JobFailedError) as err:
        backend.run(spec, poll_s=0.5)
    assert "AlgorithmError" in str(err.value)
    assert "default" in str(err.value) or "column" in str(err.value).lower()  # the entrypoint's own reason
    creates = len(aws_env.calls("CreateTrainingJob"))
    with pytest.raises(JobFailedError, match="never reuses a job name"):
        backend.submit(spec)  # an Airflow retry: reattach, see Failed, create nothing
    assert len(aws_env.calls("CreateTrainingJob")) == creates


def test_csv_transform_split_by_line_and_its_capture_import(aws_env, trained, tmp_path):
    import pandas as pd

    from airsage.data.generator import generate

    _, train, status = trained
    uc = usecase(content_type="text/csv", split_type="Line", batch_strategy="MultiRecord", join_source="None",
                 assemble_with="Line", max_payload_mb=1, inference_fields=["score", "predicted_label"])
    features = uc.schema_.feature_names
    rows = generate(700, seed=11)[features]
    for i, part in enumerate((rows.iloc[:400], rows.iloc[400:])):  # header-less CSV, features in order
        aws_env.s3().put_object(Bucket=BUCKET, Key=f"data/credit_risk/scoring/dt={PARTITION}/part-{i}.csv",
                                Body=part.to_csv(index=False, header=False).encode())
    model = {"name": "credit_risk", "version": "7", "model_artifact_uri": status.outputs["model_artifact"]}
    spec = transform.transform_spec(uc, model, common.partition_for(PARTITION), "emu-csv")
    backend = common.backend_for(uc, "transform")
    result = backend.run(spec, poll_s=0.5)
    (req,) = [r for r in aws_env.calls("CreateTransformJob") if r["TransformJobName"] == spec.name]
    assert req["TransformInput"]["SplitType"] == "Line" and req["BatchStrategy"] == "MultiRecord"
    assert req["DataCaptureConfig"]["GenerateInferenceId"] is True

    out = aws_env.s3().get_object(Bucket=BUCKET, Key=f"data/credit_risk/predictions/dt={PARTITION}/part-0.csv.out")
    lines = out["Body"].read().decode().splitlines()
    assert len(lines) == 400
    score, label, inference_id, when = lines[0].split(",")
    assert 0 <= float(score) <= 1 and label in ("0", "1") and len(inference_id) == 36 and when.endswith("Z")

    job = {"job_name": spec.name, "outputs": dict(result.outputs)}
    report = transform.finish_transform(uc, job, {"model": model, "partition": PARTITION})
    assert (report["files_in"], report["files_out"], report["records_in"], report["records_out"]) == (2, 2, 700, 700)
    path = tmp_path / "capture.parquet"
    bucket, key = report["capture_file"][5:].split("/", 1)
    aws_env.s3().download_file(bucket, key, str(path))
    captured = pd.read_parquet(path)
    assert len(captured) == 700
    assert captured["income"].tolist() == rows["income"].tolist()  # features from the inputs, in order
    assert captured["score"].round(6).tolist()[:3] == [round(float(ln.split(",")[0]), 6) for ln in lines[:3]]
    assert captured["model_version"].astype(str).eq("7").all()


def test_a_bad_csv_file_fails_alone(aws_env, trained):
    _, _, status = trained
    uc = usecase(content_type="text/csv", split_type="Line", join_source="None", assemble_with="Line",
                 inference_fields=["score", "predicted_label"])
    n = len(uc.schema_.feature_names)
    good = ",".join(["1"] * n) + "\n"
    bad = ",".join(["oops"] + ["1"] * (n - 1)) + "\n"
    day = "2026-11-19"
    for name, body in (("good.csv", good * 5), ("bad.csv", good + bad)):
        aws_env.s3().put_object(Bucket=BUCKET, Key=f"data/credit_risk/scoring/dt={day}/{name}", Body=body.encode())
    model = {"name": "credit_risk", "version": "7", "model_artifact_uri": status.outputs["model_artifact"]}
    spec = transform.transform_spec(uc, model, common.partition_for(day), "emu-bad")
    with pytest.raises(JobFailedError, match="bad.csv"):
        common.backend_for(uc, "transform").run(spec, poll_s=0.5)
    keys = aws_env.keys(f"s3://{BUCKET}/data/credit_risk/predictions/dt={day}/")
    assert keys == [f"data/credit_risk/predictions/dt={day}/good.csv.out"]  # the other file is still processed
    manifest = [k for k in aws_env.keys(f"s3://{BUCKET}/data/credit_risk/capture/sagemaker/{spec.name}/output/")]
    body = json.loads(aws_env.s3().get_object(Bucket=BUCKET, Key=manifest[0])["Body"].read())
    assert body[1:] == ["good.csv.out"]


def test_the_backend_is_the_one_the_dag_gets(trained):
    uc, _, _ = trained
    assert isinstance(common.backend_for(uc, "train"), SageMakerBackend)
