"""Model Monitor model-quality format (SageMaker developer guide: model-quality metrics): golden values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from airsage.training.model_quality import model_quality_metrics, suggest_constraints

B5_BINARY_KEYS = {
    "confusion_matrix", "recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate",
    "false_positive_rate", "false_negative_rate", "receiver_operating_characteristic_curve", "precision_recall_curve",
    "auc", "f0_5", "f1", "f2", "recall_best_constant_classifier", "precision_best_constant_classifier",
    "accuracy_best_constant_classifier", "f0_5_best_constant_classifier", "f1_best_constant_classifier",
    "f2_best_constant_classifier",
}


@pytest.fixture(scope="module")
def dg_example():
    # The DG example's confusion {"0":{"0":1,"1":2},"1":{"0":0,"1":1}}: 3 negatives (one predicted 0,
    # two predicted 1) and one positive predicted 1.
    y = np.array([0, 0, 0, 1])
    scores = np.array([0.1, 0.9, 0.8, 0.7])
    return model_quality_metrics(y, scores, threshold=0.5)


def test_dg_example_values_by_hand(dg_example):
    m = dg_example["binary_classification_metrics"]
    assert m["confusion_matrix"] == {"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}}
    assert m["precision"]["value"] == pytest.approx(1 / 3)
    assert m["recall"]["value"] == pytest.approx(1.0)
    assert m["accuracy"]["value"] == pytest.approx(0.5)
    assert m["f0_5"]["value"] == pytest.approx(0.3846, abs=1e-4)
    assert m["f1"]["value"] == pytest.approx(0.5)
    assert m["f2"]["value"] == pytest.approx(0.7143, abs=1e-4)
    assert m["false_positive_rate"]["value"] == pytest.approx(2 / 3)
    assert m["true_negative_rate"]["value"] == pytest.approx(1 / 3)
    assert m["false_negative_rate"]["value"] == pytest.approx(0.0)
    # the positive (0.7) outranks one of three negatives (0.1): AUC = 1/3
    assert m["auc"]["value"] == pytest.approx(1 / 3)


def test_best_constant_classifier_always_predicts_positive(dg_example):
    m = dg_example["binary_classification_metrics"]
    assert m["recall_best_constant_classifier"]["value"] == 1.0
    assert m["precision_best_constant_classifier"]["value"] == pytest.approx(0.25)
    assert m["accuracy_best_constant_classifier"]["value"] == pytest.approx(0.25)
    assert m["f1_best_constant_classifier"]["value"] == pytest.approx(0.4)  # 2*.25*1/(1.25)


def test_layout_and_small_sample_std_is_nan_string(dg_example):
    assert dg_example["version"] == 0.0
    assert dg_example["dataset"]["item_count"] == 4
    m = dg_example["binary_classification_metrics"]
    assert set(m) == B5_BINARY_KEYS
    for k, v in m.items():
        if k in ("confusion_matrix", "receiver_operating_characteristic_curve", "precision_recall_curve"):
            continue
        assert set(v) == {"value", "standard_deviation"}, k
        assert v["standard_deviation"] == "NaN"  # fewer than 200 rows


def test_std_from_subsamples_at_200_rows_and_curves():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    scores = np.clip(y * 0.3 + rng.normal(0.35, 0.2, 500), 0, 1)
    m = model_quality_metrics(y, scores, seed=1, max_curve_points=50)["binary_classification_metrics"]
    assert isinstance(m["auc"]["standard_deviation"], float) and 0 < m["auc"]["standard_deviation"] < 0.1
    roc = m["receiver_operating_characteristic_curve"]
    assert len(roc["false_positive_rates"]) == len(roc["true_positive_rates"]) <= 50
    assert roc["false_positive_rates"][0] == 0.0 and roc["false_positive_rates"][-1] == 1.0
    assert roc["true_positive_rates"][-1] == 1.0
    pr = m["precision_recall_curve"]
    assert len(pr["precisions"]) == len(pr["recalls"]) and pr["recalls"][0] == 0.0 and pr["recalls"][-1] == 1.0
    from sklearn.metrics import roc_auc_score

    assert m["auc"]["value"] == pytest.approx(roc_auc_score(y, scores))


def test_constraints_keys_operators_and_margins():
    stats = {"binary_classification_metrics": {
        "recall": {"value": 0.8, "standard_deviation": 0.01},  # margin max(0.03, 0.05) = 0.05
        "auc": {"value": 0.9, "standard_deviation": 0.03},  # margin 0.09
        "false_positive_rate": {"value": 0.1, "standard_deviation": 0.02},  # margin 0.06
        "precision": {"value": 0.7, "standard_deviation": "NaN"},  # margin 0.05
    }}
    c = suggest_constraints(stats)
    assert c["version"] == 0.0 and set(c) == {"version", "binary_classification_constraints"}
    b = c["binary_classification_constraints"]
    assert b["recall"] == {"threshold": 0.75, "comparison_operator": "LessThanThreshold"}
    assert b["auc"]["threshold"] == pytest.approx(0.81)
    assert b["false_positive_rate"] == {"threshold": pytest.approx(0.16), "comparison_operator": "GreaterThanThreshold"}
    assert b["precision"]["threshold"] == pytest.approx(0.65)
    assert "accuracy" not in b  # absent from the statistics


def test_json_serialisable_without_nan_floats(dg_example):
    import json

    text = json.dumps(dg_example, allow_nan=False)
    assert "NaN" in text and not math.isnan(json.loads(text)["binary_classification_metrics"]["auc"]["value"])
