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
from airsage.config import UseCase
from airsage.contracts import BaselinePlan, JobResult, MonitorArgs, MonitorRunSummary, PartitionPlan
from airsage.errors import DataValidationError
from airsage.lifecycle import common
from airsage.lifecycle.monitoring_clarify import (
    CLARIFY_BASELINE_CHANNEL,
    CLARIFY_INPUTS_FILE,
    GROUNDTRUTH_CHANNEL,
    bias_bounds,
    bias_violation_text,
    clarify_inputs,
    clarify_results,
    facet_lookup,
    run_summaries,
    stage_ground_truth,
)
from airsage.lifecycle.monitoring_data import (
    BASELINE_META_FILE,
    CONSTRAINTS_FILE,
    FEATURE_IMPORTANCE_FILE,
    REPORT_FILE,
    RUN_FILE,
    SCORE_STATISTICS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
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
    training_outputs,
)
from airsage.lifecycle.monitoring_job import (  # noqa: F401 - monitor_spec / job_environment: the job's public home
    BASELINE_CHANNELS,
    CONFIG_CHANNEL,
    META_FILE,
    MONITOR_CONFIG_FILE,
    MONITOR_MODES,
    STAGING_DIR,
    digest,
    job_environment,
    job_output,
    monitor_spec,
    run_job,
    run_output_uri,
    s3_prefix,
)

log = logging.getLogger("airsage.monitoring")

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
    job = MonitorArgs(mode="suggest-baseline", target=f"v{version}", dataset_uri=s3_prefix(data_uri),
                      config_uri=s3_prefix(config_dir), input_digest=digest(data_uri, config))
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
    out = job_output(job)
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
    job = run_job(uc, plan["job"], job_run_key or plan.get("run_key") or "cli")
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
            input_digest = digest(version, base, found["model_uri"], found["model_sha256"],
                             [p.relative_to(stage).as_posix() for p in staged], files=staged)
    clarify = {}
    if runs:
        clarify["clarify_baseline_uri"] = s3_prefix(storage.join(staging, CLARIFY_BASELINE_CHANNEL))
        if found.get("ground_truth_rows"):
            clarify["groundtruth_uri"] = s3_prefix(storage.join(staging, GROUNDTRUTH_CHANNEL))
        if found["model_uri"]:
            clarify["model_uri"] = found["model_uri"]  # the artifact itself: an S3 object (or a local file)
    job = MonitorArgs(mode="analyze", target=str(day), dataset_uri=s3_prefix(storage.join(staging, "dataset")),
                      config_uri=s3_prefix(storage.join(staging, CONFIG_CHANNEL)), input_digest=input_digest,
                      **{k: s3_prefix(storage.join(staging, ch)) for k, (ch, _) in channels.items()}, **clarify)
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
    a unit (a rerun with the same ``run_key`` replaces it). Returns the run's summary, XCom-sized
    (``MonitorRunSummary.to_dict()``)."""
    import pandas as pd

    from airsage.monitor.clarify_monitors import ANALYSIS_FILE, ATTRIBUTION_DIR, BIAS_DIR
    from airsage.monitor.data_monitor import DataMonitorReport
    from airsage.monitor.history import append_run, read_history
    from airsage.monitor.report import render_report

    p = plan if isinstance(plan, PartitionPlan) else PartitionPlan.from_dict(plan)
    result = job if isinstance(job, JobResult) else JobResult.from_dict({"outputs": {}, **job})
    job_out = job_output(result)
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
    integrity = registry_findings(uc)
    if integrity:  # an approval or alias changed outside Airsage: the audit log does not back what is served
        alert = True
        reasons.append(f"registry integrity: {len(integrity)} finding(s) (airsage registry verify): "
                       + "; ".join(integrity[:3]) + (" ..." if len(integrity) > 3 else ""))
    report_uri = storage.join(out_uri, REPORT_FILE)
    summary = MonitorRunSummary(
        alert=alert, reasons=tuple(reasons),
        violations=len(data.quality.violations) + len(quality.get("violations", []))
        + sum(r["n_violations"] for r in clarify.values()),
        data_quality_violations=len(data.quality.violations),
        model_quality_violations=len(quality.get("violations", [])),
        drifted_features=tuple(data.drift.drifted_features), dataset_drift=data.drift.dataset_drift,
        drifted_share=round(data.drift.drifted_share, 6),
        prediction_drift=bool(data.drift.prediction and data.drift.prediction.drifted),
        model_quality=quality["status"], ground_truth_rows=quality.get("rows", 0),
        **run_summaries(clarify, found),
        item_count=data.quality.item_count, partition=str(day), model_version=version,
        run_key=run_key, weights=weights_from, baseline_uri=base, output_uri=out_uri,
        report_uri=report_uri, registry_findings=tuple(integrity),
    ).to_dict()
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
    from airsage import dashboard

    dashboard.safe_record(dashboard.record_monitor_run, uc, summary, partition=str(day))
    return summary


def registry_findings(uc: UseCase, *, registry=None) -> list[str]:
    """What ``airsage registry verify`` finds for the use case's model (tampered audit chain, an approval or
    alias not backed by the log); [] when all is backed. A failure to check is itself reported."""
    from airsage.registry import verify

    try:
        report = verify(uc, registry=registry)
    except Exception as exc:  # noqa: BLE001 - monitoring reports it; it never hides the data verdict
        return [f"the registry could not be verified: {exc}"]
    return [] if report.ok else [str(f) for f in report.findings]


def _dataset_name(uri: str | None) -> str | None:
    """A dataset version's name (``ds-…``) from its URI."""
    return str(uri).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if uri else None


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
    return finish_partition(uc, plan, run_job(uc, plan["job"], run_key))


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
        bad = [bias_violation_text(m) for m in bias.get("metrics", []) if m["violation"]]
        reasons.append(f"bias drift: {bias['n_violations']} bias_drift_check violation(s): "
                       + "; ".join(bad[:4]) + (" ..." if len(bad) > 4 else ""))
    attribution = (clarify or {}).get(ATTRIBUTION_DIR)
    if attribution and attribution["alert"]:
        ndcg = attribution.get("ndcg")
        reasons.append(f"feature attribution drift: NDCG {ndcg:.3f} < {attribution.get('threshold')} (top features "
                       f"now {', '.join(attribution.get('top_features') or [])})")
    return bool(reasons), reasons
