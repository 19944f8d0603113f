"""SageMakerBackend against botocore's Stubber: the exact calls, in order, and the resubmit rules."""
from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import ANY, Stubber
from sagemaker_specs import HPS, ROLE, compute, settings, train_spec, transform_spec, tune_spec

from airsage.compute.base import JobHandle
from airsage.compute.sagemaker import SageMakerApiError, SageMakerBackend
from airsage.errors import ConfigError, JobFailedError, TransientError

TRAIN_ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/credit-risk-train-r1"
NOT_FOUND = dict(service_error_code="ValidationException", service_message="Requested resource not found.",
                 http_status_code=400)


@pytest.fixture
def stubs():
    kw = dict(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x", endpoint_url=None)
    sm, s3 = boto3.client("sagemaker", **kw), boto3.client("s3", **kw)
    with Stubber(sm) as sm_stub, Stubber(s3) as s3_stub:
        backend = SageMakerBackend(settings(), compute(), client=sm, s3_client=s3, usecase="credit_risk")
        yield backend, sm_stub, s3_stub
        sm_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()


def _expect_upload(s3_stub):
    s3_stub.add_client_error("head_object", service_error_code="404", http_status_code=404,
                             expected_params={"Bucket": "airsage-test", "Key": ANY})
    s3_stub.add_response("put_object", {}, {"Bucket": "airsage-test", "Key": ANY, "Body": ANY,
                                            "ContentType": "application/gzip"})


def _training_describe(status: str, **extra):
    return {"TrainingJobName": "credit-risk-train-r1", "TrainingJobArn": TRAIN_ARN, "TrainingJobStatus": status,
            "SecondaryStatus": status, "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "CreationTime": "2026-11-20T02:00:00Z", "ModelArtifacts": {"S3ModelArtifacts": "s3://airsage-test/models/credit-risk-train-r1/output/model.tar.gz"},
            "OutputDataConfig": {"S3OutputPath": "s3://airsage-test/models"}, **extra}


# The request a reader can check against the boto3 docs, written out by hand.
EXPECTED_TRAINING = {
    "TrainingJobName": "credit-risk-train-r1",
    "AlgorithmSpecification": {"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
                               "TrainingInputMode": "File", "MetricDefinitions": ANY},
    "RoleArn": ROLE,
    "InputDataConfig": [{"ChannelName": "train", "InputMode": "File", "CompressionType": "None",
                         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                         "S3Uri": "s3://airsage-test/data/train/v1",
                                                         "S3DataDistributionType": "FullyReplicated"}}}],
    "OutputDataConfig": {"S3OutputPath": "s3://airsage-test/models"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "EnableNetworkIsolation": False,
    "Environment": {"AIRSAGE_JOB_NAME": "credit-risk-train-r1", "AIRSAGE_OUTPUT_URI": "s3://airsage-test/models",
                    "AIRSAGE_SPEC_DIGEST": ANY, "AIRSAGE_INPUT_TRAIN": "s3://airsage-test/data/train/v1"},
    "HyperParameters": {"airsage_config": HPS["airsage_config"], "sagemaker_program": '"airsage_train.py"',
                        "sagemaker_submit_directory": ANY, "sagemaker_region": '"us-east-1"',
                        "sagemaker_container_log_level": "20", "airsage_entrypoint": '"airsage.entrypoints.train"'},
    "Tags": [{"Key": "airsage:kind", "Value": "train"}, {"Key": "airsage:usecase", "Value": "credit_risk"}],
}


def test_submit_describes_first_uploads_code_then_creates_exactly_this_request(stubs):
    backend, sm, s3 = stubs
    sm.add_client_error("describe_training_job", expected_params={"TrainingJobName": "credit-risk-train-r1"}, **NOT_FOUND)
    _expect_upload(s3)
    sm.add_response("create_training_job", {"TrainingJobArn": TRAIN_ARN}, EXPECTED_TRAINING)
    handle = backend.submit(train_spec())
    assert handle == JobHandle(backend="sagemaker", name="credit-risk-train-r1", kind="train", arn=TRAIN_ARN,
                               console_url="https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"
                                           "#/jobs/credit-risk-train-r1")
    assert re.fullmatch(r"s3://airsage-test/airsage/code/[0-9a-f]{16}/sourcedir\.tar\.gz", backend.upload_code())


@pytest.mark.parametrize("state", ["InProgress", "Completed"])
def test_resubmit_reattaches_without_creating(stubs, state):
    backend, sm, _ = stubs
    spec = train_spec()
    digest = dict(backend.requests(spec, sourcedir_uri="s3://airsage-test/x/sourcedir.tar.gz"))[
        "CreateTrainingJob"]["Environment"]["AIRSAGE_SPEC_DIGEST"]
    sm.add_response("describe_training_job", _training_describe(state, Environment={"AIRSAGE_SPEC_DIGEST": digest}))
    handle = backend.submit(spec)  # the Stubber fails on any call that was not queued (e.g. a create)
    assert handle.arn == TRAIN_ARN and handle.name == spec.name


@pytest.mark.parametrize("state", ["Failed", "Stopped", "Stopping"])
def test_resubmit_after_failure_raises_with_the_failure_reason(stubs, state):
    backend, sm, _ = stubs
    sm.add_response("describe_training_job",
                    _training_describe(state, FailureReason="AlgorithmError: ExecuteUserScriptError: exit code 1"))
    with pytest.raises(JobFailedError) as err:
        backend.submit(train_spec())
    assert "AlgorithmError: ExecuteUserScriptError" in str(err.value)
    assert err.value.permanent and err.value.backend == "sagemaker"


def test_same_name_from_a_different_spec_is_a_config_error(stubs):
    backend, sm, _ = stubs
    sm.add_response("describe_training_job",
                    _training_describe("Completed", Environment={"AIRSAGE_SPEC_DIGEST": "0000000000000000"}))
    with pytest.raises(ConfigError, match="different JobSpec"):
        backend.submit(train_spec())


def test_a_concurrent_attempt_winning_the_race_is_reattached(stubs):
    backend, sm, s3 = stubs
    sm.add_client_error("describe_training_job", **NOT_FOUND)
    _expect_upload(s3)
    sm.add_client_error("create_training_job", service_error_code="ResourceInUse",
                        service_message="Training job names must be unique", http_status_code=400)
    sm.add_response("describe_training_job", _training_describe("InProgress"))
    assert backend.submit(train_spec()).arn == TRAIN_ARN


def test_throttling_is_transient_and_access_denied_names_iam(stubs):
    backend, sm, s3 = stubs
    sm.add_client_error("describe_training_job", **NOT_FOUND)
    _expect_upload(s3)
    sm.add_client_error("create_training_job", service_error_code="ThrottlingException", http_status_code=400)
    with pytest.raises(TransientError) as err:
        backend.submit(train_spec())
    assert err.value.permanent is False
    sm.add_client_error("describe_training_job", service_error_code="AccessDeniedException", http_status_code=403)
    with pytest.raises(SageMakerApiError) as err:
        backend.submit(train_spec())
    assert err.value.permanent and "iam:PassRole" in err.value.fix


def test_status_of_a_missing_job_is_failed(stubs):
    backend, sm, _ = stubs
    sm.add_client_error("describe_training_job", **NOT_FOUND)
    st = backend.status(JobHandle(backend="sagemaker", name="nope", kind="train"))
    assert st.state == "Failed" and "no SageMaker train job named nope" in st.failure_reason


@pytest.mark.parametrize("kind, describe, key, status_key, stop", [
    ("train", "describe_training_job", "TrainingJobName", "TrainingJobStatus", "stop_training_job"),
    ("tune", "describe_hyper_parameter_tuning_job", "HyperParameterTuningJobName", "HyperParameterTuningJobStatus",
     "stop_hyper_parameter_tuning_job"),
    ("transform", "describe_transform_job", "TransformJobName", "TransformJobStatus", "stop_transform_job"),
    ("monitor", "describe_processing_job", "ProcessingJobName", "ProcessingJobStatus", "stop_processing_job"),
])
def test_stop_calls_stop_only_for_running_jobs(stubs, kind, describe, key, status_key, stop):
    backend, sm, _ = stubs
    handle = JobHandle(backend="sagemaker", name="j1", kind=kind)
    running = {**_minimal_describe(kind, "j1"), status_key: "InProgress"}
    sm.add_response(describe, running, {key: "j1"})
    sm.add_response(stop, {}, {key: "j1"})
    backend.stop(handle)
    sm.add_response(describe, {**running, status_key: "Completed"}, {key: "j1"})
    backend.stop(handle)  # nothing queued: a second Stop* call would fail the Stubber


def _minimal_describe(kind: str, name: str) -> dict:
    now = "2026-11-20T02:00:00Z"
    if kind == "train":
        return _training_describe("InProgress")
    if kind == "tune":
        return {"HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/h", "CreationTime": now,
                "HyperParameterTuningJobConfig": {"Strategy": "Random", "ResourceLimits": {"MaxParallelTrainingJobs": 1}},
                "TrainingJobStatusCounters": {}, "ObjectiveStatusCounters": {}}
    if kind == "transform":
        return {"TransformJobName": name, "TransformJobArn": "arn:aws:sagemaker:us-east-1:123456789012:transform-job/x", "ModelName": name, "CreationTime": now,
                "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}}},
                "TransformOutput": {"S3OutputPath": "s3://b/o"},
                "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}}
    return {"ProcessingJobName": name, "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/p", "CreationTime": now,
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                      "VolumeSizeInGB": 30}},
            "AppSpecification": {"ImageUri": "img"}}


def test_transform_creates_the_model_then_the_job(stubs):
    backend, sm, s3 = stubs
    spec = transform_spec()
    sm.add_client_error("describe_transform_job", expected_params={"TransformJobName": spec.name}, **NOT_FOUND)
    _expect_upload(s3)
    sm.add_client_error("describe_model", expected_params={"ModelName": spec.name},
                        service_error_code="ValidationException", service_message="Could not find model", http_status_code=400)
    sm.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}, {
        "ModelName": spec.name, "ExecutionRoleArn": ROLE, "EnableNetworkIsolation": False, "Tags": ANY,
        "PrimaryContainer": {"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
                             "ModelDataUrl": spec.inputs["model"],
                             "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": ANY,
                                             "SAGEMAKER_REGION": "us-east-1", "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                                             # the local engine's default fields, in its order
                                             "AIRSAGE_INFERENCE_FIELDS":
                                                 "inference_id,model_name,model_version,predicted_label,score"}}})
    sm.add_response("create_transform_job", {"TransformJobArn": "arn:aws:sagemaker:us-east-1:123456789012:transform-job/x"}, ANY_TRANSFORM(spec.name))
    assert backend.submit(spec).arn == "arn:aws:sagemaker:us-east-1:123456789012:transform-job/x"


def ANY_TRANSFORM(name):  # noqa: N802 - reads like a constant at the call site
    return {"TransformJobName": name, "ModelName": name, "MaxPayloadInMB": 6, "BatchStrategy": "MultiRecord",
            "TransformInput": ANY, "TransformOutput": ANY, "TransformResources": ANY, "DataProcessing": ANY,
            "DataCaptureConfig": ANY, "Environment": ANY, "Tags": ANY}


def test_transform_refuses_a_stale_model_of_the_same_name(stubs):
    backend, sm, s3 = stubs
    spec = transform_spec()
    sm.add_client_error("describe_transform_job", **NOT_FOUND)
    _expect_upload(s3)
    sm.add_response("describe_model", {"ModelName": spec.name, "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m", "CreationTime": "2026-11-20T02:00:00Z",
                                       "PrimaryContainer": {"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
                                                            "ModelDataUrl": "s3://airsage-test/other/model.tar.gz"}})
    with pytest.raises(ConfigError, match="another artifact"):
        backend.submit(spec)


def test_tuning_uses_the_short_name_for_every_call(stubs):
    backend, sm, s3 = stubs
    spec = tune_spec(name="credit-risk-tune-manual-2026-11-20T02-00-00-000000")
    short = backend.handle_for(spec).name
    assert len(short) <= 32
    sm.add_client_error("describe_hyper_parameter_tuning_job", expected_params={"HyperParameterTuningJobName": short},
                        service_error_code="ResourceNotFound", http_status_code=400)
    _expect_upload(s3)
    sm.add_response("create_hyper_parameter_tuning_job", {"HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/h"},
                    {"HyperParameterTuningJobName": short, "HyperParameterTuningJobConfig": ANY,
                     "TrainingJobDefinition": ANY, "Tags": ANY})
    handle = backend.submit(spec)
    assert handle.name == short and handle.console_url.endswith(f"#/hyper-tuning-jobs/{short}")
