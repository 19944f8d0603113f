"""Bias drift and feature-attribution drift of scored partitions: the generator's fairness regression and
attribution shift each raise their violation; the monitor job writes SageMaker's Clarify-monitor layout."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airsage.data import generator
from airsage.monitor import clarify_monitors as cm
from airsage.monitor.bias_drift import ndcg

FEATURES = [c for c in generator.NUMERIC]
# Clarify's own rule (farther from the ideal than the baseline value) fires on sampling noise for about
# half of the metrics of an unchanged night, so a use case bounds them (gates.max_bias)
BOUNDS = {**{m: 0.1 for m in cm.PREDICTION_ONLY + cm.WITH_LABELS}, "DPPL": 0.05, "DI": 0.2, "TE": 1.0}
SPEC = cm.BiasSpec(label=generator.LABEL, positive_values=(1,), facets=(("sex", ("female",)), ("age", (40,))),
                   probability_threshold=0.5)


@pytest.fixture(scope="module")
def model():
    """A small XGBoost model of the example data (numeric features), as an Airsage ModelBundle."""
    xgb = pytest.importorskip("xgboost")
    from airsage.model import ModelBundle

    train = generator.generate(8000, seed=7, day="2026-10-01")
    dm = xgb.DMatrix(train[FEATURES].to_numpy(np.float32), label=train[generator.LABEL], feature_names=FEATURES)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 0, "nthread": 1},
                        dm, num_boost_round=40)
    return ModelBundle(algorithm="xgboost", feature_names=FEATURES, categorical={}, booster=booster,
                       label=generator.LABEL)


def _scored(model, n, seed, day, **knobs) -> pd.DataFrame:
    df = generator.generate(n, seed=seed, day=day, **knobs)
    return df.assign(score=model.predict_proba(df), inference_id=df[generator.RECORD_ID],
                     ground_truth=df[generator.LABEL])


def _baseline_analysis(model) -> dict:
    """The version's Clarify analysis: post-training bias with labels, and global SHAP."""
    base = _scored(model, 20_000, 11, "2026-11-01")
    bias = cm.partition_bias_analysis(base, SPEC, ground_truth_column="ground_truth")
    shap = cm.partition_attributions(base, model, FEATURES, sample_size=2000)
    return {**bias, "explanations": shap["explanations"]}


def test_bias_metrics_are_clarify_metrics_of_the_partition():
    """DPPL / DI by hand from the predicted positive rates of the two groups."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"sex": rng.choice(["female", "male"], 5000), "age": rng.integers(18, 80, 5000),
                       "score": rng.random(5000)})
    spec = cm.BiasSpec(label="y", positive_values=(1,), facets=(("sex", ("female",)),), probability_threshold=0.7)
    doc = cm.partition_bias_analysis(df, spec)
    (entry,) = doc["post_training_bias_metrics"]["facets"]["sex"]
    got = {m["name"]: m["value"] for m in entry["metrics"]}
    assert set(got) == {"DI", "DPPL"}  # no labels, no group variable, FT only when asked for
    pred = df["score"] > 0.7
    qd, qa = pred[df["sex"] == "female"].mean(), pred[df["sex"] == "male"].mean()
    assert got["DPPL"] == pytest.approx(qa - qd, abs=1e-12) and got["DI"] == pytest.approx(qd / qa, abs=1e-12)


def test_fairness_regression_raises_bias_drift_and_an_unchanged_night_is_judged(model):
    baseline = _baseline_analysis(model)
    same = cm.bias_drift(_scored(model, 20_000, 12, "2026-11-02"), SPEC, baseline, ground_truth_column="ground_truth",
                         bounds=BOUNDS)
    assert same.details["compared"] > 10
    # the example data has a real, stable age disparity beyond these bounds; the sex facet has none
    assert [v for v in same.violations if v["facet"] == "sex"] == []
    night = _scored(model, 20_000, 13, "2026-11-03", fairness_shift=1.0)
    res = cm.bias_drift(night, SPEC, baseline, bounds=BOUNDS)  # no labels yet: DPPL, DI
    got = {(v["facet"], v["metric_name"]) for v in res.violations}
    assert {("sex", "DPPL"), ("sex", "DI")} <= got
    assert all(v["constraint_check_type"] == "bias_drift_check" for v in res.violations)
    # Clarify's own rule (no bounds): farther from the ideal than the baseline value
    strict = cm.bias_drift(night, SPEC, baseline)
    assert ("sex", "DPPL") in {(v["facet"], v["metric_name"]) for v in strict.violations}
    assert any(k.startswith("age=(40.0, ") for k in res.details["metrics"])


def test_continuous_facet_intervals_are_matched_by_their_threshold():
    from airsage.monitor.bias_drift import check_bias_drift

    def analysis(fv, dppl):
        return {"post_training_bias_metrics": {"facets": {"age": [
            {"value_or_threshold": fv, "metrics": [{"name": "DPPL", "description": "DPPL", "value": dppl}]}]}}}

    rep = check_bias_drift(analysis("(40.0, 85.0]", -0.3), analysis("(40, 61]", 0.2))  # the DG's example values
    assert rep.compared == 1 and [v["facet_value"] for v in rep.violations] == ["(40.0, 85.0]"]
    assert check_bias_drift(analysis("(41, 85]", -0.3), analysis("(40, 61]", 0.2)).compared == 0


def test_attribution_shift_raises_attribution_drift(model):
    baseline = _baseline_analysis(model)
    same = cm.attribution_drift(_scored(model, 20_000, 14, "2026-11-04"), model, FEATURES, baseline)
    assert same.violations == () and same.details["ndcg"]["label0"] > 0.95
    shifted = cm.attribution_drift(_scored(model, 20_000, 15, "2026-11-05", attribution_shift=1.0), model, FEATURES,
                                   baseline)
    (v,) = shifted.violations
    assert v["constraint_check_type"] == "feature_attribution_drift_check" and v["label"] == "label0"
    score = shifted.details["ndcg"]["label0"]
    assert score < 0.9 and v["description"] == f"Feature attribution drift {score} exceeds threshold 0.9"
    # NDCG recomputed by hand from the two analyses (Clarify's definition)
    base = baseline["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    cur = shifted.analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]
    ranked = sorted(cur, key=lambda f: -cur[f])
    ideal = sorted(base, key=lambda f: -base[f])
    dcg = sum(base[f] / np.log2(i + 2) for i, f in enumerate(ranked))
    idcg = sum(base[f] / np.log2(i + 2) for i, f in enumerate(ideal))
    assert score == pytest.approx(dcg / idcg, rel=1e-12) == pytest.approx(ndcg(cur, base), rel=1e-12)


def test_shap_sample_is_seeded(model):
    df = _scored(model, 5000, 16, "2026-11-06")
    a = cm.partition_attributions(df, model, FEATURES, sample_size=500, seed=3)
    b = cm.partition_attributions(df, model, FEATURES, sample_size=500, seed=3)
    assert a["explanations"] == b["explanations"] and a["airsage"]["shap_records"] == 500


def test_monitor_job_writes_both_clarify_monitors_in_their_folders(model, tmp_path, monkeypatch):
    from airsage.entrypoints import monitor as job
    from airsage.monitor.baseline import suggest_baseline

    for name in ("AIRSAGE_USECASE", "dataset_format", "dataset_source", "output_path", "AIRSAGE_MONITOR_MODE",
                 "analysis_type", "baseline_statistics", "baseline_constraints"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(tmp_path))
    baseline = _baseline_analysis(model)
    inp = tmp_path / "processing" / "input"
    for ch in ("dataset", "clarify_baseline", "model"):
        (inp / ch).mkdir(parents=True)
    night = _scored(model, 5000, 17, "2026-11-07", fairness_shift=0.5, attribution_shift=1.0)
    night.drop(columns=["ground_truth"]).to_parquet(inp / "dataset" / "part-0.parquet", index=False)
    (inp / "clarify_baseline" / "analysis.json").write_text(json.dumps(baseline))
    model.save(inp / "model")
    stats, cons = suggest_baseline(_scored(model, 5000, 18, "2026-11-01")[FEATURES])
    for kind, doc in (("statistics", stats), ("constraints", cons)):
        (tmp_path / "processing" / "baseline" / kind).mkdir(parents=True)
        (tmp_path / "processing" / "baseline" / kind / f"{kind}.json").write_text(json.dumps(doc))
    monkeypatch.setenv("AIRSAGE_MONITOR_EXCLUDE", json.dumps([c for c in night.columns if c not in FEATURES]))
    monkeypatch.setenv("AIRSAGE_MONITOR_BIAS_CONFIG", json.dumps({
        "label": generator.LABEL, "label_values_or_threshold": [1], "probability_threshold": 0.5,
        "facet": [{"name_or_index": "sex", "value_or_threshold": ["female"]},
                  {"name_or_index": "age", "value_or_threshold": [40]}]}))
    monkeypatch.setenv("AIRSAGE_MONITOR_BIAS_BOUNDS", json.dumps({"DPPL": 0.05, "DI": 0.2}))
    job.main()
    out = tmp_path / "processing" / "output"
    for folder, check in (("bias_drift", "bias_drift_check"),
                          ("feature_attribution_drift", "feature_attribution_drift_check")):
        doc = json.loads((out / folder / "constraint_violations.json").read_text())
        assert doc["version"] == "1.0" and {v["constraint_check_type"] for v in doc["violations"]} == {check}
        assert (out / folder / "analysis.json").is_file()
    assert json.loads((out / "bias_drift" / "analysis.json").read_text())["post_training_bias_metrics"]["facets"]
    assert (out / "constraint_violations.json").is_file()  # data quality as before
    assert cm.read_results(str(out))["bias_drift"]["alert"] is True


def test_with_bounds_only_the_bounded_metrics_are_judged():
    from airsage.monitor.bias_drift import check_bias_drift

    def analysis(dppl: float, di: float, cddpl: float) -> dict:
        return {"post_training_bias_metrics": {"facets": {"sex": [{"value_or_threshold": "female", "metrics": [
            {"name": "DPPL", "value": dppl}, {"name": "DI", "value": di}, {"name": "CDDPL", "value": cddpl}]}]}}}

    base, night = analysis(0.01, 1.02, 0.01), analysis(0.05, 1.1, 0.03)  # all farther from ideal than baseline
    assert {v["metric_name"] for v in check_bias_drift(night, base).violations} == {"DPPL", "DI", "CDDPL"}
    judged = check_bias_drift(night, base, bounds={"DPPL": 0.04, "DI": 0.2}, judge_unbounded=False)
    assert judged.compared == 2 and [v["metric_name"] for v in judged.violations] == ["DPPL"]  # 0.05 > 0.04
    rows = cm.bias_metric_rows(night, base, {"DPPL": 0.04, "DI": 0.2}, judged.violations, judge_unbounded=False)
    by = {r["metric"]: r for r in rows}
    assert by["CDDPL"]["limit"] is None and by["DI"]["limit"] == 0.2 and by["DPPL"]["violation"] is True
    assert by["DI"]["ideal"] == 1.0 and by["CDDPL"]["baseline"] == 0.01


def test_monitor_job_reads_a_packed_model_channel_and_keeps_unlabelled_rows(model, tmp_path, monkeypatch):
    """The model channel as an S3 object input delivers it (a folder holding model.tar.gz); the ground
    truth joins the rows that have labels, the others stay (null) for the prediction-only metrics."""
    import tarfile

    from airsage.entrypoints import monitor as job

    monkeypatch.setenv("AIRSAGE_OPT_ML", str(tmp_path))
    for name in ("AIRSAGE_MONITOR_MODEL", "dataset_format", "dataset_source", "ground_truth_attribute"):
        monkeypatch.delenv(name, raising=False)
    inp = tmp_path / "processing" / "input"
    (tmp_path / "m").mkdir()
    model.save(tmp_path / "m")
    (inp / "model").mkdir(parents=True)
    with tarfile.open(inp / "model" / "model.tar.gz", "w:gz") as tar:
        for p in (tmp_path / "m").iterdir():
            tar.add(p, arcname=p.name)
    assert job.model_path() == inp / "model" / "model.tar.gz"
    from airsage.model import ModelBundle

    assert ModelBundle.load_uri(str(job.model_path())).feature_names == FEATURES
    night = _scored(model, 50, 3, "2026-11-07")
    night["captured_at"] = pd.Timestamp("2026-11-07T02:00Z")
    (inp / "dataset").mkdir()
    night.drop(columns=["ground_truth"]).to_parquet(inp / "dataset" / "part-0.parquet", index=False)
    (inp / "groundtruth").mkdir()
    pd.DataFrame({"inference_id": night["inference_id"][:20], "ground_truth": night["ground_truth"][:20],
                  "labeled_at": pd.Timestamp("2026-11-08T00:00Z")}).to_parquet(inp / "groundtruth" / "l.parquet")
    frame = job._partition(None)
    assert len(frame) == 50 and frame["ground_truth"].notna().sum() == 20
    assert frame.set_index("inference_id").loc[night["inference_id"][:20], "ground_truth"].tolist() == \
        night["ground_truth"][:20].tolist()
