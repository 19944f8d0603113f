"""Model-quality metrics (Model Monitor developer guide: model-quality metrics): the guide's hand example, scikit-learn golden values, constraints,
violations and the delayed ground-truth join."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airsage.errors import ConfigError, DataValidationError
from airsage.monitor.model_quality import (binary_classification_metrics, check_model_quality, join_ground_truth,
                                           suggest_model_quality_constraints)


def test_dg_hand_example():
    # confusion {"0":{"0":1,"1":2},"1":{"0":0,"1":1}} from the DG: 3 negatives (1 right), 1 positive (right)
    m = binary_classification_metrics([0, 0, 0, 1], y_pred=[0, 1, 1, 1])["binary_classification_metrics"]
    assert m["confusion_matrix"] == {"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}}
    assert m["precision"] == {"value": pytest.approx(1 / 3), "standard_deviation": "NaN"}  # < 200 rows
    assert m["recall"]["value"] == 1.0
    assert m["accuracy"]["value"] == 0.5
    assert m["f0_5"]["value"] == pytest.approx(0.3846, abs=1e-4)
    assert m["f1"]["value"] == pytest.approx(0.5)
    assert m["f2"]["value"] == pytest.approx(0.7143, abs=1e-4)
    # the always-positive classifier (positive rate 0.25): recall 1, precision = accuracy = 0.25, f1 0.4
    assert m["recall_best_constant_classifier"]["value"] == 1.0
    assert m["precision_best_constant_classifier"]["value"] == 0.25
    assert m["accuracy_best_constant_classifier"]["value"] == 0.25
    assert m["f1_best_constant_classifier"]["value"] == pytest.approx(0.4)


def test_layout_and_sklearn_golden_values():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    score = np.clip(0.35 * y + rng.normal(0.35, 0.2, 1000), 0, 1)
    stats = binary_classification_metrics(y, score, threshold=0.5, evaluation_time="2026-11-02T00:00:00+00:00")
    json.dumps(stats, allow_nan=False)
    assert stats["version"] == 0.0
    assert stats["dataset"] == {"item_count": 1000, "evaluation_time": "2026-11-02T00:00:00+00:00"}
    m = stats["binary_classification_metrics"]
    pred = (score >= 0.5).astype(int)
    tn, fp, fn, tp = sk.confusion_matrix(y, pred).ravel()
    assert m["confusion_matrix"] == {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}
    golden = {
        "recall": sk.recall_score(y, pred), "precision": sk.precision_score(y, pred),
        "accuracy": sk.accuracy_score(y, pred), "true_positive_rate": sk.recall_score(y, pred),
        "true_negative_rate": sk.recall_score(y, pred, pos_label=0),
        "false_positive_rate": 1 - sk.recall_score(y, pred, pos_label=0),
        "false_negative_rate": 1 - sk.recall_score(y, pred),
        "auc": sk.roc_auc_score(y, score), "f0_5": sk.fbeta_score(y, pred, beta=0.5),
        "f1": sk.f1_score(y, pred), "f2": sk.fbeta_score(y, pred, beta=2),
    }
    for name, value in golden.items():
        assert m[name]["value"] == pytest.approx(value, abs=1e-12), name
        assert isinstance(m[name]["standard_deviation"], float) and 0 < m[name]["standard_deviation"] < 0.05, name
    const = np.ones_like(y)
    assert m["precision_best_constant_classifier"]["value"] == pytest.approx(sk.precision_score(y, const))
    assert m["f2_best_constant_classifier"]["value"] == pytest.approx(sk.fbeta_score(y, const, beta=2))
    fpr, tpr, _ = sk.roc_curve(y, score, drop_intermediate=False)
    roc = m["receiver_operating_characteristic_curve"]
    assert set(roc) == {"false_positive_rates", "true_positive_rates"} and len(roc["false_positive_rates"]) <= 100
    assert roc["false_positive_rates"][0] == 0.0 and roc["true_positive_rates"][-1] == 1.0
    # every point we report lies on scikit-learn's curve
    pts = set(zip(np.round(fpr, 12), np.round(tpr, 12)))
    assert all((round(a, 12), round(b, 12)) in pts for a, b in zip(roc["false_positive_rates"], roc["true_positive_rates"]))
    pr = m["precision_recall_curve"]
    assert set(pr) == {"precisions", "recalls"} and pr["recalls"][-1] == 1.0


def test_standard_deviation_only_from_200_rows():
    y = np.r_[np.zeros(100), np.ones(99)]
    m = binary_classification_metrics(y, np.linspace(0, 1, 199))["binary_classification_metrics"]
    assert m["auc"]["standard_deviation"] == "NaN"
    y2 = np.r_[np.zeros(100), np.ones(100)]
    m2 = binary_classification_metrics(y2, np.linspace(0, 1, 200))["binary_classification_metrics"]
    assert isinstance(m2["auc"]["standard_deviation"], float)


def test_bad_labels_are_refused():
    with pytest.raises(DataValidationError, match="0/1"):
        binary_classification_metrics([0, 2, 1], [0.1, 0.2, 0.3])


def test_constraints_and_violations():
    metrics = {"binary_classification_metrics": {
        "recall": {"value": 0.8, "standard_deviation": 0.01},
        "false_positive_rate": {"value": 0.1, "standard_deviation": "NaN"},
        "auc": {"value": 0.9, "standard_deviation": 0.005}}}
    cons = suggest_model_quality_constraints(metrics, n_std=2.0, min_slack=0.01,
                                             overrides={"precision": {"threshold": 0.5,
                                                                      "comparison_operator": "LessThanThreshold"}})
    assert cons == {"version": 0.0, "binary_classification_constraints": {
        "recall": {"threshold": pytest.approx(0.78), "comparison_operator": "LessThanThreshold"},
        "auc": {"threshold": pytest.approx(0.89), "comparison_operator": "LessThanThreshold"},
        "false_positive_rate": {"threshold": pytest.approx(0.11), "comparison_operator": "GreaterThanThreshold"},
        "precision": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"}}}
    current = {"binary_classification_metrics": {
        "recall": {"value": 0.6111, "standard_deviation": 0.01}, "auc": {"value": 0.95, "standard_deviation": 0.01},
        "false_positive_rate": {"value": 0.2, "standard_deviation": 0.01},
        "precision": {"value": 0.7, "standard_deviation": 0.01}}}
    fixed = {"binary_classification_constraints": {
        "recall": {"threshold": 0.6611, "comparison_operator": "LessThanThreshold"},
        "false_positive_rate": {"threshold": 0.15, "comparison_operator": "GreaterThanThreshold"},
        "auc": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}}}
    assert check_model_quality(current, fixed) == [
        {"constraint_check_type": "LessThanThreshold", "description": "Metric recall with 0.6111 was LessThanThreshold 0.6611",
         "metric_name": "recall"},
        {"constraint_check_type": "GreaterThanThreshold",
         "description": "Metric false_positive_rate with 0.2 was GreaterThanThreshold 0.15", "metric_name": "false_positive_rate"}]
    with pytest.raises(ConfigError):
        check_model_quality(current, {"binary_classification_constraints": {"auc": {"threshold": 1, "comparison_operator": "Below"}}})


def test_join_ground_truth_with_offsets():
    t0 = pd.Timestamp("2026-11-01T00:00:00Z")
    captured = pd.DataFrame({"inference_id": ["a", "b", "c", "d", "e"],
                             "captured_at": [t0] * 5, "score": [0.9, 0.2, 0.7, 0.4, 0.5]})
    labels = pd.DataFrame({
        "inference_id": ["a", "b", "b", "c", "d", "x"],
        "label": [1, 0, 1, 1, 0, 1],
        "labeled_at": [t0 + pd.Timedelta(hours=5),     # a: in window
                       t0 + pd.Timedelta(hours=10),    # b: in window ...
                       t0 + pd.Timedelta(hours=20),    # b: ... a later correction in window wins
                       t0 + pd.Timedelta(hours=80),    # c: too late for (1, 48)
                       t0 + pd.Timedelta(minutes=30),  # d: too early (before 1 h)
                       t0]})                           # x: no such prediction
    out = join_ground_truth(captured, labels, offsets=(1, 48))
    assert out[["inference_id", "ground_truth"]].to_dict("list") == {"inference_id": ["a", "b"], "ground_truth": [1, 1]}
    assert "score" in out.columns and "labeled_at" not in out.columns
    assert out.attrs["join"] == {"captured": 5, "matched": 2, "out_of_window": 2, "unmatched": 1}
    wide = join_ground_truth(captured, labels, offsets=(0, 100))
    assert sorted(wide["inference_id"]) == ["a", "b", "c", "d"]
    no_time = join_ground_truth(captured, labels.drop(columns=["labeled_at"]).iloc[[0, 3]], offsets=(1, 2))
    assert sorted(no_time["inference_id"]) == ["a", "c"]  # without label times: joined by id alone
    with pytest.raises(ConfigError):
        join_ground_truth(captured, labels, offsets=(5, 1))
