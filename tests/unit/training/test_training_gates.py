"""Quality gates: thresholds, an impossible threshold, champion comparison, Clarify bias limits."""
from __future__ import annotations

import pytest

from airsage.config import GatesSpec
from airsage.training.gates import evaluate_gates, failed


def with_gates(uc, **gates):
    return uc.model_copy(update={"gates": GatesSpec(**gates)})


EVAL = {"auc": 0.82, "pr_auc": 0.55, "recall": 0.61, "precision": 0.5}


def by_name(results):
    return {r["name"]: r for r in results}


def test_thresholds_pass_and_results_have_the_documented_keys(credit_uc):
    uc = with_gates(credit_uc, min_auc=0.8, min_pr_auc=0.5, min_recall=0.6, champion_max_auc_drop=None)
    results = evaluate_gates(uc, EVAL, champion=None, bias_analysis=None)
    assert [r["name"] for r in results] == ["min_auc", "min_pr_auc", "min_recall"]
    assert all(set(r) == {"name", "passed", "value", "threshold", "detail"} for r in results)
    assert failed(results) == []


def test_impossible_threshold_fails_and_names_the_check(credit_uc):
    uc = with_gates(credit_uc, min_auc=1.0, champion_max_auc_drop=None)
    r = by_name(evaluate_gates(uc, EVAL))["min_auc"]
    assert r["passed"] is False and r["value"] == 0.82 and r["threshold"] == 1.0
    assert "0.8200 < 1.0" in r["detail"]


def test_unconfigured_gates_are_not_listed_and_metrics_json_is_accepted(credit_uc):
    uc = with_gates(credit_uc, min_auc=None, champion_max_auc_drop=None)
    assert evaluate_gates(uc, {"evaluation": EVAL}) == []
    uc = with_gates(credit_uc, min_auc=0.9, champion_max_auc_drop=None)
    assert failed(evaluate_gates(uc, {"evaluation": EVAL})) == ["min_auc"]


def test_missing_auc_fails(credit_uc):
    uc = with_gates(credit_uc, min_auc=0.5, champion_max_auc_drop=None)
    assert failed(evaluate_gates(uc, {"auc": float("nan")})) == ["min_auc"]


@pytest.mark.parametrize("champion_auc, passed", [(0.83, True), (0.84, True), (0.8401, False), (None, True)])
def test_challenger_vs_champion(credit_uc, champion_auc, passed):
    uc = with_gates(credit_uc, min_auc=None, champion_max_auc_drop=0.02)
    champion = None if champion_auc is None else {"auc": champion_auc}
    r = by_name(evaluate_gates(uc, EVAL, champion=champion))["champion_max_auc_drop"]
    assert r["passed"] is passed
    if champion_auc is not None:
        assert r["value"] == pytest.approx(champion_auc - 0.82)


ANALYSIS = {
    "version": "1.0",
    "pre_training_bias_metrics": {"label": "default", "label_value_or_threshold": "1", "facets": {
        "sex": [{"value_or_threshold": "female", "metrics": [
            {"name": "CI", "description": "Class Imbalance (CI)", "value": 0.04}]}]}},
    "post_training_bias_metrics": {"label": "default", "label_value_or_threshold": "1", "facets": {
        "sex": [{"value_or_threshold": "female", "metrics": [
            {"name": "DPPL", "description": "...", "value": -0.12},
            {"name": "DI", "description": "...", "value": 0.7},
            {"name": "RD", "description": "...", "value": "Infinity"},
            {"name": "TE", "description": "...", "value": None, "error": "division by zero"}]}],
        "age_group": [{"value_or_threshold": "18-25", "metrics": [
            {"name": "DPPL", "description": "...", "value": 0.05},
            {"name": "DI", "description": "...", "value": 1.1}]}]}},
}


def test_bias_limits_use_the_worst_facet_and_di_distance_from_one(credit_uc):
    uc = with_gates(credit_uc, min_auc=None, champion_max_auc_drop=None,
                    max_bias={"DPPL": 0.1, "DI": 0.35, "CI": 0.05})
    r = by_name(evaluate_gates(uc, EVAL, bias_analysis=ANALYSIS))
    assert r["max_bias.DPPL"]["passed"] is False and r["max_bias.DPPL"]["value"] == pytest.approx(0.12)
    assert "sex=female" in r["max_bias.DPPL"]["detail"]
    assert r["max_bias.DI"]["passed"] is True and r["max_bias.DI"]["value"] == pytest.approx(0.3)  # |1 - 0.7|
    assert r["max_bias.CI"]["passed"] is True


def test_bias_gate_fails_on_infinity_null_absent_metric_and_missing_analysis(credit_uc):
    uc = with_gates(credit_uc, min_auc=None, champion_max_auc_drop=None, max_bias={"RD": 10.0, "TE": 1.0, "FT": 1.0})
    r = by_name(evaluate_gates(uc, EVAL, bias_analysis=ANALYSIS))
    assert r["max_bias.RD"]["passed"] is False  # "Infinity"
    assert r["max_bias.TE"]["passed"] is False and "not computed" in r["max_bias.TE"]["detail"]
    assert r["max_bias.FT"]["passed"] is False and "not in the Clarify analysis" in r["max_bias.FT"]["detail"]
    r = by_name(evaluate_gates(uc, EVAL, bias_analysis=None))
    assert r["max_bias.RD"]["passed"] is False and "no Clarify analysis" in r["max_bias.RD"]["detail"]
