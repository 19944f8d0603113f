"""SHAP: TreeSHAP and KernelSHAP against exact Shapley values computed independently by enumeration."""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from airsage.clarify import explain as E
from clarify_testkit import ProbaOnly, TinyModel


def _shapley(value, m):
    """Exact Shapley values of a set function ``value(frozenset) -> float`` over m players."""
    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for r in range(m):
            for s in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
                phi[i] += w * (value(frozenset(s) | {i}) - value(frozenset(s)))
    return phi


def _tree_expectation(node, x, s):
    """E[tree(x) | x_S] with XGBoost's cover weights (path-dependent TreeSHAP's value function)."""
    if "leaf" in node:
        return node["leaf"]
    kids = {c["nodeid"]: c for c in node["children"]}
    j = int(node["split"][1:])
    if j in s:
        nxt = node["yes"] if x[j] < node["split_condition"] else node["no"]
        return _tree_expectation(kids[nxt], x, s)
    return sum(kids[c]["cover"] * _tree_expectation(kids[c], x, s) for c in kids) / node["cover"]


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(400, 4)), columns=["a", "b", "c", "d"])
    df["y"] = ((df.a + df.b * df.c - 0.5 * df.d + rng.normal(0, 0.5, 400)) > 0).astype(int)
    return df, TinyModel(df, ["a", "b", "c", "d"], "y", rounds=8, depth=3)


def test_tree_shap_equals_exact_path_dependent_shapley(tiny):
    df, model = tiny
    x = model.encode(df.head(6))
    res = E.tree_shap(model.booster, x, feature_names=model.feature_names)
    trees = [json.loads(t) for t in model.booster.get_dump(dump_format="json", with_stats=True)]
    margin = model.booster.predict(__import__("xgboost").DMatrix(x), output_margin=True)
    base = float(margin[0] - sum(_tree_expectation(t, x[0], set(range(4))) for t in trees))
    for r in range(len(x)):
        exact = _shapley(lambda s: sum(_tree_expectation(t, x[r], s) for t in trees), 4)
        np.testing.assert_allclose(res.local[r], exact, atol=1e-5)
    assert res.expected_value == pytest.approx(base + sum(_tree_expectation(t, x[0], set()) for t in trees), abs=1e-5)
    assert res.method == "tree_shap" and res.output_space == "log_odds" and res.additivity_ok
    np.testing.assert_allclose(res.local.sum(1) + res.expected_value, margin, atol=1e-5)


def test_tree_shap_matches_shap_package(tiny):
    import shap

    df, model = tiny
    x = model.encode(df.head(20))
    ours = E.tree_shap(model.booster, x)
    theirs = shap.TreeExplainer(model.booster).shap_values(x)
    np.testing.assert_allclose(ours.local, theirs, atol=1e-6)


@pytest.mark.parametrize("use_logit", [False, True])
def test_kernel_shap_is_exact_shapley_with_a_baseline(use_logit):
    rng = np.random.default_rng(1)
    cols = ["a", "b", "c", "d"]
    model = ProbaOnly({"a": 1.0, "b": -0.5, "c": 0.25, "d": 2.0})
    df = pd.DataFrame(rng.normal(size=(5, 4)), columns=cols)
    baseline = pd.DataFrame(rng.normal(size=(3, 4)), columns=cols)
    res = E.explain(model, df, feature_columns=cols, baseline=baseline, num_samples=64, use_logit=use_logit, seed=3)
    f = (lambda z: np.log(model.predict_proba(z) / (1 - model.predict_proba(z)))) if use_logit else model.predict_proba
    b = baseline.to_numpy()
    for r in range(len(df)):
        x = df.to_numpy()[r]

        def v(s, x=x):
            z = b.copy()
            z[:, list(s)] = x[list(s)]
            return float(np.mean(f(pd.DataFrame(z, columns=cols))))

        np.testing.assert_allclose(res.local[r], _shapley(v, 4), atol=1e-8)
    assert res.expected_value == pytest.approx(float(np.mean(f(baseline))))
    assert res.method == "kernel_shap" and res.output_space == ("log_odds" if use_logit else "probability")


def test_kernel_shap_on_categorical_columns_without_encode():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"num": rng.normal(size=30), "cat": rng.choice(["x", "y", "z"], 30)}).astype({"cat": object})
    model = ProbaOnly({"num": 1.0}, category=("cat", "y", 1.5))
    res = E.explain(model, df.head(4), feature_columns=["num", "cat"], baseline=df.head(10), num_samples=16)
    assert res.additivity_ok and res.local.shape == (4, 2)
    for r in range(4):  # the category's effect is 1.5 logits only for 'y' rows: its SHAP sign follows
        assert (res.local[r, 1] > 0) == (df.cat.iloc[r] == "y")


def test_auto_uses_kmeans_baseline_for_kernel_models():
    rng = np.random.default_rng(4)
    df = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    res = E.explain(ProbaOnly({"a": 1.0, "b": 1.0}), df.head(3), feature_columns=["a", "b", "c"], num_clusters=4,
                    num_samples=32)
    assert res.additivity_ok
    np.testing.assert_allclose(res.local[:, 2], 0.0, atol=1e-9)  # the model ignores c


def test_aggregation_methods():
    local = np.array([[1.0, -2.0], [-3.0, 4.0], [2.0, 0.0]])
    np.testing.assert_allclose(E.aggregate(local, "mean_abs"), [2.0, 2.0])
    np.testing.assert_allclose(E.aggregate(local, "median"), [1.0, 0.0])
    np.testing.assert_allclose(E.aggregate(local, "mean_sq"), [14 / 3, 20 / 3])
    with pytest.raises(Exception, match="agg_method"):
        E.aggregate(local, "max")


def test_additivity_violation_raises_or_flags():
    local, expected, output = np.array([[0.1, 0.2]]), 0.5, np.array([0.9])
    with pytest.raises(E.AdditivityError, match="differ from the model output"):
        E.check_additivity(local, expected, output, 1e-6, "raise", "test")
    err, ok = E.check_additivity(local, expected, output, 1e-6, "flag", "test")
    assert not ok and err == pytest.approx(0.1)
