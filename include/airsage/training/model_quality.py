"""Held-out metrics in SageMaker Model Monitor's model-quality format (reference b.5).

The training job writes them as ``model_quality.json`` (the *statistics* a model-quality monitoring
job would produce for the same rows) and ``model_quality_constraints.json`` (the suggested
constraints), so the training evaluation doubles as the model-quality baseline.

Format facts kept from Model Monitor:

* every scalar metric is ``{"value": v, "standard_deviation": s}``; ``s`` is the standard deviation
  over 5 random 80 % subsamples when there are at least 200 rows, else the string ``"NaN"``;
* ``confusion_matrix`` is ``{"<actual>": {"<predicted>": count}}``;
* the "best constant classifier" is the one that always predicts the positive class (the DG example:
  recall 1, precision = accuracy = positive rate).

Departures (AWS does not publish these rules): the subsample standard deviation uses ``ddof=1``;
curves are thinned to at most ``max_curve_points`` points (end points kept); suggested thresholds are
``value -/+ max(3 * standard_deviation, tolerance)`` clipped to [0, 1].
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

MIN_ROWS_FOR_STD = 200
N_SUBSAMPLES = 5
SUBSAMPLE_SHARE = 0.8

# metric -> comparison operator of its suggested constraint (the violation condition)
HIGHER_IS_BETTER = ("recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate", "auc", "f1")
LOWER_IS_BETTER = ("false_positive_rate", "false_negative_rate")


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return _safe_div((1 + b2) * precision * recall, b2 * precision + recall)


def confusion_counts(y: np.ndarray, pred: np.ndarray) -> tuple[int, int, int, int]:
    """(tn, fp, fn, tp) of 0/1 vectors."""
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    return tn, fp, fn, tp


def scalar_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """The scalar binary-classification metrics of Model Monitor, for one sample."""
    from sklearn.metrics import roc_auc_score

    pred = (scores > threshold).astype(int)
    tn, fp, fn, tp = confusion_counts(y, pred)
    n = tn + fp + fn + tp
    precision, recall = _safe_div(tp, tp + fp), _safe_div(tp, tp + fn)
    pos_rate = _safe_div(tp + fn, n)
    # the best constant classifier predicts positive for every row
    c_precision, c_recall = pos_rate, 1.0 if tp + fn else 0.0
    out = {
        "recall": recall,
        "precision": precision,
        "accuracy": _safe_div(tp + tn, n),
        "recall_best_constant_classifier": c_recall,
        "precision_best_constant_classifier": c_precision,
        "accuracy_best_constant_classifier": pos_rate,
        "true_positive_rate": recall,
        "true_negative_rate": _safe_div(tn, tn + fp),
        "false_positive_rate": _safe_div(fp, fp + tn),
        "false_negative_rate": _safe_div(fn, fn + tp),
        "auc": float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else float("nan"),
        "f0_5": f_beta(precision, recall, 0.5),
        "f0_5_best_constant_classifier": f_beta(c_precision, c_recall, 0.5),
        "f1": f_beta(precision, recall, 1.0),
        "f1_best_constant_classifier": f_beta(c_precision, c_recall, 1.0),
        "f2": f_beta(precision, recall, 2.0),
        "f2_best_constant_classifier": f_beta(c_precision, c_recall, 2.0),
    }
    return out


def _thin(xs: np.ndarray, ys: np.ndarray, max_points: int) -> tuple[list[float], list[float]]:
    if len(xs) > max_points:
        idx = np.unique(np.linspace(0, len(xs) - 1, max_points).round().astype(int))
        xs, ys = xs[idx], ys[idx]
    return [float(v) for v in xs], [float(v) for v in ys]


def _json_number(v: float) -> float | str:
    return "NaN" if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def model_quality_metrics(y_true, scores, threshold: float = 0.5, *, seed: int = 0,
                          max_curve_points: int = 101, evaluation_time: str | None = None) -> dict[str, Any]:
    """Model Monitor's model-quality statistics (binary classification) for held-out rows."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    point = scalar_metrics(y, s, threshold)
    stds: dict[str, float | str] = {k: "NaN" for k in point}
    if len(y) >= MIN_ROWS_FOR_STD:
        rng = np.random.default_rng(seed)
        size = int(round(SUBSAMPLE_SHARE * len(y)))
        samples = []
        for _ in range(N_SUBSAMPLES):
            idx = rng.choice(len(y), size=size, replace=False)
            samples.append(scalar_metrics(y[idx], s[idx], threshold))
        stds = {k: _json_number(float(np.std([m[k] for m in samples], ddof=1))) for k in point}
    tn, fp, fn, tp = confusion_counts(y, (s > threshold).astype(int))
    metrics: dict[str, Any] = {"confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}}
    for k, v in point.items():
        metrics[k] = {"value": _json_number(v), "standard_deviation": stds[k]}
    if len(np.unique(y)) == 2:
        fpr, tpr, _ = roc_curve(y, s)
        prec, rec, _ = precision_recall_curve(y, s)
        fpr_l, tpr_l = _thin(fpr, tpr, max_curve_points)
        rec_l, prec_l = _thin(rec[::-1], prec[::-1], max_curve_points)
        metrics["receiver_operating_characteristic_curve"] = {"false_positive_rates": fpr_l, "true_positive_rates": tpr_l}
        metrics["precision_recall_curve"] = {"precisions": prec_l, "recalls": rec_l}
    order = ["confusion_matrix", "recall", "precision", "accuracy", "recall_best_constant_classifier",
             "precision_best_constant_classifier", "accuracy_best_constant_classifier", "true_positive_rate",
             "true_negative_rate", "false_positive_rate", "false_negative_rate",
             "receiver_operating_characteristic_curve", "precision_recall_curve", "auc", "f0_5",
             "f0_5_best_constant_classifier", "f1", "f1_best_constant_classifier", "f2", "f2_best_constant_classifier"]
    when = evaluation_time or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "version": 0.0,
        "dataset": {"item_count": int(len(y)), "evaluation_time": when},
        "binary_classification_metrics": {k: metrics[k] for k in order if k in metrics},
    }


def suggest_constraints(statistics: dict[str, Any], *, tolerance: float = 0.05,
                        metrics: tuple[str, ...] = HIGHER_IS_BETTER + LOWER_IS_BETTER) -> dict[str, Any]:
    """Model Monitor's suggested model-quality constraints from baseline statistics.

    A higher-is-better metric gets ``LessThanThreshold`` at ``value - margin``; a lower-is-better one
    ``GreaterThanThreshold`` at ``value + margin``; ``margin = max(3 * standard_deviation, tolerance)``.
    """
    section = statistics.get("binary_classification_metrics", {})
    out: dict[str, dict[str, Any]] = {}
    for name in metrics:
        m = section.get(name)
        if not isinstance(m, dict) or not isinstance(m.get("value"), (int, float)):
            continue
        std = m.get("standard_deviation")
        margin = max(3 * std if isinstance(std, (int, float)) and not math.isnan(std) else 0.0, tolerance)
        if name in LOWER_IS_BETTER:
            out[name] = {"threshold": round(min(1.0, m["value"] + margin), 6), "comparison_operator": "GreaterThanThreshold"}
        else:
            out[name] = {"threshold": round(max(0.0, m["value"] - margin), 6), "comparison_operator": "LessThanThreshold"}
    return {"version": 0.0, "binary_classification_constraints": out}
