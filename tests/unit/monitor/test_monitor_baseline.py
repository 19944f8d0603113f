"""statistics.json / constraints.json layout and content (Model Monitor developer guide: statistics and constraints)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsage.monitor import profile as P
from airsage.monitor.baseline import read_baseline, suggest_baseline, suggest_constraints, write_baseline


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "n_items": pd.array([1, 2, 3, 4, None, 6, 7, 8, 9, 10], dtype="Int64"),
        "amount": [0.5, -1.25, 2.0, 3.5, 4.0, 5.0, np.nan, 7.0, 8.0, 9.75],
        "color": ["red", "blue", "red", None, "red", "blue", "green", "green", "blue", "red"],
        "when": pd.date_range("2026-11-01", periods=10, tz="UTC"),
    })


def test_statistics_layout_and_values(frame):
    stats, _ = suggest_baseline(frame)
    assert stats["version"] == 0.0 and stats["dataset"] == {"item_count": 10}
    names = [f["name"] for f in stats["features"]]
    assert names == ["n_items", "amount", "color"]  # timestamps are not profiled without a feature spec

    n_items = stats["features"][0]
    assert n_items["inferred_type"] == "Integral"
    ns = n_items["numerical_statistics"]
    vals = [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert ns["common"] == {"num_present": 9, "num_missing": 1}
    assert ns["sum"] == sum(vals) and ns["mean"] == pytest.approx(np.mean(vals))
    assert ns["std_dev"] == pytest.approx(np.std(vals))  # population std, as Deequ
    assert (ns["min"], ns["max"]) == (1, 10)
    kll = ns["distribution"]["kll"]
    assert len(kll["buckets"]) == 10
    assert kll["buckets"][0]["lower_bound"] == 1 and kll["buckets"][-1]["upper_bound"] == 10
    assert sum(b["count"] for b in kll["buckets"]) == 9
    # 10 equal-width buckets over [1, 10] (width 0.9); counted by hand from the values
    assert [b["count"] for b in kll["buckets"]] == [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]
    assert kll["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
    assert kll["sketch"]["data"] == [[float(v) for v in vals]]  # <= k values: the sketch holds them all

    amount = stats["features"][1]
    assert amount["inferred_type"] == "Fractional"
    assert amount["numerical_statistics"]["common"] == {"num_present": 9, "num_missing": 1}

    color = stats["features"][2]
    assert color["inferred_type"] == "String"
    ss = color["string_statistics"]
    assert ss["common"] == {"num_present": 9, "num_missing": 1}
    assert ss["distinct_count"] == 3
    assert ss["distribution"]["categorical"]["buckets"] == [
        {"value": "red", "count": 4}, {"value": "blue", "count": 3}, {"value": "green", "count": 2}]
    json.dumps(stats, allow_nan=False)  # strict JSON


def test_constraints_layout(frame):
    stats, cons = suggest_baseline(frame, comparison_method="Simple")
    assert cons["version"] == 0.0
    by = {f["name"]: f for f in cons["features"]}
    assert by["n_items"]["num_constraints"] == {"is_non_negative": True}
    assert by["amount"]["num_constraints"] == {"is_non_negative": False}
    # 9/10 present: Deequ's retain-completeness rule p - 1.96 sqrt(p(1-p)/n), rounded down
    p = 0.9
    assert by["amount"]["completeness"] == math.floor((p - 1.96 * math.sqrt(p * (1 - p) / 10)) * 100) / 100
    assert by["color"]["string_constraints"] == {"domains": ["blue", "green", "red"]}
    mc = cons["monitoring_config"]
    assert mc == {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled", "datatype_check_threshold": 0.1,
                  "domain_content_threshold": 0.1,
                  "distribution_constraints": {"perform_comparison": "Enabled", "comparison_threshold": 0.1,
                                               "comparison_method": "Simple", "categorical_comparison_threshold": 0.1,
                                               "categorical_drift_method": "LInfinity"}}
    json.dumps(cons, allow_nan=False)


def test_complete_feature_gets_completeness_one_and_high_cardinality_no_domain():
    df = pd.DataFrame({"id": [f"r{i}" for i in range(500)], "x": np.arange(500.0),
                       "rare": ["a"] * 300 + ["b"] * 199 + ["c"]})
    _, cons = suggest_baseline(df)
    by = {f["name"]: f for f in cons["features"]}
    assert by["x"]["completeness"] == 1.0
    assert "string_constraints" not in by["id"]  # 500 distinct values: no domain suggested
    assert "string_constraints" not in by["rare"]  # 1 of 3 values seen once (> 10 %): Deequ suggests none


def test_feature_spec_decides_kind_and_columns(features, small_baseline):
    stats, cons = small_baseline
    assert [f["name"] for f in stats["features"]] == list(features)
    kinds = {f["name"]: ("numeric" if "numerical_statistics" in f else "categorical") for f in stats["features"]}
    assert kinds == features
    assert all(f["completeness"] == 1.0 for f in cons["features"])


def test_sketch_is_exact_quantiles_when_large():
    rng = np.random.default_rng(3)
    x = rng.normal(size=100_000)
    stats, _ = suggest_baseline(pd.DataFrame({"x": x}))
    data = stats["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
    assert len(data) == 1 and len(data[0]) == 2048
    xs = np.sort(x)
    expected = xs[((np.arange(2048) + 0.5) * (len(x) / 2048)).astype(int)]
    np.testing.assert_array_equal(np.asarray(data[0]), expected)


def test_chunked_parquet_profile_matches_in_memory(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x": rng.lognormal(3, 1, 60_000), "c": rng.choice(["a", "b", "c"], 60_000)})
    path = tmp_path / "base.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=7_000)
    s_mem, c_mem = suggest_baseline(df)
    s_pq, c_pq = suggest_baseline(str(path))
    f_mem, f_pq = s_mem["features"][0]["numerical_statistics"], s_pq["features"][0]["numerical_statistics"]
    for key in ("mean", "sum", "std_dev", "min", "max"):
        assert f_pq[key] == pytest.approx(f_mem[key], rel=1e-9)
    assert f_pq["common"] == f_mem["common"]
    # merged chunk summaries: quantiles within 1/k in rank of the exact ones
    sk = np.asarray(f_pq["distribution"]["kll"]["sketch"]["data"][0])
    ranks = np.searchsorted(np.sort(df["x"].to_numpy()), sk) / len(df)
    assert np.abs(ranks - (np.arange(len(sk)) + 0.5) / len(sk)).max() < 2 / 2048
    assert s_pq["features"][1] == s_mem["features"][1]
    assert c_pq == c_mem


def test_quantile_summary_memory_is_bounded():
    q = P.QuantileSummary(k=64)
    for i in range(200):
        q.add_sorted(np.sort(np.random.default_rng(i).random(1000)))
        assert q._points <= 8 * 64 + 64
    assert len(q.points()) == 64


def test_write_and_read_baseline(tmp_path, frame):
    stats, cons = suggest_baseline(frame)
    uris = write_baseline(str(tmp_path / "baseline"), stats, cons)
    assert set(uris) == {"statistics", "constraints"}
    assert read_baseline(str(tmp_path / "baseline")) == (stats, cons)
    # re-writing replaces as a unit, never leaves staging directories around
    write_baseline(str(tmp_path / "baseline"), stats, cons)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline"]


def test_suggest_constraints_from_model_monitor_statistics():
    """Constraints can be suggested from any statistics.json in Model Monitor's layout."""
    stats = {"version": 0.0, "dataset": {"item_count": 4}, "features": [
        {"name": "s", "inferred_type": "String", "string_statistics": {
            "common": {"num_present": 4, "num_missing": 0}, "distinct_count": 2.0,
            "distribution": {"categorical": {"buckets": [{"value": "x", "count": 2}, {"value": "y", "count": 2}]}}}}]}
    cons = suggest_constraints(stats)
    assert cons["features"] == [{"name": "s", "inferred_type": "String", "completeness": 1.0,
                                 "string_constraints": {"domains": ["x", "y"]}}]
