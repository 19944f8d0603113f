"""Bias metrics: smclarify's published vectors (smclarify's own tests) and agreement with smclarify itself."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from airsage.clarify import metrics as M
from airsage.errors import ConfigError
from clarify_testkit import mixed_frame, smclarify_report


def values(reports, i=0):
    return {m.name: m.value for m in reports[i].metrics}


def dicts(reports):
    return [r.to_dict() for r in reports]


# --------------------------------------------------------------------------- golden vectors (smclarify's own tests)
CAT = pd.DataFrame([["a", 1, 1, 1], ["b", 1, 1, 0], ["b", 0, 1, 0], ["b", 0, 0, 1]], columns=["x", "y", "z", "yhat"])
CONT = pd.DataFrame(
    [[0, 0, 0, 0, True, 1, 1, 1], [3, 0, 0, 0, True, 0, 1, 1], [3, 0, 1, 0, True, 0, 1, 1],
     [0, 0, 0, 0, False, 1, 1, 0], [4, 0, 0, 1, True, 0, 1, 1], [0, 0, 1, 0, True, 1, 1, 1],
     [3, 0, 0, 0, True, 1, 1, 1], [3, 1, 0, 0, True, 1, 1, 1], [0, 0, 1, 0, True, 1, 1, 1],
     [3, 0, 1, 1, True, 1, 0, 1], [4, 0, 0, 0, True, 1, 0, 1], [3, 0, 1, 0, True, 1, 1, 1],
     [3, 0, 0, 0, False, 1, 1, 0], [0, 0, 0, 0, True, 1, 1, 1], [0, 0, 1, 0, True, 0, 1, 1],
     [0, 0, 1, 0, True, 1, 1, 1], [0, 1, 0, 1, False, 0, 1, 0], [3, 0, 0, 0, False, 1, 1, 0],
     [0, 0, 1, 0, False, 1, 1, 1], [3, 0, 0, 0, True, 1, 0, 1], [3, 0, 1, 0, False, 1, 1, 0],
     [0, 1, 0, 0, False, 1, 1, 0], [3, 0, 1, 0, True, 0, 1, 1], [0, 0, 0, 1, True, 1, 0, 1]],
    columns=["x", "y", "z", "a", "b", "c", "d", "yhat"])


def test_upstream_category_vector():
    cat = CAT.astype({"x": object})
    pre = M.bias_report(cat, "x", None, "y", [0], "pre_training", group_variable="z")
    assert [r.value_or_threshold for r in pre] == ["a", "b"]
    assert [m.name for m in pre[0].metrics] == ["CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD"]
    expected = {"a": dict(CDDL=-0.375, CI=0.5, DPL=-0.66667, JS=0.087208, KL=-0.366204, KS=0.66667, LP=0.66667,
                          TVD=0.33333),
                "b": dict(CDDL=0.625, CI=-0.5, DPL=0.66667, JS=0.087208, KL=1.098612, KS=0.66667, LP=0.66667,
                          TVD=0.33333)}
    for i, facet in enumerate(("a", "b")):
        assert values(pre, i) == pytest.approx(expected[facet], abs=1e-5)
    post = M.bias_report(cat, "x", None, "y", [0], "post_training", predicted_label="yhat", group_variable="z",
                         methods=["AD", "DI", "DPPL", "RD"])
    assert values(post, 0) == pytest.approx(dict(AD=-0.66667, DI=3.0, DPPL=-0.66667, RD=-1.0), abs=1e-5)
    assert values(post, 1) == pytest.approx(dict(AD=0.66667, DI=0.33333, DPPL=0.66667, RD=1.0), abs=1e-5)


def test_upstream_continuous_vector():
    pre = M.bias_report(CONT, "x", [2], "y", [0], "pre", group_variable="z")
    assert [r.value_or_threshold for r in pre] == ["(2, 4]"]
    assert values(pre) == pytest.approx(dict(CDDL=0.385101, CI=-0.083333, DPL=0.104895, JS=0.012524, KL=0.057705,
                                             KS=0.104895, LP=0.148344, TVD=0.104895), abs=1e-6)
    post = M.bias_report(CONT, "x", [2], "y", [0], "post", predicted_label="yhat", group_variable="z")
    assert values(post) == pytest.approx(dict(
        AD=-0.216783, CDDPL=0.075926, DAR=-0.1, DCA=0.15, DCR=1.0, DI=1.057692, DPPL=-0.041958, DRR=0.666667,
        FT=-0.230769, GE=0.075937, RD=-1.0, SD=0.138889, TE=-0.25), abs=1e-6)


def test_hand_checkable_vector():
    df = pd.DataFrame({"age": [25, 36, 22, 48, 52, 61, 33, 45],
                       "y": pd.Categorical([0, 1, 1, 0, 1, 1, 0, 1]),
                       "yhat": pd.Categorical([0, 1, 0, 0, 1, 1, 1, 1])})
    pre = M.bias_report(df, "age", [40], "y", [1], "pre")
    assert pre[0].value_or_threshold == "(40, 61]"
    got = values(pre)
    assert got.pop("CDDL") is None  # no group variable -> an error entry
    assert got == pytest.approx(dict(CI=0.0, DPL=-0.25, KL=0.143841, JS=0.033822, LP=0.353553, TVD=0.25, KS=0.25),
                                abs=1e-6)
    post = M.bias_report(df, "age", [40], "y", [1], "post", predicted_label="yhat")
    got = values(post)
    assert got == pytest.approx(dict(AD=-0.5, DAR=-0.5, DCA=0.0, DCR=0.0, DI=1.5, DPPL=-0.25, DRR=0.5, GE=0.125,
                                     RD=-0.5, SD=0.5, TE=-1.0, CDDPL=None, FT=got["FT"]), abs=1e-6)
    cddpl = post[0].to_dict()["metrics"][1]
    assert cddpl == {"name": "CDDPL", "description": "Conditional Demographic Disparity in Predicted Labels (CDDPL)",
                     "value": None, "error": "Group variable is empty or not provided"}


# --------------------------------------------------------------------------- conventions
def test_division_rules_and_infinity_serialisation():
    assert M.divide(0, 0) == 0.0 and M.divide(3, 0) == math.inf and M.divide(-3, 0) == -math.inf
    # d has no predicted positives, a has some: DI = q'_d / q'_a = 0; a predicts nothing -> DI = +inf
    a, d = M.Group(tp=0, fp=0, fn=3, tn=2), M.Group(tp=1, fp=1, fn=0, tn=2)
    assert M.DI(a, d) == math.inf
    assert M.MetricResult("DI", "Disparate Impact (DI)", M.DI(a, d)).to_dict()["value"] == "Infinity"
    # both groups without predicted positives: c_a = c_d = +inf -> DCA = 0, DAR = 0 (smclarify's rule)
    a2, d2 = M.Group(tp=0, fp=0, fn=2, tn=1), M.Group(tp=0, fp=0, fn=1, tn=1)
    assert M.DCA(a2, d2) == 0 and M.DAR(a2, d2) == 0
    assert M.TE(M.Group(0, 0, 2, 1), M.Group(0, 1, 0, 1)) == -math.inf  # tau_a = inf, tau_d = 0
    assert json.loads(json.dumps(M.MetricResult("TE", "", -math.inf).to_dict()))["value"] == "-Infinity"


def test_kl_uses_aligned_nonzero_pmf_without_renormalising():
    a = M.Group(tp=0, fp=0, fn=3, tn=1)  # P_a = [1/4, 3/4]
    d = M.Group(tp=0, fp=0, fn=2, tn=0)  # P_d = [0, 1]: the False outcome is dropped, not renormalised
    assert M.KL(a, d) == pytest.approx(0.75 * math.log(0.75))  # negative
    assert M.KS(a, d) == pytest.approx(0.25)


def test_small_integer_label_is_continuous_like_smclarify():
    s = pd.Series([0, 1, 1, 0, 1])  # 2 unique of 5 rows = 40% >= 5% -> continuous
    assert M.series_datatype(s) == M.DataType.CONTINUOUS
    assert M.series_datatype(s.astype("category")) == M.DataType.CATEGORICAL
    assert M.series_datatype(s, [0, 1]) == M.DataType.CATEGORICAL
    assert M.series_datatype(pd.Series([0, 1] * 30)) == M.DataType.CATEGORICAL  # 2/60 < 5%
    assert M.series_datatype(pd.Series(["1", "2", "3"], dtype=object)) == M.DataType.CONTINUOUS
    assert M.series_datatype(pd.Series(["a", "b"])) == M.DataType.CATEGORICAL  # pandas 3 str dtype
    assert M.label_value_or_threshold(s, [0]) == "(0, 1]"


def test_errors_are_entries_not_crashes():
    df = pd.DataFrame({"f": pd.array(["x", "y", "x", "y"], dtype=object), "y": pd.Categorical([1, 0, 1, 0])})
    rep = M.bias_report(df, "f", ["zzz"], "y", [1], "pre", methods=["CI", "DPL", "KL"])
    assert rep[0].value_or_threshold == "zzz"
    assert [m.to_dict().get("error") for m in rep[0].metrics] == [
        "CI: facet set is empty. Check that x[facet] has non-zero length.", "Facet set is empty.",
        "No instance of common facet found, dataset may be too small"]


def test_invalid_inputs_raise_config_errors():
    df = mixed_frame(100, 0)
    with pytest.raises(ConfigError, match="unknown pre_training bias metric"):
        M.bias_report(df, "cat", None, "y", [1], "pre", methods=["DI"])
    with pytest.raises(ConfigError, match="needs a threshold"):
        M.bias_report(df, "f1", None, "y", [1], "pre")
    with pytest.raises(ConfigError, match="predicted labels"):
        M.bias_report(df, "cat", None, "y", [1], "post")
    with pytest.raises(ConfigError, match="not present"):
        M.bias_report(df, "nope", None, "y", [1], "pre")


# --------------------------------------------------------------------------- agreement with smclarify
CASES = [  # facet, values, group, stage
    ("cat", None, "grp", "pre"), ("cat", ["p", "q"], "grp", "pre"), ("cat", ["s"], None, "pre"),
    ("age", [40], "grp", "pre"), ("f1", [0.5], "grp", "pre"), ("cnt", None, "grp", "pre"), ("cnt", [3], None, "pre"),
    ("cat", None, "grp", "post"), ("cat", ["q", "r"], "grp", "post"), ("age", [40], "grp", "post"),
    ("f1", [-0.3], None, "post"), ("cnt", None, "grp", "post"),
]


@pytest.mark.parametrize("facet,vals,group,stage", CASES)
def test_identical_to_smclarify(facet, vals, group, stage):
    df = mixed_frame(400, seed=len(str(vals)) + len(facet))
    df["y"] = df["y"].astype("category")  # categorical label, as Clarify users usually have
    df["yhat"] = df["yhat"].astype("category")
    frame = df.drop(columns=["score", "grp"] + (["cat"] if facet != "cat" else []))  # FT: numeric features only
    frame["grp"] = df["grp"]
    post = stage == "post"
    ours = M.bias_report(frame, facet, vals, "y", [1], stage, predicted_label="yhat" if post else None,
                         group_variable=group, feature_columns=[c for c in frame.columns if c not in
                                                                ("y", "yhat", "grp", facet)])
    ref = smclarify_report(frame.drop(columns=["grp"]), facet, vals, "y", [1], stage, "yhat" if post else None,
                           frame["grp"] if group else None)
    assert dicts(ours) == ref  # bit-identical values, same order, same strings


def test_probability_threshold_and_integer_label_agree_with_smclarify():
    df = mixed_frame(300, seed=5)[["cat", "y", "score", "f1"]]
    thr = 0.35
    df["pred"] = (df.score > thr).astype(int)
    # integer 0/1 label with 300 rows: categorical by uniqueness (2/300 < 5%)
    ours = M.bias_report(df.drop(columns=["score", "pred"]), "cat", None, "y", [1], "post",
                         predicted_positive=df.score.to_numpy() > thr, methods=["DI", "DPPL", "RD", "TE", "FT"])
    ref = smclarify_report(df.drop(columns=["score"]), "cat", None, "y", [1], "post", "pred",
                           metrics=["DI", "DPPL", "RD", "TE", "FT"])
    assert dicts(ours) == ref


def test_label_values_and_string_threshold_conversion_agree():
    df = pd.DataFrame({"x": pd.array(list("abbcc"), dtype=object), "y": pd.array(list("pqrpq"), dtype=object),
                       "z": [1, 1, 1, 0, 0], "yhat": pd.array(list("ppqpp"), dtype=object)})
    for stage, pred in (("pre", None), ("post", "yhat")):
        ours = M.bias_report(df, "x", None, "y", ["p", "q"], stage, predicted_label=pred, group_variable="z",
                             methods="all" if stage == "pre" else ["AD", "DI", "DPPL", "RD", "DAR", "DRR"])
        ref = smclarify_report(df.drop(columns=["z"]), "x", None, "y", ["p", "q"], stage, pred,
                               metrics=["all"] if stage == "pre" else ["AD", "DI", "DPPL", "RD", "DAR", "DRR"])
        for o, r in zip(dicts(ours), ref):  # CDDL: smclarify here got no group variable
            assert [m for m in o["metrics"] if m["name"] != "CDDL"] == [m for m in r["metrics"] if m["name"] != "CDDL"]
    assert values(M.bias_report(df, "x", None, "y", ["p", "q"], "pre", group_variable="z", methods=["CDDL"]), 2) \
        == pytest.approx({"CDDL": -0.4})  # upstream test_label_values


def test_one_vs_rest_skips_missing_facet_values():
    df = pd.DataFrame({"f": pd.array(["x", None, "y", "x"], dtype=object), "y": pd.Categorical([1, 0, 1, 0])})
    rep = M.bias_report(df, "f", None, "y", [1], "pre", methods=["CI"])
    assert [r.value_or_threshold for r in rep] == ["x", "y"]
    assert values(rep, 1)["CI"] == pytest.approx((3 - 1) / 4)  # the missing-facet row belongs to group a
