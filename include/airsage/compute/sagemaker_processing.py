"""Request builders for the ``clarify`` and ``monitor`` kinds: ``CreateProcessingJob`` with engine
``airsage`` (Airsage's entrypoint in the framework image) or ``managed`` (AWS's Clarify / Model Monitor
containers).

Pure: nothing here calls AWS (``sagemaker_requests`` assembles the builders and validates the requests).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airsage.compute.base import JobSpec
from airsage.compute.sagemaker_common import (
    CODE_CHANNEL,
    CODE_DIR,
    DIGEST_ENV,
    OPT_ML,
    PROCESSING_INPUT,
    PROCESSING_OUTPUT,
    PROCESSING_RUNNER,
    _kms,
    _require_s3,
    _require_settings,
    _tags,
    _vpc,
    contract_environment,
    image_uri,
    resources,
    spec_digest,
)
from airsage.compute.sagemaker_images import clarify_image_uri, model_monitor_image_uri
from airsage.config import JobCompute, SageMakerSpec
from airsage.errors import ConfigError

# Clarify (SDK SageMakerClarifyProcessor._run) and Model Monitor (SDK model_monitoring.py) wiring
CLARIFY_CONFIG_PATH = f"{PROCESSING_INPUT}/config"
CLARIFY_DATA_PATH = f"{PROCESSING_INPUT}/data"
CLARIFY_ALIASES = {"config": "analysis_config", "data": "dataset"}
MONITOR_BASELINE_INPUT = "baseline_dataset_input"
MONITOR_CONSTRAINTS_PATH = "/opt/ml/processing/baseline/constraints"
MONITOR_STATISTICS_PATH = "/opt/ml/processing/baseline/stats"
MONITOR_ENV_KEYS = ("analysis_type", "problem_type", "ground_truth_attribute", "inference_attribute",
                    "probability_attribute", "probability_threshold_attribute", "categorical_drift_method",
                    "record_preprocessor_script", "post_analytics_processor_script", "start_time", "end_time")


def _processing_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {"InputName": name, "AppManaged": False,
            "S3Input": {"S3Uri": _require_s3(uri, f"processing input {name!r}"), "LocalPath": local_path,
                        "S3DataType": "S3Prefix", "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}


def _processing_output(name: str, uri: str, sm: SageMakerSpec) -> dict[str, Any]:
    return {"Outputs": [{"OutputName": name, "AppManaged": False,
                         "S3Output": {"S3Uri": _require_s3(uri, "the processing output"),
                                      "LocalPath": PROCESSING_OUTPUT, "S3UploadMode": "EndOfJob"}}], **_kms(sm)}


def _basename(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _json_name(uri: str, default: str) -> str:
    """The file name an input lands under: the URI's own when it names a ``.json`` object, else the
    Model Monitor file name inside the folder it names."""
    name = _basename(uri)
    return name if uri.endswith(".json") else default


def processing_engine(spec: JobSpec, sm: SageMakerSpec) -> str:
    engine = str(spec.parameters.get("engine") or sm.processing_engine)
    if engine not in ("airsage", "managed"):
        raise ConfigError(f"unknown processing engine {engine!r}", key="sagemaker.processing_engine",
                          fix="Use airsage (Airsage's own entrypoint) or managed (AWS's Clarify / Model Monitor).")
    return engine


def processing_request(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute, *, sourcedir_uri: str | None,
                       usecase: str | None = None) -> dict[str, Any]:
    """``CreateProcessingJob`` for a ``clarify`` or ``monitor`` spec (engine from parameters or settings)."""
    _require_settings(sm)
    engine = processing_engine(spec, sm)
    env = contract_environment(spec)
    if engine == "airsage":
        if not sourcedir_uri:
            raise ConfigError("the airsage processing engine needs the uploaded sourcedir", key="sagemaker.s3_prefix",
                              fix="Submit through SageMakerBackend, which uploads it.")
        if CODE_CHANNEL in spec.inputs:
            raise ConfigError(f"input {CODE_CHANNEL!r} is reserved for the job's code", key="JobSpec.inputs",
                              fix="Rename the input.")
        inputs = [_processing_input(ch, uri, f"{PROCESSING_INPUT}/{ch}") for ch, uri in sorted(spec.inputs.items())]
        inputs.append(_processing_input(CODE_CHANNEL, sourcedir_uri, f"{PROCESSING_INPUT}/{CODE_CHANNEL}"))
        app = {"ImageUri": image_uri(sm), "ContainerEntrypoint": ["/bin/sh", "-c", PROCESSING_RUNNER, spec.entrypoint]}
        env.update({"AIRSAGE_OPT_ML": OPT_ML, "PYTHONPATH": CODE_DIR})
        outputs = _processing_output("output", spec.output_uri, sm)
    elif spec.kind == "clarify":
        # SDK input names; the local layout's channel names (config/, data/) are accepted as aliases
        named = {CLARIFY_ALIASES.get(ch, ch): uri for ch, uri in spec.inputs.items()}
        missing = [ch for ch in ("analysis_config", "dataset") if ch not in named]
        if missing:
            raise ConfigError(f"a managed Clarify job needs inputs {missing}", key="JobSpec.inputs",
                              fix="Pass inputs['analysis_config'] (analysis_config.json) and inputs['dataset'] "
                                  "(or 'config' and 'data', the local channel names).")
        paths = {"analysis_config": CLARIFY_CONFIG_PATH, "dataset": CLARIFY_DATA_PATH}
        inputs = [_processing_input(ch, uri, paths.get(ch, f"{PROCESSING_INPUT}/{ch}"))
                  for ch, uri in sorted(named.items())]
        app = {"ImageUri": clarify_image_uri(sm.region)}
        env = {DIGEST_ENV: env[DIGEST_ENV], **{str(k): str(v) for k, v in spec.environment.items()}}
        outputs = _processing_output("analysis_result", spec.output_uri, sm)
    else:
        inputs, env = _monitor_inputs_env(spec)
        app = {"ImageUri": model_monitor_image_uri(sm.region)}
        outputs = _processing_output("monitoring_output", spec.output_uri, sm)
    r = resources(spec, compute)
    network: dict[str, Any] = {"EnableNetworkIsolation": bool(sm.enable_network_isolation)}
    if vpc := _vpc(sm):
        network["VpcConfig"] = vpc
    return {
        "ProcessingJobName": spec.name,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": outputs,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": r["instance_count"],
                                                  "InstanceType": r["instance_type"],
                                                  "VolumeSizeInGB": r["volume_size_gb"],
                                                  **_kms(sm, "VolumeKmsKeyId")}},
        "StoppingCondition": {"MaxRuntimeInSeconds": r["max_runtime_s"]},
        "AppSpecification": app,
        "Environment": env,
        "NetworkConfig": network,
        "RoleArn": sm.role_arn,
        "Tags": _tags(spec, sm, usecase),
    }


def _dataset_format(p: Mapping[str, Any]) -> dict[str, Any]:
    if p.get("dataset_format"):
        fmt = p["dataset_format"]
        return json.loads(fmt) if isinstance(fmt, str) else dict(fmt)
    ctype = str(p.get("content_type", "text/csv"))
    if ctype == "application/x-parquet":
        return {"parquet": {}}
    if ctype in ("application/jsonlines", "application/json"):
        return {"json": {"line": ctype == "application/jsonlines"}}
    return {"csv": {"header": True}}


def _monitor_inputs_env(spec: JobSpec) -> tuple[list[dict], dict[str, str]]:
    """Model Monitor analyzer wiring (the sagemaker-model-monitor-analyzer container's documented inputs:
    ``baseline_constraints`` / ``baseline_statistics`` environment and channels): a baseline run without
    baseline inputs, a check with them."""
    p = spec.parameters
    given = dict(spec.inputs)
    if MONITOR_BASELINE_INPUT in given and "dataset" not in given:
        given["dataset"] = given.pop(MONITOR_BASELINE_INPUT)
    if "dataset" not in given:
        raise ConfigError("a managed Model Monitor job needs inputs['dataset']", key="JobSpec.inputs",
                          fix="Pass the data to analyse as inputs['dataset'] (or 'baseline_dataset_input').")
    checking = "baseline_constraints" in given or "baseline_statistics" in given
    dataset_name = "dataset" if checking else MONITOR_BASELINE_INPUT
    dataset_path = f"{PROCESSING_INPUT}/{dataset_name}"
    inputs = [_processing_input(dataset_name, given["dataset"], dataset_path)]
    env = {"dataset_format": json.dumps(_dataset_format(p)), "dataset_source": dataset_path,
           "output_path": PROCESSING_OUTPUT,
           "publish_cloudwatch_metrics": str(p.get("publish_cloudwatch_metrics", "Disabled"))}
    # each baseline input is the file itself or a folder holding it (what lifecycle.monitoring stages)
    if "baseline_constraints" in given:
        uri = given["baseline_constraints"]
        inputs.append(_processing_input("constraints", uri, MONITOR_CONSTRAINTS_PATH))
        env["baseline_constraints"] = f"{MONITOR_CONSTRAINTS_PATH}/{_json_name(uri, 'constraints.json')}"
    if "baseline_statistics" in given:
        uri = given["baseline_statistics"]
        inputs.append(_processing_input("baseline", uri, MONITOR_STATISTICS_PATH))
        env["baseline_statistics"] = f"{MONITOR_STATISTICS_PATH}/{_json_name(uri, 'statistics.json')}"
    for other, uri in sorted(given.items()):
        if other not in ("dataset", "baseline_constraints", "baseline_statistics"):
            inputs.append(_processing_input(other, uri, f"{PROCESSING_INPUT}/{other}"))
    env.update({k: str(p[k]) for k in MONITOR_ENV_KEYS if p.get(k) is not None})
    env.update({str(k): str(v) for k, v in spec.environment.items()})
    env[DIGEST_ENV] = spec_digest(spec)
    return inputs, env
