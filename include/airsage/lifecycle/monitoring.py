"""The monitoring workflow: a baseline per model version, one monitoring run per scored partition.

Called by the ``<uc>__monitor`` DAG and by the training DAG right after registration. Baselining and
analysis run as the monitor compute job (``plan_*`` -> the job on ``compute.monitor.backend`` ->
``finish_*``); ``suggest_baseline_for_version`` and ``monitor_partition`` run the three steps in one
call. The data it judges is ``monitoring_data``'s business; the CLI's ad-hoc analyses are
``monitoring_adhoc``. May import all of airsage, never Airflow.

Layout below the use case's root::

    monitor/baselines/v<version>/          one directory per model version, published as a unit
        statistics.json, constraints.json  Model Monitor data-quality baseline of the training features
        score_statistics.json              the held-out scores: the prediction-drift baseline
        model_quality.json                 the training evaluation in Model Monitor's model-quality
        model_quality_constraints.json     format, and its constraints (+ use-case overrides)
        feature_importance.json            mean |SHAP| per feature from the version's Clarify run
        baseline.json                      where each part came from
    monitor/runs/dt=<partition>/<run_key>/ one monitoring run, published as a unit (a rerun replaces it)
        statistics.json, constraint_violations.json      Model Monitor's data-quality outputs
        drift.json, summary.json                         effect-size drift per feature, the flat summary
        model_quality/statistics.json, model_quality/constraint_violations.json   when labels arrived
        bias_drift/analysis.json, bias_drift/constraint_violations.json          Clarify's bias-drift monitor
        feature_attribution_drift/analysis.json, .../constraint_violations.json  and its attribution-drift one
        run.json, report.html                            the run's verdict and a self-contained page
    monitor/history/<version>/<partition>.json           one point per partition (the trend)
    monitor/jobs/<job name>/               the monitor job's raw output (kept: a re-run task reattaches to it)

Why a baseline per version: a model is judged against the data it was trained on; after a new
champion the next partitions compare with *its* baseline, never with its predecessor's.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from airsage import layout, storage
from airsage.compute.base import JobSpec, job_name
from airsage.config import UseCase
from airsage.contracts import BaselinePlan, JobResult, MonitorArgs, PartitionPlan
from airsage.errors import ConfigError, DataValidationError
from airsage.lifecycle import common
from airsage.lifecycle.monitoring_data import (
    BASELINE_META_FILE,
    CLARIFY_BASELINE_CHANNEL,
    CLARIFY_INPUTS_FILE,
    GROUNDTRUTH_CHANNEL,
    MODEL_CHANNEL,
    CONSTRAINTS_FILE,
    FEATURE_IMPORTANCE_FILE,
    REPORT_FILE,
    RUN_FILE,
    SCORE,
    SCORE_STATISTICS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    bias_bounds,
    clarify_inputs,
    clarify_results,
    drift_thresholds,
    facet_lookup,
    feature_types,
    headline_metrics,
    importance_weights,
    judge_model_quality,
    now,
    read_optional,
    registry_run_key,
    run_weights,
    score_and_quality_baseline,
    select_capture,
    stage_capture,
    stage_ground_truth,
    training_outputs,
    unjudged_columns,
)

log = logging.getLogger("airsage.monitoring")

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


def _run_job(uc: UseCase, args: MonitorArgs | Mapping[str, Any], run_key: str) -> JobResult:
    """Run one monitor job on the use case's backend and wait: what RunJobOperator does, without Airflow."""
    a = args.to_dict() if isinstance(args, MonitorArgs) else dict(args)
    return common.run_job(uc, monitor_spec(uc, run_key=run_key, **a), poll_s=0.5)


def _job_output(job: JobResult | Mapping[str, Any]) -> str:
    result = job if isinstance(job, JobResult) else JobResult.from_dict({"outputs": {}, **job})
    out = result.outputs.get("output")
    if not out:
        raise DataValidationError(result.job_name or "monitor job", ["the job result names no output"],
                                  fix="Pass the result of the monitor job (RunJobOperator's return value).")
    return str(out)


def _digest(*parts: Any, files: list[Path] = ()) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _s3_prefix(uri: str) -> str:
    """A directory input: on S3 with a trailing slash, so that the S3Prefix names this directory only."""
    return uri.rstrip("/") + "/" if storage.is_s3(uri) else uri


# =========================================================================== baseline per version
def plan_baseline(
    uc: UseCase,
    version: str | int,
    *,
    dataset_uri: str,
    eval_predictions_uri: str | None = None,
    output_data_uri: str | None = None,
    run_key: str | None = None,
    clarify_analysis_uri: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Plan the baseline of one model version (arguments as ``suggest_baseline_for_version``).

    ``{"needed": False, "result": ...}`` when a complete baseline exists (and not ``overwrite``): no job
    runs. Otherwise ``{"needed": True, "job": <monitor_spec arguments>, ...}``: the suggest-baseline job
    profiles the training dataset over the use case's features; ``finish_baseline`` adds the rest.
    """
    from airsage.labeling.dataset import resolve_dataset

    version = layout.version_key(version)
    target = layout.monitor_baseline(uc, version)
    if storage.is_complete(target) and not overwrite:
        meta = read_optional(target, BASELINE_META_FILE) or {}
        log.info("baseline of %s v%s exists at %s: kept", uc.name, version, target)
        return BaselinePlan(needed=False, result={"baseline_uri": target, "created": False,
                                                  "files": meta.get("files", []),
                                                  "weights": meta.get("weights", "uniform")}).to_dict()
    data_uri = resolve_dataset(dataset_uri, uc)
    if clarify_analysis_uri and not storage.exists(clarify_analysis_uri):
        raise DataValidationError(clarify_analysis_uri, ["the Clarify analysis does not exist"],
                                  fix="Pass the analysis.json of the version's post-training Clarify job, or omit it.")
    run_key = run_key if run_key is not None else (None if clarify_analysis_uri else registry_run_key(uc, version))
    config = {"AIRSAGE_MONITOR_FEATURES": feature_types(uc)}
    config_dir = storage.join(target, STAGING_DIR, CONFIG_CHANNEL)
    with storage.atomic_dir(storage.join(target, STAGING_DIR)) as stage:  # replaced with the baseline
        (stage / CONFIG_CHANNEL).mkdir()
        (stage / CONFIG_CHANNEL / MONITOR_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    job = MonitorArgs(mode="suggest-baseline", target=f"v{version}", dataset_uri=_s3_prefix(data_uri),
                      config_uri=_s3_prefix(config_dir), input_digest=_digest(data_uri, config))
    return BaselinePlan(needed=True, version=version, baseline_uri=target, dataset_uri=data_uri,
                        eval_predictions_uri=eval_predictions_uri, output_data_uri=output_data_uri, run_key=run_key,
                        clarify_analysis_uri=clarify_analysis_uri, job=job).to_dict()


def finish_baseline(uc: UseCase, plan: BaselinePlan | Mapping[str, Any],
                    job: JobResult | Mapping[str, Any]) -> dict[str, Any]:
    """Publish the baseline: the job's ``statistics.json`` / ``constraints.json`` with the score,
    model-quality and SHAP-weight documents, as one directory (``atomic_dir``)."""
    p = plan if isinstance(plan, BaselinePlan) else BaselinePlan.from_dict(plan)
    if not p.needed:
        return dict(p.result or {})
    out = _job_output(job)
    version, target, data_uri = p.version, p.baseline_uri, p.dataset_uri
    statistics = storage.read_json(storage.join(out, STATISTICS_FILE))
    constraints = storage.read_json(storage.join(out, CONSTRAINTS_FILE))
    if not statistics.get("dataset", {}).get("item_count"):
        raise DataValidationError(data_uri, ["the training dataset has no rows"],
                                  fix="Pass the dataset version the model was trained on (its dataset_uri tag).")
    docs: dict[str, Any] = {STATISTICS_FILE: statistics, CONSTRAINTS_FILE: constraints}
    eval_predictions_uri, output_data_uri = p.eval_predictions_uri, p.output_data_uri
    with tempfile.TemporaryDirectory(prefix="airsage-baseline-") as tmp:
        outputs = training_outputs(output_data_uri, eval_predictions_uri, Path(tmp))
        docs.update(score_and_quality_baseline(uc, outputs))

    run_key, clarify_analysis_uri = p.run_key, p.clarify_analysis_uri
    analysis_uri = clarify_analysis_uri or (layout.clarify_analysis(uc, run_key) if run_key else None)
    weights = None
    if analysis_uri and storage.exists(analysis_uri):
        weights = importance_weights(storage.read_json(analysis_uri), list(feature_types(uc)))
    if weights:
        docs[FEATURE_IMPORTANCE_FILE] = {"source": analysis_uri, "method": "mean |SHAP| (Clarify global_shap_values)",
                                         "weights": weights}
    meta = {
        "use_case": uc.name, "model_name": uc.registered_model_name, "model_version": version,
        "created_at": now().isoformat(timespec="seconds"), "dataset_uri": data_uri,
        "eval_predictions_uri": eval_predictions_uri, "output_data_uri": output_data_uri, "run_key": run_key,
        "clarify_analysis_uri": analysis_uri if weights else None, "weights": "importance" if weights else "uniform",
        "item_count": statistics["dataset"]["item_count"], "features": len(statistics.get("features", [])),
        "files": sorted([*docs, BASELINE_META_FILE]),
    }
    docs[BASELINE_META_FILE] = meta
    with storage.atomic_dir(target) as stage:  # replaces the directory: the plan's _staging goes with it
        for name, doc in docs.items():
            (stage / name).write_text(json.dumps(doc, indent=2, default=str) + "\n")
    log.info("baseline of %s v%s written to %s (%s)", uc.name, version, target, ", ".join(meta["files"]))
    return {"baseline_uri": target, "created": True, "files": meta["files"], "weights": meta["weights"],
            "item_count": meta["item_count"]}


def suggest_baseline_for_version(
    uc: UseCase,
    version: str | int,
    *,
    dataset_uri: str,
    eval_predictions_uri: str | None = None,
    output_data_uri: str | None = None,
    run_key: str | None = None,
    clarify_analysis_uri: str | None = None,
    overwrite: bool = False,
    job_run_key: str | None = None,
) -> dict[str, Any]:
    """Suggest and store the monitoring baseline of one model version (idempotent).

    * ``dataset_uri``: the version's training dataset (a dataset directory, ``ds-…``, ``latest``, or a
      Parquet file): profiled over the use case's feature columns -> ``statistics.json`` and
      ``constraints.json`` (``monitor.comparison_method`` / ``comparison_threshold``) by the monitor
      job in suggest-baseline mode, on the backend ``compute.monitor.backend`` names.
    * ``eval_predictions_uri``: the held-out predictions (``eval_predictions.parquet``, or the training
      job's ``output.tar.gz`` holding it) -> the score distribution (prediction drift).
    * ``output_data_uri``: the training job's ``output.tar.gz``: its ``model_quality.json`` and
      ``model_quality_constraints.json`` become the model-quality baseline (without them, the metrics
      are computed from the held-out predictions). ``monitor.model_quality_constraints`` override.
    * SHAP importance: ``clarify_analysis_uri``, else ``reports/clarify/<run_key>/post_training/analysis.json``
      (``run_key`` defaults to the version's ``run_key`` tag in the registry); none found: uniform weights.

    A complete baseline is never rewritten unless ``overwrite``: runs already judged against it stay
    comparable. ``plan_baseline`` -> the job -> ``finish_baseline``, as the training DAG runs them
    (``job_run_key`` names the job; default: the training run key, else ``cli``).
    Returns ``{"baseline_uri", "created", "files", ...}``.
    """
    plan = plan_baseline(uc, version, dataset_uri=dataset_uri, eval_predictions_uri=eval_predictions_uri,
                         output_data_uri=output_data_uri, run_key=run_key,
                         clarify_analysis_uri=clarify_analysis_uri, overwrite=overwrite)
    if not plan["needed"]:
        return plan["result"]
    job = _run_job(uc, plan["job"], job_run_key or plan.get("run_key") or "cli")
    return finish_baseline(uc, plan, job)


# =========================================================================== one monitoring run
def plan_partition(uc: UseCase, *, partition: str | dt.date, run_key: str,
                   model_version: str | int | None = None) -> dict[str, Any]:
    """Plan the monitoring of one scored partition: select the rows to judge and stage them.

    Reads every run file of ``capture/dt=<partition>/`` (a record captured by several runs counts once,
    from the newest run); the model version comes from the capture when not given (the version of the
    newest run), and only that version's rows are judged. Writes, under the run's output directory
    (``<run>/_staging/``, replaced when the finish publishes the run): the judged rows' feature columns
    and scores (``dataset/part-*.parquet``, one file per capture file, row group by row group: what the
    monitor job analyses), their ids/times/scores for model quality (``meta.parquet``), the job's
    settings file (``monitor_config/``: SHAP weights) and a snapshot of the baseline files (one
    directory per job channel). Returns the plan; its ``job`` entry holds ``monitor_spec``'s arguments.

    Bias drift and feature-attribution drift (``clarify_inputs``; ``$AIRSAGE_MONITOR_CLARIFY_MONITORS``
    chooses them, ``none`` turns them off) run in the same job when the version has a post-training
    Clarify analysis: it is snapshotted (``clarify_baseline/``); the staged rows also carry their
    ``inference_id``, ``captured_at`` and the facet columns (joined from the scored records by record
    id); the labels that arrived for them are staged (``groundtruth/``); the model artifact is mounted
    as is; the settings file carries the bias configuration (facets, label, threshold) and bounds
    (``monitoring_data.bias_bounds``: only bounded metrics are judged when there are any). What could not run, and why, is kept in ``_staging/clarify_inputs.json``.
    """
    from airsage.clarify.gates import analysis_config_for_usecase

    day = common.partition_for(partition)
    out_uri = run_output_uri(uc, day, run_key)
    staging = storage.join(out_uri, STAGING_DIR)
    wanted = None if model_version in (None, "") else layout.version_key(model_version)
    with ExitStack() as stack:
        capture = select_capture(uc, day, wanted, stack)
        version = capture["version"]
        base = layout.monitor_baseline(uc, version)
        if not storage.is_complete(base):
            raise DataValidationError(base, [f"model version {version} has no monitoring baseline"],
                                      fix=f"Suggest it once: airsage.lifecycle.monitoring."
                                          f"suggest_baseline_for_version(uc, '{version}', dataset_uri=<the "
                                          f"version's dataset_uri tag>) (done at registration), or `airsage monitor suggest-baseline --usecase {uc.name} "
                                          f"--dataset <training dataset> --output {base}`.")
        rows = sum(int(mask.sum()) for _, (_, mask) in capture["files"])
        if not rows:
            raise DataValidationError(layout.captures(uc, day), [f"no captured rows of model version {version}"],
                                      fix="Run the batch transform for the partition (with transform.capture: true).")
        score_stats = storage.exists(storage.join(base, SCORE_STATISTICS_FILE))
        weights, weights_from = run_weights(uc, base)
        config: dict[str, Any] = {"AIRSAGE_MONITOR_WEIGHTS": weights} if weights else {}
        channels = {k: v for k, v in BASELINE_CHANNELS.items() if score_stats or k != "score_statistics_uri"}
        found = clarify_inputs(uc, version, base)
        runs = [m for m in found["wanted"] if m not in found["skipped"]]
        facets = None
        if "bias" in runs:
            facets, why = facet_lookup(uc, day)
            if why:
                found["skipped"]["bias"] = why
                runs.remove("bias")
            else:
                config["AIRSAGE_MONITOR_BIAS_CONFIG"] = analysis_config_for_usecase(uc, stage="post")
                bounds = bias_bounds(uc)
                if bounds:  # judge the bounded metrics, report the others
                    config.update(AIRSAGE_MONITOR_BIAS_BOUNDS=bounds, AIRSAGE_MONITOR_BIAS_UNBOUNDED="report")
        if "attribution" not in runs:
            found["model_uri"] = None
        found["runs"] = runs
        with storage.atomic_dir(staging) as stage:
            stage_capture(capture["files"], stage / "dataset", with_score=score_stats, with_ids=bool(runs),
                          facets=facets)
            capture["meta"].to_parquet(stage / META_FILE, index=False)
            (stage / CONFIG_CHANNEL).mkdir()
            (stage / CONFIG_CHANNEL / MONITOR_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
            for channel, name in channels.values():  # a snapshot of the baseline the job judges against
                (stage / channel).mkdir()
                (stage / channel / name).write_bytes(storage.read_bytes(storage.join(base, name)))
            if runs:  # the version's Clarify analysis, and the labels known now: snapshots too
                (stage / CLARIFY_BASELINE_CHANNEL).mkdir()
                (stage / CLARIFY_BASELINE_CHANNEL / "analysis.json").write_bytes(
                    storage.read_bytes(found["analysis_uri"]))
                if "bias" in runs:
                    found["ground_truth_rows"] = stage_ground_truth(uc, capture["meta"]["inference_id"],
                                                                    stage / GROUNDTRUTH_CHANNEL)
            (stage / CLARIFY_INPUTS_FILE).write_text(json.dumps(found, indent=2) + "\n")
            staged = sorted(p for p in stage.rglob("*") if p.is_file() and p.name != META_FILE)
            digest = _digest(version, base, found["model_uri"], found["model_sha256"],
                             [p.relative_to(stage).as_posix() for p in staged], files=staged)
    clarify = {}
    if runs:
        clarify["clarify_baseline_uri"] = _s3_prefix(storage.join(staging, CLARIFY_BASELINE_CHANNEL))
        if found.get("ground_truth_rows"):
            clarify["groundtruth_uri"] = _s3_prefix(storage.join(staging, GROUNDTRUTH_CHANNEL))
        if found["model_uri"]:
            clarify["model_uri"] = found["model_uri"]  # the artifact itself: an S3 object (or a local file)
    job = MonitorArgs(mode="analyze", target=str(day), dataset_uri=_s3_prefix(storage.join(staging, "dataset")),
                      config_uri=_s3_prefix(storage.join(staging, CONFIG_CHANNEL)), input_digest=digest,
                      **{k: _s3_prefix(storage.join(staging, ch)) for k, (ch, _) in channels.items()}, **clarify)
    return PartitionPlan(partition=str(day), model_version=version, run_key=run_key, baseline_uri=base,
                         output_uri=out_uri, meta_uri=storage.join(staging, META_FILE), weights=weights_from,
                         item_count=rows, capture_files=tuple(f for f, _ in capture["files"]),
                         model_versions_seen=tuple(capture["versions"]), duplicates_dropped=capture["duplicates"],
                         job=job).to_dict()


def finish_partition(uc: UseCase, plan: PartitionPlan | Mapping[str, Any],
                     job: JobResult | Mapping[str, Any]) -> dict[str, Any]:
    """Finish one monitoring run from its plan and the monitor job's output: model quality (ground
    truth joined to the captured scores), the bias-drift and attribution-drift results the job wrote,
    the verdict, one history point per partition, the HTML report; the run's directory is published as
    a unit (a rerun with the same ``run_key`` replaces it). Returns a small summary (XCom-sized)."""
    import pandas as pd

    from airsage.monitor.clarify_monitors import ANALYSIS_FILE, ATTRIBUTION_DIR, BIAS_DIR
    from airsage.monitor.data_monitor import DataMonitorReport
    from airsage.monitor.history import append_run, read_history
    from airsage.monitor.report import render_report

    p = plan if isinstance(plan, PartitionPlan) else PartitionPlan.from_dict(plan)
    result = job if isinstance(job, JobResult) else JobResult.from_dict({"outputs": {}, **job})
    job_out = _job_output(result)
    data = DataMonitorReport.read(job_out)
    day, version, run_key = common.partition_for(p.partition), p.model_version, p.run_key
    base, out_uri, weights_from = p.baseline_uri, p.output_uri, p.weights
    if not data.quality.item_count:
        raise DataValidationError(layout.captures(uc, day), [f"no captured rows of model version {version}"],
                                  fix="Run the batch transform for the partition (with transform.capture: true).")
    with storage.local_copy(p.meta_uri) as local:
        meta = pd.read_parquet(local)
    meta["inference_id"] = meta["inference_id"].astype(str)
    quality = judge_model_quality(uc, meta, base)
    staging = storage.join(out_uri, STAGING_DIR)
    found = read_optional(staging, CLARIFY_INPUTS_FILE) or {}
    clarify = clarify_results(job_out, storage.join(staging, CLARIFY_BASELINE_CHANNEL, "analysis.json"))
    alert, reasons = _verdict(data, quality, clarify)
    report_uri = storage.join(out_uri, REPORT_FILE)
    summary = {
        "alert": alert, "reasons": reasons,
        "violations": len(data.quality.violations) + len(quality.get("violations", []))
        + sum(r["n_violations"] for r in clarify.values()),
        "data_quality_violations": len(data.quality.violations),
        "model_quality_violations": len(quality.get("violations", [])),
        "drifted_features": data.drift.drifted_features, "dataset_drift": data.drift.dataset_drift,
        "drifted_share": round(data.drift.drifted_share, 6),
        "prediction_drift": bool(data.drift.prediction and data.drift.prediction.drifted),
        "model_quality": quality["status"], "ground_truth_rows": quality.get("rows", 0),
        **_clarify_summaries(clarify, found),
        "item_count": data.quality.item_count, "partition": str(day), "model_version": version,
        "run_key": run_key, "weights": weights_from, "baseline_uri": base, "output_uri": out_uri,
        "report_uri": report_uri,
    }
    root = uc.data_root()
    bias, attribution = clarify.get(BIAS_DIR), clarify.get(ATTRIBUTION_DIR)
    history_point = {**data.summary(), **{k: summary[k] for k in ("alert", "reasons", "violations", "model_quality",
                                                                  "ground_truth_rows", "report_uri")},
                     "data_alert": data.alert, "monitor_run_key": run_key,
                     "model_quality_metrics": headline_metrics(quality.get("statistics")),
                     "bias_drift_violations": bias["n_violations"] if bias else None,
                     "attribution_ndcg": attribution["ndcg"] if attribution else None,
                     "attribution_drift_alert": attribution["alert"] if attribution else None,
                     "bias_drift_alert": bias["alert"] if bias else None}
    append_run(root, version, str(day), history_point, run_time=dt.datetime.combine(day, dt.time(), dt.timezone.utc),
               use_case=uc.name)
    base_meta = read_optional(base, BASELINE_META_FILE) or {}
    page = render_report(
        SimpleNamespace(quality=data.quality, drift=data.drift, alert=alert),
        title=f"{uc.name} monitoring: partition {day}, model version {version}",
        subtitle=(f"{data.quality.item_count} captured rows ({p.duplicates_dropped} duplicates dropped) from "
                  f"{len(p.capture_files)} run file(s); drift weights: {weights_from}; "
                  f"model quality: {quality['status']} ({quality.get('rows', 0)} labelled rows). "
                  + ("Alert: " + "; ".join(reasons) if reasons else "No alert.")),
        header={"use case": uc.name, "model": f"{uc.registered_model_name} version {version}",
                "baseline dataset": _dataset_name(base_meta.get("dataset_uri")) or "-",
                "baseline": base, "monitor run": run_key, "partition": str(day),
                "date": now().strftime("%Y-%m-%d %H:%M UTC")},
        history=read_history(root, version), model_quality=quality.get("statistics"),
        model_quality_violations=quality.get("violations") or None,
        bias_drift=bias, attribution_drift=attribution,
        clarify_skipped={m: why for m, why in (found.get("skipped") or {}).items()})
    run_doc = {**summary, "capture_files": list(p.capture_files),
               "model_versions_seen": list(p.model_versions_seen),
               "duplicates_dropped": p.duplicates_dropped, "thresholds": data.drift.thresholds.__dict__,
               "ground_truth": {k: v for k, v in quality.items() if k not in ("statistics",)},
               "clarify_inputs": {k: found.get(k) for k in ("wanted", "runs", "analysis_uri", "model_uri", "skipped")},
               "monitor_job": result.job_name or None, "finished_at": now().isoformat(timespec="seconds")}
    with storage.atomic_dir(out_uri) as stage:  # replaces the run directory: the plan's _staging goes with it
        data.write(str(stage))
        if quality.get("statistics") is not None:
            (stage / "model_quality").mkdir()
            (stage / "model_quality" / STATISTICS_FILE).write_text(
                json.dumps(quality["statistics"], indent=2, default=str))
            (stage / "model_quality" / VIOLATIONS_FILE).write_text(
                json.dumps({"violations": quality.get("violations", [])}, indent=2))
        for kind in clarify:  # the job's analysis.json + constraint_violations.json, as it wrote them
            (stage / kind).mkdir()
            for name in (ANALYSIS_FILE, VIOLATIONS_FILE):
                uri = storage.join(job_out, kind, name)
                if storage.exists(uri):
                    (stage / kind / name).write_bytes(storage.read_bytes(uri))
        (stage / RUN_FILE).write_text(json.dumps(run_doc, indent=2, default=str) + "\n")
        (stage / REPORT_FILE).write_text(page, encoding="utf-8")
    log.info("monitoring %s %s v%s: %s", uc.name, day, version, "ALERT: " + "; ".join(reasons) if alert else "ok")
    return summary


def _dataset_name(uri: str | None) -> str | None:
    """A dataset version's name (``ds-…``) from its URI."""
    return str(uri).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if uri else None


def _clarify_summaries(clarify: dict[str, dict[str, Any]], found: Mapping[str, Any]) -> dict[str, Any]:
    """``bias_drift`` / ``feature_attribution_drift`` entries of the run summary (XCom-sized): the result,
    or ``{"status": "not_run", "reason": ...}``."""
    from airsage.monitor.clarify_monitors import ATTRIBUTION_DIR, BIAS_DIR

    out: dict[str, Any] = {}
    skipped = found.get("skipped") or {}
    for kind, monitor in ((BIAS_DIR, "bias"), (ATTRIBUTION_DIR, "attribution")):
        r = clarify.get(kind)
        if r is None:
            reason = skipped.get(monitor) or ("turned off (AIRSAGE_MONITOR_CLARIFY_MONITORS)"
                                              if found and monitor not in (found.get("wanted") or []) else
                                              "the monitor job did not run it")
            out[kind] = {"status": "not_run", "reason": reason}
            continue
        entry = {"status": "violations" if r["alert"] else "ok", "alert": r["alert"], "n_violations": r["n_violations"]}
        if kind == BIAS_DIR:
            entry.update(rows=r.get("rows"), labelled_rows=r.get("labelled_rows"), compared=r.get("compared"),
                         violations=[_bias_violation_text(m) for m in r.get("metrics", []) if m["violation"]][:10])
        else:
            entry.update(ndcg=r.get("ndcg"), threshold=r.get("threshold"), top_features=r.get("top_features"),
                         baseline_top_features=sorted(r.get("baseline") or {},
                                                      key=lambda k: -abs(r["baseline"][k]))[:5])
        out[kind] = entry
    return out


def _bias_violation_text(m: Mapping[str, Any]) -> str:
    base = "-" if m.get("baseline") is None else f"{m['baseline']:.3g}"
    return (f"{m['metric']} {m['facet']}={m['facet_value']}: {m['value']:.3g} (baseline {base}, "
            f"allowed |value - {m['ideal']:g}| <= {m['limit']:.3g})")


def monitor_partition(uc: UseCase, *, partition: str | dt.date, run_key: str,
                      model_version: str | int | None = None) -> dict[str, Any]:
    """Monitor the captured data of one scored partition against its model version's baseline.

    ``plan_partition`` -> the monitor job in analyze mode on the backend ``compute.monitor.backend``
    names (data quality, drift SHAP-weighted when the baseline has importance weights, prediction drift)
    -> ``finish_partition`` (model quality when labels arrived — published datasets and human review
    decisions, within ``monitor.ground_truth_offset_hours`` —, verdict, report, history point): the
    ``<uc>__monitor`` DAG's three steps in one call. Returns the run's summary.
    """
    plan = plan_partition(uc, partition=partition, run_key=run_key, model_version=model_version)
    return finish_partition(uc, plan, _run_job(uc, plan["job"], run_key))


def _verdict(data, quality: dict[str, Any], clarify: Mapping[str, Mapping[str, Any]] | None = None
             ) -> tuple[bool, list[str]]:
    from airsage.monitor.clarify_monitors import ATTRIBUTION_DIR, BIAS_DIR

    reasons = []
    q = data.quality
    if q.violations:
        by_type: dict[str, int] = {}
        for v in q.violations:
            by_type[v.constraint_check_type] = by_type.get(v.constraint_check_type, 0) + 1
        reasons.append(f"{len(q.violations)} Model Monitor violation(s): "
                       + ", ".join(f"{k} x{n}" for k, n in sorted(by_type.items())))
    d = data.drift
    if d.dataset_drift:
        reasons.append(f"data drift: {d.drifted_share:.0%} of the ({d.weights_source}-weighted) features drifted "
                       f"(alert at {d.thresholds.drifted_share_alert:.0%}): {', '.join(d.drifted_features[:8])}")
    if d.prediction is not None and d.prediction.drifted:
        reasons.append(f"prediction drift: {d.prediction.reason}")
    for v in quality.get("violations", []):
        reasons.append(f"model quality: {v['description']}")
    bias = (clarify or {}).get(BIAS_DIR)
    if bias and bias["alert"]:
        bad = [_bias_violation_text(m) for m in bias.get("metrics", []) if m["violation"]]
        reasons.append(f"bias drift: {bias['n_violations']} bias_drift_check violation(s): "
                       + "; ".join(bad[:4]) + (" ..." if len(bad) > 4 else ""))
    attribution = (clarify or {}).get(ATTRIBUTION_DIR)
    if attribution and attribution["alert"]:
        ndcg = attribution.get("ndcg")
        reasons.append(f"feature attribution drift: NDCG {ndcg:.3f} < {attribution.get('threshold')} (top features "
                       f"now {', '.join(attribution.get('top_features') or [])})")
    return bool(reasons), reasons
