"""Drift distances you can trust: exact when the sketch holds every distinct value, else within a
proven bound -- checked against exact values computed independently with numpy."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airsage.monitor import profile as P
from airsage.monitor.baseline import suggest_baseline
from airsage.monitor.checks import analyze


def exact_linf(b: np.ndarray, c: np.ndarray) -> float:
    """max_x |F_b(x) - F_c(x)| of two empirical CDFs: both are step functions jumping only at data
    values, so the supremum is attained at one of them (right-continuous values suffice)."""
    u = np.union1d(b, c)
    fb = np.searchsorted(np.sort(b), u, side="right") / len(b)
    fc = np.searchsorted(np.sort(c), u, side="right") / len(c)
    return float(np.abs(fb - fc).max())


def sketch_cdf_error(stats: dict, x: np.ndarray) -> float:
    """Largest |sketch CDF - true CDF| at every distinct value and just below it."""
    ref = P.refs_from_statistics(stats)["x"]
    xs = np.sort(x)
    u = np.unique(xs)
    probes = np.r_[u, np.nextafter(u, -np.inf)]
    true = np.searchsorted(xs, probes, side="right") / len(xs)
    idx = np.searchsorted(ref.keys, probes, side="right")
    est = np.where(idx > 0, ref.cdf[np.maximum(idx - 1, 0)], 0.0)
    return float(np.abs(est - true).max())


def _chunks(x: np.ndarray, sizes: np.ndarray) -> list[pd.DataFrame]:
    edges = np.r_[0, np.cumsum(sizes)]
    return [pd.DataFrame({"x": x[a:b]}) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def test_issue_case_integer_feature_is_exact():
    """~70 distinct integers, 15k rows each, 40 % of the current rows shifted by +12."""
    rng = np.random.default_rng(0)
    b = rng.integers(0, 70, 15_000)
    c = rng.integers(0, 70, 15_000) + 12 * (rng.random(15_000) < 0.4)
    golden = exact_linf(b, c)
    stats, cons = suggest_baseline(pd.DataFrame({"x": b}), comparison_method="Simple")
    rep = analyze(pd.DataFrame({"x": c}), stats, cons)
    (fc,) = rep.features
    assert fc.distance_simple == pytest.approx(golden, abs=1e-15)
    assert fc.distance_error_bound == 0.0
    # Robust (Model Monitor's default) subtracts the two-sample KS critical value on purpose
    robust = analyze(pd.DataFrame({"x": c}), stats, cons, comparison_method="Robust").features[0]
    assert robust.distance == pytest.approx(golden - 1.8 * math.sqrt(2 / 15_000), abs=1e-12)
    # the exact summary is written as KLL levels: each value on the levels of its count's set bits
    data = stats["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
    values, counts = np.unique(b, return_counts=True)
    rebuilt = {v: 0 for v in values.tolist()}
    for level, items in enumerate(data):
        for v in items:
            rebuilt[v] += 2 ** level
    assert rebuilt == dict(zip(values.tolist(), counts.tolist()))


@pytest.mark.parametrize("seed", range(6))
def test_integer_features_with_ties_match_the_exact_linf_whatever_the_chunking(seed):
    rng = np.random.default_rng(seed)
    k_distinct = int(rng.integers(2, 300))
    n_b, n_c = int(rng.integers(500, 40_000)), int(rng.integers(500, 40_000))
    b = rng.binomial(k_distinct, rng.uniform(0.2, 0.8), n_b)
    c = rng.binomial(k_distinct, rng.uniform(0.2, 0.8), n_c) + rng.integers(-3, 4)
    sizes = rng.integers(1, 3000, 400)
    stats, cons = suggest_baseline(_chunks(b, sizes), comparison_method="Simple")
    cur = _chunks(c, rng.integers(1, 5000, 100))
    (fc,) = analyze(cur, stats, cons).features
    assert fc.distance_simple == pytest.approx(exact_linf(b, c), abs=1e-12)
    assert fc.distance_error_bound == 0.0


ORDERS = ("sorted", "reverse", "alternating", "random")


def _ordered(x: np.ndarray, order: str) -> np.ndarray:
    s = np.sort(x)
    if order == "sorted":
        return s
    if order == "reverse":
        return s[::-1].copy()
    if order == "alternating":  # smallest, largest, 2nd smallest, 2nd largest, ...
        out = np.empty_like(s)
        out[0::2] = s[: (len(s) + 1) // 2]
        out[1::2] = s[(len(s) + 1) // 2:][::-1]
        return out
    return np.random.default_rng(9).permutation(s)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("sizes_kind", ["tiny", "mixed"])
def test_bounded_sketch_error_never_exceeds_its_stated_bound(order, sizes_kind):
    """Hundreds of chunks in adversarial orders: every CDF value read back from the written sketch is
    within the stated bound, and the bound within the proven (L + 2) / (2k)."""
    k = 64  # small k: the bound is tight enough to be tested hard
    rng = np.random.default_rng(hash((order, sizes_kind)) % 2**32)
    x = np.round(np.r_[rng.lognormal(0, 1, 30_000), rng.integers(0, 50, 10_000)], 2)  # ties and a long tail
    x = _ordered(x, order)
    sizes = rng.integers(1, 60, 2000) if sizes_kind == "tiny" else rng.integers(1, 1500, 300)
    chunks = _chunks(x, sizes)
    n_chunks = len(chunks)
    assert n_chunks >= 300
    stats, _ = suggest_baseline(chunks, sketch_size=k)
    feat = stats["features"][0]["numerical_statistics"]
    bound = feat["distribution"]["kll"]["rank_error_bound"]
    assert 0 < bound <= (math.log2(n_chunks) + 2) / (2 * k)
    assert sketch_cdf_error(stats, x) <= bound + 1e-12
    # and the L-infinity distance to any current data is within the bound of the exact one
    cur = x[: len(x) // 2] + 0.3
    (fc,) = analyze(pd.DataFrame({"x": cur}), stats, suggest_baseline(pd.DataFrame({"x": x}))[1]).features
    assert fc.distance_error_bound == bound
    assert abs(fc.distance_simple - exact_linf(x, cur)) <= bound + 1e-12


def test_bounded_summary_memory_and_default_bound_on_many_chunks():
    q = P.QuantileSummary(k=256)
    rng = np.random.default_rng(4)
    for i in range(500):
        q.add_sorted(np.sort(rng.normal(size=int(rng.integers(1, 2000)))))
        assert q._points <= (math.log2(i + 1) + 1) * 256
    levels, bound = q.levels()
    assert len(levels) == 1 and len(levels[0]) == 256
    assert bound <= (math.log2(500) + 2) / 512


def test_statistics_of_a_large_integer_column_stay_exact():
    rng = np.random.default_rng(5)
    x = rng.poisson(30, 1_000_000)  # ~70 distinct values, counts in the tens of thousands
    stats, _ = suggest_baseline(pd.DataFrame({"x": x}))
    assert sketch_cdf_error(stats, x) == 0.0
    assert stats["features"][0]["numerical_statistics"]["distribution"]["kll"]["rank_error_bound"] == 0.0


def test_real_model_monitor_sketch_reads_with_an_unknown_bound():
    """A Model Monitor sketch (several levels, no Airsage bound) is read as it is."""
    stats = {"version": 0.0, "dataset": {"item_count": 6}, "features": [{
        "name": "x", "inferred_type": "Fractional", "numerical_statistics": {
            "common": {"num_present": 6, "num_missing": 0}, "mean": 2.5, "sum": 15.0, "std_dev": 1.0, "min": 1.0,
            "max": 4.0, "distribution": {"kll": {"buckets": [], "sketch": {
                "parameters": {"c": 0.64, "k": 2048.0}, "data": [[1.0, 4.0], [2.0, 3.0]]}}}}}]}
    ref = P.refs_from_statistics(stats)["x"]
    assert ref.rank_error is None
    np.testing.assert_allclose(ref.cdf, [1 / 6, 3 / 6, 5 / 6, 1.0])  # weights 1, 2, 2, 1
