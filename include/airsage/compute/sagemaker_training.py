"""Request builders for the ``train`` and ``tune`` kinds: ``CreateTrainingJob`` in script mode and
``CreateHyperParameterTuningJob`` (the local tuner's search space as SageMaker parameter ranges).

Pure: nothing here calls AWS (``sagemaker_requests`` assembles the builders and validates the requests).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airsage.compute.base import JobSpec
from airsage.compute.packaging import TRAIN_PROGRAM
from airsage.compute.sagemaker_common import (
    CODE_CHANNEL,
    CODE_CHANNEL_SOURCEDIR,
    _kms,
    _require_s3,
    _require_settings,
    _tags,
    _vpc,
    contract_environment,
    image_uri,
    resources,
    tuning_job_name,
)
from airsage.config import JobCompute, SageMakerSpec
from airsage.errors import ConfigError

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


def metric_definitions(validation_objective: str | None = None) -> list[dict[str, str]]:
    """MetricDefinitions for the ``airsage-metric <name>=<value>`` lines (``test:<name>``), plus
    ``validation:<objective>`` from the tune entrypoint's ``airsage-trial ... metric=<value>`` line."""
    defs = [{"Name": f"{TEST_PREFIX}{m}", "Regex": rf"airsage-metric {m}={_NUMBER}"} for m in METRICS]
    if validation_objective:
        defs.append({"Name": f"{VALIDATION_PREFIX}{validation_objective}", "Regex": TRIAL_REGEX})
    return defs


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
