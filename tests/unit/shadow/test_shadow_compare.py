"""compare_partition on a hand-computed example, against Clarify's own bias report, combine's property
(combine of the partitions == compare_partition of their concatenation) and paired_quality."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from airsage.clarify.metrics import bias_report
from airsage.config import FacetSpec
from airsage.errors import DataValidationError
from airsage.shadow.compare import EDGES, combine, compare_partition, paired_quality

HEAD = dict(partition="2026-11-20", champion_version="1", challenger_version="2")


def dumps(doc) -> str:
    return json.dumps(doc, allow_nan=False)


def small() -> pd.DataFrame:
    return pd.DataFrame({
        "inference_id": [f"r{i}" for i in range(8)],
        "group": ["a", "a", "a", "b", "b", "b", "c", None],
        "age": [20, 30, 50, 60, 45, 70, 41, 35],
        "champion_score": [.10, .70, .90, .20, .55, .30, .95, .00],
        "champion_label": [0, 1, 1, 0, 1, 0, 1, 0],
        "score": [.60, .80, .40, .10, .65, .30, 1.0, .05],
        "predicted_label": [1, 1, 0, 0, 1, 0, 1, 0],
    })


def test_hand_computed_partition():
    facets = [FacetSpec(name="group", value_or_threshold=["a"]), {"name": "age", "value_or_threshold": [40]},
              {"name": "not_in_the_input", "value_or_threshold": []}]
    c = compare_partition(small(), facets=facets, **HEAD)
    dumps(c)
    assert c["kind"] == "airsage.shadow.partition" and c["schema_version"] == 1
    assert (c["partition"], c["champion_version"], c["challenger_version"]) == ("2026-11-20", "1", "2")
    assert c["rows"] == 8
    assert c["agreement"] == {"agree": 6, "rate": 0.75}
    assert c["flips"] == {"to_positive": 1, "to_negative": 1, "total": 2, "rate": 0.25}
    assert c["positive_rate"]["champion"] == 0.5 and c["positive_rate"]["challenger"] == 0.5
    assert list(c["groups"]) == ["group", "age"]
    rows = {g["value"]: g for g in c["groups"]["group"]}
    assert [g["value"] for g in c["groups"]["group"]] == ["a", "b", "c", None]  # missing values: own group, last
    assert rows["a"] == {"value": "a", "in_facet_group": True, "rows": 3, "agree": 1, "to_positive": 1,
                         "to_negative": 1, "flip_rate": pytest.approx(2 / 3), "champion_positive": 2,
                         "challenger_positive": 2}
    assert not rows["b"]["in_facet_group"] and rows["b"]["flip_rate"] == 0.0 and rows["b"]["rows"] == 3
    assert rows[None]["rows"] == 1 and not rows[None]["in_facet_group"]
    age = {g["value"]: g for g in c["groups"]["age"]}
    assert set(age) == {"> 40", "<= 40"}
    assert age["> 40"] == {"value": "> 40", "in_facet_group": True, "rows": 5, "agree": 4, "to_positive": 0,
                           "to_negative": 1, "flip_rate": 0.2, "champion_positive": 3, "challenger_positive": 2}
    assert age["<= 40"]["rows"] == 3 and age["<= 40"]["to_positive"] == 1 and not age["<= 40"]["in_facet_group"]

    b = c["bias"]["group"]
    assert b["facet_values"] == ["a"]
    assert b["counts"]["champion"] == {"n_a": 5, "pos_a": 2, "n_d": 3, "pos_d": 2}
    assert b["champion"]["DPPL"] == pytest.approx(2 / 5 - 2 / 3) and b["champion"]["DI"] == pytest.approx(5 / 3)
    assert b["change"] == {"DPPL": 0.0, "DI": 0.0}
    b = c["bias"]["age"]
    assert b["facet_values"] == [40]
    assert b["counts"]["challenger"] == {"n_a": 3, "pos_a": 2, "n_d": 5, "pos_d": 2}
    assert b["champion"]["DPPL"] == pytest.approx(1 / 3 - 3 / 5) and b["champion"]["DI"] == pytest.approx(9 / 5)
    assert b["challenger"]["DPPL"] == pytest.approx(2 / 3 - 2 / 5) and b["challenger"]["DI"] == pytest.approx(3 / 5)
    assert b["change"]["DPPL"] == pytest.approx(8 / 15) and b["change"]["DI"] == pytest.approx(-6 / 5)

    s = c["scores"]
    assert s["edges"] == EDGES and len(EDGES) == 21 and EDGES[1] == 0.05 and EDGES[-1] == 1.0
    champion_bins, challenger_bins = [0, 2, 4, 6, 11, 14, 18, 19], [1, 2, 6, 8, 12, 13, 16, 19]
    assert s["champion_hist"] == np.bincount(champion_bins, minlength=20).tolist()
    assert s["challenger_hist"] == np.bincount(challenger_bins, minlength=20).tolist()
    assert s["champion_sum"] == pytest.approx(3.7) and s["challenger_sum"] == pytest.approx(3.9)
    assert s["abs_diff_sum"] == pytest.approx(1.4) and s["max_abs_diff"] == pytest.approx(0.5)
    assert s["mean_champion"] == pytest.approx(3.7 / 8) and s["mean_abs_diff"] == pytest.approx(1.4 / 8)
    assert s["ks"] == pytest.approx(0.125)
    b_, c_ = (np.maximum(np.array(s[k]) / 8, 1e-4) for k in ("champion_hist", "challenger_hist"))
    assert s["psi"] == pytest.approx(float(np.sum((c_ - b_) * np.log(c_ / b_))))
    assert c["quality"] is None


def test_one_vs_rest_keys_and_undefined_metrics():
    c = compare_partition(small(), facets=[{"name": "group", "value_or_threshold": []}], **HEAD)
    dumps(c)
    assert sorted(c["bias"]) == ["group=a", "group=b", "group=c"]
    assert all(g["in_facet_group"] for g in c["groups"]["group"] if g["value"] is not None)
    bc = c["bias"]["group=c"]
    assert bc["facet_values"] == ["c"] and bc["counts"]["champion"] == {"n_a": 7, "pos_a": 3, "n_d": 1, "pos_d": 1}
    # integer codes Clarify would call continuous: one-vs-rest still works (cast to category, Clarify's own fix)
    f = small().assign(code=[1, 2, 3, 1, 2, 3, 1, 2])
    c = compare_partition(f, facets=[{"name": "code", "value_or_threshold": []}], **HEAD)
    assert sorted(c["bias"]) == ["code=1", "code=2", "code=3"]
    assert [g["rows"] for g in c["groups"]["code"]] == [3, 3, 2]
    # a threshold above every value: d is empty, DPPL and DI are undefined (null), as in Clarify
    c = compare_partition(small(), facets=[{"name": "age", "value_or_threshold": [99]}], **HEAD)
    assert c["bias"]["age"]["champion"] == {"DPPL": None, "DI": None} and c["bias"]["age"]["change"]["DPPL"] is None
    # no positive decision in a: DI is infinite, written as Clarify's "Infinity"
    f = small()
    f["predicted_label"] = [1, 1, 1, 0, 0, 0, 0, 0]
    f["score"] = [.9, .9, .9, .1, .1, .1, .1, .1]
    c = compare_partition(f, facets=[{"name": "group", "value_or_threshold": ["a"]}], **HEAD)
    assert c["bias"]["group"]["challenger"]["DI"] == "Infinity"
    json.loads(dumps(c))


def test_zero_rows_give_null_rates():
    c = compare_partition(small().iloc[0:0], facets=[{"name": "group", "value_or_threshold": ["a"]}], **HEAD)
    dumps(c)
    assert c["rows"] == 0 and c["agreement"]["rate"] is None and c["flips"]["rate"] is None
    assert c["positive_rate"]["champion"] is None
    assert c["scores"]["psi"] is None and c["scores"]["ks"] is None and c["scores"]["max_abs_diff"] is None
    assert c["scores"]["champion_hist"] == [0] * 20 and c["groups"] == {"group": []} and c["bias"] == {}


@pytest.mark.parametrize("change,match", [
    (lambda f: f.drop(columns=["score"]), "column score is missing"),
    (lambda f: f.assign(champion_label=[0, 1, 2, 0, 1, 0, 1, 0]), "champion_label are not 0 or 1"),
    (lambda f: f.assign(score=[np.nan, .8, .4, .1, .65, .3, 1.0, .05]), "score are missing or not finite"),
])
def test_bad_input_is_a_clear_error(change, match):
    with pytest.raises(DataValidationError, match=match):
        compare_partition(change(small()), facets=[], **HEAD)


def random_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west", None], n, p=[.4, .3, .15, .1, .05])
    cs = rng.random(n)
    s = np.clip(cs + rng.normal(0, .15, n), 0, 1)
    return pd.DataFrame({
        "inference_id": [f"{seed}-{i}" for i in range(n)],
        "region": region, "segment": rng.choice(["x", "y", "z"], n),
        "income": np.round(rng.normal(50, 10, n), 1),
        "champion_score": cs, "champion_label": (cs > .5).astype("int64"),
        "score": s, "predicted_label": (s > .45).astype("int64"),
    })


FACETS = [{"name": "region", "value_or_threshold": []}, {"name": "segment", "value_or_threshold": ["x", "y"]},
          {"name": "income", "value_or_threshold": [55.0]}]


def test_bias_matches_clarify_bias_report():
    f = random_frame(600, 3)
    f["label"] = pd.Series(np.random.default_rng(9).integers(0, 2, len(f))).astype("category")
    c = compare_partition(f, facets=FACETS, **HEAD)
    for model, col in (("champion", "champion_label"), ("challenger", "predicted_label")):
        for facet in FACETS:
            reports = bias_report(f, facet["name"], facet["value_or_threshold"] or None, "label", [1],
                                  stage="post_training", predicted_positive=f[col].to_numpy() == 1,
                                  methods=["DPPL", "DI"])
            for r in reports:
                key = facet["name"] if facet["value_or_threshold"] else f"{facet['name']}={r.value_or_threshold}"
                assert c["bias"][key][model]["DPPL"] == pytest.approx(r.value("DPPL"), abs=1e-15), key
                assert c["bias"][key][model]["DI"] == pytest.approx(r.value("DI"), abs=1e-15), key
            if not facet["value_or_threshold"]:
                assert len(reports) == len([k for k in c["bias"] if k.startswith("region=")])


def assert_close(a, b, path="") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (path, list(a), list(b))
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


def test_combine_equals_the_comparison_of_the_concatenated_partitions():
    frames = [random_frame(400, 1), random_frame(250, 2), random_frame(0, 3), random_frame(350, 4)]
    frames[1] = frames[1][frames[1].region != "west"]  # a value missing from one partition
    frames[3].loc[frames[3].index[:5], "region"] = "far-east"  # a value only one partition has
    comps = [compare_partition(f, facets=FACETS, partition=f"2026-11-{21 - i:02d}", champion_version="1",
                               challenger_version="2") for i, f in enumerate(frames)]
    comps = [json.loads(dumps(c)) for c in comps]  # as read back from their files
    summary = combine(list(reversed(comps)), quality=None)
    dumps(summary)
    whole = compare_partition(pd.concat(frames, ignore_index=True), facets=FACETS, **HEAD)
    for key in ("rows", "agreement", "flips", "positive_rate", "groups", "scores", "bias"):
        assert_close(summary[key], whole[key], key)
    assert "region=far-east" in summary["bias"] and "region=west" in summary["bias"]
    assert summary["kind"] == "airsage.shadow.summary" and summary["schema_version"] == 1
    assert summary["partitions"] == 4 and summary["challenger_version"] == "2"
    assert (summary["first_partition"], summary["last_partition"]) == ("2026-11-18", "2026-11-21")
    hist = summary["history"]
    assert [h["partition"] for h in hist] == ["2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21"]
    assert [h["rows"] for h in hist] == [len(f) for f in reversed(frames)]
    h = hist[-1]
    assert h["flip_rate"] == comps[0]["flips"]["rate"] and h["psi"] == comps[0]["scores"]["psi"]
    assert h["max_group_flip_rate"] == max(g["flip_rate"] for gs in comps[0]["groups"].values() for g in gs)
    assert h["max_abs_bias_change"] == max(abs(b["change"]["DPPL"]) for b in comps[0]["bias"].values())
    assert h["auc_delta"] is None and h["labelled_rows"] == 0 and h["champion_version"] == "1"
    assert hist[1]["rows"] == 0 and hist[1]["flip_rate"] is None


def test_combine_rejects_duplicates_and_carries_quality():
    c = compare_partition(small(), facets=[], **HEAD)
    with pytest.raises(DataValidationError, match="more than once"):
        combine([c, c], quality=None)
    other = {**c, "partition": "2026-11-21", "challenger_version": "3"}
    with pytest.raises(DataValidationError, match="several challenger versions"):
        combine([c, other], quality=None)
    q = {"labelled_rows": 40, "status": "ok", "auc_delta": 0.01}
    s = combine([{**c, "quality": q}], quality=q)
    assert s["quality"] == q and s["history"][0]["auc_delta"] == 0.01 and s["history"][0]["labelled_rows"] == 40
    empty = combine([], quality=None)
    dumps(empty)
    assert empty["rows"] == 0 and empty["partitions"] == 0 and empty["history"] == []


def test_paired_quality_ok():
    rng = np.random.default_rng(5)
    n = 300
    y = rng.integers(0, 2, n)
    s1 = np.round(np.clip(rng.random(n) * .7 + y * .25, 0, 1), 2)
    s2 = np.round(np.clip(rng.random(n) * .6 + y * .35, 0, 1), 2)
    l1, l2 = (s1 > .5).astype(int), (s2 > .5).astype(int)
    q = paired_quality(y, s1, s2, l1, l2)
    dumps(q)
    assert q["status"] == "ok" and q["labelled_rows"] == n and q["positives"] == int(y.sum())
    for model, s, lab in (("champion", s1, l1), ("challenger", s2, l2)):
        m = q[model]
        assert m["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert m["accuracy"] == pytest.approx(accuracy_score(y, lab))
        assert m["precision"] == pytest.approx(precision_score(y, lab))
        assert m["recall"] == pytest.approx(recall_score(y, lab))
        assert m["f1"] == pytest.approx(f1_score(y, lab))
    assert q["auc_delta"] == pytest.approx(q["challenger"]["auc"] - q["champion"]["auc"])
    assert q["auc_delta"] > 0 and q["delong"]["z"] > 0 and 0 <= q["delong"]["p_value"] < 0.05
    lo, hi = q["delong"]["ci95"]
    assert lo < q["auc_delta"] < hi


def test_paired_quality_insufficient():
    y = np.array([1] * 40)
    s = np.linspace(0, 1, 40)
    q = paired_quality(y, s, s, s > .5, s > .5)
    dumps(q)
    assert q["status"] == "insufficient" and q["champion"] is None and q["delong"] is None
    assert q["labelled_rows"] == 40 and q["positives"] == 40 and "both classes" in q["reason"]
    q = paired_quality([1, 0] * 5, s[:10], s[:10], s[:10] > .5, s[:10] > .5)
    assert q["status"] == "insufficient" and "fewer than the 30" in q["reason"]
    q = paired_quality([], [], [], [], [])
    assert q["status"] == "insufficient" and q["labelled_rows"] == 0
    with pytest.raises(DataValidationError, match="other than 0 and 1"):
        paired_quality([2, 0], [.1, .2], [.1, .2], [0, 0], [0, 0])
    assert math.isfinite(paired_quality([1, 0] * 20, s, s, s > .5, s > .5)["delong"]["z"])
