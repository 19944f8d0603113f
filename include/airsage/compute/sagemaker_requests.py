"""Pure request builders: one ``JobSpec`` -> the boto3 SageMaker request(s) that run it.

Nothing here calls AWS. Every builder returns plain dicts that ``validate_request`` checks against
botocore's own SageMaker service model (required members and types via botocore's
``ParamValidator``; enums, maximum lengths and patterns by walking the same shapes), so a malformed
request fails here, with the offending path, rather than in a SageMaker API call.

Job kinds and what they become:

* ``train`` -> ``CreateTrainingJob`` in *script mode*: the SageMaker XGBoost framework image runs
  ``airsage_train.py`` from the uploaded sourcedir, which runs ``python -m <entrypoint>``
  (see ``packaging``). Metrics (``test:<name>``) come from the ``airsage-metric name=value`` log lines.
* ``tune`` -> ``CreateHyperParameterTuningJob``: the same training definition, the local tuner's
  search space as parameter ranges; each trial is the local tuner on one candidate and the objective
  is its validation metric (``validation:<objective>``, from the ``airsage-trial`` log line).
* ``transform`` -> ``CreateModel`` + ``CreateTransformJob`` with the transform settings
  (SplitType, BatchStrategy, MaxPayloadInMB, DataProcessing, AssembleWith, Accept, ContentType,
  DataCaptureConfig) taken from ``JobSpec.parameters``, the same keys the local transform reads.
  CSV / JSON: SageMaker splits the records and applies the filters and the join itself. Parquet
  (which SageMaker can neither split nor filter): each S3 object is one request (``SplitType None``),
  DataProcessing is left at ``$`` / ``None`` / ``$`` and the serving container applies the use case's
  filters and join, returning the local engine's ``.out`` file (``Accept: application/x-parquet``).
* ``clarify`` / ``monitor`` -> ``CreateProcessingJob``. Engine ``airsage`` (default) runs
  ``python -m <entrypoint>`` in the framework image with the local backend's processing layout;
  engine ``managed`` runs AWS's own containers (Clarify ``sagemaker-clarify-processing:1.0`` with an
  ``analysis_config`` input; the Model Monitor analyzer with its environment contract). AWS closed
  Clarify and Model Monitor to new customers, so ``managed`` is opt-in.

The builders live in one module per job kind (``sagemaker_training``, ``sagemaker_transform``,
``sagemaker_processing``), their shared tables and helpers in ``sagemaker_common`` and the validation in
``sagemaker_validation``; every name stays importable from here.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airsage.compute.base import JOB_KINDS, PROCESSING_KINDS, TRAINING_KINDS, JobSpec, JobStatus, job_name  # noqa: F401
from airsage.compute.packaging import INFERENCE_PROGRAM, MODEL_CODE_DIR, SOURCEDIR_NAME, TRAIN_PROGRAM  # noqa: F401
from airsage.compute.sagemaker_common import (  # noqa: F401
    CODE_CHANNEL, CODE_CHANNEL_SOURCEDIR, CODE_DIR, CONSOLE_ROUTES, CREATE_OPERATION, DIGEST_ENV, MAX_TUNING_NAME,
    MODEL_CODE_SUBMIT_DIR, OPT_ML, PROCESSING_INPUT, PROCESSING_OUTPUT, PROCESSING_RUNNER, TRIGGER_JOB_TYPES, _kms,
    _require_s3, _require_settings, _tags, _vpc, console_url, contract_environment, image_uri, physical_name,
    resources, spec_digest, tuning_job_name,
)
from airsage.compute.sagemaker_images import clarify_image_uri, model_monitor_image_uri, xgboost_image_uri  # noqa: F401
from airsage.compute.sagemaker_processing import (  # noqa: F401
    CLARIFY_ALIASES, CLARIFY_CONFIG_PATH, CLARIFY_DATA_PATH, MONITOR_BASELINE_INPUT, MONITOR_CONSTRAINTS_PATH,
    MONITOR_ENV_KEYS, MONITOR_STATISTICS_PATH, _basename, _dataset_format, _json_name, _monitor_inputs_env,
    _processing_input, _processing_output, processing_engine, processing_request,
)
from airsage.compute.sagemaker_training import (  # noqa: F401
    _NUMBER, DEFAULT_SEARCH_SPACE, INT_PARAMS, METRICS, MINIMIZE, STRATEGIES, TEST_PREFIX, TRIAL_REGEX, TUNE_ENTRYPOINT,
    TUNING_OBJECTIVES, VALIDATION_PREFIX, _channel, _grid_levels, _linspace, _training_parts, metric_definitions,
    parameter_ranges, script_mode_hyperparameters, training_request, tuning_request, tuning_settings,
)
from airsage.compute.sagemaker_transform import (  # noqa: F401
    CONTAINER_DATA_PROCESSING, CONTENT_TYPES, JOINABLE, LOCAL_INFERENCE_FIELDS, PARQUET,
    SAGEMAKER_DATA_PROCESSING_OFF, model_request, transform_request,
)
from airsage.compute.sagemaker_validation import (  # noqa: F401
    InvalidRequestError, _constraint_errors, _operation_name, _pattern, _service_model, validate_request,
)
from airsage.config import JobCompute, SageMakerSpec
from airsage.errors import ConfigError


# ----------------------------------------------------------------------------- all requests of a spec
def build_requests(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute, *, sourcedir_uri: str | None,
                   usecase: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Every (operation, request) a spec needs, in order; each already validated."""
    if spec.kind == "train":
        reqs = [("CreateTrainingJob", training_request(spec, sm, compute, sourcedir_uri=sourcedir_uri or "",
                                                       usecase=usecase))]
    elif spec.kind == "tune":
        reqs = [("CreateHyperParameterTuningJob", tuning_request(spec, sm, compute, sourcedir_uri=sourcedir_uri or "",
                                                                 usecase=usecase))]
    elif spec.kind == "transform":
        reqs = [("CreateModel", model_request(spec, sm, sourcedir_uri=sourcedir_uri, usecase=usecase)),
                ("CreateTransformJob", transform_request(spec, sm, compute, usecase=usecase))]
    elif spec.kind in PROCESSING_KINDS:
        reqs = [("CreateProcessingJob", processing_request(spec, sm, compute, sourcedir_uri=sourcedir_uri,
                                                           usecase=usecase))]
    else:
        raise ConfigError(f"unknown job kind {spec.kind!r}", key="JobSpec.kind",
                          fix="Use train, tune, transform, clarify or monitor.")
    for op, req in reqs:
        validate_request(op, req)
    return reqs


def needs_sourcedir(spec: JobSpec, sm: SageMakerSpec) -> bool:
    if spec.kind in TRAINING_KINDS:
        return True
    if spec.kind == "transform":
        return not sm.enable_network_isolation
    return processing_engine(spec, sm) == "airsage"


# ----------------------------------------------------------------------------- describe -> status
def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *[p.strip("/") for p in parts]])


def status_from_describe(kind: str, d: Mapping[str, Any]) -> JobStatus:
    """Map a Describe* response to ``JobStatus`` (the same outputs the local backend reports)."""
    outputs: dict[str, str] = {}
    details: dict[str, Any] = {}
    if kind == "train":
        state = d["TrainingJobStatus"]
        details = {"arn": d.get("TrainingJobArn"), "secondary_status": d.get("SecondaryStatus"),
                   "metrics": {m["MetricName"]: m["Value"] for m in d.get("FinalMetricDataList", [])},
                   "training_time_s": d.get("TrainingTimeInSeconds"),
                   "billable_time_s": d.get("BillableTimeInSeconds")}
        if state == "Completed":
            base = _join(d["OutputDataConfig"]["S3OutputPath"], d["TrainingJobName"], "output")
            outputs = {"model_artifact": d.get("ModelArtifacts", {}).get("S3ModelArtifacts") or _join(base, "model.tar.gz"),
                       "output_data": _join(base, "output.tar.gz"),
                       "output": d["OutputDataConfig"]["S3OutputPath"]}
    elif kind == "tune":
        state = d["HyperParameterTuningJobStatus"]
        best = d.get("BestTrainingJob") or {}
        details = {"arn": d.get("HyperParameterTuningJobArn"),
                   "training_job_counters": d.get("TrainingJobStatusCounters"),
                   "best_training_job": best.get("TrainingJobName"),
                   "best_hyperparameters": best.get("TunedHyperParameters"),
                   "best_objective": best.get("FinalHyperParameterTuningJobObjectiveMetric")}
        if state == "Completed" and best.get("TrainingJobName"):
            root = d["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"]
            base = _join(root, best["TrainingJobName"], "output")
            outputs = {"model_artifact": _join(base, "model.tar.gz"), "output_data": _join(base, "output.tar.gz"),
                       "best_training_job": best["TrainingJobName"], "output": root}
    elif kind in PROCESSING_KINDS:
        state = d["ProcessingJobStatus"]
        details = {"arn": d.get("ProcessingJobArn"), "exit_message": d.get("ExitMessage")}
        outs = d.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for o in outs:
            if "S3Output" in o:
                outputs[o["OutputName"]] = o["S3Output"]["S3Uri"]
        if outs and "S3Output" in outs[0]:
            outputs["output"] = outs[0]["S3Output"]["S3Uri"]
    elif kind == "transform":
        state = d["TransformJobStatus"]
        details = {"arn": d.get("TransformJobArn"), "model_name": d.get("ModelName")}
        outputs = {"output": d["TransformOutput"]["S3OutputPath"]}
        capture = (d.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
        if capture:
            outputs["capture"] = capture
    else:
        raise ConfigError(f"unknown job kind {kind!r}", key="JobHandle.kind", fix="Use a handle returned by submit().")
    reason = d.get("FailureReason") or (d.get("ExitMessage") if state == "Failed" else None) or None
    if state in ("Deleting", "DeleteFailed"):
        state, reason = "Stopped", reason or f"the job is being deleted ({state})"
    return JobStatus(state=state, failure_reason=reason, outputs=outputs,
                     details={k: v for k, v in details.items() if v is not None})


def describe_digest(kind: str, d: Mapping[str, Any]) -> str | None:
    """The spec digest stored on an existing job (None when the API does not echo it back)."""
    if kind == "tune":
        env = (d.get("TrainingJobDefinition") or {}).get("Environment") or {}
    else:
        env = d.get("Environment") or {}
    return env.get(DIGEST_ENV)
