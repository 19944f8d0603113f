"""The monitor compute job of the monitoring workflow: its spec, its environment, running it and reading
its result. Both halves of monitoring (``lifecycle.monitoring``: a baseline per version, a run per
partition) submit this one job kind; ``lifecycle.jobs`` maps the ``monitor`` kind to ``monitor_spec``."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airsage import layout, storage
from airsage.compute.base import JobSpec, job_name
from airsage.config import UseCase
from airsage.contracts import JobResult, MonitorArgs
from airsage.errors import ConfigError, DataValidationError
from airsage.lifecycle import common
from airsage.lifecycle.monitoring_clarify import (
    CLARIFY_BASELINE_CHANNEL,
    GROUNDTRUTH_CHANNEL,
    MODEL_CHANNEL,
    unjudged_columns,
)
from airsage.lifecycle.monitoring_data import (
    CONSTRAINTS_FILE,
    SCORE,
    SCORE_STATISTICS_FILE,
    STATISTICS_FILE,
    drift_thresholds,
)

# =========================================================================== the monitor job
# Both halves of monitoring run as one compute job, ``python -m airsage.entrypoints.monitor`` (Model
# Monitor's processing contract), on the backend ``compute.monitor.backend`` names: a plan writes the
# job's inputs, ``monitor_spec`` turns the plan's ``job`` entry (``MonitorArgs``) into a JobSpec (the DAGs
# run it through RunJobOperator, the conveniences below through ``common.run_job``), and a finish step
# combines the job's output with what only the caller knows (scores, labels, history) and publishes.
MONITOR_MODES = ("suggest-baseline", "analyze")
STAGING_DIR = "_staging"          # inside the directory the finish publishes: replaced with it
CONFIG_CHANNEL = "monitor_config"
MONITOR_CONFIG_FILE = "monitor_config.json"   # the entrypoint's settings file (monitor_config channel)
# every job input is a staged directory (one channel each): the same on SageMaker (an S3 prefix) and
# under the local backend (copied or linked), whatever the data root
BASELINE_CHANNELS = {"statistics_uri": ("baseline_statistics", STATISTICS_FILE),
                     "constraints_uri": ("baseline_constraints", CONSTRAINTS_FILE),
                     "score_statistics_uri": ("score_statistics", SCORE_STATISTICS_FILE)}
META_FILE = "meta.parquet"        # the judged rows' ids, capture times, scores, predicted labels


def run_output_uri(uc: UseCase, partition: dt.date | str, run_key: str) -> str:
    """Where one monitoring run is published (the run key made path-safe)."""
    from airsage.monitor.history import safe_key

    return layout.monitor_run(uc, partition, safe_key(run_key))


def monitor_spec(uc: UseCase, *, run_key: str, mode: str, target: str, dataset_uri: str, config_uri: str,
                 input_digest: str, statistics_uri: str | None = None, constraints_uri: str | None = None,
                 score_statistics_uri: str | None = None, clarify_baseline_uri: str | None = None,
                 model_uri: str | None = None, groundtruth_uri: str | None = None) -> JobSpec:
    """A Model Monitor processing job: ``python -m airsage.entrypoints.monitor`` (the arguments are the
    ``job`` entry of ``plan_baseline`` / ``plan_partition``, i.e. ``MonitorArgs``).

    Inputs are processing channels, each a directory the plan staged (``/opt/ml/processing/input/<channel>``
    on SageMaker, the same layout under the local backend): ``baseline_dataset_input`` (suggest-baseline)
    or ``dataset`` + ``baseline_statistics`` + ``baseline_constraints`` (+ ``score_statistics``)
    (analyze), and ``monitor_config`` (the settings file: feature types, SHAP weights, the bias
    configuration and bounds). For the Clarify-based monitors (analyze): ``clarify_baseline`` (the
    version's Clarify ``analysis.json``), ``model`` (its ``model.tar.gz``: attribution drift) and
    ``groundtruth`` (labels of the judged rows: the label-based bias metrics). The environment
    carries the small settings (mode, thresholds). The output goes to ``monitor/jobs/<job name>/`` and is
    kept (a retried or re-run task reattaches to the finished job and finds it). The name holds the target
    (``v<version>`` or the partition), the run key and a digest of the inputs and settings: unique per
    run, per mapped partition and per input content (SageMaker never reuses a job name).
    """
    import hashlib

    if mode not in MONITOR_MODES:
        raise ConfigError(f"unknown monitor mode {mode!r}", key="mode", fix=f"Use one of {MONITOR_MODES}.")
    if mode == "suggest-baseline":
        inputs = {"baseline_dataset_input": dataset_uri, "monitor_config": config_uri}
    else:
        if not (statistics_uri and constraints_uri):
            raise ConfigError("an analyze job needs the baseline's statistics.json and constraints.json",
                              key="statistics_uri", fix="Plan it with airsage.lifecycle.monitoring.plan_partition.")
        inputs = {"dataset": dataset_uri, "baseline_statistics": statistics_uri,
                  "baseline_constraints": constraints_uri, "monitor_config": config_uri}
        if score_statistics_uri:
            inputs["score_statistics"] = score_statistics_uri
        for channel, uri in ((CLARIFY_BASELINE_CHANNEL, clarify_baseline_uri), (MODEL_CHANNEL, model_uri),
                             (GROUNDTRUTH_CHANNEL, groundtruth_uri)):
            if uri:
                inputs[channel] = uri
    env = job_environment(uc, mode, with_score=bool(score_statistics_uri), clarify=bool(clarify_baseline_uri))
    digest = hashlib.sha256(json.dumps({"inputs": inputs, "environment": env, "input_digest": input_digest},
                                       sort_keys=True).encode()).hexdigest()[:8]
    short = "baseline" if mode == "suggest-baseline" else "analyze"
    name = job_name(uc.name, "monitor", short, target, run_key, digest)
    return JobSpec(kind="monitor", name=name, entrypoint="airsage.entrypoints.monitor", inputs=inputs,
                   output_uri=layout.monitor_job_output(uc, name), environment=env,
                   parameters={"mode": mode, "dataset_format": {"parquet": {}}},
                   resources=common.resources(uc, "monitor"),
                   tags={"usecase": uc.name, "monitor_mode": mode, "target": str(target)})


def job_environment(uc: UseCase, mode: str, *, with_score: bool = False, clarify: bool = False) -> dict[str, str]:
    """The monitor entrypoint's environment for a job of this use case (each value well under
    SageMaker's 256 characters; larger settings travel in the ``monitor_config`` input file).
    ``clarify``: the job also runs the Clarify-based monitors (the staged rows then carry ids, capture
    times and facets, which data quality leaves out)."""
    env = {"AIRSAGE_MONITOR_MODE": mode, "analysis_type": "DATA_QUALITY", "dataset_format": '{"parquet":{}}'}
    m = uc.monitor
    if mode == "suggest-baseline":
        env.update({"AIRSAGE_MONITOR_COMPARISON_METHOD": m.comparison_method,
                    "AIRSAGE_MONITOR_COMPARISON_THRESHOLD": repr(float(m.comparison_threshold))})
    else:
        th = drift_thresholds(uc)
        # the staged dataset holds exactly what is judged (+ what only the Clarify-based monitors read)
        env.update({"AIRSAGE_MONITOR_EXCLUDE": json.dumps(unjudged_columns(uc) if clarify else [],
                                                          separators=(",", ":")),
                    "AIRSAGE_MONITOR_THRESHOLDS": json.dumps(
                        {k: getattr(th, k) for k in ("psi_threshold", "js_threshold", "wasserstein_threshold",
                                                     "drifted_share_alert", "min_rows")}, separators=(",", ":"))})
        if with_score:
            env["AIRSAGE_MONITOR_SCORE_COLUMN"] = SCORE
        if clarify:
            start_h, end_h = m.ground_truth_offset_hours
            env.update({"AIRSAGE_MONITOR_GROUND_TRUTH_OFFSETS": f"{float(start_h)!r},{float(end_h)!r}",
                        "AIRSAGE_MONITOR_CLARIFY_MONITORS": "auto"})  # the plan mounted only what is wanted
    return env


def run_job(uc: UseCase, args: MonitorArgs | Mapping[str, Any], run_key: str) -> JobResult:
    """Run one monitor job on the use case's backend and wait: what RunJobOperator does, without Airflow."""
    a = args.to_dict() if isinstance(args, MonitorArgs) else dict(args)
    return common.run_job(uc, monitor_spec(uc, run_key=run_key, **a), poll_s=0.5)


def job_output(job: JobResult | Mapping[str, Any]) -> str:
    result = job if isinstance(job, JobResult) else JobResult.from_dict({"outputs": {}, **job})
    out = result.outputs.get("output")
    if not out:
        raise DataValidationError(result.job_name or "monitor job", ["the job result names no output"],
                                  fix="Pass the result of the monitor job (RunJobOperator's return value).")
    return str(out)


def digest(*parts: Any, files: list[Path] = ()) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def s3_prefix(uri: str) -> str:
    """A directory input: on S3 with a trailing slash, so that the S3Prefix names this directory only."""
    return uri.rstrip("/") + "/" if storage.is_s3(uri) else uri
