"""``airsage monitor suggest-baseline`` and ``airsage monitor analyze``: Model Monitor's data-quality
baseline and analysis of any CSV (with a header) or Parquet dataset, in-process, with or without a use
case (without one every column is profiled and its kind inferred)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airsage import storage
from airsage.config import UseCase
from airsage.errors import DataValidationError
from airsage.lifecycle.monitoring_data import (
    CAPTURE_META,
    CONSTRAINTS_FILE,
    FEATURE_IMPORTANCE_FILE,
    REPORT_FILE,
    SCORE,
    SCORE_STATISTICS_FILE,
    drift_thresholds,
    feature_types,
    read_optional,
)


def _open_dataset(uri: str, columns: list[str] | None = None) -> Any:
    """A Parquet URI (streamed by the monitor) or a stream of CSV chunks (CSV with a header row).
    ``columns``: the baseline's column names; a CSV whose first row names none of them (or looks like
    data) is refused rather than read with a row of values as its header (``monitor._data.csv_chunks``)."""
    if uri.lower().endswith(".csv"):
        return _csv_chunks([uri], columns)
    if uri.lower().endswith((".parquet", ".pq")):
        return uri
    if not storage.exists(uri):
        raise DataValidationError(uri, ["does not exist"], fix="Pass a CSV file (with a header), a Parquet file, or a "
                                                                "directory holding them.")
    if storage.list_files(uri, suffixes=(".parquet", ".pq")):
        return uri
    csvs = storage.list_files(uri, suffixes=(".csv",))
    if csvs:
        return _csv_chunks(csvs, columns)
    raise DataValidationError(uri, ["no .csv or .parquet files found"],
                              fix="Pass a CSV file (with a header), a Parquet file, or a directory holding them.")


def _csv_chunks(uris: list[str], columns: list[str] | None = None) -> Iterator[Any]:
    from airsage.monitor._data import csv_chunks

    return csv_chunks(uris, header=True, columns=columns)


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


BASELINE_KIND = "baseline"  # the kinds recorded in the outputs' ownership markers (storage.check_output)
ANALYSIS_KIND = "monitor"


def suggest_dataset_baseline(dataset_uri: str, output_uri: str, usecase: str | None = None,
                             force: bool = False) -> dict[str, Any]:
    """``airsage monitor suggest-baseline``: ``statistics.json`` + ``constraints.json`` of a CSV (with a
    header) or Parquet dataset. With a use case its feature columns and types and its monitor settings
    are used; without one every column is profiled and its kind inferred (numbers numeric, text
    categorical, timestamps skipped). The output is checked before the dataset is read: never onto or
    inside the dataset, an existing folder only when Airsage published it as a baseline (``force``: its
    content is moved aside)."""
    from airsage.monitor.baseline import suggest_baseline, write_baseline

    storage.check_output(output_uri, inputs=(dataset_uri,), force=force, kind=BASELINE_KIND)
    uc = _cli_usecase(usecase)
    kwargs: dict[str, Any] = {}
    if uc is not None:
        kwargs = {"features": feature_types(uc), "comparison_method": uc.monitor.comparison_method,
                  "comparison_threshold": uc.monitor.comparison_threshold}
    statistics, constraints = suggest_baseline(_open_dataset(dataset_uri), **kwargs)
    if not statistics.get("dataset", {}).get("item_count"):
        raise DataValidationError(dataset_uri, ["the dataset has no rows"], fix="Pass the baseline (training) data.")
    with storage.atomic_dir(output_uri, inputs=(dataset_uri,), force=force, kind=BASELINE_KIND) as stage:
        written = write_baseline(str(stage), statistics, constraints)  # the baseline format's one writer
    paths = {k: storage.join(output_uri, storage.relative(v, str(stage))) for k, v in written.items()}
    return {"output_uri": output_uri, **paths, "item_count": statistics["dataset"]["item_count"],
            "features": len(statistics.get("features", [])), "inferred": uc is None}


def analyze_dataset(dataset_uri: str, baseline_uri: str, output_uri: str, usecase: str | None = None,
                    force: bool = False) -> dict[str, Any]:
    """``airsage monitor analyze``: data quality (``constraint_violations.json``), drift and an HTML report
    of a CSV (with a header) or Parquet dataset against a baseline directory. A ``score`` column is
    judged for prediction drift when the baseline has ``score_statistics.json``; the baseline's
    ``feature_importance.json`` weights the drift. The output is checked before anything is read: never
    onto or inside the dataset or the baseline (``force`` only moves foreign content aside)."""
    from airsage.monitor.baseline import read_baseline
    from airsage.monitor.data_monitor import monitor_data
    from airsage.monitor.drift import DriftThresholds
    from airsage.monitor.report import render_report

    inputs = (dataset_uri, baseline_uri)
    storage.check_output(output_uri, inputs=inputs, force=force, kind=ANALYSIS_KIND)
    uc = _cli_usecase(usecase)
    if not storage.exists(storage.join(baseline_uri, CONSTRAINTS_FILE)):
        raise DataValidationError(baseline_uri, [f"no {CONSTRAINTS_FILE} in the baseline directory"],
                                  fix="Create it with `airsage monitor suggest-baseline --dataset DATA --output DIR`.")
    statistics, constraints = read_baseline(baseline_uri)
    score_stats = read_optional(baseline_uri, SCORE_STATISTICS_FILE)
    importance = read_optional(baseline_uri, FEATURE_IMPORTANCE_FILE) or {}
    columns = [f["name"] for f in constraints.get("features", []) if isinstance(f, dict) and "name" in f]
    result = monitor_data(_open_dataset(dataset_uri, columns or None), statistics, constraints,
                          weights=importance.get("weights"),
                          thresholds=drift_thresholds(uc) if uc else DriftThresholds(),
                          exclude_columns=_cli_exclude(uc, score_stats is not None),
                          score_column=SCORE if score_stats else None, score_statistics=score_stats)
    page = render_report(result, title="Airsage monitoring report",
                         subtitle=f"{dataset_uri} against the baseline {baseline_uri}")
    with storage.atomic_dir(output_uri, inputs=inputs, force=force, kind=ANALYSIS_KIND) as stage:
        result.write(str(stage))
        (stage / REPORT_FILE).write_text(page, encoding="utf-8")
    summary = result.summary()
    return {"output_uri": output_uri, "report_uri": storage.join(output_uri, REPORT_FILE),
            **{k: summary[k] for k in ("alert", "item_count", "n_violations", "violations_by_type", "dataset_drift",
                                       "drifted_share", "drifted_features", "prediction_drift")}}

