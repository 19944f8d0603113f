"""SageMakerBackend and the registry mirror against a moto server (S3 + SageMaker) over HTTP.

What moto 5.2.5 does, and how the tests adapt:
* every job is ``Completed`` as soon as it is created (no InProgress phase, nothing runs);
* DescribeTrainingJob replaces the request's MetricDefinitions with its own ``test:dcg`` and reports
  ``FinalMetricDataList=[train:progress]``; it does not echo ``Environment`` (so the spec-digest check
  is exercised on transform jobs, which do echo it, and with the Stubber);
* DescribeHyperParameterTuningJob reports a fixed ``BestTrainingJob`` named ``FakeTrainingJobName``;
* CreateTrainingJob with an existing name silently replaces the job (real SageMaker refuses), so
  "no second create" is checked by counting the API calls;
* Stop{Training,Transform,HyperParameterTuning}Job are not implemented (covered with the Stubber).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections import Counter

import boto3
import pytest
from sagemaker_specs import BUCKET, PREFIX, clarify_spec, compute, settings, train_spec, transform_spec, tune_spec

from airsage.compute.packaging import upload_sourcedir
from airsage.compute.sagemaker import SageMakerBackend
from airsage.config import get_usecase
from airsage.errors import ConfigError
from airsage.registry.sagemaker_mirror import SageMakerRegistryMirror

pytestmark = pytest.mark.moto


class Calls(Counter):
    """Counts API calls made through a client (operation name -> calls)."""

    def __init__(self, *clients):
        super().__init__()
        for client in clients:
            client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model, **_):
        self[model.name] += 1


@pytest.fixture
def clients(aws):
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    return sm, s3


@pytest.fixture
def usecase():
    uc = get_usecase("credit_risk")
    comp = uc.compute.model_copy(update={job: compute() for job in ("train", "tune", "transform", "clarify", "monitor")})
    return uc.model_copy(update={"sagemaker": settings(), "compute": comp})


def _backend(usecase, job, clients):
    sm, s3 = clients
    return SageMakerBackend.from_usecase(usecase, job, client=sm, s3_client=s3)


def _keys(s3, prefix):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_training_job_submit_status_and_reattach(usecase, clients):
    sm, s3 = clients
    backend = _backend(usecase, "train", clients)
    calls = Calls(sm, s3)
    handle = backend.submit(train_spec())
    assert handle.arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/credit-risk-train-r1"
    # the sourcedir: one object, under its own content hash
    (key,) = _keys(s3, "airsage/code/")
    assert re.fullmatch(r"airsage/code/[0-9a-f]{16}/sourcedir\.tar\.gz", key)
    blob = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(blob).hexdigest()[:16] == key.split("/")[2]
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        assert {"airsage_train.py", "inference.py", "airsage/entrypoints/train.py"} <= set(tar.getnames())
    # what SageMaker recorded
    d = sm.describe_training_job(TrainingJobName=handle.name)
    assert d["HyperParameters"]["sagemaker_submit_directory"] == f'"s3://{BUCKET}/{key}"'
    assert d["HyperParameters"]["sagemaker_program"] == '"airsage_train.py"'
    assert d["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "test:dcg"  # moto's, not ours
    st = backend.status(handle)
    assert st.state == "Completed" and st.done
    assert st.outputs == {"model_artifact": f"s3://{BUCKET}/models/credit-risk-train-r1/output/model.tar.gz",
                          "output_data": f"s3://{BUCKET}/models/credit-risk-train-r1/output/output.tar.gz",
                          "output": f"s3://{BUCKET}/models"}
    assert st.details["console_url"] == handle.console_url
    # an Airflow retry: same handle, no second job, no second upload
    assert backend.submit(train_spec()) == handle
    assert calls["CreateTrainingJob"] == 1 and calls["PutObject"] == 1
    assert backend.wait(handle, poll_s=0).state == "Completed"


def test_clients_default_to_boto3_from_the_environment(usecase, clients):
    backend = SageMakerBackend.from_usecase(usecase, "train")  # no clients injected: AWS_ENDPOINT_URL -> moto
    handle = backend.submit(train_spec(name="credit-risk-train-r2"))
    assert backend.status(handle).state == "Completed"


def test_processing_jobs_both_engines_and_the_success_marker(usecase, clients):
    sm, s3 = clients
    backend = _backend(usecase, "clarify", clients)
    calls = Calls(sm)
    own = backend.submit(clarify_spec(name="credit-risk-clarify-own", inputs={"dataset": f"s3://{BUCKET}/eval/v1/"}))
    managed = backend.submit(clarify_spec(name="credit-risk-clarify-aws", engine="managed"))
    d_own = sm.describe_processing_job(ProcessingJobName=own.name)
    assert d_own["AppSpecification"]["ContainerEntrypoint"][-1] == "airsage.entrypoints.clarify"
    d_aws = sm.describe_processing_job(ProcessingJobName=managed.name)
    assert d_aws["AppSpecification"]["ImageUri"].endswith("/sagemaker-clarify-processing:1.0")
    assert [i["InputName"] for i in d_aws["ProcessingInputs"]] == ["analysis_config", "dataset"]
    for handle in (own, managed):
        st = backend.status(handle)
        assert st.state == "Completed" and st.outputs["output"] == f"s3://{BUCKET}/clarify/r1"
    assert "clarify/r1/_SUCCESS" in _keys(s3, "clarify/r1/")
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key="clarify/r1/_SUCCESS")["Body"].read())
    assert (marker["format"], marker["kind"], marker["state"]) == ("airsage-output/1", "clarify", "complete")
    backend.stop(own)  # completed: nothing to stop
    assert calls["StopProcessingJob"] == 0


def test_transform_creates_model_and_job_and_reattaches(usecase, clients):
    sm, s3 = clients
    backend = _backend(usecase, "transform", clients)
    spec = transform_spec(parameters={**transform_spec().parameters, "inference_fields": ["predicted_label", "score"],
                                      "model_name": "credit_risk", "model_version": "3"})
    calls = Calls(sm)
    handle = backend.submit(spec)
    env = sm.describe_model(ModelName=spec.name)["PrimaryContainer"]["Environment"]
    (key,) = _keys(s3, "airsage/code/")
    assert env["SAGEMAKER_PROGRAM"] == "inference.py"
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == f"s3://{BUCKET}/{key}"
    assert env["AIRSAGE_INFERENCE_FIELDS"] == "predicted_label,score" and env["AIRSAGE_MODEL_VERSION"] == "3"
    st = backend.status(handle)
    assert st.state == "Completed"
    assert st.outputs == {"output": spec.output_uri, "capture": f"{PREFIX}/capture/{spec.name}"}
    assert "predictions/dt=2026-11-20/_SUCCESS" in _keys(s3, "predictions/")
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key="predictions/dt=2026-11-20/_SUCCESS")["Body"].read())
    assert marker["kind"] == "transform"  # a rerun of the partition (either backend) may replace it
    assert backend.submit(spec) == handle
    assert calls["CreateModel"] == 1 and calls["CreateTransformJob"] == 1
    changed = transform_spec(parameters={**spec.parameters, "max_payload_mb": 5})  # same name, other settings
    with pytest.raises(ConfigError, match="different JobSpec"):
        backend.submit(changed)


def test_tuning_job_and_the_best_trials_artifact(usecase, clients):
    sm, _ = clients
    backend = _backend(usecase, "tune", clients)
    handle = backend.submit(tune_spec())
    assert len(handle.name) <= 32
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=handle.name)
    ranges = d["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["IntegerParameterRanges"] == [{"Name": "max_depth", "MinValue": "3", "MaxValue": "8"}]
    st = backend.status(handle)
    assert st.state == "Completed"
    assert st.outputs["model_artifact"] == f"s3://{BUCKET}/tuning/FakeTrainingJobName/output/model.tar.gz"
    assert backend.trigger_kwargs(handle)["job_type"] == "tuning"


def test_sourcedir_upload_is_idempotent(clients):
    _, s3 = clients
    calls = Calls(s3)
    first = upload_sourcedir(s3, PREFIX)
    second = upload_sourcedir(s3, PREFIX)
    assert first == second and len(_keys(s3, "airsage/code/")) == 1
    assert calls["PutObject"] == 1 and calls["HeadObject"] == 2


def test_registry_mirror_against_moto(usecase, clients):
    sm, _ = clients
    mirror = SageMakerRegistryMirror.from_usecase(usecase, client=sm)
    assert mirror.group == "credit-risk"
    calls = Calls(sm)
    assert mirror.ensure_group() == mirror.ensure_group()
    assert calls["CreateModelPackageGroup"] == 1
    arn = mirror.register(version=3, model_data_url=f"s3://{BUCKET}/models/m1/output/model.tar.gz",
                          reports={"model_quality_statistics": f"s3://{BUCKET}/reports/model_quality.json",
                                   "bias_post_training_report": f"s3://{BUCKET}/reports/analysis.json"},
                          baselines={"data_quality_constraints": f"s3://{BUCKET}/baseline/constraints.json"},
                          metadata={"mlflow:run_id": "abc123"})
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:model-package/credit-risk/1"
    d = sm.describe_model_package(ModelPackageName=arn)
    assert d["ModelApprovalStatus"] == "PendingManualApproval"
    assert d["ModelMetrics"]["ModelQuality"]["Statistics"] == {"ContentType": "application/json",
                                                               "S3Uri": f"s3://{BUCKET}/reports/model_quality.json"}
    assert d["InferenceSpecification"]["Containers"][0]["Image"].endswith("/sagemaker-xgboost:3.2-0")
    mirror.sync_approval(arn, "approved", "gates passed; approved by risk-ml-team")
    d = sm.describe_model_package(ModelPackageName=arn)
    assert d["ModelApprovalStatus"] == "Approved"
    assert d["ApprovalDescription"] == "gates passed; approved by risk-ml-team"


def test_a_parquet_file_above_max_payload_is_refused_before_any_job(usecase, clients):
    """Parquet goes one whole file per request: a file above max_payload_mb is a ConfigError naming it,
    raised before the code upload, the model or the job exist."""
    sm, s3 = clients
    backend = _backend(usecase, "transform", clients)
    params = {**transform_spec().parameters, "content_type": "application/x-parquet", "split_type": "None",
              "assemble_with": "None", "max_payload_mb": 1, "input_filter": "$", "join_source": "None",
              "output_filter": "$"}
    spec = transform_spec(name="credit-risk-transform-big", parameters=params)
    s3.put_object(Bucket=BUCKET, Key="data/score/dt=2026-11-20/small.parquet", Body=b"x" * 1000)
    s3.put_object(Bucket=BUCKET, Key="data/score/dt=2026-11-20/big.parquet", Body=b"x" * (2**20 + 1))
    s3.put_object(Bucket=BUCKET, Key="data/score/dt=2026-11-20/_big.tmp", Body=b"x" * (2**20 + 1))  # hidden
    calls = Calls(sm, s3)
    with pytest.raises(ConfigError, match=r"1 Parquet input file\(s\) exceed transform.max_payload_mb=1: "
                                          r"s3://.*/big\.parquet \(1\.0 MB\)") as err:
        backend.submit(spec)
    assert "smaller files" in err.value.fix
    assert calls["CreateModel"] == calls["CreateTransformJob"] == calls["PutObject"] == 0
    ok = transform_spec(name="credit-risk-transform-ok", parameters={**params, "max_payload_mb": 2})
    backend.submit(ok)
    assert calls["CreateTransformJob"] == 1
