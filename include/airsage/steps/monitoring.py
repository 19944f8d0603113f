"""Monitoring steps: a baseline per model version, one monitoring run per scored partition, the CLI.

Called by the ``<uc>__monitor`` DAG, by the training flow right after registration, and by
``airsage monitor ...``. Baselining and analysis run as the monitor compute job (``plan_*`` -> the job
on ``compute.monitor.backend`` -> ``finish_*``); ``suggest_baseline_for_version`` and
``monitor_partition`` run the three steps in one call. Same layer as ``airsage.pipeline``: may import
all of airsage, never Airflow.

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
import re
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from airsage import storage
from airsage.config import UseCase
from airsage.errors import ConfigError, DataValidationError

log = logging.getLogger("airsage.monitoring")

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
SCORE_STATISTICS_FILE = "score_statistics.json"
MODEL_QUALITY_FILE = "model_quality.json"
MODEL_QUALITY_CONSTRAINTS_FILE = "model_quality_constraints.json"
FEATURE_IMPORTANCE_FILE = "feature_importance.json"
BASELINE_META_FILE = "baseline.json"
VIOLATIONS_FILE = "constraint_violations.json"
RUN_FILE = "run.json"
REPORT_FILE = "report.html"
SCORE = "score"
CAPTURE_META = ("inference_id", "captured_at", "score", "predicted_label", "model_name", "model_version")
MIN_WEIGHT_COVERAGE = 0.5  # SHAP weights are used only when they name at least half of the baseline features
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# =========================================================================== locations
def _version_key(version: str | int) -> str:
    v = str(version).strip()
    if v.startswith("v") and v[1:].isdigit():
        v = v[1:]
    if not _VERSION.match(v):
        raise ConfigError(f"model version {version!r} cannot name a baseline", key="model_version",
                          fix="Pass the registered version number, e.g. 3.")
    return v


def baseline_uri(uc: UseCase, version: str | int) -> str:
    """Where the baseline of one model version lives."""
    return uc.path("monitor", "baselines", f"v{_version_key(version)}")


def run_output_uri(uc: UseCase, partition: dt.date, run_key: str) -> str:
    from airsage.monitor.history import safe_key

    return uc.path("monitor", "runs", f"dt={partition:%Y-%m-%d}", safe_key(run_key))


def clarify_analysis_for_run(uc: UseCase, run_key: str) -> str:
    """The post-training Clarify analysis (SHAP) the training run ``run_key`` wrote."""
    return uc.path("reports", "clarify", run_key, "post_training", "analysis.json")


def feature_types(uc: UseCase) -> dict[str, str]:
    return {f.name: f.type for f in uc.schema_.features}


def _drift_thresholds(uc: UseCase):
    from airsage.monitor.drift import DriftThresholds

    m = uc.monitor
    return DriftThresholds(psi_threshold=m.psi_threshold, js_threshold=m.js_threshold,
                           wasserstein_threshold=m.wasserstein_threshold, drifted_share_alert=m.drifted_share_alert,
                           min_rows=m.min_drift_rows)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# =========================================================================== the monitor job
# Both halves of monitoring run as one compute job, ``python -m airsage.entrypoints.monitor`` (Model
# Monitor's processing contract), on the backend ``compute.monitor.backend`` names: a plan writes the
# job's inputs, ``airsage.pipeline.monitor_spec`` turns the plan's ``job`` entry into a JobSpec (the DAGs
# run it through RunJobOperator, the conveniences below through ``backend.run``), and a finish step
# combines the job's output with what only the caller knows (scores, labels, history) and publishes.
STAGING_DIR = "_staging"          # inside the directory the finish publishes: replaced with it
CONFIG_CHANNEL = "monitor_config"
MONITOR_CONFIG_FILE = "monitor_config.json"   # the entrypoint's settings file (monitor_config channel)
# every job input is a staged directory (one channel each): the same on SageMaker (an S3 prefix) and
# under the local backend (copied or linked), whatever the data root
BASELINE_CHANNELS = {"statistics_uri": ("baseline_statistics", STATISTICS_FILE),
                     "constraints_uri": ("baseline_constraints", CONSTRAINTS_FILE),
                     "score_statistics_uri": ("score_statistics", SCORE_STATISTICS_FILE)}
META_FILE = "meta.parquet"        # the judged rows' ids, capture times, scores, predicted labels


def job_environment(uc: UseCase, mode: str, *, with_score: bool = False) -> dict[str, str]:
    """The monitor entrypoint's environment for a job of this use case (each value well under
    SageMaker's 256 characters; larger settings travel in the ``monitor_config`` input file)."""
    env = {"AIRSAGE_MONITOR_MODE": mode, "analysis_type": "DATA_QUALITY", "dataset_format": '{"parquet":{}}'}
    m = uc.monitor
    if mode == "suggest-baseline":
        env.update({"AIRSAGE_MONITOR_COMPARISON_METHOD": m.comparison_method,
                    "AIRSAGE_MONITOR_COMPARISON_THRESHOLD": repr(float(m.comparison_threshold))})
    else:
        th = _drift_thresholds(uc)
        env.update({"AIRSAGE_MONITOR_EXCLUDE": "[]",  # the staged dataset holds exactly what is judged
                    "AIRSAGE_MONITOR_THRESHOLDS": json.dumps(
                        {k: getattr(th, k) for k in ("psi_threshold", "js_threshold", "wasserstein_threshold",
                                                     "drifted_share_alert", "min_rows")}, separators=(",", ":"))})
        if with_score:
            env["AIRSAGE_MONITOR_SCORE_COLUMN"] = SCORE
    return env


def _run_job(uc: UseCase, job_args: dict[str, Any], run_key: str) -> dict[str, Any]:
    """Run one monitor job on the use case's backend and wait: what RunJobOperator does, without Airflow."""
    from airsage import pipeline

    spec = pipeline.monitor_spec(uc, run_key=run_key, **job_args)
    status = pipeline.backend_for(uc, "monitor").run(spec, poll_s=0.5)
    return {"job_name": spec.name, "kind": spec.kind, "state": status.state, "outputs": dict(status.outputs)}


def _job_output(job: dict[str, Any]) -> str:
    out = (job.get("outputs") or {}).get("output")
    if not out:
        raise DataValidationError(str(job.get("job_name") or "monitor job"), ["the job result names no output"],
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

    version = _version_key(version)
    target = baseline_uri(uc, version)
    if storage.is_complete(target) and not overwrite:
        meta = _read_optional(target, BASELINE_META_FILE) or {}
        log.info("baseline of %s v%s exists at %s: kept", uc.name, version, target)
        return {"needed": False, "result": {"baseline_uri": target, "created": False,
                                            "files": meta.get("files", []), "weights": meta.get("weights", "uniform")}}
    data_uri = resolve_dataset(dataset_uri, uc)
    if clarify_analysis_uri and not storage.exists(clarify_analysis_uri):
        raise DataValidationError(clarify_analysis_uri, ["the Clarify analysis does not exist"],
                                  fix="Pass the analysis.json of the version's post-training Clarify job, or omit it.")
    run_key = run_key if run_key is not None else (None if clarify_analysis_uri else _registry_run_key(uc, version))
    config = {"AIRSAGE_MONITOR_FEATURES": feature_types(uc)}
    config_dir = storage.join(target, STAGING_DIR, CONFIG_CHANNEL)
    storage.write_json(storage.join(config_dir, MONITOR_CONFIG_FILE), config)
    return {
        "needed": True, "version": version, "baseline_uri": target, "dataset_uri": data_uri,
        "eval_predictions_uri": eval_predictions_uri, "output_data_uri": output_data_uri, "run_key": run_key,
        "clarify_analysis_uri": clarify_analysis_uri,
        "job": {"mode": "suggest-baseline", "target": f"v{version}", "dataset_uri": _s3_prefix(data_uri),
                "config_uri": _s3_prefix(config_dir), "input_digest": _digest(data_uri, config)},
    }


def finish_baseline(uc: UseCase, plan: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Publish the baseline: the job's ``statistics.json`` / ``constraints.json`` with the score,
    model-quality and SHAP-weight documents, as one directory (``atomic_dir``)."""
    if not plan.get("needed", True):
        return plan["result"]
    out = _job_output(job)
    version, target, data_uri = plan["version"], plan["baseline_uri"], plan["dataset_uri"]
    statistics = storage.read_json(storage.join(out, STATISTICS_FILE))
    constraints = storage.read_json(storage.join(out, CONSTRAINTS_FILE))
    if not statistics.get("dataset", {}).get("item_count"):
        raise DataValidationError(data_uri, ["the training dataset has no rows"],
                                  fix="Pass the dataset version the model was trained on (its dataset_uri tag).")
    docs: dict[str, Any] = {STATISTICS_FILE: statistics, CONSTRAINTS_FILE: constraints}
    eval_predictions_uri, output_data_uri = plan.get("eval_predictions_uri"), plan.get("output_data_uri")
    with tempfile.TemporaryDirectory(prefix="airsage-baseline-") as tmp:
        outputs = _training_outputs(output_data_uri, eval_predictions_uri, Path(tmp))
        docs.update(_score_and_quality_baseline(uc, outputs))

    run_key, clarify_analysis_uri = plan.get("run_key"), plan.get("clarify_analysis_uri")
    analysis_uri = clarify_analysis_uri or (clarify_analysis_for_run(uc, run_key) if run_key else None)
    weights = None
    if analysis_uri and storage.exists(analysis_uri):
        weights = importance_weights(storage.read_json(analysis_uri), list(feature_types(uc)))
    if weights:
        docs[FEATURE_IMPORTANCE_FILE] = {"source": analysis_uri, "method": "mean |SHAP| (Clarify global_shap_values)",
                                         "weights": weights}
    meta = {
        "use_case": uc.name, "model_name": uc.registered_model_name, "model_version": version,
        "created_at": _now().isoformat(timespec="seconds"), "dataset_uri": data_uri,
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


def _training_outputs(output_data_uri: str | None, eval_predictions_uri: str | None, tmp: Path) -> dict[str, Any]:
    """The held-out predictions (local path) and the model-quality documents of a training job."""
    out: dict[str, Any] = {}
    tarballs = [u for u in (output_data_uri, eval_predictions_uri) if u and u.endswith((".tar.gz", ".tgz"))]
    if output_data_uri and output_data_uri not in tarballs:
        tarballs.insert(0, output_data_uri)  # an unpacked output directory
    for i, uri in enumerate(dict.fromkeys(tarballs)):
        dest = storage.unpack_tar(uri, tmp / f"out{i}")
        found = {p.name: p for p in dest.rglob("*") if p.is_file()}
        for name in (MODEL_QUALITY_FILE, MODEL_QUALITY_CONSTRAINTS_FILE):
            if name in found and name not in out:
                out[name] = json.loads(found[name].read_text())
        if "eval_predictions.parquet" in found and "eval" not in out:
            out["eval"] = str(found["eval_predictions.parquet"])
    if eval_predictions_uri and eval_predictions_uri not in tarballs:
        out["eval"] = eval_predictions_uri
    return out


def _score_and_quality_baseline(uc: UseCase, outputs: dict[str, Any]) -> dict[str, Any]:
    from airsage.monitor.baseline import suggest_baseline
    from airsage.monitor.model_quality import binary_classification_metrics, suggest_model_quality_constraints

    docs: dict[str, Any] = {}
    frame = None
    if outputs.get("eval"):
        frame = _read_parquet_columns(outputs["eval"], [SCORE, uc.schema_.label])
        if SCORE not in frame.columns:
            raise DataValidationError(outputs["eval"], [f"no {SCORE!r} column in the held-out predictions"],
                                      fix="Pass the eval_predictions.parquet written by the training job.")
        docs[SCORE_STATISTICS_FILE] = suggest_baseline(frame[[SCORE]], features={SCORE: "numeric"})[0]
    quality = outputs.get(MODEL_QUALITY_FILE)
    cons = outputs.get(MODEL_QUALITY_CONSTRAINTS_FILE)
    if quality is None and frame is not None and uc.schema_.label in frame.columns:
        y = binary_labels(frame[uc.schema_.label], uc.schema_.positive_labels)
        keep = y >= 0
        quality = binary_classification_metrics(y[keep], frame[SCORE].to_numpy()[keep],
                                                y_pred=(frame[SCORE].to_numpy()[keep] > uc.training.decision_threshold),
                                                evaluation_time=_now().isoformat(timespec="seconds"))
    if quality is not None:
        # same margin rule as the training job's suggestion: max(3 std, 0.05)
        cons = cons or suggest_model_quality_constraints(quality, n_std=3.0, min_slack=0.05)
        docs[MODEL_QUALITY_FILE] = quality
        docs[MODEL_QUALITY_CONSTRAINTS_FILE] = with_overrides(cons, uc.monitor.model_quality_constraints)
    return docs


def _read_parquet_columns(uri: str, columns: list[str]) -> Any:
    """The listed columns (those present) of one Parquet file, as a DataFrame."""
    import pyarrow.parquet as pq

    with storage.local_copy(uri) as local:
        names = pq.read_schema(local).names
        return pq.read_table(local, columns=[c for c in columns if c in names]).to_pandas()


def with_overrides(constraints: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Model-quality constraints with the use case's per-metric overrides applied (validated)."""
    from airsage.monitor.model_quality import suggest_model_quality_constraints

    if not overrides:
        return constraints
    extra = suggest_model_quality_constraints({}, overrides=overrides)["binary_classification_constraints"]
    block = dict(constraints.get("binary_classification_constraints") or {})
    block.update(extra)
    return {**constraints, "binary_classification_constraints": block}


def importance_weights(analysis: dict[str, Any], features: list[str]) -> dict[str, float] | None:
    """Normalised mean |SHAP| per feature from a Clarify ``analysis.json``, or None when it holds no
    SHAP values or names too few of ``features`` (e.g. one-hot names): uniform weights are then safer
    than silently weighting unnamed features 0."""
    from airsage.monitor.bias_drift import global_shap
    from airsage.monitor.drift import weights_from_shap

    labels = global_shap(analysis)
    if not labels:
        return None
    weights = weights_from_shap(next(iter(labels.values())))
    covered = sum(1 for f in features if f in weights)
    if not weights or covered < MIN_WEIGHT_COVERAGE * len(features):
        log.warning("Clarify SHAP values name %d of %d features: drift is weighted uniformly", covered, len(features))
        return None
    return {f: float(weights.get(f, 0.0)) for f in features}


def _registry_run_key(uc: UseCase, version: str) -> str | None:
    """The training run key of a registered version (its ``run_key`` tag), or None."""
    try:
        from airsage.registry import ModelRegistry
        from airsage.registry import types as rt

        return ModelRegistry.from_settings().get_version(uc.registered_model_name, version).tags.get(rt.TAG_RUN_KEY)
    except Exception as exc:  # noqa: BLE001 - weighting is optional; say why it is off
        log.warning("could not read the run_key of %s v%s from the registry (%s): no SHAP weights",
                    uc.registered_model_name, version, exc)
        return None


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
    """
    from airsage.pipeline import partition_for

    day = partition_for(partition)
    out_uri = run_output_uri(uc, day, run_key)
    staging = storage.join(out_uri, STAGING_DIR)
    with ExitStack() as stack:
        capture = _select_capture(uc, day, None if model_version in (None, "") else _version_key(model_version), stack)
        version = capture["version"]
        base = baseline_uri(uc, version)
        if not storage.is_complete(base):
            raise DataValidationError(base, [f"model version {version} has no monitoring baseline"],
                                      fix=f"Suggest it once: airsage.steps.monitoring.suggest_baseline_for_version(uc, "
                                          f"'{version}', dataset_uri=<the version's dataset_uri tag>) (done at "
                                          f"registration), or `airsage monitor suggest-baseline --usecase {uc.name} "
                                          f"--dataset <training dataset> --output {base}`.")
        rows = sum(int(mask.sum()) for _, (_, mask) in capture["files"])
        if not rows:
            raise DataValidationError(uc.path("capture", f"dt={day}"), [f"no captured rows of model version {version}"],
                                      fix="Run the batch transform for the partition (with transform.capture: true).")
        score_stats = storage.exists(storage.join(base, SCORE_STATISTICS_FILE))
        weights, weights_from = _run_weights(uc, base)
        config = {"AIRSAGE_MONITOR_WEIGHTS": weights} if weights else {}
        channels = {k: v for k, v in BASELINE_CHANNELS.items() if score_stats or k != "score_statistics_uri"}
        with storage.atomic_dir(staging) as stage:
            parts = _stage_capture(capture["files"], stage / "dataset", with_score=score_stats)
            capture["meta"].to_parquet(stage / META_FILE, index=False)
            (stage / CONFIG_CHANNEL).mkdir()
            (stage / CONFIG_CHANNEL / MONITOR_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
            for channel, name in channels.values():  # a snapshot of the baseline the job judges against
                (stage / channel).mkdir()
                (stage / channel / name).write_bytes(storage.read_bytes(storage.join(base, name)))
            staged = sorted(p for p in stage.rglob("*") if p.is_file() and p.name != META_FILE)
            digest = _digest(version, base, [p.relative_to(stage).as_posix() for p in staged], files=staged)
    job = {"mode": "analyze", "target": str(day), "dataset_uri": _s3_prefix(storage.join(staging, "dataset")),
           "config_uri": _s3_prefix(storage.join(staging, CONFIG_CHANNEL)),
           **{k: _s3_prefix(storage.join(staging, ch)) for k, (ch, _) in channels.items()},
           "input_digest": digest}
    return {"partition": str(day), "model_version": version, "run_key": run_key, "baseline_uri": base,
            "output_uri": out_uri, "meta_uri": storage.join(staging, META_FILE), "weights": weights_from,
            "item_count": rows, "capture_files": [f for f, _ in capture["files"]],
            "model_versions_seen": capture["versions"], "duplicates_dropped": capture["duplicates"], "job": job}


def finish_partition(uc: UseCase, plan: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """Finish one monitoring run from its plan and the monitor job's output: model quality (ground
    truth joined to the captured scores), the verdict, one history point per partition, the HTML
    report; the run's directory is published as a unit (a rerun with the same ``run_key`` replaces
    it). Returns a small summary (XCom-sized)."""
    import pandas as pd

    from airsage.monitor.data_monitor import DataMonitorReport
    from airsage.monitor.history import append_run, read_history
    from airsage.monitor.report import render_report
    from airsage.pipeline import partition_for

    data = DataMonitorReport.read(_job_output(job))
    day, version, run_key = partition_for(plan["partition"]), plan["model_version"], plan["run_key"]
    base, out_uri, weights_from = plan["baseline_uri"], plan["output_uri"], plan["weights"]
    if not data.quality.item_count:
        raise DataValidationError(uc.path("capture", f"dt={day}"), [f"no captured rows of model version {version}"],
                                  fix="Run the batch transform for the partition (with transform.capture: true).")
    with storage.local_copy(plan["meta_uri"]) as local:
        meta = pd.read_parquet(local)
    meta["inference_id"] = meta["inference_id"].astype(str)
    quality = _model_quality(uc, meta, base)
    alert, reasons = _verdict(data, quality)
    report_uri = storage.join(out_uri, REPORT_FILE)
    summary = {
        "alert": alert, "reasons": reasons,
        "violations": len(data.quality.violations) + len(quality.get("violations", [])),
        "data_quality_violations": len(data.quality.violations),
        "model_quality_violations": len(quality.get("violations", [])),
        "drifted_features": data.drift.drifted_features, "dataset_drift": data.drift.dataset_drift,
        "drifted_share": round(data.drift.drifted_share, 6),
        "prediction_drift": bool(data.drift.prediction and data.drift.prediction.drifted),
        "model_quality": quality["status"], "ground_truth_rows": quality.get("rows", 0),
        "item_count": data.quality.item_count, "partition": str(day), "model_version": version,
        "run_key": run_key, "weights": weights_from, "baseline_uri": base, "output_uri": out_uri,
        "report_uri": report_uri,
    }
    root = uc.data_root()
    history_point = {**data.summary(), **{k: summary[k] for k in ("alert", "reasons", "violations", "model_quality",
                                                                  "ground_truth_rows", "report_uri")},
                     "data_alert": data.alert, "monitor_run_key": run_key,
                     "model_quality_metrics": _headline_metrics(quality.get("statistics"))}
    append_run(root, version, str(day), history_point, run_time=dt.datetime.combine(day, dt.time(), dt.timezone.utc),
               use_case=uc.name)
    page = render_report(
        SimpleNamespace(quality=data.quality, drift=data.drift, alert=alert),
        title=f"{uc.name} monitoring: partition {day}, model version {version}",
        subtitle=(f"{data.quality.item_count} captured rows ({plan['duplicates_dropped']} duplicates dropped) from "
                  f"{len(plan['capture_files'])} run file(s); baseline {base}; drift weights: {weights_from}; "
                  f"model quality: {quality['status']} ({quality.get('rows', 0)} labelled rows). "
                  + ("Alert: " + "; ".join(reasons) if reasons else "No alert.")),
        history=read_history(root, version), model_quality=quality.get("statistics"),
        model_quality_violations=quality.get("violations") or None)
    run_doc = {**summary, "capture_files": list(plan["capture_files"]),
               "model_versions_seen": list(plan["model_versions_seen"]),
               "duplicates_dropped": plan["duplicates_dropped"], "thresholds": data.drift.thresholds.__dict__,
               "ground_truth": {k: v for k, v in quality.items() if k not in ("statistics",)},
               "monitor_job": job.get("job_name"), "finished_at": _now().isoformat(timespec="seconds")}
    with storage.atomic_dir(out_uri) as stage:  # replaces the run directory: the plan's _staging goes with it
        data.write(str(stage))
        if quality.get("statistics") is not None:
            (stage / "model_quality").mkdir()
            (stage / "model_quality" / STATISTICS_FILE).write_text(
                json.dumps(quality["statistics"], indent=2, default=str))
            (stage / "model_quality" / VIOLATIONS_FILE).write_text(
                json.dumps({"violations": quality.get("violations", [])}, indent=2))
        (stage / RUN_FILE).write_text(json.dumps(run_doc, indent=2, default=str) + "\n")
        (stage / REPORT_FILE).write_text(page, encoding="utf-8")
    log.info("monitoring %s %s v%s: %s", uc.name, day, version, "ALERT: " + "; ".join(reasons) if alert else "ok")
    return summary


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


def _verdict(data, quality: dict[str, Any]) -> tuple[bool, list[str]]:
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
    return bool(reasons), reasons


def _headline_metrics(stats: dict[str, Any] | None) -> dict[str, float]:
    block = (stats or {}).get("binary_classification_metrics") or {}
    return {k: block[k]["value"] for k in ("auc", "recall", "precision", "f1", "accuracy")
            if isinstance(block.get(k), dict) and isinstance(block[k].get("value"), (int, float))}


def _read_optional(base: str, name: str) -> Any | None:
    uri = storage.join(base, name)
    return storage.read_json(uri) if storage.exists(uri) else None


def _run_weights(uc: UseCase, base: str) -> tuple[dict[str, float] | None, str]:
    """Importance weights: the baseline's, else the version's Clarify analysis if it arrived later."""
    stored = _read_optional(base, FEATURE_IMPORTANCE_FILE)
    if stored and stored.get("weights"):
        return stored["weights"], "importance"
    meta = _read_optional(base, BASELINE_META_FILE) or {}
    if meta.get("run_key"):
        uri = clarify_analysis_for_run(uc, meta["run_key"])
        if storage.exists(uri):
            weights = importance_weights(storage.read_json(uri), list(feature_types(uc)))
            if weights:
                return weights, "importance"
    return None, "uniform"


# --------------------------------------------------------------------------- the capture
def _select_capture(uc: UseCase, day: dt.date, version: str | None, stack: ExitStack) -> dict[str, Any]:
    """The rows to judge: per run file a keep-mask (this version, each inference id once, newest run
    wins) and the kept rows' ids, times, scores and labels (for model quality)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    prefix = uc.path("capture", f"dt={day:%Y-%m-%d}")
    files = storage.list_files(prefix, suffixes=(".parquet",)) if storage.exists(prefix) else []
    if not files:
        hint = "" if uc.transform.capture else " (transform.capture is false in the use case: turn it on)"
        raise DataValidationError(prefix, [f"no captured data for partition {day}"],
                                  fix=f"Score the partition first (the {uc.name}__batch_transform DAG){hint}, or pick "
                                      "a partition that was scored.")
    indexed = []
    for uri in files:
        local = stack.enter_context(storage.local_copy(uri))
        names = pq.read_schema(local).names
        missing = [c for c in ("inference_id", "model_version") if c not in names]
        if missing:
            raise DataValidationError(uri, [f"capture file lacks {missing}"],
                                      fix="Capture files are written by the batch transform "
                                          "(airsage.transform.capture).")
        cols = [c for c in ("inference_id", "model_version", "captured_at", SCORE, "predicted_label") if c in names]
        meta = pq.read_table(local, columns=cols)
        newest = pc.max(meta.column("captured_at")).as_py() if "captured_at" in names and meta.num_rows else None
        indexed.append((uri, local, meta, newest))
    indexed.sort(key=lambda x: (x[3] is not None, x[3] or dt.datetime.min, x[0]), reverse=True)  # newest first
    versions = sorted({str(v) for _, _, m, _ in indexed for v in m.column("model_version").unique().to_pylist()
                       if v is not None})
    if version is None:
        latest = next((m for _, _, m, _ in indexed if m.num_rows), None)
        if latest is None:
            raise DataValidationError(prefix, ["the capture files hold no rows"],
                                      fix="Re-run the batch transform for the partition.")
        counts = pc.value_counts(latest.column("model_version")).to_pylist()
        version = _version_key(max(counts, key=lambda c: c["counts"])["values"])
    elif version not in versions:
        raise DataValidationError(prefix, [f"no row of the partition was scored by model version {version} "
                                           f"(the capture holds {versions or 'no version'})"],
                                  fix="Leave model_version empty to take it from the capture, or name one of those.")
    seen: list[pa.Array] = []
    selected, kept_meta, duplicates = [], [], 0
    for uri, local, meta, _ in indexed:
        ids = meta.column("inference_id").combine_chunks()
        keep = pc.equal(pc.cast(meta.column("model_version"), pa.string()), version).combine_chunks()
        keep = pc.fill_null(keep, False)
        if seen:
            dup = pc.is_in(ids, value_set=pa.concat_arrays(seen))
            duplicates += int(pc.sum(pc.and_(keep, dup)).as_py() or 0)
            keep = pc.and_(keep, pc.invert(dup))
        mask = keep.to_numpy(zero_copy_only=False)
        if mask.any():
            selected.append((uri, (local, mask)))
            seen.append(ids.filter(keep))
            kept_meta.append(meta.filter(keep))
    if kept_meta:
        frame = pa.concat_tables(kept_meta, promote_options="default").to_pandas()
    else:
        frame = pd.DataFrame(columns=["inference_id", "captured_at", SCORE, "predicted_label"])
    frame["inference_id"] = frame["inference_id"].astype(str)
    return {"version": version, "files": selected, "meta": frame, "duplicates": duplicates, "versions": versions}


def _stream_capture(files: list[tuple[str, tuple[Path, Any]]], *, with_score: bool) -> Iterator[Any]:
    """The kept rows' feature columns (and the score), one Arrow row group at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    skip = set(CAPTURE_META) - ({SCORE} if with_score else set())
    for _, (local, mask) in files:
        schema = pq.read_schema(local)
        wanted = [c for c in schema.names if c not in skip]
        strings = [f.name for f in schema
                   if f.name in wanted and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        pf = pq.ParquetFile(local, read_dictionary=strings)
        offset = 0
        for i in range(pf.num_row_groups):
            table = pf.read_row_group(i, columns=wanted)
            part = mask[offset:offset + table.num_rows]
            offset += table.num_rows
            if not part.all():
                table = table.filter(pa.array(part))
            if table.num_rows:
                yield table


def _stage_capture(files: list[tuple[str, tuple[Path, Any]]], dest: Path, *, with_score: bool) -> list[Path]:
    """Write the kept rows as the monitor job's dataset: one Parquet file per capture file (newest
    first, so the job reads them in ``_stream_capture``'s order), one row group per kept row group."""
    import pyarrow.parquet as pq

    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, item in enumerate(files):
        writer = None
        path = dest / f"part-{i:05d}.parquet"
        try:
            for table in _stream_capture([item], with_score=with_score):
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
        finally:
            if writer is not None:
                writer.close()
        if writer is not None:
            written.append(path)
    return written


# --------------------------------------------------------------------------- ground truth
def binary_labels(values: Any, positive_labels: list[Any]) -> Any:
    """0/1 (int64) for label values, -1 where the label is missing."""
    import numpy as np
    import pandas as pd

    s = pd.Series(values)
    positive = {str(p) for p in positive_labels}
    text = s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))
    # integer labels may come back as floats (1.0) once nulls are involved
    text = text.map(lambda v: v[:-2] if isinstance(v, str) and v.endswith(".0") and v[:-2].lstrip("-").isdigit() else v)
    out = np.where(text.isin(positive), 1, 0).astype(np.int64)
    out[text.isna().to_numpy()] = -1
    return out


def load_ground_truth(uc: UseCase, inference_ids: Any) -> Any:
    """Labels for ``inference_ids`` with the time each became known:
    ``inference_id, label (0/1), labeled_at (UTC), source``.

    * published datasets (``datasets/ds-*/``): the record's label, known when the dataset was published
      (its manifest's ``created_at``); the capture's inference id is the record id;
    * human review decisions (A2I ``output.json`` under ``review/``): the reviewer's final label at
      submission. Timeouts are left out: a default decision is not ground truth.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from airsage.labeling.dataset import DATA_FILE, MANIFEST_FILE, VERSION_RE

    columns = ["inference_id", "label", "labeled_at", "source"]
    ids = pa.array(pd.unique(pd.Series(inference_ids, dtype=object).astype(str)), pa.string())
    frames = []
    s = uc.schema_
    datasets = uc.path("datasets")
    manifests = storage.list_files(datasets, suffixes=(MANIFEST_FILE,)) if storage.exists(datasets) else []
    for manifest_uri in manifests:
        ds = manifest_uri[: -len(MANIFEST_FILE) - 1]
        if not VERSION_RE.match(ds.replace("\\", "/").rsplit("/", 1)[-1]) or not storage.is_complete(ds):
            continue
        created = storage.read_json(manifest_uri).get("created_at")
        if not created:
            log.warning("dataset %s has no created_at: its labels cannot be placed in time, skipped", ds)
            continue
        with storage.local_copy(storage.join(ds, DATA_FILE)) as local:
            table = pq.read_table(local, columns=[s.record_id, s.label])
        rid = pc.cast(table.column(s.record_id), pa.string())
        table = table.filter(pc.is_in(rid, value_set=ids))
        if not table.num_rows:
            continue
        df = table.to_pandas()
        frames.append(pd.DataFrame({"inference_id": df[s.record_id].astype(str).to_numpy(),
                                    "label": binary_labels(df[s.label], s.positive_labels),
                                    "labeled_at": pd.to_datetime(created, utc=True),
                                    "source": f"dataset:{ds.replace(chr(92), '/').rsplit('/', 1)[-1]}"}))
    review_root = uc.path("review")
    if storage.exists(review_root):
        from airsage.review.a2i import read_decisions, resolve_decisions

        try:
            decisions = read_decisions(review_root)
        except DataValidationError as exc:
            log.warning("review decisions under %s are unreadable (%s): not used as ground truth", review_root, exc)
            decisions = pd.DataFrame()
        if len(decisions):
            human = resolve_decisions(decisions[decisions["status"] == "reviewed"])
            human = human[human["inference_id"].astype(str).isin(set(ids.to_pylist()))]
            if len(human):
                frames.append(pd.DataFrame({"inference_id": human["inference_id"].astype(str).to_numpy(),
                                            "label": human["final_label"].astype("int64").to_numpy(),
                                            "labeled_at": human["decided_at"].to_numpy(),
                                            "source": "review"}))
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    out["labeled_at"] = pd.to_datetime(out["labeled_at"], utc=True)
    return out[out["label"] >= 0].reset_index(drop=True)[columns]


def _model_quality(uc: UseCase, captured: Any, base: str) -> dict[str, Any]:
    """Model Monitor's model-quality statistics and violations for the captured rows that got labels."""
    from airsage.monitor.model_quality import binary_classification_metrics, check_model_quality, join_ground_truth

    constraints = _read_optional(base, MODEL_QUALITY_CONSTRAINTS_FILE)
    if constraints is None:
        return {"status": "no_baseline", "rows": 0}
    if SCORE not in captured.columns or "predicted_label" not in captured.columns or not len(captured):
        return {"status": "no_scores", "rows": 0}
    labels = load_ground_truth(uc, captured["inference_id"])
    if not len(labels):
        return {"status": "no_ground_truth", "rows": 0}
    joined = join_ground_truth(captured, labels, offsets=tuple(uc.monitor.ground_truth_offset_hours),
                               label_col="label", label_time_col="labeled_at", ground_truth_col="ground_truth")
    join = dict(joined.attrs.get("join", {}))
    sources = labels[labels["inference_id"].isin(set(joined["inference_id"]))]["source"].value_counts()
    base_info = {"rows": int(len(joined)), "join": join,
                 "label_sources": {str(k): int(v) for k, v in sources.items()}}
    if not len(joined):
        return {"status": "no_ground_truth_in_window", **base_info}
    stats = binary_classification_metrics(joined["ground_truth"].to_numpy(), joined[SCORE].to_numpy(),
                                          y_pred=joined["predicted_label"].to_numpy(),
                                          evaluation_time=_now().isoformat(timespec="seconds"))
    result = {**base_info, "statistics": stats, "violations": []}
    if len(joined) < uc.monitor.min_ground_truth_rows:
        return {**result, "status": "insufficient_ground_truth"}
    if joined["ground_truth"].nunique() < 2:
        return {**result, "status": "single_class"}
    violations = check_model_quality(stats, with_overrides(constraints, uc.monitor.model_quality_constraints))
    return {**result, "violations": violations, "status": "violations" if violations else "ok"}


# =========================================================================== alert text
def format_alert(uc: UseCase, runs: list[dict[str, Any]], *, retrain: bool | None = None) -> dict[str, str]:
    """Subject, plain text and HTML of an alert about one or more monitoring runs (their summaries)."""
    import html

    alerting = [r for r in runs if r.get("alert")] or runs
    retrain = uc.monitor.retrain_on_alert if retrain is None else retrain
    parts = ", ".join(f"{r.get('partition')} (v{r.get('model_version')})" for r in alerting)
    subject = f"[airsage] {uc.name}: monitoring alert for {parts}"
    lines = [f"Monitoring of {uc.name} ({uc.registered_model_name}) raised an alert."]
    for r in alerting:
        lines.append(f"\nPartition {r.get('partition')}, model version {r.get('model_version')}, "
                     f"{r.get('item_count')} rows:")
        lines += [f"  - {reason}" for reason in r.get("reasons", [])]
        lines.append(f"  report: {r.get('report_uri')}")
    lines.append(f"\nRetraining: the {uc.name}__train DAG is triggered (monitor.retrain_on_alert)." if retrain
                 else "\nRetraining is not automatic (monitor.retrain_on_alert is off): decide whether to retrain.")
    text = "\n".join(lines)
    body = [f"<p>{html.escape(lines[0])}</p>"]
    for r in alerting:
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in r.get("reasons", []))
        body.append(f"<h3>Partition {html.escape(str(r.get('partition')))}, model version "
                    f"{html.escape(str(r.get('model_version')))}, {html.escape(str(r.get('item_count')))} rows</h3>"
                    f"<ul>{items}</ul><p>Report: {html.escape(str(r.get('report_uri')))}</p>")
    body.append(f"<p>{html.escape(lines[-1].strip())}</p>")
    return {"subject": subject[:240], "text": text, "html": "<html><body>" + "".join(body) + "</body></html>"}


# =========================================================================== CLI
def _open_dataset(uri: str) -> Any:
    """A Parquet URI (streamed by the monitor) or a stream of CSV chunks (CSV with a header row)."""
    if uri.lower().endswith(".csv"):
        return _csv_chunks([uri])
    if uri.lower().endswith((".parquet", ".pq")):
        return uri
    if not storage.exists(uri):
        raise DataValidationError(uri, ["does not exist"], fix="Pass a CSV file (with a header), a Parquet file, or a "
                                                                "directory holding them.")
    if storage.list_files(uri, suffixes=(".parquet", ".pq")):
        return uri
    csvs = storage.list_files(uri, suffixes=(".csv",))
    if csvs:
        return _csv_chunks(csvs)
    raise DataValidationError(uri, ["no .csv or .parquet files found"],
                              fix="Pass a CSV file (with a header), a Parquet file, or a directory holding them.")


def _csv_chunks(uris: list[str], chunk_rows: int = 250_000) -> Iterator[Any]:
    import pandas as pd

    for uri in uris:
        with storage.local_copy(uri) as local, pd.read_csv(local, chunksize=chunk_rows) as reader:
            yield from reader


def _cli_usecase(usecase: str | None) -> UseCase | None:
    if not usecase:
        return None
    from airsage.config import get_usecase

    return get_usecase(usecase)


def _cli_exclude(uc: UseCase | None, with_score: bool) -> list[str]:
    cols = [c for c in CAPTURE_META if not (with_score and c == SCORE)] + ["label_available_at"]
    if uc is not None:
        s = uc.schema_
        cols += [s.record_id, s.event_time, s.label, *s.passthrough]
    return list(dict.fromkeys(cols))


def suggest_baseline_cli(dataset_uri: str, output_uri: str, usecase: str | None = None) -> dict[str, Any]:
    """``airsage monitor suggest-baseline``: ``statistics.json`` + ``constraints.json`` of a CSV (with a
    header) or Parquet dataset. With a use case its feature columns and types and its monitor settings
    are used; without one every column is profiled and its kind inferred (numbers numeric, text
    categorical, timestamps skipped)."""
    from airsage.monitor.baseline import suggest_baseline, write_baseline

    uc = _cli_usecase(usecase)
    kwargs: dict[str, Any] = {}
    if uc is not None:
        kwargs = {"features": feature_types(uc), "comparison_method": uc.monitor.comparison_method,
                  "comparison_threshold": uc.monitor.comparison_threshold}
    statistics, constraints = suggest_baseline(_open_dataset(dataset_uri), **kwargs)
    if not statistics.get("dataset", {}).get("item_count"):
        raise DataValidationError(dataset_uri, ["the dataset has no rows"], fix="Pass the baseline (training) data.")
    paths = write_baseline(output_uri, statistics, constraints)
    return {"output_uri": output_uri, **paths, "item_count": statistics["dataset"]["item_count"],
            "features": len(statistics.get("features", [])), "inferred": uc is None}


def analyze_cli(dataset_uri: str, baseline_uri: str, output_uri: str, usecase: str | None = None) -> dict[str, Any]:
    """``airsage monitor analyze``: data quality (``constraint_violations.json``), drift and an HTML report
    of a CSV (with a header) or Parquet dataset against a baseline directory. A ``score`` column is
    judged for prediction drift when the baseline has ``score_statistics.json``; the baseline's
    ``feature_importance.json`` weights the drift."""
    from airsage.monitor.baseline import read_baseline
    from airsage.monitor.data_monitor import monitor_data
    from airsage.monitor.drift import DriftThresholds
    from airsage.monitor.report import render_report

    uc = _cli_usecase(usecase)
    if not storage.exists(storage.join(baseline_uri, CONSTRAINTS_FILE)):
        raise DataValidationError(baseline_uri, [f"no {CONSTRAINTS_FILE} in the baseline directory"],
                                  fix="Create it with `airsage monitor suggest-baseline --dataset DATA --output DIR`.")
    statistics, constraints = read_baseline(baseline_uri)
    score_stats = _read_optional(baseline_uri, SCORE_STATISTICS_FILE)
    importance = _read_optional(baseline_uri, FEATURE_IMPORTANCE_FILE) or {}
    result = monitor_data(_open_dataset(dataset_uri), statistics, constraints, weights=importance.get("weights"),
                          thresholds=_drift_thresholds(uc) if uc else DriftThresholds(),
                          exclude_columns=_cli_exclude(uc, score_stats is not None),
                          score_column=SCORE if score_stats else None, score_statistics=score_stats)
    page = render_report(result, title="Airsage monitoring report",
                         subtitle=f"{dataset_uri} against the baseline {baseline_uri}")
    with storage.atomic_dir(output_uri) as stage:
        result.write(str(stage))
        (stage / REPORT_FILE).write_text(page, encoding="utf-8")
    summary = result.summary()
    return {"output_uri": output_uri, "report_uri": storage.join(output_uri, REPORT_FILE),
            **{k: summary[k] for k in ("alert", "item_count", "n_violations", "violations_by_type", "dataset_drift",
                                       "drifted_share", "drifted_features", "prediction_drift")}}


__all__ = ["analyze_cli", "baseline_uri", "binary_labels", "finish_baseline", "finish_partition", "format_alert",
           "importance_weights", "job_environment", "load_ground_truth", "monitor_partition", "plan_baseline",
           "plan_partition", "run_output_uri", "suggest_baseline_cli", "suggest_baseline_for_version",
           "with_overrides"]
