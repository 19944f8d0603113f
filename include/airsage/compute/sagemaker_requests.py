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
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from airsage.compute.base import JOB_KINDS, PROCESSING_KINDS, TRAINING_KINDS, JobSpec, JobStatus, job_name
from airsage.compute.packaging import INFERENCE_PROGRAM, MODEL_CODE_DIR, SOURCEDIR_NAME, TRAIN_PROGRAM
from airsage.compute.sagemaker_images import clarify_image_uri, model_monitor_image_uri, xgboost_image_uri
from airsage.config import JobCompute, SageMakerSpec
from airsage.errors import ConfigError

# ----------------------------------------------------------------------------- vocabulary
TRIGGER_JOB_TYPES = {"train": "training", "tune": "tuning", "transform": "transform",
                     "clarify": "processing", "monitor": "processing"}
CREATE_OPERATION = {"train": "CreateTrainingJob", "tune": "CreateHyperParameterTuningJob",
                    "transform": "CreateTransformJob", "clarify": "CreateProcessingJob",
                    "monitor": "CreateProcessingJob"}
if set(TRIGGER_JOB_TYPES) != set(JOB_KINDS) or set(CREATE_OPERATION) != set(JOB_KINDS):  # pragma: no cover
    raise ImportError(f"the SageMaker tables must name every job kind {JOB_KINDS}")
MAX_TUNING_NAME = 32  # HyperParameterTuningJobName is at most 32 characters
DIGEST_ENV = "AIRSAGE_SPEC_DIGEST"

# Held-out test metrics the train/tune entrypoints print as ``airsage-metric <name>=<value>``
# (airsage.training.outputs.print_metrics) -> MetricDefinitions ``test:<name>``.
METRICS = ("auc", "pr_auc", "precision", "recall", "f1", "accuracy", "log_loss", "brier", "ece", "positive_rate")
MINIMIZE = frozenset({"log_loss", "brier", "ece"})
TEST_PREFIX = "test:"
VALIDATION_PREFIX = "validation:"
_NUMBER = r"([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|nan|NaN|inf|-inf)"
# The tune entrypoint prints one line per trial; its metric is the *validation* objective.
TRIAL_REGEX = r"airsage-trial \d+ status=Completed metric=" + _NUMBER
STRATEGIES = {"random": "Random", "grid": "Grid", "bayesian": "Bayesian", "hyperband": "Hyperband"}
TUNE_ENTRYPOINT = "airsage.entrypoints.tune"
# The local tuner's defaults (airsage.training.tuning), repeated here because compute must not import
# the training domain; a test keeps them equal.
TUNING_OBJECTIVES = ("auc", "pr_auc", "f1", "log_loss")
DEFAULT_SEARCH_SPACE = {"max_depth": [3, 8], "eta": [0.03, 0.3], "min_child_weight": [1.0, 10.0],
                        "subsample": [0.6, 1.0], "colsample_bytree": [0.5, 1.0]}
INT_PARAMS = frozenset({"max_depth", "num_round", "max_bin", "max_leaves"})

OPT_ML = "/opt/ml"
PROCESSING_INPUT = "/opt/ml/processing/input"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
CODE_CHANNEL = "code"
CODE_CHANNEL_SOURCEDIR = f"/opt/ml/input/data/{CODE_CHANNEL}/{SOURCEDIR_NAME}"  # SDK's path under network isolation
CODE_DIR = "/opt/ml/code"
MODEL_CODE_SUBMIT_DIR = f"/opt/ml/model/{MODEL_CODE_DIR}"
# ``sh -c CMD <module>``: unpack the sourcedir, install requirements if any, run the module ($0).
PROCESSING_RUNNER = (f"mkdir -p {CODE_DIR} && tar -xzf {PROCESSING_INPUT}/{CODE_CHANNEL}/{SOURCEDIR_NAME} -C {CODE_DIR}"
                     f" && cd {CODE_DIR} && {{ [ ! -f requirements.txt ] || python3 -m pip install -q -r requirements.txt; }}"
                     ' && exec python3 -m "$0"')

CONSOLE_ROUTES = {"train": "jobs", "tune": "hyper-tuning-jobs", "transform": "transform-jobs",
                  "clarify": "processing-jobs", "monitor": "processing-jobs"}

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


# ----------------------------------------------------------------------------- small helpers
def tuning_job_name(name: str) -> str:
    """The deterministic <= 32-character name of a tuning job (SageMaker's limit)."""
    return job_name(name, max_len=MAX_TUNING_NAME)


def physical_name(spec: JobSpec) -> str:
    """The name the job has in SageMaker (the spec's own, shortened for tuning jobs)."""
    return tuning_job_name(spec.name) if spec.kind == "tune" else spec.name


def console_url(region: str, kind: str, name: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/{CONSOLE_ROUTES[kind]}/{name}")


def spec_digest(spec: JobSpec) -> str:
    """A short hash of the whole spec, stored on the job so a resubmit can tell "same job" from "name clash"."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def metric_definitions(validation_objective: str | None = None) -> list[dict[str, str]]:
    """MetricDefinitions for the ``airsage-metric <name>=<value>`` lines (``test:<name>``), plus
    ``validation:<objective>`` from the tune entrypoint's ``airsage-trial ... metric=<value>`` line."""
    defs = [{"Name": f"{TEST_PREFIX}{m}", "Regex": rf"airsage-metric {m}={_NUMBER}"} for m in METRICS]
    if validation_objective:
        defs.append({"Name": f"{VALIDATION_PREFIX}{validation_objective}", "Regex": TRIAL_REGEX})
    return defs


def _require_s3(uri: str, what: str, key: str = "data.root") -> str:
    if not str(uri).startswith("s3://"):
        raise ConfigError(f"{what} {uri!r} is not an s3:// URI; SageMaker jobs read and write S3 only", key=key,
                          fix="Point the use case's data.root (or Settings.data_root) at s3://bucket/prefix, "
                              "or run this job with compute.<job>.backend: local.")
    return str(uri)


def _require_settings(sm: SageMakerSpec) -> None:
    if not sm.role_arn:
        raise ConfigError("sagemaker.role_arn is not set", key="sagemaker.role_arn",
                          fix="Set sagemaker.role_arn to the SageMaker execution role (README: Running on SageMaker).")
    if not sm.s3_prefix:
        raise ConfigError("sagemaker.s3_prefix is not set", key="sagemaker.s3_prefix",
                          fix="Set sagemaker.s3_prefix to s3://bucket/prefix for code and job outputs.")


def resources(spec: JobSpec, compute: JobCompute) -> dict[str, Any]:
    """Instance settings: the spec's ``resources`` win over the use case's ``compute.<job>``."""
    r = spec.resources
    return {"instance_type": str(r.get("instance_type") or compute.instance_type),
            "instance_count": int(r.get("instance_count") or compute.instance_count),
            "volume_size_gb": int(r.get("volume_size_gb") or compute.volume_size_gb),
            "max_runtime_s": int(r.get("max_runtime_s") or compute.max_runtime_s)}


def image_uri(sm: SageMakerSpec) -> str:
    """The script-mode image: ``sagemaker.image_uri`` or the SageMaker XGBoost framework image."""
    return sm.image_uri or xgboost_image_uri(sm.region, sm.framework_version)


def _tags(spec: JobSpec, sm: SageMakerSpec, usecase: str | None) -> list[dict[str, str]]:
    tags = {**sm.tags, **{str(k): str(v) for k, v in spec.tags.items()}, "airsage:kind": spec.kind}
    if usecase:
        tags["airsage:usecase"] = usecase
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _vpc(sm: SageMakerSpec) -> dict[str, Any] | None:
    if sm.subnets and sm.security_group_ids:
        return {"SecurityGroupIds": list(sm.security_group_ids), "Subnets": list(sm.subnets)}
    return None


def _kms(sm: SageMakerSpec, key: str = "KmsKeyId") -> dict[str, str]:
    return {key: sm.kms_key_id} if sm.kms_key_id else {}


def contract_environment(spec: JobSpec) -> dict[str, str]:
    """The ``AIRSAGE_*`` variables the local backend sets, so an entrypoint sees the same on SageMaker."""
    env = {str(k): str(v) for k, v in spec.environment.items()}
    env.update({"AIRSAGE_JOB_NAME": spec.name, "AIRSAGE_OUTPUT_URI": spec.output_uri, DIGEST_ENV: spec_digest(spec)})
    if spec.parameters:
        env["AIRSAGE_JOB_PARAMETERS"] = json.dumps(dict(spec.parameters), sort_keys=True, default=str)
    for ch, uri in spec.inputs.items():
        env["AIRSAGE_INPUT_" + re.sub(r"[^A-Za-z0-9_]", "_", ch).upper()] = uri
    return env


# ----------------------------------------------------------------------------- training / tuning
def _channel(name: str, uri: str) -> dict[str, Any]:
    return {"ChannelName": name, "InputMode": "File", "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri,
                                            "S3DataDistributionType": "FullyReplicated"}}}


def script_mode_hyperparameters(sm: SageMakerSpec, sourcedir_uri: str, entrypoint: str) -> dict[str, str]:
    """The ``sagemaker_*`` keys the training toolkit reads, JSON-encoded as the SageMaker SDK sends them."""
    submit = CODE_CHANNEL_SOURCEDIR if sm.enable_network_isolation else sourcedir_uri
    return {"sagemaker_program": json.dumps(TRAIN_PROGRAM), "sagemaker_submit_directory": json.dumps(submit),
            "sagemaker_region": json.dumps(sm.region), "sagemaker_container_log_level": "20",
            "airsage_entrypoint": json.dumps(entrypoint)}


def _training_parts(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute, sourcedir_uri: str) -> dict[str, Any]:
    _require_settings(sm)
    _require_s3(sourcedir_uri, "the sourcedir", key="sagemaker.s3_prefix")
    _require_s3(spec.output_uri, "the output URI")
    if CODE_CHANNEL in spec.inputs:
        raise ConfigError(f"input channel {CODE_CHANNEL!r} is reserved for the job's code", key="JobSpec.inputs",
                          fix="Rename the channel.")
    channels = [_channel(ch, _require_s3(uri, f"input channel {ch!r}")) for ch, uri in sorted(spec.inputs.items())]
    if sm.enable_network_isolation:  # the container cannot fetch the code itself: hand it over as a channel
        channels.append(_channel(CODE_CHANNEL, sourcedir_uri))
    r = resources(spec, compute)
    parts: dict[str, Any] = {
        "AlgorithmSpecification": {"TrainingImage": image_uri(sm), "TrainingInputMode": "File",
                                   "MetricDefinitions": metric_definitions()},
        "RoleArn": sm.role_arn,
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": spec.output_uri, **_kms(sm)},
        "ResourceConfig": {"InstanceType": r["instance_type"], "InstanceCount": r["instance_count"],
                           "VolumeSizeInGB": r["volume_size_gb"], **_kms(sm, "VolumeKmsKeyId")},
        "StoppingCondition": {"MaxRuntimeInSeconds": r["max_runtime_s"]},
        "EnableNetworkIsolation": bool(sm.enable_network_isolation),
        "Environment": contract_environment(spec),
    }
    if vpc := _vpc(sm):
        parts["VpcConfig"] = vpc
    return parts


def training_request(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute, *, sourcedir_uri: str,
                     usecase: str | None = None) -> dict[str, Any]:
    """``CreateTrainingJob`` for a ``train`` spec (script mode in the XGBoost framework image)."""
    parts = _training_parts(spec, sm, compute, sourcedir_uri)
    hps = {**{str(k): v for k, v in spec.hyperparameters.items()},
           **script_mode_hyperparameters(sm, sourcedir_uri, spec.entrypoint)}
    return {"TrainingJobName": spec.name, **parts, "HyperParameters": hps, "Tags": _tags(spec, sm, usecase)}


def _linspace(lo: float, hi: float, k: int) -> list[float]:
    return [lo + (hi - lo) * i / (k - 1) for i in range(k)]


def _grid_levels(name: str, bounds: list, k: int) -> list:
    """The local tuner's grid levels (``airsage.training.tuning._levels``)."""
    if len(bounds) > 2:
        return list(bounds)
    lo, hi = bounds
    if name in INT_PARAMS or all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
        return sorted({int(round(v)) for v in _linspace(int(lo), int(hi), k)})
    return [float(f"{v:.6g}") for v in _linspace(float(lo), float(hi), k)]


def parameter_ranges(search_space: Mapping[str, Any], strategy: str = "Random",
                     max_trials: int = 8) -> dict[str, list[dict]]:
    """SageMaker ParameterRanges from ``training.tuning.search_space``, read as the local tuner reads it.

    ``name: [low, high]`` is an integer range when the name is an integer XGBoost parameter or both
    bounds are integers, else continuous (log-scaled when ``high / low >= 10``, as the local tuner
    samples it); a longer list is a set of levels (categorical); ``{type, min, max, values, scaling}``
    is explicit. Grid search takes categorical ranges only: each range becomes the local tuner's grid
    levels (``k = floor(max_trials ** (1 / n))``, at least 2, per parameter).
    """
    out: dict[str, list[dict]] = {"IntegerParameterRanges": [], "ContinuousParameterRanges": [],
                                  "CategoricalParameterRanges": []}
    k = max(2, int(max_trials ** (1 / max(len(search_space), 1)) + 1e-9))
    for name, spec in sorted(search_space.items()):
        key = f"training.tuning.search_space.{name}"
        scaling = None
        if isinstance(spec, Mapping):
            kind = str(spec.get("type", "continuous")).lower()
            low, high, values, scaling = spec.get("min"), spec.get("max"), spec.get("values"), spec.get("scaling")
        else:
            vals = list(spec)
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
            if len(vals) == 2 and numeric:
                low, high, values = vals[0], vals[1], None
                kind = "integer" if name in INT_PARAMS or all(isinstance(v, int) for v in vals) else "continuous"
                if kind == "continuous" and low > 0 and high / low >= 10:
                    scaling = "Logarithmic"
            else:
                kind, low, high, values = "categorical", None, None, vals
        if kind in ("integer", "continuous") and (low is None or high is None or not float(low) < float(high)):
            raise ConfigError(f"range for {name!r} needs min < max, got {low!r}..{high!r}", key=key,
                              fix="Write the range as [low, high] with low < high.")
        if strategy == "Grid" and kind in ("integer", "continuous"):
            kind, values = "categorical", _grid_levels(name, [low, high] if kind == "continuous" else
                                                       [int(low), int(high)], k)
        if kind == "categorical":
            if not values or len(values) > 30:
                raise ConfigError(f"{name!r} needs 1..30 values to try, got {len(values or [])}", key=key,
                                  fix="Narrow the range or use strategy: random with [low, high].")
            out["CategoricalParameterRanges"].append({"Name": name, "Values": [str(v) for v in values]})
            continue
        item = {"Name": name, "MinValue": str(int(low) if kind == "integer" else float(low)),
                "MaxValue": str(int(high) if kind == "integer" else float(high))}
        if scaling:
            item["ScalingType"] = str(scaling)
        out["IntegerParameterRanges" if kind == "integer" else "ContinuousParameterRanges"].append(item)
    return {k: v for k, v in out.items() if v}


def tuning_settings(spec: JobSpec) -> dict[str, Any]:
    """The tuning settings of a ``tune`` spec: its ``airsage_tuning`` hyperparameter (what the local
    tune entrypoint reads), overridden by keys in ``spec.parameters``."""
    raw = spec.hyperparameters.get("airsage_tuning") or "{}"
    try:
        settings = dict(json.loads(raw))
    except ValueError as exc:
        raise ConfigError(f"the airsage_tuning hyperparameter is not JSON: {exc}", key="JobSpec.hyperparameters",
                          fix="Build it with airsage.training.tuning.tuning_hyperparameters(uc).") from None
    settings.update({k: v for k, v in spec.parameters.items() if v is not None})
    if "ranges" in settings and not settings.get("search_space"):
        settings["search_space"] = settings["ranges"]
    return settings


def tuning_request(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute, *, sourcedir_uri: str,
                   usecase: str | None = None) -> dict[str, Any]:
    """``CreateHyperParameterTuningJob`` for a ``tune`` spec.

    Settings come from ``tuning_settings(spec)``: ``search_space`` (default: the local tuner's),
    ``objective`` (default ``auc``), ``strategy``, ``max_trials``, ``max_parallel`` (default 1),
    ``seed`` and ``trial_entrypoint`` (default: the spec's entrypoint).

    With the tune entrypoint each trial is the local tuner restricted to SageMaker's candidate
    (``airsage_train.py`` rewrites ``airsage_tuning`` to that one point): it is scored on the
    validation split carved from the training side, and the trial's model is refit on the whole
    training side, exactly as locally; the objective is ``validation:<objective>``. With
    ``trial_entrypoint: airsage.entrypoints.train`` the objective is the held-out *test* metric
    (``test:<objective>``), which is faster but lets the test set choose the hyperparameters.
    """
    p = tuning_settings(spec)
    strategy = STRATEGIES.get(str(p.get("strategy", "random")).lower())
    if strategy is None:
        raise ConfigError(f"unknown tuning strategy {p.get('strategy')!r}", key="training.tuning.strategy",
                          fix=f"Use one of {sorted(STRATEGIES)}.")
    trial = str(p.get("trial_entrypoint") or spec.entrypoint)
    objective = str(p.get("objective", "auc"))
    allowed = TUNING_OBJECTIVES if trial == TUNE_ENTRYPOINT else METRICS
    if objective not in allowed:
        raise ConfigError(f"unknown tuning objective {objective!r}", key="training.tuning.objective",
                          fix=f"Use one of {list(allowed)}.")
    max_trials = int(p.get("max_trials", 8))
    ranges = parameter_ranges(p.get("search_space") or DEFAULT_SEARCH_SPACE, strategy, max_trials)
    tuned = sorted(r["Name"] for group in ranges.values() for r in group)
    parts = _training_parts(spec, sm, compute, sourcedir_uri)
    validation = trial == TUNE_ENTRYPOINT
    parts["AlgorithmSpecification"]["MetricDefinitions"] = metric_definitions(objective if validation else None)
    static = {str(k): v for k, v in spec.hyperparameters.items() if k not in tuned}
    static.update(script_mode_hyperparameters(sm, sourcedir_uri, trial))
    static["airsage_tuned"] = json.dumps(tuned)
    limits: dict[str, int] = {"MaxParallelTrainingJobs": int(p.get("max_parallel", 1))}
    if strategy != "Grid":  # grid runs every combination; SageMaker derives the count
        limits["MaxNumberOfTrainingJobs"] = max_trials
    metric = f"{VALIDATION_PREFIX if validation else TEST_PREFIX}{objective}"
    config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize" if objective in MINIMIZE else "Maximize",
                                             "MetricName": metric},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        "TrainingJobEarlyStoppingType": "Off",
    }
    if p.get("seed") is not None and strategy != "Grid":
        config["RandomSeed"] = int(p["seed"])
    return {"HyperParameterTuningJobName": tuning_job_name(spec.name), "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": {"StaticHyperParameters": static, **parts},
            "Tags": _tags(spec, sm, usecase)}


# ----------------------------------------------------------------------------- transform
CONTENT_TYPES = ("text/csv", "application/jsonlines", "application/json", "application/x-parquet")
# airsage.transform.settings.INFERENCE_FIELDS (repeated: compute must not import a domain room; a test
# keeps them equal)
LOCAL_INFERENCE_FIELDS = ("inference_id", "model_name", "model_version", "predicted_label", "score")
JOINABLE = ("text/csv", "application/json", "application/jsonlines")
PARQUET = "application/x-parquet"
# What the serving container applies itself for Parquet (airsage.entrypoints.inference reads these)
CONTAINER_DATA_PROCESSING = {"input_filter": "AIRSAGE_INPUT_FILTER", "join_source": "AIRSAGE_JOIN_SOURCE",
                             "output_filter": "AIRSAGE_OUTPUT_FILTER"}
SAGEMAKER_DATA_PROCESSING_OFF = {"InputFilter": "$", "JoinSource": "None", "OutputFilter": "$"}


def model_request(spec: JobSpec, sm: SageMakerSpec, *, sourcedir_uri: str | None,
                  usecase: str | None = None) -> dict[str, Any]:
    """``CreateModel`` for a transform: the framework image serving ``inference.py``.

    The serving code comes from the S3 sourcedir; under network isolation the container cannot
    download it, so it must be inside ``model.tar.gz`` (``packaging.add_inference_code``). For
    Parquet the environment also carries ``input_filter`` / ``join_source`` / ``output_filter``
    (``CONTAINER_DATA_PROCESSING``): the container applies them, SageMaker cannot.
    """
    _require_settings(sm)
    model_uri = spec.inputs.get("model")
    if not model_uri:
        raise ConfigError("a transform JobSpec needs inputs['model'] (a model.tar.gz)", key="JobSpec.inputs",
                          fix="Pass the registered version's model.tar.gz URI as inputs['model'].")
    _require_s3(model_uri, "the model artifact", key="mlflow.artifact_root")
    submit = MODEL_CODE_SUBMIT_DIR if (sm.enable_network_isolation or not sourcedir_uri) else sourcedir_uri
    env = {"SAGEMAKER_PROGRAM": INFERENCE_PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": submit,
           "SAGEMAKER_REGION": sm.region, "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}
    p = spec.parameters
    fields = p.get("inference_fields") or LOCAL_INFERENCE_FIELDS  # what the local engine returns per record
    env["AIRSAGE_INFERENCE_FIELDS"] = fields if isinstance(fields, str) else ",".join(fields)
    for key, var in (("model_name", "AIRSAGE_MODEL_NAME"), ("model_version", "AIRSAGE_MODEL_VERSION"),
                     ("record_id_col", "AIRSAGE_RECORD_ID_COL")):
        if p.get(key) is not None:
            env[var] = str(p[key])
    if str(p.get("content_type", "text/csv")) == PARQUET:
        defaults = {"input_filter": "$", "join_source": "None", "output_filter": "$"}
        for key, var in CONTAINER_DATA_PROCESSING.items():
            env[var] = str(p.get(key) or defaults[key])
    container = {"Image": image_uri(sm), "ModelDataUrl": model_uri, "Environment": env}
    req: dict[str, Any] = {"ModelName": spec.name, "PrimaryContainer": container, "ExecutionRoleArn": sm.role_arn,
                           "EnableNetworkIsolation": bool(sm.enable_network_isolation),
                           "Tags": _tags(spec, sm, usecase)}
    if vpc := _vpc(sm):
        req["VpcConfig"] = vpc
    return req


def transform_request(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute,
                      usecase: str | None = None) -> dict[str, Any]:
    """``CreateTransformJob`` from the transform settings in ``spec.parameters``.

    Keys (``TransformSpec`` names): ``content_type``, ``split_type``, ``batch_strategy``,
    ``max_payload_mb``, ``input_filter``, ``join_source``, ``output_filter``, ``assemble_with``,
    ``capture``; optional ``accept``, ``capture_uri``, ``max_concurrent_transforms``,
    ``invocations_timeout_s``, ``invocations_max_retries``. SageMaker's own rules for these settings (CreateTransformJob API reference: the
    SplitType / BatchStrategy / AssembleWith combinations, MaxPayloadInMB 0..100, JSONPath filters of at
    most 63 characters) are checked here so a bad combination is a ``ConfigError`` before anything is created.

    ``application/x-parquet``: whole files. ``SplitType None`` (no BatchStrategy), ``AssembleWith
    None``, ``Accept application/x-parquet``, DataProcessing ``$`` / ``None`` / ``$`` (the container
    applies the filters and the join, see ``model_request``); ``split_type``, ``batch_strategy`` and
    ``assemble_with`` do not apply. Each file is one request, so every file must be at most
    ``max_payload_mb`` (1..100). Capture: ``GenerateInferenceId`` is off, since SageMaker documents
    it for CSV / JSON output only and the Parquet ``.out`` already carries ``inference_id``.
    """
    _require_settings(sm)
    p = spec.parameters
    key = "transform"
    data_uri = spec.inputs.get("data")
    if not data_uri:
        raise ConfigError("a transform JobSpec needs inputs['data']", key="JobSpec.inputs",
                          fix="Pass the S3 prefix of the records to score as inputs['data'].")
    _require_s3(data_uri, "the transform input")
    _require_s3(spec.output_uri, "the transform output")
    content_type = str(p.get("content_type", "text/csv"))
    split = str(p.get("split_type", "Line"))
    strategy = str(p.get("batch_strategy", "MultiRecord"))
    max_payload = int(p.get("max_payload_mb", 6))
    join = str(p.get("join_source", "None"))
    assemble = str(p.get("assemble_with", "Line" if split == "Line" else "None"))
    default_accept = content_type if content_type in JOINABLE else "text/csv"
    accept = str(p.get("accept") or default_accept)
    concurrent = p.get("max_concurrent_transforms")
    if content_type not in CONTENT_TYPES:
        raise ConfigError(f"unsupported content type {content_type!r}", key=f"{key}.content_type",
                          fix=f"Use one of {list(CONTENT_TYPES)}.")
    parquet = content_type == PARQUET
    if parquet:
        if p.get("accept") and str(p["accept"]) != PARQUET:
            raise ConfigError(f"Parquet input writes Parquet output; accept {p['accept']!r} is not supported",
                              key=f"{key}.accept", fix=f"Drop 'accept' or set it to {PARQUET} (as for the local engine).")
        if max_payload == 0:
            raise ConfigError("max_payload_mb 0 (unbounded) cannot hold whole Parquet files: SageMaker sends each "
                              "Parquet file as one request", key=f"{key}.max_payload_mb",
                              fix="Set max_payload_mb to at least the size of the largest input file in MB "
                                  "(at most 100; split larger partitions into smaller files).")
        # SageMaker cannot split Parquet and its DataProcessing handles CSV / JSON only: whole files,
        # the filters and the join are applied in the container (model_request's environment)
        split, assemble, accept = "None", "None", PARQUET
    if join == "Input" and not parquet:  # SageMaker joins CSV and JSON itself
        if accept != content_type:
            raise ConfigError(f"JoinSource=Input needs Accept ({accept}) == ContentType ({content_type})",
                              key=f"{key}.accept", fix="Drop 'accept' or set it to the content type.")
        if assemble != split:
            raise ConfigError(f"JoinSource=Input needs AssembleWith ({assemble}) == SplitType ({split})",
                              key=f"{key}.assemble_with", fix="Set assemble_with: Line and split_type: Line.")
    if not 0 <= max_payload <= 100:
        raise ConfigError(f"max_payload_mb {max_payload} is outside 0..100", key=f"{key}.max_payload_mb",
                          fix="Use at most 100 (SageMaker's limit), and at least the size of one record "
                              "(for Parquet: of the largest file, as each file is one request).")
    if concurrent and int(concurrent) * max_payload > 100:
        raise ConfigError(f"max_concurrent_transforms x max_payload_mb = {int(concurrent) * max_payload} > 100",
                          key=f"{key}.max_payload_mb", fix="Lower either value so that their product is <= 100.")
    r = resources(spec, compute)
    env = {k: v for k, v in contract_environment(spec).items() if k in (DIGEST_ENV, "AIRSAGE_JOB_NAME")}
    env.update({str(k): str(v) for k, v in spec.environment.items()})
    req: dict[str, Any] = {
        "TransformJobName": spec.name,
        "ModelName": spec.name,
        "MaxPayloadInMB": max_payload,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_uri}},
                           "ContentType": content_type, "SplitType": split, "CompressionType": "None"},
        "TransformOutput": {"S3OutputPath": spec.output_uri, "Accept": accept, "AssembleWith": assemble, **_kms(sm)},
        "TransformResources": {"InstanceType": r["instance_type"], "InstanceCount": r["instance_count"],
                               **_kms(sm, "VolumeKmsKeyId")},
        "DataProcessing": dict(SAGEMAKER_DATA_PROCESSING_OFF) if parquet else
        {"InputFilter": str(p.get("input_filter", "$")), "JoinSource": join, "OutputFilter": str(p.get("output_filter", "$"))},
        "Environment": env,
        "Tags": _tags(spec, sm, usecase),
    }
    if split != "None":  # BatchStrategy only applies to split records
        req["BatchStrategy"] = strategy
    if concurrent:
        req["MaxConcurrentTransforms"] = int(concurrent)
    client_cfg = {}
    if p.get("invocations_timeout_s"):
        client_cfg["InvocationsTimeoutInSeconds"] = int(p["invocations_timeout_s"])
    if p.get("invocations_max_retries") is not None:
        client_cfg["InvocationsMaxRetries"] = int(p["invocations_max_retries"])
    if client_cfg:
        req["ModelClientConfig"] = client_cfg
    if p.get("capture") or p.get("capture_uri"):
        # SageMaker's own capture format, kept apart from Airsage's capture tables under capture_uri
        dest = (f"{str(p['capture_uri']).rstrip('/')}/sagemaker/{spec.name}" if p.get("capture_uri")
                else f"{sm.s3_prefix.rstrip('/')}/capture/{spec.name}")
        req["DataCaptureConfig"] = {"DestinationS3Uri": _require_s3(dest, "the capture URI"),
                                    "GenerateInferenceId": not parquet, **_kms(sm)}
    return req


# ----------------------------------------------------------------------------- processing
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


# ----------------------------------------------------------------------------- validation
class InvalidRequestError(ConfigError):
    """A SageMaker request does not match botocore's service model."""


@functools.lru_cache(maxsize=1)
def _service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@functools.lru_cache(maxsize=512)
def _pattern(pattern: str):
    try:
        import regex as re_engine  # understands the Java-style \p{L} classes some shapes use
    except ImportError:  # pragma: no cover - regex is optional
        import re as re_engine
    try:
        return re_engine.compile(pattern)
    except Exception:  # noqa: BLE001 - an untranslatable pattern is skipped, not guessed
        return None


def _operation_name(operation: str) -> str:
    model = _service_model()
    if operation in model.operation_names:
        return operation
    from botocore import xform_name

    by_snake = {xform_name(op): op for op in model.operation_names}
    if operation in by_snake:
        return by_snake[operation]
    raise ValueError(f"unknown SageMaker operation {operation!r}")


def _constraint_errors(value: Any, shape, path: str) -> list[str]:
    """Enum, maximum-length/-value and pattern checks, which botocore's ParamValidator leaves out."""
    errors: list[str] = []
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                errors += _constraint_errors(value[name], member, f"{path}.{name}")
    elif kind == "list" and isinstance(value, (list, tuple)):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            errors += _constraint_errors(item, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} entries, at most {meta['max']} allowed")
        for k, v in value.items():
            errors += _constraint_errors(k, shape.key, f"{path} key {k!r}")
            errors += _constraint_errors(v, shape.value, f"{path}[{k!r}]")
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
        compiled = _pattern(meta["pattern"]) if meta.get("pattern") else None
        if compiled is not None and compiled.fullmatch(value) is None:
            errors.append(f"{path}: {value!r} does not match the pattern {meta['pattern']!r}")
    elif kind in ("integer", "long") and isinstance(value, int) and "max" in meta and value > meta["max"]:
        errors.append(f"{path}: {value} is above the maximum {meta['max']}")
    return errors


def validate_request(operation: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check a request against botocore's SageMaker model; return it unchanged or raise ``InvalidRequestError``.

    ``operation`` is the API name (``CreateTrainingJob``) or the boto3 method (``create_training_job``).
    """
    from botocore.validate import ParamValidator

    op = _operation_name(operation)
    shape = _service_model().operation_model(op).input_shape
    problems: list[str] = []
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems.append(report.generate_report())
    problems += _constraint_errors(params, shape, op)
    if problems:
        raise InvalidRequestError(f"invalid {op} request:\n  " + "\n  ".join(problems), key=op,
                                  fix="Correct the setting that produced the value named above (sagemaker.* or "
                                      "compute.<job>.* in the use case, or the JobSpec).")
    return params
