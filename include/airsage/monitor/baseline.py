"""Baselines in SageMaker Model Monitor's format: ``statistics.json`` + ``constraints.json``.

``suggest_baseline`` profiles a dataset in one bounded-memory pass (see ``profile``) and suggests
constraints the way the prebuilt (Deequ-based) container does:

* ``completeness``: 1.0 when the baseline has no missing value; otherwise Deequ's
  ``RetainCompletenessRule``: ``p - 1.96 * sqrt(p (1 - p) / n)``, rounded down to 2 decimals
  (so ordinary sampling noise does not fire ``completeness_check``).
* ``num_constraints.is_non_negative``: the baseline minimum is >= 0.
* ``string_constraints.domains``: the observed values of a low-cardinality String feature (Deequ's
  ``CategoricalRangeRule``: at most 120 distinct values and at most 10 % of them seen only once).
* ``monitoring_config``: Model Monitor's defaults (DG ``model-monitor-byoc-constraints``).

The statistics keep the quantile sketch (``distribution.kll.sketch``), which is all that drift
needs later: a baseline is computed once and reused without re-reading its data.
"""
from __future__ import annotations

import math
from typing import Any

from airsage import storage
from airsage.errors import ConfigError
from airsage.monitor import profile as _profile

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
MAX_DOMAIN_SIZE = 120          # Deequ lowCardinalityHistogramThreshold
MAX_UNIQUE_VALUE_RATIO = 0.1   # Deequ CategoricalRangeRule


def default_monitoring_config(
    *,
    comparison_method: str = "Robust",
    comparison_threshold: float = 0.1,
    categorical_comparison_threshold: float | None = None,
    categorical_drift_method: str = "LInfinity",
    datatype_check_threshold: float = 0.1,
    domain_content_threshold: float = 0.1,
) -> dict[str, Any]:
    """Model Monitor's ``monitoring_config`` block with its documented defaults."""
    if comparison_method not in ("Simple", "Robust"):
        raise ConfigError(f"comparison_method {comparison_method!r} is not supported", key="comparison_method",
                          fix="Use 'Simple' or 'Robust'.")
    if categorical_drift_method not in ("LInfinity", "ChiSquared"):
        raise ConfigError(f"categorical_drift_method {categorical_drift_method!r} is not supported",
                          key="categorical_drift_method", fix="Use 'LInfinity' (or 'ChiSquared').")
    return {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": float(datatype_check_threshold),
        "domain_content_threshold": float(domain_content_threshold),
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": float(comparison_threshold),
            "comparison_method": comparison_method,
            "categorical_comparison_threshold": float(comparison_threshold if categorical_comparison_threshold is None
                                                      else categorical_comparison_threshold),
            "categorical_drift_method": categorical_drift_method,
        },
    }


def suggest_baseline(
    data: Any,
    *,
    features: dict[str, str] | None = None,
    exclude_columns: tuple[str, ...] | list[str] = (),
    comparison_method: str = "Robust",
    comparison_threshold: float = 0.1,
    categorical_comparison_threshold: float | None = None,
    categorical_drift_method: str = "LInfinity",
    datatype_check_threshold: float = 0.1,
    domain_content_threshold: float = 0.1,
    sketch_size: int = _profile.SKETCH_K,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Profile ``data`` and return ``(statistics, constraints)`` in Model Monitor's layout.

    ``data``: a DataFrame, a pyarrow Table, an iterable of those (a stream of chunks), or the URI of
    a Parquet file/directory (read row group by row group). ``features`` maps column -> ``numeric``
    | ``categorical``; without it numeric columns are numeric, string/bool columns categorical and
    timestamps are skipped.
    """
    config = default_monitoring_config(
        comparison_method=comparison_method, comparison_threshold=comparison_threshold,
        categorical_comparison_threshold=categorical_comparison_threshold,
        categorical_drift_method=categorical_drift_method, datatype_check_threshold=datatype_check_threshold,
        domain_content_threshold=domain_content_threshold)
    prof = _profile.profile_data(data, features=features, exclude_columns=exclude_columns, sketch_size=sketch_size)
    statistics = _profile.statistics_json(prof, sketch_size=sketch_size)
    return statistics, suggest_constraints(statistics, monitoring_config=config)


def suggest_constraints(statistics: dict[str, Any], *, monitoring_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Constraints suggested from a ``statistics.json`` (ours or Model Monitor's)."""
    feats = []
    for feat in statistics.get("features", []):
        entry: dict[str, Any] = {"name": feat["name"], "inferred_type": feat.get("inferred_type", "Unknown")}
        if "numerical_statistics" in feat:
            ns = feat["numerical_statistics"]
            entry["completeness"] = _suggest_completeness(ns["common"])
            lo = ns.get("min")
            entry["num_constraints"] = {"is_non_negative": isinstance(lo, (int, float)) and lo >= 0}
        elif "string_statistics" in feat:
            ss = feat["string_statistics"]
            entry["completeness"] = _suggest_completeness(ss["common"])
            domain = _suggest_domain(ss)
            if domain is not None:
                entry["string_constraints"] = {"domains": domain}
        feats.append(entry)
    return {"version": 0.0, "features": feats,
            "monitoring_config": monitoring_config or default_monitoring_config()}


def _suggest_completeness(common: dict[str, Any]) -> float:
    present, missing = int(common.get("num_present", 0)), int(common.get("num_missing", 0))
    n = present + missing
    if n == 0:
        return 0.0
    p = present / n
    if p >= 1.0:
        return 1.0
    if p <= 0.2:  # Deequ suggests nothing below 20 %: accept whatever comes
        return 0.0
    target = p - 1.96 * math.sqrt(p * (1 - p) / n)
    return math.floor(max(target, 0.0) * 100) / 100


def _suggest_domain(ss: dict[str, Any]) -> list[str] | None:
    buckets = ((ss.get("distribution") or {}).get("categorical") or {}).get("buckets") or []
    distinct = int(float(ss.get("distinct_count", len(buckets)) or 0))
    if not buckets or distinct > MAX_DOMAIN_SIZE or len(buckets) < distinct:
        return None
    seen_once = sum(1 for b in buckets if int(b["count"]) == 1)
    if seen_once / len(buckets) > MAX_UNIQUE_VALUE_RATIO:
        return None
    return sorted(str(b["value"]) for b in buckets)


def write_baseline(output_uri: str, statistics: dict[str, Any], constraints: dict[str, Any]) -> dict[str, str]:
    """Publish ``statistics.json`` and ``constraints.json`` under ``output_uri`` as one unit
    (staged and swapped in: a reader sees the old baseline or the new one, never a mix)."""
    import json

    with storage.atomic_dir(output_uri) as stage:
        (stage / STATISTICS_FILE).write_text(json.dumps(statistics, indent=2) + "\n")
        (stage / CONSTRAINTS_FILE).write_text(json.dumps(constraints, indent=2) + "\n")
    return {"statistics": storage.join(output_uri, STATISTICS_FILE),
            "constraints": storage.join(output_uri, CONSTRAINTS_FILE)}


def read_baseline(uri: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(statistics, constraints)`` from a directory written by ``write_baseline``; a missing, empty or
    truncated file is a ``DataValidationError`` naming the fix."""
    from airsage.monitor._data import read_json_file

    fix = "Re-create the baseline with `airsage monitor suggest-baseline --dataset DATA --output DIR`."
    return (read_json_file(storage.join(uri, STATISTICS_FILE), "baseline statistics", fix),
            read_json_file(storage.join(uri, CONSTRAINTS_FILE), "baseline constraints", fix))
