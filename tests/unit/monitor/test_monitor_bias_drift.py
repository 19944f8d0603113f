"""Bias drift and feature-attribution drift (Clarify monitors, a.6)."""
from __future__ import annotations

import math

import pytest

from airsage.monitor.bias_drift import check_attribution_drift, check_bias_drift, ndcg


def _analysis(pre: dict[str, float], post: dict[str, float] | None = None, shap: dict[str, float] | None = None):
    doc = {"version": "1.0",
           "pre_training_bias_metrics": {"label": "default", "label_value_or_threshold": "1", "facets": {
               "age": [{"value_or_threshold": "40", "metrics": [
                   {"name": k, "description": k, "value": v} for k, v in pre.items()]}]}}}
    if post is not None:
        doc["post_training_bias_metrics"] = {"label": "default", "label_value_or_threshold": "1", "facets": {
            "sex": [{"value_or_threshold": "female", "metrics": [
                {"name": k, "description": k, "value": v} for k, v in post.items()]}]}}
    if shap is not None:
        doc["explanations"] = {"kernel_shap": {"label0": {"global_shap_values": shap, "expected_value": 0.3}}}
    return doc


def test_bias_drift_farther_from_zero_than_baseline():
    baseline = _analysis({"CI": 0.05, "DPL": 0.2}, {"DI": 0.9, "DPPL": 0.2})
    current = _analysis({"CI": 0.0751544567666083, "DPL": -0.1}, {"DI": 1.05, "DPPL": -0.3})
    rep = check_bias_drift(current, baseline)
    assert rep.violations_json() == {"version": "1.0", "violations": [
        {"facet": "age", "facet_value": "40", "metric_name": "CI", "constraint_check_type": "bias_drift_check",
         "description": "Value 0.0751544567666083 does not meet the constraint requirement"},
        # the DG example: baseline DPPL 0.2, current -0.3 -> violation
        {"facet": "sex", "facet_value": "female", "metric_name": "DPPL", "constraint_check_type": "bias_drift_check",
         "description": "Value -0.3 does not meet the constraint requirement"}]}
    assert rep.compared == 4  # DPL |-0.1| < 0.2 and DI |1.05 - 1| < |0.9 - 1|: no violation


def test_bias_drift_bounds_replace_the_baseline():
    baseline = _analysis({"CI": 0.05, "DPL": 0.2})
    current = _analysis({"CI": 0.08, "DPL": 0.15})
    rep = check_bias_drift(current, baseline, bounds={"CI": 0.1, "DPL": 0.1})
    assert [v["metric_name"] for v in rep.violations] == ["DPL"]


def test_bias_drift_skips_missing_and_failed_metrics():
    baseline = _analysis({"CI": 0.05, "KL": None})
    current = _analysis({"CI": "Infinity", "KL": 0.4, "LP": 0.3})
    rep = check_bias_drift(current, baseline)
    assert [v["metric_name"] for v in rep.violations] == ["CI"] and rep.compared == 1


def test_ndcg_by_hand():
    base = {"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.05}
    cur = {"a": 0.1, "b": 0.4, "c": 0.35, "d": 0.2}  # current ranking: b, c, d, a
    dcg = 0.3 / math.log2(2) + 0.15 / math.log2(3) + 0.05 / math.log2(4) + 0.5 / math.log2(5)
    idcg = 0.5 / math.log2(2) + 0.3 / math.log2(3) + 0.15 / math.log2(4) + 0.05 / math.log2(5)
    assert ndcg(cur, base) == pytest.approx(dcg / idcg)
    assert ndcg(base, base) == pytest.approx(1.0)


def test_attribution_drift_violation_below_0_9():
    base = {"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.05}
    cur = {"a": 0.1, "b": 0.4, "c": 0.35, "d": 0.2}
    dcg = 0.3 / math.log2(2) + 0.15 / math.log2(3) + 0.05 / math.log2(4) + 0.5 / math.log2(5)
    idcg = 0.5 / math.log2(2) + 0.3 / math.log2(3) + 0.15 / math.log2(4) + 0.05 / math.log2(5)
    expected = dcg / idcg
    assert expected < 0.9
    rep = check_attribution_drift(_analysis({}, shap=cur), _analysis({}, shap=base))
    assert rep.ndcg == {"label0": pytest.approx(expected)}
    (v,) = rep.violations
    assert v == {"label": "label0", "metric_name": "shap", "constraint_check_type": "feature_attribution_drift_check",
                 "description": f"Feature attribution drift {rep.ndcg['label0']} exceeds threshold 0.9"}
    small_change = {"a": 0.45, "b": 0.32, "c": 0.1, "d": 0.12}
    assert check_attribution_drift(_analysis({}, shap=small_change), _analysis({}, shap=base)).violations == ()
