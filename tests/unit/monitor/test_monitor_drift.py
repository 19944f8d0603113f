"""Effect-size drift: metrics against independent computations, no false alarm on a million
unchanged rows, an alert on every injected drift kind."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from airsage.data import generator
from airsage.monitor import drift as D
from airsage.monitor import profile as P
from airsage.monitor.baseline import suggest_baseline
from airsage.monitor.data_monitor import monitor_data


def test_psi_and_js_by_hand():
    b, c = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.4, 0.2])
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3)
    assert D.psi(b, c) == pytest.approx(by_hand)
    assert D.jensen_shannon(b, c) == pytest.approx(jensenshannon(b, c, base=2))
    assert D.psi(b, b) == 0.0 and D.jensen_shannon(b, b) == 0.0


def test_wasserstein_matches_scipy_for_an_exact_baseline():
    rng = np.random.default_rng(1)
    b, c = rng.gamma(2.0, 3.0, 1500), rng.gamma(2.4, 3.0, 4000)  # 1500 <= k: the sketch is exact
    stats, _ = suggest_baseline(pd.DataFrame({"x": b}))
    ref = P.refs_from_statistics(stats)["x"]
    p = P.profile_data(pd.DataFrame({"x": c}), refs={"x": ref}).features["x"]
    w = D.wasserstein_from_counts(p.ref_counts, ref, p.n_present)
    assert w * b.std() == pytest.approx(sps.wasserstein_distance(b, c), rel=5e-3)
    fd = D.numeric_drift(p, ref)
    assert fd.linf == pytest.approx(sps.ks_2samp(b, c).statistic, abs=1e-12)


def test_psi_bins_are_baseline_deciles():
    x = np.arange(10_000, dtype=float)
    stats, _ = suggest_baseline(pd.DataFrame({"x": x}))
    ref = P.refs_from_statistics(stats)["x"]
    p = P.profile_data(pd.DataFrame({"x": x[:5000]}), refs={"x": ref}).features["x"]  # lower half only
    fd = D.numeric_drift(p, ref, D.DriftThresholds(min_rows=1))
    assert len(fd.bins) == 11 and fd.bins[-1] == "missing"
    np.testing.assert_allclose(fd.baseline_shares[:-1], [0.1] * 10, atol=1e-3)
    np.testing.assert_allclose(fd.current_shares[:-1], [0.2] * 5 + [0.0] * 5, atol=1e-3)
    assert fd.drifted and fd.psi > 1


def test_missingness_change_is_drift():
    rng = np.random.default_rng(2)
    x = rng.normal(size=20_000)
    stats, _ = suggest_baseline(pd.DataFrame({"x": x}))
    cur = x.copy()
    cur[:6000] = np.nan
    rep = D.detect_drift(pd.DataFrame({"x": cur}), stats)
    (fd,) = rep.features
    assert fd.current_shares[-1] == pytest.approx(0.3) and fd.drifted


def test_importance_weights_decide_the_dataset_verdict():
    rng = np.random.default_rng(3)
    base = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000), "c": rng.normal(size=5000)})
    stats, _ = suggest_baseline(base)
    cur = base.assign(a=base["a"] + 2.0)  # only "a" drifts
    th = D.DriftThresholds(drifted_share_alert=0.5)
    uniform = D.detect_drift(cur, stats, thresholds=th)
    assert uniform.drifted_features == ["a"] and uniform.drifted_share == pytest.approx(1 / 3)
    assert not uniform.dataset_drift and uniform.weights_source == "uniform"
    shap = D.weights_from_shap({"a": -0.6, "b": 0.2, "c": 0.2})
    weighted = D.detect_drift(cur, stats, weights=shap, thresholds=th)
    assert weighted.drifted_share == pytest.approx(0.6) and weighted.dataset_drift
    assert {f.name: f.weight for f in weighted.features} == pytest.approx({"a": 0.6, "b": 0.2, "c": 0.2})


def test_too_few_rows_are_not_judged():
    stats, _ = suggest_baseline(pd.DataFrame({"x": np.arange(1000.0)}))
    rep = D.detect_drift(pd.DataFrame({"x": np.arange(100.0) + 5000}), stats)
    assert rep.features[0].psi is None and not rep.features[0].drifted and not rep.dataset_drift


def test_prediction_drift():
    rng = np.random.default_rng(4)
    base_scores = rng.beta(2, 5, 20_000)
    score_stats, _ = suggest_baseline(pd.DataFrame({"score": base_scores}))
    same = D.prediction_drift(rng.beta(2, 5, 20_000), score_stats)
    moved = D.prediction_drift(rng.beta(3, 4, 20_000), score_stats)
    assert not same.drifted and same.psi < 0.01
    assert moved.drifted


def test_no_alert_on_a_million_unchanged_rows(features, non_features):
    """Large samples of unchanged data: KS p-values would flag everything, effect sizes do not."""
    baseline = generator.generate(1_000_000, seed=21, day="2026-11-01")
    stats, cons = suggest_baseline(baseline, features=features)
    del baseline
    current = generator.generate(1_000_000, seed=22, day="2026-11-09")
    report = monitor_data(current, stats, cons, exclude_columns=non_features)
    assert report.quality.violations == ()
    assert report.drift.drifted_features == [] and not report.drift.dataset_drift
    assert not report.alert
    assert max(f.psi for f in report.drift.features) < 0.01
    assert max(f.distance_simple for f in report.quality.features) < 0.02
    assert report.quality.item_count == 1_000_000


@pytest.mark.parametrize("kind, expected_check", [("shift", "baseline_drift_check"),
                                                   ("new_category", "categorical_values_check"),
                                                   ("missing", "completeness_check")])
def test_alert_on_each_injected_drift(kind, expected_check, small_baseline, non_features):
    stats, cons = small_baseline
    current = generator.generate(50_000, seed=31, day="2026-11-10", drift=kind)
    report = monitor_data(current, stats, cons, exclude_columns=non_features)
    assert report.alert
    assert expected_check in {v.constraint_check_type for v in report.quality.violations}
    drifted = set(report.drift.drifted_features)
    if kind == "shift":
        assert {"income", "credit_score", "debt_to_income", "revolving_utilization"} <= drifted
        assert report.drift.dataset_drift
    elif kind == "new_category":
        assert drifted == {"loan_purpose", "region"}
    else:
        assert drifted == set(generator.MISSING_COLUMNS)


def test_undrifted_small_partition_has_no_alert(small_baseline, non_features):
    stats, cons = small_baseline
    current = generator.generate(50_000, seed=32, day="2026-11-11")
    report = monitor_data(current, stats, cons, exclude_columns=non_features)
    assert not report.alert, report.summary()


def test_monitor_data_with_scores_and_write(tmp_path, small_baseline, non_features):
    stats, cons = small_baseline
    rng = np.random.default_rng(5)
    score_stats, _ = suggest_baseline(pd.DataFrame({"score": rng.beta(2, 5, 50_000)}))
    current = generator.generate(20_000, seed=33, day="2026-11-12").assign(score=rng.beta(5, 2, 20_000))
    excl = [c for c in non_features if c != "score"]
    report = monitor_data(current, stats, cons, exclude_columns=excl, score_column="score", score_statistics=score_stats)
    assert report.drift.prediction is not None and report.drift.prediction.drifted
    assert "extra_column_check" not in {v.constraint_check_type for v in report.quality.violations}
    assert report.alert
    uris = report.write(str(tmp_path / "out"))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["statistics.json", "constraint_violations.json", "drift.json", "summary.json"])
    assert set(uris) == {"statistics", "violations", "drift", "summary"}
