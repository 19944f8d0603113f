"""Model quality in SageMaker Model Monitor's format (DG ``model-monitor-model-quality-metrics``).

The one implementation of Model Monitor model quality: the training job's held-out evaluation
(``model_quality.json`` + ``model_quality_constraints.json``, the model-quality baseline) and the
nightly model-quality monitor both call these functions.

* ``binary_classification_metrics``: the ``statistics.json`` of a model-quality job. Every scalar
  metric is ``{"value": v, "standard_deviation": s}``. One confusion core (``confusion_counts``)
  feeds every score, as in scikit-learn's classification metrics. Predictions are
  ``score > threshold`` (the rule of the batch transform's predicted label and of Clarify's
  ``probability_threshold``). Undefined ratios are 0.0 (scikit-learn's ``zero_division=0``); AUC is
  ``"NaN"`` when the rows hold one class only (undefined, so no constraint can fire on it). The
  ``*_best_constant_classifier`` variants score the classifier that always predicts the positive
  class (the DG example: recall 1, precision = accuracy = positive rate). Curves are capped at
  ``max_curve_points`` points (end points kept).
* ``standard_deviation``: Model Monitor documents it as the spread of the metric over 5 random 80 %
  subsamples, computed from 200 rows on (else ``"NaN"``), but not which estimator. We use the
  *sample* standard deviation (``ddof=1``): with only 5 draws the population formula underestimates
  the spread by a factor sqrt(4/5) (about 11 %), which would tighten every suggested constraint and
  raise false alerts; and Model Monitor runs on Spark, whose ``stddev`` is the sample one.
* ``suggest_model_quality_constraints`` / ``check_model_quality``: ``LessThanThreshold`` for
  higher-is-better metrics, ``GreaterThanThreshold`` for error rates, ``max(n_std * std, min_slack)``
  from the baseline value, clipped to [0, 1]; violations read
  ``"Metric recall with 0.61 was LessThanThreshold 0.66"``.
* ``join_ground_truth``: delayed labels joined to captured predictions by inference id, accepted
  only when they arrive within ``[captured_at + start_h, captured_at + end_h]``.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from airsage.errors import ConfigError, DataValidationError

HIGHER_IS_BETTER = ("recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate", "auc",
                    "f0_5", "f1", "f2")
LOWER_IS_BETTER = ("false_positive_rate", "false_negative_rate")
BEST_CONSTANT = ("recall", "precision", "accuracy", "f0_5", "f1", "f2")
MIN_ROWS_FOR_STD = 200
N_SUBSAMPLES = 5
SUBSAMPLE_SHARE = 0.8
STD_DDOF = 1  # sample standard deviation over the subsamples (see the module docstring)
METRIC_ORDER = ("recall", "precision", "accuracy", "recall_best_constant_classifier",
                "precision_best_constant_classifier", "accuracy_best_constant_classifier", "true_positive_rate",
                "true_negative_rate", "false_positive_rate", "false_negative_rate")
CURVE_METRIC_ORDER = ("auc", "f0_5", "f0_5_best_constant_classifier", "f1", "f1_best_constant_classifier", "f2",
                      "f2_best_constant_classifier")
OPERATORS = {
    "LessThanThreshold": lambda v, t: v < t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
}


# =========================================================================== metric functions
def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def _fbeta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    den = b2 * precision + recall
    return float((1 + b2) * precision * recall / den) if den else 0.0


f_beta = _fbeta


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) for 0/1 arrays: the one confusion core every score is computed from."""
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    tp = int(np.count_nonzero(t & p))
    fp = int(np.count_nonzero(~t & p))
    fn = int(np.count_nonzero(t & ~p))
    return len(t) - tp - fp - fn, fp, fn, tp


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); NaN with one class."""
    t = y_true.astype(bool)
    n_pos = int(t.sum())
    n_neg = len(t) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(y_score, kind="mergesort")
    s = y_score[order]
    ranks = np.empty(len(s))
    _, first, counts = np.unique(s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics_from_counts(tn: int, fp: int, fn: int, tp: int) -> dict[str, float]:
    """Every threshold metric of Model Monitor from the confusion counts."""
    n = tn + fp + fn + tp
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    out = {
        "recall": recall, "precision": precision, "accuracy": _ratio(tp + tn, n),
        "true_positive_rate": recall, "true_negative_rate": _ratio(tn, tn + fp),
        "false_positive_rate": _ratio(fp, fp + tn), "false_negative_rate": _ratio(fn, fn + tp),
        "f0_5": _fbeta(precision, recall, 0.5), "f1": _fbeta(precision, recall, 1.0), "f2": _fbeta(precision, recall, 2.0),
    }
    pos_rate = _ratio(tp + fn, n)  # the always-positive classifier
    c_recall = 1.0 if tp + fn else 0.0
    out.update({"recall_best_constant_classifier": c_recall, "precision_best_constant_classifier": pos_rate,
                "accuracy_best_constant_classifier": pos_rate,
                "f0_5_best_constant_classifier": _fbeta(pos_rate, c_recall, 0.5),
                "f1_best_constant_classifier": _fbeta(pos_rate, c_recall, 1.0),
                "f2_best_constant_classifier": _fbeta(pos_rate, c_recall, 2.0)})
    return out


def _point_metrics(y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    out = metrics_from_counts(*confusion_counts(y_true, y_pred))
    out["auc"] = roc_auc(y_true, y_score)
    return out


def _curves(y_true: np.ndarray, y_score: np.ndarray, max_points: int) -> tuple[dict, dict]:
    order = np.argsort(-y_score, kind="mergesort")
    s = y_score[order]
    t = y_true[order].astype(np.int64)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(t)[last]
    fps = (last + 1) - tps
    n_pos, n_neg = int(t.sum()), len(t) - int(t.sum())
    tpr = np.r_[0.0, tps / n_pos] if n_pos else np.zeros(len(tps) + 1)
    fpr = np.r_[0.0, fps / n_neg] if n_neg else np.zeros(len(fps) + 1)
    precision = np.where(tps + fps > 0, tps / np.maximum(tps + fps, 1), 1.0)
    recall = tps / n_pos if n_pos else np.zeros(len(tps))
    precision = np.r_[1.0, precision]
    recall = np.r_[0.0, recall]
    idx = _thin(len(tpr), max_points)
    roc = {"false_positive_rates": fpr[idx].tolist(), "true_positive_rates": tpr[idx].tolist()}
    pr = {"precisions": precision[idx].tolist(), "recalls": recall[idx].tolist()}
    return roc, pr


def _thin(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_points)).astype(np.int64))


def _json_number(v: Any) -> Any:
    return "NaN" if isinstance(v, float) and math.isnan(v) else v


# =========================================================================== statistics.json
def binary_classification_metrics(
    y_true: Any,
    y_score: Any = None,
    *,
    y_pred: Any = None,
    threshold: float = 0.5,
    seed: int = 0,
    n_subsamples: int = N_SUBSAMPLES,
    subsample_share: float = SUBSAMPLE_SHARE,
    min_rows_for_std: int = MIN_ROWS_FOR_STD,
    max_curve_points: int = 100,
    evaluation_time: str | None = None,
) -> dict[str, Any]:
    """Model Monitor's model-quality ``statistics.json`` for a binary classifier.

    ``y_true``: 0/1 labels. ``y_score``: P(positive); predictions are ``y_score > threshold``
    unless ``y_pred`` is given. Without scores the predictions serve as scores (AUC, curves)."""
    y_true = _binary(y_true, "ground truth")
    if y_score is None and y_pred is None:
        raise DataValidationError("model-quality input", ["neither scores nor predicted labels were given"],
                                  fix="Pass y_score (probabilities) or y_pred (0/1 labels).")
    score = np.asarray(y_score if y_score is not None else y_pred, dtype=np.float64)
    pred = _binary(y_pred, "predictions") if y_pred is not None else (score > threshold).astype(np.int64)
    if not (len(y_true) == len(score) == len(pred)):
        raise DataValidationError("model-quality input", ["labels, scores and predictions differ in length"],
                                  fix="Join ground truth and predictions first (join_ground_truth).")
    n = len(y_true)
    point = _point_metrics(y_true, pred, score) if n else {}
    stds: dict[str, Any] = {k: "NaN" for k in point}
    if n >= min_rows_for_std:
        rng = np.random.default_rng(seed)
        size = int(round(subsample_share * n))
        samples = []
        for _ in range(n_subsamples):
            idx = rng.choice(n, size=size, replace=False)
            samples.append(_point_metrics(y_true[idx], pred[idx], score[idx]))
        stds = {k: _json_number(float(np.std([s[k] for s in samples], ddof=STD_DDOF))) for k in point}
    tn, fp, fn, tp = confusion_counts(y_true, pred) if n else (0, 0, 0, 0)
    metrics: dict[str, Any] = {"confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}}
    for k in METRIC_ORDER:
        metrics[k] = {"value": _json_number(point.get(k, float("nan"))), "standard_deviation": stds.get(k, "NaN")}
    if n:
        roc, pr = _curves(y_true, score, max_curve_points)
        metrics["receiver_operating_characteristic_curve"] = roc
        metrics["precision_recall_curve"] = pr
    for k in CURVE_METRIC_ORDER:
        metrics[k] = {"value": _json_number(point.get(k, float("nan"))), "standard_deviation": stds.get(k, "NaN")}
    dataset: dict[str, Any] = {"item_count": n}
    if evaluation_time:
        dataset["evaluation_time"] = evaluation_time
    return {"version": 0.0, "dataset": dataset, "binary_classification_metrics": metrics}


def _binary(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataValidationError("model-quality input", [f"{what} are not numeric 0/1 values"],
                                  fix="Map the labels to 0/1 (the use case's positive_labels -> 1).") from exc
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        raise DataValidationError("model-quality input", [f"{int(bad.sum())} {what} are not 0/1 (e.g. {arr[bad][0]!r})"],
                                  fix="Map the labels to 0/1 (the use case's positive_labels -> 1) and drop nulls.")
    return arr.astype(np.int64)


# =========================================================================== constraints
def _metrics_block(metrics: dict[str, Any]) -> dict[str, Any]:
    return metrics.get("binary_classification_metrics", metrics)


def suggest_model_quality_constraints(
    metrics: dict[str, Any],
    *,
    names: tuple[str, ...] | None = None,
    n_std: float = 2.0,
    min_slack: float = 0.0,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``binary_classification_constraints`` from baseline metrics: a floor for higher-is-better
    metrics, a ceiling for error rates, ``max(n_std * std, min_slack)`` away from the baseline value,
    clipped to [0, 1] and rounded to 6 decimals. ``overrides`` (e.g. the use case's
    ``monitor.model_quality_constraints``) replace entries."""
    block = _metrics_block(metrics)
    names = names or HIGHER_IS_BETTER + LOWER_IS_BETTER
    out: dict[str, Any] = {}
    for name in names:
        m = block.get(name)
        if not isinstance(m, dict) or not isinstance(m.get("value"), (int, float)) or math.isnan(m["value"]):
            continue
        std = m.get("standard_deviation")
        spread = n_std * std if isinstance(std, (int, float)) and not math.isnan(std) else 0.0
        slack = max(spread, min_slack)
        if name in LOWER_IS_BETTER:
            out[name] = {"threshold": round(min(1.0, float(m["value"]) + slack), 6),
                         "comparison_operator": "GreaterThanThreshold"}
        else:
            out[name] = {"threshold": round(max(0.0, float(m["value"]) - slack), 6),
                         "comparison_operator": "LessThanThreshold"}
    for name, spec in (overrides or {}).items():
        if spec.get("comparison_operator") not in OPERATORS:
            raise ConfigError(f"model-quality constraint {name}: unknown comparison_operator {spec.get('comparison_operator')!r}",
                              key=f"monitor.model_quality_constraints.{name}", fix=f"Use one of {sorted(OPERATORS)}.")
        out[name] = {"threshold": float(spec["threshold"]), "comparison_operator": spec["comparison_operator"]}
    return {"version": 0.0, "binary_classification_constraints": out}


def check_model_quality(metrics: dict[str, Any], constraints: dict[str, Any]) -> list[dict[str, str]]:
    """Violations of model-quality constraints, in the format of Model Monitor's violations file."""
    block = _metrics_block(metrics)
    cons = constraints.get("binary_classification_constraints", constraints)
    out = []
    for name, spec in cons.items():
        op = spec.get("comparison_operator")
        if op not in OPERATORS:
            raise ConfigError(f"model-quality constraint {name}: unknown comparison_operator {op!r}",
                              key=f"binary_classification_constraints.{name}", fix=f"Use one of {sorted(OPERATORS)}.")
        m = block.get(name)
        value = m.get("value") if isinstance(m, dict) else m
        if not isinstance(value, (int, float)) or math.isnan(value):
            continue
        threshold = float(spec["threshold"])
        if OPERATORS[op](float(value), threshold):
            out.append({"constraint_check_type": op, "description": f"Metric {name} with {value} was {op} {threshold}",
                        "metric_name": name})
    return out


def violations_json(violations: list[dict[str, str]]) -> dict[str, Any]:
    return {"violations": violations}


# =========================================================================== delayed ground truth
def join_ground_truth(
    captured_df: pd.DataFrame,
    labels_df: pd.DataFrame,
    *,
    inference_id_col: str = "inference_id",
    offsets: tuple[float, float] = (0.0, 24.0 * 14),
    captured_at_col: str = "captured_at",
    label_col: str = "label",
    label_time_col: str | None = "labeled_at",
    ground_truth_col: str = "ground_truth",
) -> pd.DataFrame:
    """Captured predictions that received a label in time.

    A label joins its prediction (same ``inference_id_col``) when it arrived within
    ``[captured_at + offsets[0] h, captured_at + offsets[1] h]``; of several labels for one id in the
    window, the latest wins. Labels without a time column are joined by id alone. The result holds
    the captured rows plus ``ground_truth_col``; ``result.attrs["join"]`` counts matched, unmatched
    and out-of-window rows."""
    start_h, end_h = (float(offsets[0]), float(offsets[1]))
    if end_h < start_h:
        raise ConfigError(f"ground-truth offsets {offsets} end before they start", key="monitor.ground_truth_offset_hours",
                          fix="Give (start_h, end_h) with start_h <= end_h, e.g. (0, 336).")
    for col, frame, what in ((inference_id_col, captured_df, "captured data"), (inference_id_col, labels_df, "labels"),
                             (label_col, labels_df, "labels")):
        if col not in frame.columns:
            raise DataValidationError(what, [f"column {col!r} is missing"],
                                      fix=f"Provide {col!r} or pass the right column name.")
    use_time = label_time_col is not None and label_time_col in labels_df.columns
    keep = [inference_id_col, label_col] + ([label_time_col] if use_time else [])
    labels = labels_df[keep].rename(columns={label_col: "__gt"})
    merged = captured_df.merge(labels, on=inference_id_col, how="inner")
    out_of_window = 0
    if use_time:
        if captured_at_col not in captured_df.columns:
            raise DataValidationError("captured data", [f"column {captured_at_col!r} is missing"],
                                      fix="Capture files carry captured_at; pass captured_at_col for other layouts.")
        cap = _utc(merged[captured_at_col])
        lab = _utc(merged[label_time_col])
        ok = (lab >= cap + pd.Timedelta(hours=start_h)) & (lab <= cap + pd.Timedelta(hours=end_h))
        ids_any = set(merged[inference_id_col])
        merged = merged[ok.to_numpy()]
        out_of_window = len(ids_any - set(merged[inference_id_col]))
        merged = merged.sort_values(label_time_col, kind="stable")
    merged = merged.drop_duplicates(subset=[inference_id_col], keep="last")
    merged = merged.drop(columns=[label_time_col] if use_time and label_time_col not in captured_df.columns else [])
    merged = merged.rename(columns={"__gt": ground_truth_col}).reset_index(drop=True)
    merged.attrs["join"] = {"captured": int(len(captured_df)), "matched": int(len(merged)),
                            "out_of_window": int(out_of_window),
                            "unmatched": int(len(captured_df) - len(merged) - out_of_window)}
    return merged


def _utc(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s)
    return s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
