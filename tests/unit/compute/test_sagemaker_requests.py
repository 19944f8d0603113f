"""Pure request builders: validated against botocore's service model, and checked field by field.

Golden values (image URIs, paths, the SDK's hyperparameter encoding) are written out by hand from
the SageMaker SDK's image_uri_config and SageMaker's API reference (CreateTrainingJob,
CreateProcessingJob, CreateTransformJob; the Model Monitor analyzer container's inputs), not computed by the
code under test.
"""
from __future__ import annotations

import ast
import json
import re
import sysconfig
from pathlib import Path

import pytest
from sagemaker_specs import (
    HPS,
    PREFIX,
    ROLE,
    SOURCEDIR,
    clarify_spec,
    compute,
    monitor_spec,
    settings,
    train_spec,
    transform_spec,
    tune_spec,
)

from airsage.compute import sagemaker_requests as rq
from airsage.compute.base import JobHandle
from airsage.compute.sagemaker import SageMakerBackend
from airsage.compute.sagemaker_images import clarify_image_uri, model_monitor_image_uri, xgboost_image_uri
from airsage.errors import ConfigError

# what airsage.lifecycle.transform.transform_spec passes for credit_risk (TransformSpec defaults: Line / Input / Line)
PARQUET_PARAMS = {"content_type": "application/x-parquet", "split_type": "Line", "batch_strategy": "MultiRecord",
                  "max_payload_mb": 6, "input_filter": "$", "join_source": "Input", "output_filter": "$",
                  "assemble_with": "Line", "model_name": "credit_risk", "model_version": "4",
                  "run_key": "dt-2026-11-20", "partition_date": "2026-11-20", "record_id_col": "application_id",
                  "capture_uri": "s3://airsage-test/credit_risk/capture", "fail_on_file_error": False}
ALL_SPECS = [train_spec(), tune_spec(), transform_spec(), transform_spec("credit-risk-transform-pq", parameters=PARQUET_PARAMS),
             clarify_spec(), clarify_spec(engine="managed"), monitor_spec(), monitor_spec(baseline=False)]


def _requests(spec, sm=None, comp=None):
    return SageMakerBackend(sm or settings(), comp or compute(), usecase="credit_risk").requests(
        spec, sourcedir_uri=SOURCEDIR)


def _one(spec, op, **kw):
    return dict(_requests(spec, **kw))[op]


# ------------------------------------------------------------------ botocore validation, every job kind
@pytest.mark.parametrize("isolated", [False, True], ids=["plain", "vpc-kms-isolated"])
@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: f"{s.kind}-{s.name}")
def test_every_request_passes_botocore_validation(spec, isolated):
    sm = settings(enable_network_isolation=True, subnets=["subnet-0abc1234"], security_group_ids=["sg-0abc1234"],
                  kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab") if isolated else settings()
    reqs = _requests(spec, sm=sm)
    expected = {"train": ["CreateTrainingJob"], "tune": ["CreateHyperParameterTuningJob"],
                "transform": ["CreateModel", "CreateTransformJob"], "clarify": ["CreateProcessingJob"],
                "monitor": ["CreateProcessingJob"]}[spec.kind]
    assert [op for op, _ in reqs] == expected
    for op, req in reqs:
        assert rq.validate_request(op, req) is req
        json.dumps(req)  # plain data only


@pytest.mark.parametrize("op, req, needle", [
    ("CreateTransformJob", {"TransformJobName": "x", "ModelName": "m",
                            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}},
                                               "SplitType": "Lines"},
                            "TransformOutput": {"S3OutputPath": "s3://b/o"},
                            "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}},
     "'Lines' is not one of"),
    ("CreateModel", {"ModelName": "m" * 64}, "64 characters, at most 63"),
    ("CreateModel", {"ModelName": "bad_name"}, "does not match the pattern"),
    ("CreateModel", {"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::12:role/x" + "y" * 3}, "ExecutionRoleArn"),
    ("CreateProcessingJob", {"ProcessingJobName": "p"}, "Missing required parameter"),
    ("create_model", {"ModelName": "m", "PrimaryContainer": {"Environment": {"K": "v" * 1025}}}, "at most 1024"),
])
def test_validate_request_rejects_what_sagemaker_would(op, req, needle):
    with pytest.raises(rq.InvalidRequestError) as err:
        rq.validate_request(op, req)
    assert needle in str(err.value)
    assert err.value.fix


def test_hyperparameter_values_over_2500_characters_are_refused():
    spec = train_spec(hyperparameters={"airsage_config": json.dumps({"features": ["f" * 20] * 130})})
    with pytest.raises(rq.InvalidRequestError, match=r"HyperParameters\['airsage_config'\]: \d+ characters, at most 2500"):
        _requests(spec)


# ------------------------------------------------------------------ images per region (SDK image_uri_config)
@pytest.mark.parametrize("region, xgb, clarify, monitor", [
    ("us-east-1", "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0",
     "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0",
     "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"),
    ("us-west-2", "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:3.2-0",
     "306415355426.dkr.ecr.us-west-2.amazonaws.com/sagemaker-clarify-processing:1.0",
     "159807026194.dkr.ecr.us-west-2.amazonaws.com/sagemaker-model-monitor-analyzer"),
    ("eu-west-1", "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.2-0",
     "131013547314.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-clarify-processing:1.0",
     "468650794304.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer"),
])
def test_image_uris_per_region(region, xgb, clarify, monitor):
    assert xgboost_image_uri(region, "3.2-0") == xgb
    assert clarify_image_uri(region) == clarify
    assert model_monitor_image_uri(region) == monitor
    req = _one(train_spec(), "CreateTrainingJob", sm=settings(region=region))
    assert req["AlgorithmSpecification"]["TrainingImage"] == xgb


def test_unknown_region_or_version_is_a_config_error_naming_the_fix():
    with pytest.raises(ConfigError, match="ap-south-7") as err:
        xgboost_image_uri("ap-south-7")
    assert "image_uri" in err.value.fix
    with pytest.raises(ConfigError, match="framework version"):
        xgboost_image_uri("us-east-1", "9.9-9")
    with pytest.raises(ConfigError, match="Python older than 3.11") as err:  # 1.7-1 .. 3.0-5 cannot run Airsage
        xgboost_image_uri("us-east-1", "1.7-1")
    assert "3.2-0" in err.value.fix
    custom = "123456789012.dkr.ecr.ap-south-7.amazonaws.com/airsage:1"
    req = _one(train_spec(), "CreateTrainingJob", sm=settings(region="ap-south-7", image_uri=custom))
    assert req["AlgorithmSpecification"]["TrainingImage"] == custom


# ------------------------------------------------------------------ training / script mode
def test_training_request_script_mode_fields():
    req = _one(train_spec(resources={"instance_type": "ml.m5.2xlarge", "max_runtime_s": 1800}), "CreateTrainingJob",
               comp=compute(volume_size_gb=50))
    hps = req["HyperParameters"]
    assert hps["airsage_config"] == HPS["airsage_config"]  # the spec's hyperparameters, verbatim
    # The SageMaker SDK JSON-encodes every framework hyperparameter (EstimatorBase._json_encode_hyperparameters).
    assert hps["sagemaker_program"] == '"airsage_train.py"'
    assert hps["sagemaker_submit_directory"] == f'"{SOURCEDIR}"'
    assert hps["sagemaker_region"] == '"us-east-1"'
    assert hps["airsage_entrypoint"] == '"airsage.entrypoints.train"'
    assert req["RoleArn"] == ROLE
    assert req["ResourceConfig"] == {"InstanceType": "ml.m5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}
    assert req["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert req["OutputDataConfig"] == {"S3OutputPath": "s3://airsage-test/models"}
    assert req["InputDataConfig"] == [{"ChannelName": "train", "InputMode": "File", "CompressionType": "None",
                                       "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                       "S3Uri": "s3://airsage-test/data/train/v1",
                                                                       "S3DataDistributionType": "FullyReplicated"}}}]
    assert "VpcConfig" not in req and req["EnableNetworkIsolation"] is False
    assert {"Key": "airsage:usecase", "Value": "credit_risk"} in req["Tags"]
    assert req["Environment"]["AIRSAGE_INPUT_TRAIN"] == "s3://airsage-test/data/train/v1"


def test_network_isolation_hands_the_code_over_as_a_channel():
    sm = settings(enable_network_isolation=True, subnets=["subnet-1"], security_group_ids=["sg-1"],
                  kms_key_id="alias/airsage")
    req = _one(train_spec(), "CreateTrainingJob", sm=sm)
    code = [c for c in req["InputDataConfig"] if c["ChannelName"] == "code"]
    assert code[0]["DataSource"]["S3DataSource"]["S3Uri"] == SOURCEDIR
    assert req["HyperParameters"]["sagemaker_submit_directory"] == '"/opt/ml/input/data/code/sourcedir.tar.gz"'
    assert req["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    assert req["EnableNetworkIsolation"] is True
    assert req["OutputDataConfig"]["KmsKeyId"] == "alias/airsage"
    assert req["ResourceConfig"]["VolumeKmsKeyId"] == "alias/airsage"


def test_local_paths_are_refused_with_a_fix():
    with pytest.raises(ConfigError, match="not an s3:// URI") as err:
        _requests(train_spec(inputs={"train": "/data/train"}))
    assert "data.root" in err.value.fix


@pytest.mark.parametrize("line, name, value", [
    ("airsage-metric auc=0.8123", "test:auc", "0.8123"),
    ("airsage-metric pr_auc=0.5", "test:pr_auc", "0.5"),
    ("airsage-metric log_loss=1.5e-05", "test:log_loss", "1.5e-05"),
    ("airsage-metric ece=nan", "test:ece", "nan"),
    ("airsage-metric baseline_auc=0.7", None, None),  # the baseline model's metrics are not the model's
    ("airsage-trial 3 status=Completed metric=0.7712 params={'eta': 0.1}", "validation:auc", "0.7712"),
    ("airsage-trial 4 status=Pruned metric=None params={'eta': 0.3}", None, None),
])
def test_metric_regexes_read_the_entrypoint_log_lines(line, name, value):
    defs = {d["Name"]: re.compile(d["Regex"]) for d in rq.metric_definitions("auc")}
    hits = {n: r.search(line).group(1) for n, r in defs.items() if r.search(line)}
    assert hits == ({name: value} if name else {})  # and no other metric picks the line up


# ------------------------------------------------------------------ tuning
def test_tuning_request_ranges_objective_and_static_hyperparameters():
    req = _one(tune_spec(), "CreateHyperParameterTuningJob")
    cfg = req["HyperParameterTuningJobConfig"]
    assert cfg["Strategy"] == "Random"
    # each trial runs the local tuner on one candidate: the objective is its validation-split metric
    assert cfg["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert cfg["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}
    assert cfg["ParameterRanges"] == {
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "8"}],
        "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.03", "MaxValue": "0.3", "ScalingType": "Logarithmic"}]}
    static = req["TrainingJobDefinition"]["StaticHyperParameters"]
    assert json.loads(static["airsage_tuned"]) == ["eta", "max_depth"]
    assert "max_depth" not in static and "eta" not in static
    assert static["airsage_entrypoint"] == '"airsage.entrypoints.tune"'
    defs = {d["Name"]: d["Regex"] for d in req["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]}
    assert defs["validation:auc"] == rq.TRIAL_REGEX and "test:auc" in defs
    name = req["HyperParameterTuningJobName"]
    assert len(name) <= 32 and name == rq.tuning_job_name("credit-risk-tune-r1")


def test_tuning_reads_the_local_tune_hyperparameters_and_defaults():
    tuning = {"max_trials": 6, "objective": "pr_auc", "strategy": "random", "search_space": {}, "seed": 11}
    spec = tune_spec(hyperparameters={**HPS, "airsage_tuning": json.dumps(tuning)}, parameters={})
    req = _one(spec, "CreateHyperParameterTuningJob")
    cfg = req["HyperParameterTuningJobConfig"]
    assert cfg["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 1}
    assert cfg["HyperParameterTuningJobObjective"]["MetricName"] == "validation:pr_auc"
    assert cfg["RandomSeed"] == 11
    names = sorted(r["Name"] for group in cfg["ParameterRanges"].values() for r in group)
    assert names == ["colsample_bytree", "eta", "max_depth", "min_child_weight", "subsample"]  # the local default
    assert req["TrainingJobDefinition"]["StaticHyperParameters"]["airsage_tuning"] == json.dumps(tuning)


def test_the_repeated_tuning_defaults_equal_the_local_tuner():
    from airsage.training import tuning

    assert rq.DEFAULT_SEARCH_SPACE == tuning.DEFAULT_SEARCH_SPACE
    assert rq.INT_PARAMS == tuning.INT_PARAMS
    assert set(rq.TUNING_OBJECTIVES) == set(tuning.MAXIMIZE)
    assert {o for o in rq.TUNING_OBJECTIVES if not tuning.MAXIMIZE[o]} <= rq.MINIMIZE
    space = {"max_depth": [3, 9], "eta": [0.05, 0.3]}
    grid = rq.parameter_ranges(space, "Grid", 9)["CategoricalParameterRanges"]
    local = {n: sorted({str(c[n]) for c in tuning.candidates(space, "grid", 9, 0)}) for n in space}
    assert {r["Name"]: sorted(r["Values"]) for r in grid} == local


def test_train_entrypoint_trials_use_the_test_metric():
    spec = tune_spec(parameters={**tune_spec().parameters, "trial_entrypoint": "airsage.entrypoints.train",
                                 "objective": "brier"})
    req = _one(spec, "CreateHyperParameterTuningJob")
    assert req["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize", "MetricName": "test:brier"}
    assert req["TrainingJobDefinition"]["StaticHyperParameters"]["airsage_entrypoint"] == '"airsage.entrypoints.train"'


def test_long_tuning_names_are_shortened_deterministically():
    a = rq.tuning_job_name("credit-risk-tune-manual-2026-11-20T02-00-00-000000")
    b = rq.tuning_job_name("credit-risk-tune-manual-2026-11-21T02-00-00-000000")
    assert len(a) <= 32 and len(b) <= 32 and a != b
    assert a == rq.tuning_job_name("credit-risk-tune-manual-2026-11-20T02-00-00-000000")


def test_grid_and_minimize_objectives():
    spec = tune_spec(parameters={"search_space": {"max_depth": [3, 5], "tree_method": ["hist", "approx"]},
                                 "strategy": "grid", "objective": "log_loss"})
    cfg = _one(spec, "CreateHyperParameterTuningJob")["HyperParameterTuningJobConfig"]
    assert cfg["Strategy"] == "Grid"
    assert cfg["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "validation:log_loss"}
    assert "MaxNumberOfTrainingJobs" not in cfg["ResourceLimits"]
    assert cfg["ParameterRanges"] == {"CategoricalParameterRanges": [
        {"Name": "max_depth", "Values": ["3", "5"]}, {"Name": "tree_method", "Values": ["hist", "approx"]}]}
    with pytest.raises(ConfigError, match="objective"):
        _requests(tune_spec(parameters={"search_space": {"eta": [0.01, 0.3]}, "objective": "brier"}))
    with pytest.raises(ConfigError, match="min < max"):
        _requests(tune_spec(parameters={"search_space": {"eta": [0.3, 0.01]}}))
    with pytest.raises(ConfigError, match="strategy"):
        _requests(tune_spec(parameters={"strategy": "annealing"}))


# ------------------------------------------------------------------ transform (CreateTransformJob rules)
def test_transform_request_carries_the_local_transform_settings():
    reqs = dict(_requests(transform_spec()))
    model, job = reqs["CreateModel"], reqs["CreateTransformJob"]
    assert model["ModelName"] == job["ModelName"] == "credit-risk-transform-r1"
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://airsage-test/models/m1/output/model.tar.gz"
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == SOURCEDIR
    assert job["TransformInput"] == {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                     "S3Uri": "s3://airsage-test/data/score/dt=2026-11-20"}},
                                     "ContentType": "text/csv", "SplitType": "Line", "CompressionType": "None"}
    assert job["TransformOutput"] == {"S3OutputPath": "s3://airsage-test/predictions/dt=2026-11-20",
                                      "Accept": "text/csv", "AssembleWith": "Line"}
    assert job["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"}
    assert job["BatchStrategy"] == "MultiRecord" and job["MaxPayloadInMB"] == 6
    assert job["DataCaptureConfig"] == {"DestinationS3Uri": f"{PREFIX}/capture/credit-risk-transform-r1",
                                        "GenerateInferenceId": True}


def test_transform_takes_the_pipeline_parameters():
    """The parameters airsage.lifecycle.transform.transform_spec passes (capture_uri, record_id_col, model name/version)."""
    params = {**transform_spec().parameters, "capture": None, "capture_uri": "s3://airsage-test/credit_risk/capture",
              "record_id_col": "application_id", "model_name": "credit_risk", "model_version": "4",
              "run_key": "manual-1", "partition": "2026-11-20", "fail_on_file_error": False}
    reqs = dict(_requests(transform_spec(parameters=params)))
    env = reqs["CreateModel"]["PrimaryContainer"]["Environment"]
    assert env["AIRSAGE_RECORD_ID_COL"] == "application_id" and env["AIRSAGE_MODEL_VERSION"] == "4"
    assert reqs["CreateTransformJob"]["DataCaptureConfig"]["DestinationS3Uri"] == \
        "s3://airsage-test/credit_risk/capture/sagemaker/credit-risk-transform-r1"  # apart from Airsage's tables


def test_the_repeated_inference_fields_equal_the_local_engine():
    from airsage.transform.settings import INFERENCE_FIELDS

    assert rq.LOCAL_INFERENCE_FIELDS == INFERENCE_FIELDS


def test_managed_clarify_accepts_the_local_channel_names():
    spec = clarify_spec(engine="managed", inputs={"config": "s3://airsage-test/cfg/analysis_config.json",
                                                  "data": "s3://airsage-test/eval/", "model": "s3://airsage-test/m.tar.gz"})
    req = _one(spec, "CreateProcessingJob")
    paths = {i["InputName"]: i["S3Input"]["LocalPath"] for i in req["ProcessingInputs"]}
    assert paths == {"analysis_config": "/opt/ml/processing/input/config", "dataset": "/opt/ml/processing/input/data",
                     "model": "/opt/ml/processing/input/model"}


def test_transform_under_isolation_serves_code_from_the_model_artifact():
    sm = settings(enable_network_isolation=True)
    model = _one(transform_spec(), "CreateModel", sm=sm)
    assert model["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert model["EnableNetworkIsolation"] is True


@pytest.mark.parametrize("override, needle", [
    ({"accept": "application/jsonlines"}, "Accept"),
    ({"assemble_with": "None"}, "AssembleWith"),
    ({"max_payload_mb": 101}, "0..100"),
    ({"max_concurrent_transforms": 20, "max_payload_mb": 6}, "> 100"),
    ({"content_type": "application/x-parquet", "accept": "text/csv"}, "Parquet output"),
    ({"content_type": "application/x-parquet", "max_payload_mb": 0}, "whole Parquet files"),
    ({"content_type": "application/x-parquet", "max_payload_mb": 101}, "largest file"),
    ({"content_type": "application/x-parquet", "max_concurrent_transforms": 4, "max_payload_mb": 30}, "> 100"),
])
def test_transform_rules_of_batch_transform_are_enforced(override, needle):
    spec = transform_spec(parameters={**transform_spec().parameters, **override})
    with pytest.raises(ConfigError, match=needle) as err:
        _requests(spec)
    assert err.value.fix


def test_parquet_is_sent_whole_and_joined_in_the_container():
    """SageMaker cannot split Parquet nor filter/join it: whole files, DataProcessing off, the use case's
    filters and join handed to the container, which answers with the local engine's .out file."""
    params = {**PARQUET_PARAMS, "input_filter": "$[1:]", "output_filter": "$['application_id','score']"}
    reqs = dict(_requests(transform_spec(parameters=params)))
    job, env = reqs["CreateTransformJob"], reqs["CreateModel"]["PrimaryContainer"]["Environment"]
    assert job["TransformInput"]["ContentType"] == "application/x-parquet"
    assert job["TransformInput"]["SplitType"] == "None"
    assert "BatchStrategy" not in job  # only meaningful for split records
    assert job["TransformOutput"]["Accept"] == "application/x-parquet"
    assert job["TransformOutput"]["AssembleWith"] == "None"  # a newline would corrupt the Parquet response
    assert job["DataProcessing"] == {"InputFilter": "$", "JoinSource": "None", "OutputFilter": "$"}
    assert job["MaxPayloadInMB"] == 6  # now the limit of a whole file
    assert job["DataCaptureConfig"] == {
        "DestinationS3Uri": "s3://airsage-test/credit_risk/capture/sagemaker/credit-risk-transform-r1",
        "GenerateInferenceId": False}  # documented for CSV / JSON output only; the .out has inference_id
    assert {k: env[k] for k in env if k.startswith("AIRSAGE_")} == {
        "AIRSAGE_INPUT_FILTER": "$[1:]", "AIRSAGE_JOIN_SOURCE": "Input",
        "AIRSAGE_OUTPUT_FILTER": "$['application_id','score']",
        "AIRSAGE_INFERENCE_FIELDS": "inference_id,model_name,model_version,predicted_label,score",
        "AIRSAGE_MODEL_NAME": "credit_risk", "AIRSAGE_MODEL_VERSION": "4", "AIRSAGE_RECORD_ID_COL": "application_id"}


def test_parquet_without_join_defaults_the_container_settings():
    params = {"content_type": "application/x-parquet", "split_type": "None", "join_source": "None"}
    reqs = dict(_requests(transform_spec(parameters=params)))
    env = reqs["CreateModel"]["PrimaryContainer"]["Environment"]
    assert (env["AIRSAGE_INPUT_FILTER"], env["AIRSAGE_JOIN_SOURCE"], env["AIRSAGE_OUTPUT_FILTER"]) == ("$", "None", "$")
    assert reqs["CreateTransformJob"]["TransformOutput"]["Accept"] == "application/x-parquet"


def test_csv_keeps_sagemaker_data_processing_and_no_container_filters():
    reqs = dict(_requests(transform_spec()))
    env = reqs["CreateModel"]["PrimaryContainer"]["Environment"]
    assert not {"AIRSAGE_INPUT_FILTER", "AIRSAGE_JOIN_SOURCE", "AIRSAGE_OUTPUT_FILTER"} & set(env)
    assert reqs["CreateTransformJob"]["DataCaptureConfig"]["GenerateInferenceId"] is True


# ------------------------------------------------------------------ processing (Clarify, Model Monitor analyzer)
def test_managed_clarify_wiring_follows_the_sdk():
    req = _one(clarify_spec(engine="managed"), "CreateProcessingJob")
    assert req["AppSpecification"] == {
        "ImageUri": "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"}
    paths = {i["InputName"]: i["S3Input"]["LocalPath"] for i in req["ProcessingInputs"]}
    assert paths == {"analysis_config": "/opt/ml/processing/input/config", "dataset": "/opt/ml/processing/input/data"}
    out = req["ProcessingOutputConfig"]["Outputs"][0]
    assert out["OutputName"] == "analysis_result"
    assert out["S3Output"] == {"S3Uri": "s3://airsage-test/clarify/r1", "LocalPath": "/opt/ml/processing/output",
                               "S3UploadMode": "EndOfJob"}
    with pytest.raises(ConfigError, match="analysis_config"):
        _requests(clarify_spec(engine="managed", inputs={"dataset": "s3://airsage-test/eval/"}))


def test_managed_model_monitor_environment():
    req = _one(monitor_spec(), "CreateProcessingJob")
    assert req["AppSpecification"]["ImageUri"] == \
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    env = req["Environment"]
    assert json.loads(env["dataset_format"]) == {"csv": {"header": True}}
    assert env["dataset_source"] == "/opt/ml/processing/input/dataset"
    assert env["output_path"] == "/opt/ml/processing/output"
    assert env["publish_cloudwatch_metrics"] == "Disabled"
    assert env["baseline_constraints"] == "/opt/ml/processing/baseline/constraints/constraints.json"
    assert env["baseline_statistics"] == "/opt/ml/processing/baseline/stats/statistics.json"
    staged = monitor_spec(parameters={"engine": "managed", "content_type": "text/csv"},
                          inputs={"dataset": "s3://airsage-test/capture/", "baseline_statistics": "s3://b/base/stats",
                                  "baseline_constraints": "s3://b/base/constraints/"})
    env = _one(staged, "CreateProcessingJob")["Environment"]  # folders, as lifecycle.monitoring stages them
    assert env["baseline_constraints"] == "/opt/ml/processing/baseline/constraints/constraints.json"
    assert env["baseline_statistics"] == "/opt/ml/processing/baseline/stats/statistics.json"
    suggest = _one(monitor_spec(baseline=False), "CreateProcessingJob")
    assert [i["InputName"] for i in suggest["ProcessingInputs"]] == ["baseline_dataset_input"]
    assert suggest["Environment"]["dataset_source"] == "/opt/ml/processing/input/baseline_dataset_input"
    assert "baseline_constraints" not in suggest["Environment"]
    mq = monitor_spec(parameters={"engine": "managed", "analysis_type": "MODEL_QUALITY",
                                  "problem_type": "BinaryClassification", "ground_truth_attribute": "default",
                                  "inference_attribute": "predicted_label", "probability_attribute": "score",
                                  "content_type": "application/jsonlines"})
    env = _one(mq, "CreateProcessingJob")["Environment"]
    assert env["analysis_type"] == "MODEL_QUALITY" and env["probability_attribute"] == "score"
    assert json.loads(env["dataset_format"]) == {"json": {"line": True}}


def test_airsage_processing_engine_is_the_local_twin():
    req = _one(clarify_spec(inputs={"dataset": "s3://airsage-test/eval/v1/"}), "CreateProcessingJob")
    app = req["AppSpecification"]
    assert app["ImageUri"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.2-0"
    assert app["ContainerEntrypoint"][:2] == ["/bin/sh", "-c"]
    assert app["ContainerEntrypoint"][-1] == "airsage.entrypoints.clarify"
    assert "tar -xzf /opt/ml/processing/input/code/sourcedir.tar.gz" in app["ContainerEntrypoint"][2]
    paths = {i["InputName"]: (i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"]) for i in req["ProcessingInputs"]}
    assert paths == {"dataset": ("s3://airsage-test/eval/v1/", "/opt/ml/processing/input/dataset"),
                     "code": (SOURCEDIR, "/opt/ml/processing/input/code")}
    assert req["Environment"]["AIRSAGE_OPT_ML"] == "/opt/ml"
    assert req["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"] == "/opt/ml/processing/output"


# ------------------------------------------------------------------ describe -> status
def test_status_mapping_training():
    d = {"TrainingJobName": "t1", "TrainingJobStatus": "Completed", "TrainingJobArn": "arn:t1",
         "OutputDataConfig": {"S3OutputPath": "s3://b/models"},
         "ModelArtifacts": {"S3ModelArtifacts": "s3://b/models/t1/output/model.tar.gz"},
         "FinalMetricDataList": [{"MetricName": "validation:auc", "Value": 0.81}]}
    st = rq.status_from_describe("train", d)
    assert st.state == "Completed" and st.done and st.failure_reason is None
    assert st.outputs == {"model_artifact": "s3://b/models/t1/output/model.tar.gz",
                          "output_data": "s3://b/models/t1/output/output.tar.gz", "output": "s3://b/models"}
    assert st.details["metrics"] == {"validation:auc": 0.81}
    failed = rq.status_from_describe("train", {**d, "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: x"})
    assert failed.state == "Failed" and failed.failure_reason == "AlgorithmError: x" and failed.outputs == {}
    deleting = rq.status_from_describe("train", {**d, "TrainingJobStatus": "Deleting"})
    assert deleting.state == "Stopped"  # never mistaken for a success


def test_status_mapping_tuning_processing_transform():
    tune = rq.status_from_describe("tune", {
        "HyperParameterTuningJobStatus": "Completed",
        "TrainingJobDefinition": {"OutputDataConfig": {"S3OutputPath": "s3://b/tuning"}},
        "BestTrainingJob": {"TrainingJobName": "h1-003-abc", "TunedHyperParameters": {"eta": "0.1"}}})
    assert tune.outputs["model_artifact"] == "s3://b/tuning/h1-003-abc/output/model.tar.gz"
    assert tune.details["best_hyperparameters"] == {"eta": "0.1"}
    proc = rq.status_from_describe("clarify", {
        "ProcessingJobStatus": "Failed", "ExitMessage": "Traceback ...",
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "analysis_result", "S3Output": {"S3Uri": "s3://b/c"}}]}})
    assert proc.state == "Failed" and proc.failure_reason == "Traceback ..."
    assert proc.outputs == {"analysis_result": "s3://b/c", "output": "s3://b/c"}
    tr = rq.status_from_describe("transform", {"TransformJobStatus": "InProgress", "FailureReason": "",
                                              "TransformOutput": {"S3OutputPath": "s3://b/p"},
                                              "DataCaptureConfig": {"DestinationS3Uri": "s3://b/cap"}})
    assert tr.state == "InProgress" and not tr.done and tr.failure_reason is None
    assert tr.outputs == {"output": "s3://b/p", "capture": "s3://b/cap"}


def test_console_urls():
    assert rq.console_url("eu-west-1", "train", "j1") == \
        "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#/jobs/j1"
    assert rq.console_url("us-east-1", "clarify", "p1").endswith("#/processing-jobs/p1")
    assert rq.console_url("us-east-1", "transform", "x1").endswith("#/transform-jobs/x1")
    assert rq.console_url("us-east-1", "tune", "h1").endswith("#/hyper-tuning-jobs/h1")


# ------------------------------------------------------------------ the Airflow side, without importing Airflow
def _trigger_init_params() -> set[str] | None:
    path = Path(sysconfig.get_paths()["purelib"]) / "airflow/providers/amazon/aws/triggers/sagemaker.py"
    if not path.exists():
        return None
    tree = ast.parse(path.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SageMakerTrigger")
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    waiters = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "_get_job_type_waiter")
    job_types = {k.value for d in ast.walk(waiters) if isinstance(d, ast.Dict) for k in d.keys}
    return {a.arg for a in init.args.args[1:]} | {f"job_type={t}" for t in job_types}


@pytest.mark.parametrize("kind, job_type", [("train", "training"), ("tune", "tuning"), ("transform", "transform"),
                                            ("clarify", "processing"), ("monitor", "processing")])
def test_trigger_kwargs_match_the_provider_trigger(kind, job_type):
    backend = SageMakerBackend(settings(region="eu-west-1", aws_conn_id="aws_prod"), compute())
    kwargs = backend.trigger_kwargs(JobHandle(backend="sagemaker", name="j1", kind=kind))
    assert kwargs == {"job_name": "j1", "job_type": job_type, "aws_conn_id": "aws_prod", "region_name": "eu-west-1"}
    params = _trigger_init_params()
    if params is None:
        pytest.skip("apache-airflow-providers-amazon is not installed")
    assert set(kwargs) <= params
    assert f"job_type={job_type}" in params
