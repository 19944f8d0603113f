"""The monitoring job: ``python -m airsage.entrypoints.monitor`` under Model Monitor's processing contract.

Paths (``<opt_ml>`` = ``$AIRSAGE_OPT_ML`` or ``/opt/ml``), as in the prebuilt analyzer container:

* baselining input: ``<opt_ml>/processing/input/baseline_dataset_input`` (a file or a directory)
* analysis input:   ``$dataset_source`` or ``<opt_ml>/processing/input/dataset``; the baseline files
  ``$baseline_statistics`` / ``$baseline_constraints``, else the input channels of those names
  (``<opt_ml>/processing/input/baseline_statistics/statistics.json``, ``.../baseline_constraints/
  constraints.json``: what ``airsage.lifecycle.monitoring_job.monitor_spec`` mounts, on the local backend and on
  SageMaker alike), else Model Monitor's defaults
  ``<opt_ml>/processing/baseline/{statistics/statistics.json,constraints/constraints.json}``
* score statistics: ``$AIRSAGE_MONITOR_SCORE_STATISTICS``, else the ``score_statistics`` input channel
* settings file:    ``<opt_ml>/processing/input/monitor_config/monitor_config.json`` (optional): a JSON
  object of the variables below (values as strings or as JSON). A variable set in the environment
  wins. It carries what exceeds SageMaker's 256-character limit on an environment value (the feature
  types, the SHAP weights).
* output:           ``$output_path`` or ``<opt_ml>/processing/output``: ``statistics.json``,
  ``constraints.json`` (baselining) or ``constraint_violations.json`` (analysis), plus Airsage's
  ``drift.json``, ``summary.json``, ``quality.json`` (the per-feature checks, so that the caller can
  rebuild the report: ``DataMonitorReport.read``) and ``report.html`` for data-quality analyses; with
  their inputs also ``bias_drift/`` and ``feature_attribution_drift/`` (``analysis.json`` +
  ``constraint_violations.json`` each; ``clarify_monitors.read_results`` reads them back).

Environment (Model Monitor's names, then Airsage's own ``AIRSAGE_MONITOR_*``):

============================================  ===========================================================
``AIRSAGE_MONITOR_MODE``                      ``suggest-baseline`` | ``analyze``. Default: ``analyze`` when
                                              ``baseline_constraints`` is set or the default baseline
                                              constraints file exists, else ``suggest-baseline``.
``analysis_type``                             ``DATA_QUALITY`` (default) | ``MODEL_QUALITY`` |
                                              ``MODEL_BIAS`` | ``MODEL_EXPLAINABILITY``
``dataset_format``                            ``{"parquet":{}}`` (default) | ``{"csv":{"header":true|false}}``
                                              (false: read with the baseline's columns) | ``{"json":{"line":true}}``
``problem_type``                              ``BinaryClassification`` (the only one supported)
``ground_truth_attribute``                    label column (default ``ground_truth``)
``probability_attribute``                     score column (default ``score``)
``inference_attribute``                       predicted-label column (used when no probability)
``probability_threshold_attribute``           decision threshold (default 0.5)
``AIRSAGE_USECASE``                           use-case name: feature types and id/label columns from it
``AIRSAGE_MONITOR_FEATURES``                  JSON ``{"col": "numeric"|"categorical"}`` (overrides the use case)
``AIRSAGE_MONITOR_EXCLUDE``                   JSON list (or comma list) of columns to ignore
``AIRSAGE_MONITOR_WEIGHTS``                   JSON ``{"feature": weight}`` or the path of a Clarify analysis.json
``AIRSAGE_MONITOR_SCORE_COLUMN``              score column for prediction drift, with
``AIRSAGE_MONITOR_SCORE_STATISTICS``          the statistics.json of the baseline scores
``AIRSAGE_MONITOR_THRESHOLDS``                JSON of ``DriftThresholds`` fields (psi_threshold, ...)
``AIRSAGE_MONITOR_COMPARISON_METHOD``         baselining: ``Robust`` | ``Simple`` written into
                                              ``constraints.json`` (default: the use case's, else Robust)
``AIRSAGE_MONITOR_COMPARISON_THRESHOLD``      baselining: the distribution-distance threshold (default:
                                              the use case's ``monitor.comparison_threshold``, else 0.1)
``AIRSAGE_MONITOR_COLUMNS``                   JSON list: the columns of a headerless CSV (default: baseline's)
``AIRSAGE_MONITOR_BIAS_BOUNDS``               JSON ``{"metric": max |value - ideal|}`` (else ``gates.max_bias``)
``AIRSAGE_MONITOR_BIAS_UNBOUNDED``            ``baseline`` (Clarify's rule for unbounded metrics, default) |
                                              ``report`` (judge the bounded metrics only)
``AIRSAGE_MONITOR_CLARIFY_MONITORS``          ``auto`` (each Clarify-based monitor whose inputs are there) |
                                              ``none`` | ``bias`` | ``attribution`` | ``bias,attribution``
``AIRSAGE_MONITOR_CLARIFY_BASELINE``          the version's Clarify analysis.json (or channel ``clarify_baseline``)
``AIRSAGE_MONITOR_BIAS_CONFIG``               Clarify analysis_config JSON: label, facets (or channel
                                              ``bias_config``; else from ``AIRSAGE_USECASE``)
``AIRSAGE_MONITOR_MODEL``                     model artifact for attribution drift (or channel ``model``)
``AIRSAGE_MONITOR_SHAP_SAMPLE`` / ``_SEED``   TreeSHAP sample rows (default 2000) / seed (0)
``AIRSAGE_MONITOR_NDCG_THRESHOLD``            attribution-drift threshold (default 0.9)
``AIRSAGE_MONITOR_GROUND_TRUTH_OFFSETS``      ``start_h,end_h`` for a ``groundtruth`` input joined by
``AIRSAGE_MONITOR_INFERENCE_ID``              this id column (default ``inference_id``)
============================================  ===========================================================

``record_preprocessor_script``, ``post_analytics_processor_script`` and CloudWatch metrics are not
supported; the first two are refused (a silent skip would change results).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airsage.entrypoints import contract
from airsage.entrypoints.monitor_settings import (  # noqa: F401 - CONFIG_*, config_file_settings: re-exported
    CONFIG_CHANNEL,
    CONFIG_FILE,
    channel_file as _channel_file,
    config_file_settings,
    env as _env,
    json_env as _json_env,
    read_json_file,
    usecase as _usecase,
)
from airsage.errors import ConfigError, DataValidationError

MODES = ("suggest-baseline", "analyze")
ANALYSIS_TYPES = ("DATA_QUALITY", "MODEL_QUALITY", "MODEL_BIAS", "MODEL_EXPLAINABILITY")
CHUNK_ROWS = 250_000


COMPARISON_METHODS = ("Robust", "Simple")


def baseline_paths() -> tuple[Path, Path]:
    root = contract.opt_ml() / "processing" / "baseline"
    return (_baseline_file("baseline_statistics", "statistics.json", root / "statistics" / "statistics.json"),
            _baseline_file("baseline_constraints", "constraints.json", root / "constraints" / "constraints.json"))


def _baseline_file(name: str, file_name: str, default: Path) -> Path:
    explicit = _env(name)
    if explicit:
        return Path(explicit)
    return _channel_file(name, file_name) or default


def score_statistics_path() -> Path | None:
    explicit = _env("AIRSAGE_MONITOR_SCORE_STATISTICS")
    return Path(explicit) if explicit else _channel_file("score_statistics", "score_statistics.json")


def comparison_settings() -> dict[str, Any]:
    """Baselining's ``comparison_method`` / ``comparison_threshold`` (written into constraints.json)."""
    uc = _usecase()
    method = _env("AIRSAGE_MONITOR_COMPARISON_METHOD", uc.monitor.comparison_method if uc else "Robust")
    raw = _env("AIRSAGE_MONITOR_COMPARISON_THRESHOLD", str(uc.monitor.comparison_threshold) if uc else "0.1")
    if method not in COMPARISON_METHODS:
        raise ConfigError(f"AIRSAGE_MONITOR_COMPARISON_METHOD={method!r} is not supported",
                          key="AIRSAGE_MONITOR_COMPARISON_METHOD", fix=f"Use one of {COMPARISON_METHODS}.")
    try:
        threshold = float(raw)
    except ValueError:
        raise ConfigError(f"AIRSAGE_MONITOR_COMPARISON_THRESHOLD={raw!r} is not a number",
                          key="AIRSAGE_MONITOR_COMPARISON_THRESHOLD",
                          fix="Pass a number in (0, 1], e.g. 0.1.") from None
    return {"comparison_method": method, "comparison_threshold": threshold}


def resolve_mode() -> str:
    mode = _env("AIRSAGE_MONITOR_MODE")
    if mode is None:
        return "analyze" if _env("baseline_constraints") or baseline_paths()[1].exists() else "suggest-baseline"
    if mode not in MODES:
        raise ConfigError(f"AIRSAGE_MONITOR_MODE={mode!r} is not supported", key="AIRSAGE_MONITOR_MODE",
                          fix=f"Use one of {MODES}.")
    return mode


def output_dir() -> str:
    return _env("output_path", str(contract.processing_output()))


def dataset_dir() -> Path:
    return Path(_env("dataset_source", str(contract.processing_input("dataset"))))


def feature_types() -> dict[str, str] | None:
    explicit = _json_env("AIRSAGE_MONITOR_FEATURES")
    if explicit is not None:
        return dict(explicit)
    uc = _usecase()
    return {f.name: f.type for f in uc.schema_.features} if uc else None


def excluded_columns() -> list[str]:
    raw = _env("AIRSAGE_MONITOR_EXCLUDE")
    if raw is not None:
        return list(json.loads(raw)) if raw.strip().startswith("[") else [c.strip() for c in raw.split(",") if c.strip()]
    from airsage.monitor.capture import META_COLUMNS

    uc = _usecase()
    cols = list(META_COLUMNS) + ["label_available_at"]
    if uc:
        s = uc.schema_
        cols += [s.record_id, s.event_time, s.label, *s.passthrough]
    return cols


# =========================================================================== reading
def _format() -> tuple[str, dict[str, Any]]:
    fmt = _json_env("dataset_format", {"parquet": {}})
    kind = next(iter(fmt)) if isinstance(fmt, dict) and fmt else "parquet"
    if kind not in ("parquet", "csv", "json"):
        raise ConfigError(f"dataset_format {fmt!r} is not supported", key="dataset_format",
                          fix='Use {"parquet":{}}, {"csv":{"header":true}} or {"json":{"line":true}}.')
    options = fmt.get(kind) if isinstance(fmt, dict) else None
    return kind, options if isinstance(options, dict) else {}


def csv_columns(expected: list[str] | None = None) -> list[str] | None:
    """The column names for a headerless CSV: ``AIRSAGE_MONITOR_COLUMNS`` (JSON list), else ``expected``
    (the baseline's columns, in its order), else ``None`` (Model Monitor's ``_c0, _c1, ...``)."""
    explicit = _json_env("AIRSAGE_MONITOR_COLUMNS")
    if explicit is not None:
        if not isinstance(explicit, list) or not all(isinstance(c, str) for c in explicit):
            raise ConfigError("AIRSAGE_MONITOR_COLUMNS must be a JSON list of column names",
                              key="AIRSAGE_MONITOR_COLUMNS", fix='Pass e.g. ["age", "income", "score"].')
        return explicit
    return expected


def open_dataset(path: Path, expected_columns: list[str] | None = None) -> Any:
    """Parquet as a path (streamed row group by row group); CSV / JSON lines as a chunk iterator.

    ``expected_columns``: the baseline's columns, in order. A CSV with ``header: true`` must name
    them in its first row (else it is refused); a CSV with ``header: false`` (Model Monitor's default
    for CSV) is read with them as its column names."""
    kind, options = _format()
    if not path.exists():
        raise DataValidationError(str(path), ["the dataset does not exist"],
                                  fix="Check the job's dataset input (dataset_source or the 'dataset' channel).")
    if kind == "parquet":
        return str(path)
    suffixes = (".csv",) if kind == "csv" else (".json", ".jsonl")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in suffixes
                                                 and not p.name.startswith((".", "_")))
    if not files:
        raise DataValidationError(str(path), [f"no {kind} files found"], fix="Check the processing input's S3 prefix.")
    from airsage.monitor import _data

    if kind == "json":
        return _data.json_lines_chunks([str(f) for f in files], chunk_rows=CHUNK_ROWS)
    header = bool(options.get("header", True))
    return _data.csv_chunks([str(f) for f in files], header=header, chunk_rows=CHUNK_ROWS,
                            columns=expected_columns if header else csv_columns(expected_columns))


def _frame(data: Any, columns: list[str] | None = None):
    """``data`` as one frame (only ``columns`` are decoded from Parquet)."""
    import pandas as pd

    from airsage.monitor import _data

    chunks = [c if isinstance(c, pd.DataFrame) else c.to_pandas() for c in _data.iter_chunks(data, columns=columns)]
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns or [])


def _analysis_json(path: Path) -> dict[str, Any]:
    return read_json_file(path, "Clarify analysis", "Point it at the analysis.json a Clarify job wrote.")


_BASELINE_FIX = ("Re-create the baseline (monitor job in suggest-baseline mode, or `airsage monitor suggest-baseline`) "
                 "and point baseline_statistics / baseline_constraints at its files.")


def _baseline_columns(statistics: dict[str, Any], constraints: dict[str, Any]) -> list[str]:
    feats = constraints.get("features") or statistics.get("features") or []
    return [f["name"] for f in feats if isinstance(f, dict) and "name" in f]


# =========================================================================== jobs
def suggest_baseline_job(analysis_type: str, out: str) -> dict[str, Any]:
    from airsage import storage

    src = contract.processing_input("baseline_dataset_input")
    if analysis_type == "DATA_QUALITY":
        from airsage.monitor.baseline import suggest_baseline

        features = feature_types()
        stats, cons = suggest_baseline(open_dataset(src), features=features,
                                       exclude_columns=[] if features else excluded_columns(),
                                       **comparison_settings())
    elif analysis_type == "MODEL_QUALITY":
        from airsage.monitor.model_quality import suggest_model_quality_constraints

        stats = _model_quality_metrics(_frame(open_dataset(src)))
        uc = _usecase()
        cons = suggest_model_quality_constraints(stats, overrides=uc.monitor.model_quality_constraints if uc else None)
    else:
        raise ConfigError(f"analysis_type {analysis_type} has no baselining step here", key="analysis_type",
                          fix="Use the Clarify job's analysis.json as the baseline constraints for bias/attribution drift.")
    storage.write_json(storage.join(out, "statistics.json"), stats)
    storage.write_json(storage.join(out, "constraints.json"), cons)
    return {"mode": "suggest-baseline", "analysis_type": analysis_type, "features": len(stats.get("features", []))}


def analyze_job(analysis_type: str, out: str) -> dict[str, Any]:
    from airsage import storage

    stats_path, cons_path = baseline_paths()
    if analysis_type == "DATA_QUALITY":
        from airsage.monitor import drift as _drift
        from airsage.monitor.data_monitor import monitor_data
        from airsage.monitor.report import render_report, write_report

        statistics = read_json_file(stats_path, "baseline statistics", _BASELINE_FIX)
        constraints = read_json_file(cons_path, "baseline constraints", _BASELINE_FIX)
        score_stats_path = score_statistics_path()
        result = monitor_data(
            open_dataset(dataset_dir(), _baseline_columns(statistics, constraints)), statistics, constraints,
            weights=_weights(),
            thresholds=_drift.DriftThresholds(**(_json_env("AIRSAGE_MONITOR_THRESHOLDS", {}) or {})),
            exclude_columns=excluded_columns(), score_column=_env("AIRSAGE_MONITOR_SCORE_COLUMN"),
            score_statistics=read_json_file(score_stats_path, "score statistics", _BASELINE_FIX)
            if score_stats_path else None)
        result.write_job_outputs(out)
        write_report(storage.join(out, "report.html"), render_report(result, subtitle=str(dataset_dir())))
        clarify = run_clarify_monitors(out, subfolders=True)
        summary = {"mode": "analyze", "analysis_type": analysis_type, **result.summary(), **clarify}
        if any(v.get("alert") for v in clarify.values()):
            summary["alert"] = True
        return summary
    if analysis_type == "MODEL_QUALITY":
        from airsage.monitor.model_quality import check_model_quality, violations_json

        frame = _join_labels(_frame(open_dataset(dataset_dir())))
        stats = _model_quality_metrics(frame)
        violations = check_model_quality(stats, read_json_file(cons_path, "model-quality constraints", _BASELINE_FIX))
        storage.write_json(storage.join(out, "statistics.json"), stats)
        storage.write_json(storage.join(out, "constraint_violations.json"), violations_json(violations))
        return {"mode": "analyze", "analysis_type": analysis_type, "n_violations": len(violations),
                "item_count": stats["dataset"]["item_count"]}
    from airsage.monitor import bias_drift

    if not _holds_analysis(dataset_dir()):  # the partition itself: compute its analysis, then compare
        kind = "bias" if analysis_type == "MODEL_BIAS" else "attribution"
        return {"mode": "analyze", "analysis_type": analysis_type,
                **run_clarify_monitors(out, subfolders=False, only=kind)}
    current, baseline = _analysis_json(dataset_dir()), _analysis_json(cons_path)
    if analysis_type == "MODEL_BIAS":
        rep = bias_drift.check_bias_drift(current, baseline, bounds=_json_env("AIRSAGE_MONITOR_BIAS_BOUNDS"))
    else:
        rep = bias_drift.check_attribution_drift(current, baseline)
    storage.write_json(storage.join(out, "constraint_violations.json"), rep.violations_json())
    return {"mode": "analyze", "analysis_type": analysis_type, **rep.to_dict()}


# =========================================================================== Clarify-based monitors
def _holds_analysis(path: Path) -> bool:
    return (path.is_file() and path.suffix == ".json") or (path.is_dir() and (path / "analysis.json").is_file())


def clarify_baseline_path() -> Path | None:
    """The version's baseline Clarify ``analysis.json``: ``$AIRSAGE_MONITOR_CLARIFY_BASELINE`` or the
    ``clarify_baseline`` input channel (for MODEL_BIAS / MODEL_EXPLAINABILITY jobs also
    ``baseline_constraints``, which is how SageMaker's Clarify-based monitors name it)."""
    explicit = _env("AIRSAGE_MONITOR_CLARIFY_BASELINE")
    return Path(explicit) if explicit else _channel_file("clarify_baseline", "analysis.json")


def bias_config() -> dict[str, Any] | None:
    """Clarify's analysis_config (label, label_values_or_threshold, facet, group_variable,
    probability_threshold, methods): ``$AIRSAGE_MONITOR_BIAS_CONFIG`` (JSON), the ``bias_config`` input
    channel, else the use case's (``AIRSAGE_USECASE``)."""
    raw = _json_env("AIRSAGE_MONITOR_BIAS_CONFIG")
    if raw is not None:
        return raw
    path = _channel_file("bias_config", "analysis_config.json")
    if path is not None:
        return read_json_file(path, "bias configuration", "Write Clarify's analysis_config.json into the channel.")
    uc = _usecase()
    if uc is not None and uc.schema_.facets:
        from airsage.clarify.gates import analysis_config_for_usecase

        return analysis_config_for_usecase(uc, stage="post")
    return None


def model_path() -> Path | None:
    """The model artifact (directory or model.tar.gz): ``$AIRSAGE_MONITOR_MODEL`` or the ``model`` channel
    (an unpacked model directory, or a directory holding only the ``model.tar.gz`` an S3 object input or
    the local backend delivers)."""
    explicit = _env("AIRSAGE_MONITOR_MODEL")
    if explicit:
        return Path(explicit)
    d = contract.processing_input("model")
    if not (d.is_dir() and any(d.iterdir())):
        return None
    entries = [p for p in d.iterdir() if not p.name.startswith((".", "_"))]
    if len(entries) == 1 and entries[0].is_file() and entries[0].name.endswith((".tar.gz", ".tgz")):
        return entries[0]
    return d


def _partition(columns: list[str] | None):
    """The scored partition as one frame (only ``columns`` decoded): every row, with the ground truth that
    arrived within the offsets (the ``groundtruth`` channel) joined, null where none did — the metrics of
    predicted labels use every row, those of labels the labelled ones."""
    frame = _frame(open_dataset(dataset_dir()), columns)
    joined = _join_labels(frame)
    if joined is frame:
        return frame
    gt, key = _env("ground_truth_attribute", "ground_truth"), _env("AIRSAGE_MONITOR_INFERENCE_ID", "inference_id")
    return frame.drop(columns=[gt], errors="ignore").merge(joined[[key, gt]], on=key, how="left")


def run_clarify_monitors(out: str, *, subfolders: bool, only: str | None = None) -> dict[str, Any]:
    """Bias drift and feature-attribution drift of the partition when the job has their inputs
    (``clarify_monitors.run_monitors``); ``only``: that one monitor, its inputs required."""
    from airsage.monitor import clarify_monitors as cm

    base_path = clarify_baseline_path() or (baseline_paths()[1] if only else None)
    return cm.run_monitors(
        out, load_partition=_partition, baseline=_analysis_json(base_path) if base_path else None,
        wanted=cm.wanted_monitors(_env("AIRSAGE_MONITOR_CLARIFY_MONITORS", "auto"), only),
        bias_config=bias_config, model_uri=model_path, bounds=bias_bounds(), subfolders=subfolders, only=only,
        score_column=_env("AIRSAGE_MONITOR_SCORE_COLUMN") or _env("probability_attribute", "score"),
        ground_truth_column=_env("ground_truth_attribute", "ground_truth"),
        extra_columns=[_env("AIRSAGE_MONITOR_INFERENCE_ID", "inference_id"), "captured_at"],
        shap_sample=int(_env("AIRSAGE_MONITOR_SHAP_SAMPLE", str(cm.DEFAULT_SHAP_SAMPLE))),
        seed=int(_env("AIRSAGE_MONITOR_SHAP_SEED", "0")),
        ndcg_threshold=float(_env("AIRSAGE_MONITOR_NDCG_THRESHOLD", "0.9")),
        judge_unbounded=_judge_unbounded())


def _judge_unbounded() -> bool:
    """``AIRSAGE_MONITOR_BIAS_UNBOUNDED``: ``baseline`` (default; Clarify's rule for a metric without a
    bound) or ``report`` (only the bounded metrics are judged; the others are reported)."""
    raw = (_env("AIRSAGE_MONITOR_BIAS_UNBOUNDED", "baseline") or "baseline").strip().lower()
    if raw not in ("baseline", "report"):
        raise ConfigError(f"AIRSAGE_MONITOR_BIAS_UNBOUNDED={raw!r} is not supported",
                          key="AIRSAGE_MONITOR_BIAS_UNBOUNDED", fix="Use baseline or report.")
    return raw == "baseline"


def bias_bounds() -> dict[str, float] | None:
    """Largest allowed ``|value - ideal|`` per bias metric: ``$AIRSAGE_MONITOR_BIAS_BOUNDS``, else the use
    case's ``gates.max_bias``. Without a bound a metric follows Clarify's rule (no farther from the ideal
    than the baseline value), which sampling noise alone breaks about every other night."""
    explicit = _json_env("AIRSAGE_MONITOR_BIAS_BOUNDS")
    if explicit is not None:
        return explicit
    uc = _usecase()
    return dict(uc.gates.max_bias) if uc is not None and uc.gates.max_bias else None


def _weights() -> dict[str, float] | None:
    raw = _env("AIRSAGE_MONITOR_WEIGHTS")
    if raw is None:
        return None
    from airsage.monitor.bias_drift import global_shap
    from airsage.monitor.drift import weights_from_shap

    if raw.strip().startswith("{"):
        return {k: float(v) for k, v in json.loads(raw).items()}
    labels = global_shap(_analysis_json(Path(raw)))
    if not labels:
        raise ConfigError(f"{raw} holds no global SHAP values", key="AIRSAGE_MONITOR_WEIGHTS",
                          fix="Point it at a Clarify analysis.json with explanations, or pass a JSON dict.")
    return weights_from_shap(next(iter(labels.values())))


def _model_quality_metrics(frame) -> dict[str, Any]:
    from airsage.monitor.model_quality import binary_classification_metrics, now_iso

    problem = _env("problem_type", "BinaryClassification")
    if problem != "BinaryClassification":
        raise ConfigError(f"problem_type {problem} is not supported", key="problem_type",
                          fix="Only BinaryClassification is implemented.")
    gt = _env("ground_truth_attribute", "ground_truth")
    prob, pred = _env("probability_attribute", "score"), _env("inference_attribute")
    missing = [c for c in (gt,) if c not in frame.columns]
    if prob not in frame.columns and (pred is None or pred not in frame.columns):
        missing.append(prob)
    if missing:
        raise DataValidationError("model-quality dataset", [f"missing column(s) {missing}"],
                                  fix="Set ground_truth_attribute / probability_attribute / inference_attribute.")
    threshold = float(_env("probability_threshold_attribute", "0.5"))
    if prob in frame.columns:
        return binary_classification_metrics(frame[gt], frame[prob], threshold=threshold, evaluation_time=now_iso())
    return binary_classification_metrics(frame[gt], y_pred=frame[pred], evaluation_time=now_iso())


def _join_labels(frame):
    gt_dir = contract.processing_input("groundtruth")
    if not gt_dir.exists():
        return frame
    from airsage.monitor.model_quality import join_ground_truth

    labels = _frame(open_dataset(gt_dir))
    start_h, end_h = (float(x) for x in _env("AIRSAGE_MONITOR_GROUND_TRUTH_OFFSETS", "0,336").split(","))
    return join_ground_truth(frame, labels, inference_id_col=_env("AIRSAGE_MONITOR_INFERENCE_ID", "inference_id"),
                             offsets=(start_h, end_h), label_col=_env("ground_truth_attribute", "ground_truth"),
                             ground_truth_col=_env("ground_truth_attribute", "ground_truth"))


@contract.job_main
def main() -> None:
    for unsupported in ("record_preprocessor_script", "post_analytics_processor_script"):
        if _env(unsupported):
            raise ConfigError(f"{unsupported} is not supported by the Airsage monitor", key=unsupported,
                              fix="Preprocess the data before the job (e.g. in the capture step) and unset it.")
    analysis_type = (_env("analysis_type", "DATA_QUALITY") or "DATA_QUALITY").upper()
    if analysis_type not in ANALYSIS_TYPES:
        raise ConfigError(f"analysis_type {analysis_type!r} is not supported", key="analysis_type",
                          fix=f"Use one of {ANALYSIS_TYPES}.")
    out = output_dir()
    mode = resolve_mode()
    result = suggest_baseline_job(analysis_type, out) if mode == "suggest-baseline" else analyze_job(analysis_type, out)
    print("airsage-monitor " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
