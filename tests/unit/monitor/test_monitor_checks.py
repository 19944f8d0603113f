"""The six Model Monitor data-quality checks, both comparison methods (Model Monitor developer guide: violations)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from airsage.errors import ConfigError
from airsage.monitor.baseline import suggest_baseline
from airsage.monitor.checks import analyze, linf_categorical


def _types(report):
    return sorted({v.constraint_check_type for v in report.violations})


@pytest.fixture()
def base():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"count": rng.integers(0, 10, 1000), "value": rng.normal(10, 2, 1000),
                       "color": rng.choice(["red", "green", "blue"], 1000)})
    return df, *suggest_baseline(df, comparison_method="Simple")


def test_same_data_has_no_violation(base):
    df, stats, cons = base
    report = analyze(df, stats, cons)
    assert report.violations == ()
    assert report.violations_json() == {"violations": []}
    assert report.statistics["dataset"]["item_count"] == 1000


def test_missing_and_extra_column_checks(base):
    df, stats, cons = base
    cur = df.drop(columns=["value"]).assign(extra=1.0)
    report = analyze(cur, stats, cons)
    got = {(v.feature_name, v.constraint_check_type): v.description for v in report.violations}
    counts = "Number of columns in current dataset: 3, Number of columns in baseline constraints: 3"
    assert got == {("value", "missing_column_check"): f"There are missing columns in current dataset. {counts}",
                   ("extra", "extra_column_check"): f"There are extra columns in current dataset. {counts}"}


def test_exclude_columns_are_ignored(base):
    df, stats, cons = base
    assert analyze(df.assign(inference_id="x"), stats, cons, exclude_columns=["inference_id"]).violations == ()


def test_data_type_check(base):
    df, stats, cons = base
    cur = df.copy()
    cur["count"] = cur["count"].astype(float)
    cur.loc[cur.index[:500], "count"] += 0.5  # half of the values are no longer whole numbers
    report = analyze(cur, stats, cons)
    dt = [v for v in report.violations if v.constraint_check_type == "data_type_check"]
    assert [v.to_dict() for v in dt] == [{
        "feature_name": "count", "constraint_check_type": "data_type_check",
        "description": "Data type match requirement is not met. Expected data type: Integral, "
                       "Expected match: 90.0%. Observed: Only 50.0% of data is Integral."}]


def test_data_type_check_tolerates_nan_promoted_integers(base):
    df, stats, cons = base
    cur = df.copy()
    cur["count"] = cur["count"].astype(float)  # whole numbers in a float column (a NaN made pandas promote)
    cur.loc[cur.index[0], "count"] = np.nan
    assert "data_type_check" not in _types(analyze(cur, stats, cons))


def test_data_type_check_legacy_threshold_one_means_all_must_match(base):
    df, stats, cons = base
    cons = {**cons, "monitoring_config": {**cons["monitoring_config"], "datatype_check_threshold": 1.0}}
    cur = df.copy()
    cur["count"] = cur["count"].astype(float)
    cur.loc[cur.index[:3], "count"] += 0.5  # 99.7 % Integral, as in the real output quoted in the DG notes
    (v,) = [v for v in analyze(cur, stats, cons).violations if v.constraint_check_type == "data_type_check"]
    assert v.description == ("Data type match requirement is not met. Expected data type: Integral, "
                             "Expected match: 100.0%. Observed: Only 99.7% of data is Integral.")


def test_text_in_numeric_column_fails_the_type_check(base):
    df, stats, cons = base
    cur = df.copy()
    cur["value"] = cur["value"].astype(object)
    cur.loc[cur.index[:200], "value"] = "n/a"
    report = analyze(cur, stats, cons)
    assert "data_type_check" in _types(report)
    (fc,) = [f for f in report.features if f.name == "value"]
    assert fc.type_match == pytest.approx(0.8)


def test_completeness_check(base):
    df, stats, cons = base
    cur = df.copy()
    cur.loc[cur.index[:300], "value"] = np.nan
    (v,) = [v for v in analyze(cur, stats, cons).violations if v.constraint_check_type == "completeness_check"]
    assert v.feature_name == "value"
    assert v.description == ("Data completeness requirement is not met. Expected completeness: 100.0%. "
                             "Observed: Only 70.0% of data is complete.")


def test_categorical_values_check(base):
    df, stats, cons = base
    cur = df.copy()
    cur.loc[cur.index[:250], "color"] = "purple"
    report = analyze(cur, stats, cons)
    (v,) = [v for v in report.violations if v.constraint_check_type == "categorical_values_check"]
    assert v.description == ("Categorical value requirement is not met. Expected match: 90.0%. "
                             "Observed: Only 75.0% of data is within the baseline domain.")
    # 5 % unknown values stay within the 10 % tolerance
    cur2 = df.copy()
    cur2.loc[cur2.index[:50], "color"] = "purple"
    assert "categorical_values_check" not in _types(analyze(cur2, stats, cons))


def test_numeric_drift_is_the_ks_statistic_simple_vs_robust():
    rng = np.random.default_rng(11)
    b, c = rng.normal(0, 1, 300), rng.normal(0.4, 1, 300)
    ks = sps.ks_2samp(b, c).statistic                       # golden: scipy's two-sample KS statistic
    critical = 1.8 * math.sqrt((300 + 300) / (300 * 300))
    assert 0.1 < ks < 0.1 + critical                         # Simple flags it, Robust forgives it
    stats, cons = suggest_baseline(pd.DataFrame({"x": b}), comparison_method="Simple")
    simple = analyze(pd.DataFrame({"x": c}), stats, cons)
    (v,) = simple.violations
    assert v.constraint_check_type == "baseline_drift_check"
    assert v.description == f"Baseline drift distance: {simple.features[0].distance} exceeds threshold: 0.1"
    assert simple.features[0].distance == pytest.approx(ks, abs=1e-12)
    robust = analyze(pd.DataFrame({"x": c}), stats, cons, comparison_method="Robust")
    assert robust.violations == ()
    assert robust.features[0].distance == pytest.approx(max(0.0, ks - critical), abs=1e-12)
    assert robust.comparison_method == "Robust"


def test_robust_alpha_sets_c_alpha():
    rng = np.random.default_rng(12)
    b, c = rng.normal(0, 1, 2000), rng.normal(0.6, 1, 2000)
    stats, cons = suggest_baseline(pd.DataFrame({"x": b}))  # Robust by default
    ks = sps.ks_2samp(b, c).statistic
    c_alpha = math.sqrt(-math.log(0.05 / 2) / 2)  # 1.358
    rep = analyze(pd.DataFrame({"x": c}), stats, cons, alpha=0.05)
    assert rep.features[0].distance == pytest.approx(ks - c_alpha * math.sqrt(2 / 2000), abs=1e-12)
    assert _types(rep) == ["baseline_drift_check"]


def test_categorical_drift_is_linf_between_pmfs():
    b = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    c = pd.DataFrame({"c": ["a"] * 700 + ["b"] * 300})
    assert linf_categorical({"a": 700, "b": 300}, {"a": 500, "b": 500}) == pytest.approx(0.2)
    stats, cons = suggest_baseline(b, comparison_method="Simple")
    rep = analyze(c, stats, cons)
    assert [v.description for v in rep.violations] == ["Baseline drift distance: 0.2 exceeds threshold: 0.1"]
    loose = analyze(c, stats, cons, categorical_comparison_threshold=0.25)
    assert loose.violations == ()


def test_feature_overrides_and_disabled_evaluation(base):
    df, stats, cons = base
    cur = df.assign(value=df["value"] + 1.0)
    assert "baseline_drift_check" in _types(analyze(cur, stats, cons))
    relaxed = {**cons, "features": [dict(f, monitoringConfigOverrides={"comparison_threshold": 0.9})
                                    if f["name"] == "value" else f for f in cons["features"]]}
    assert "baseline_drift_check" not in _types(analyze(cur, stats, relaxed))
    off = {**cons, "monitoring_config": {**cons["monitoring_config"], "evaluate_constraints": "Disabled"}}
    assert analyze(cur.drop(columns=["color"]), stats, off).violations == ()
    no_cmp = {**cons, "monitoring_config": {**cons["monitoring_config"],
                                            "distribution_constraints": {"perform_comparison": "Disabled"}}}
    assert "baseline_drift_check" not in _types(analyze(cur, stats, no_cmp))


def test_chi_squared_is_refused_with_a_fix(base):
    df, stats, cons = base
    mc = cons["monitoring_config"]
    cons = {**cons, "monitoring_config": {**mc, "distribution_constraints": {
        **mc["distribution_constraints"], "categorical_drift_method": "ChiSquared"}}}
    with pytest.raises(ConfigError, match="LInfinity"):
        analyze(df, stats, cons)
