"""``python -m airsage.entrypoints.monitor`` under the Model Monitor processing contract (bring-your-own-container inputs)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airsage.data import generator
from airsage.entrypoints import monitor as job

ENV = ("AIRSAGE_MONITOR_MODE", "analysis_type", "dataset_format", "dataset_source", "output_path",
       "baseline_statistics", "baseline_constraints", "AIRSAGE_MONITOR_FEATURES", "AIRSAGE_MONITOR_EXCLUDE",
       "AIRSAGE_USECASE", "ground_truth_attribute", "probability_attribute", "record_preprocessor_script")


@pytest.fixture()
def opt_ml(tmp_path, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(tmp_path))
    return tmp_path


def _put(opt_ml, name: str, df: pd.DataFrame, fmt: str = "parquet"):
    d = opt_ml / "processing" / "input" / name
    d.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        df.to_parquet(d / "part-0.parquet", index=False)
    else:
        df.to_csv(d / "part-0.csv", index=False)
    return d


def test_data_quality_baseline_then_analysis(opt_ml, monkeypatch, features):
    _put(opt_ml, "baseline_dataset_input", generator.generate(20_000, seed=51))
    monkeypatch.setenv("AIRSAGE_USECASE", "credit_risk")  # features and id/label columns from the use case
    job.main()  # no baseline yet -> suggest-baseline
    out = opt_ml / "processing" / "output"
    stats = json.loads((out / "statistics.json").read_text())
    cons = json.loads((out / "constraints.json").read_text())
    assert [f["name"] for f in stats["features"]] == list(features)
    assert cons["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"

    base = opt_ml / "processing" / "baseline"
    for kind in ("statistics", "constraints"):
        (base / kind).mkdir(parents=True)
        (base / kind / f"{kind}.json").write_text((out / f"{kind}.json").read_text())
    current = generator.generate(20_000, seed=52, day="2026-11-03", drift="missing")
    _put(opt_ml, "dataset", current, fmt="csv")
    monkeypatch.setenv("dataset_format", '{"csv": {"header": true}}')
    monkeypatch.setenv("output_path", str(opt_ml / "analysis"))
    job.main()  # the default baseline files exist -> analyze
    res = opt_ml / "analysis"
    violations = json.loads((res / "constraint_violations.json").read_text())["violations"]
    assert {v["feature_name"] for v in violations if v["constraint_check_type"] == "completeness_check"} == set(
        generator.MISSING_COLUMNS)
    assert not [v for v in violations if v["constraint_check_type"] in ("extra_column_check", "missing_column_check")]
    assert json.loads((res / "summary.json").read_text())["alert"] is True
    assert (res / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((res / "statistics.json").read_text())["dataset"]["item_count"] == 20_000


def test_model_quality_baseline_and_violations(opt_ml, monkeypatch):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    good = pd.DataFrame({"inference_id": [f"i{i}" for i in range(2000)], "ground_truth": y,
                         "score": np.clip(0.5 * y + rng.normal(0.25, 0.15, 2000), 0, 1)})
    _put(opt_ml, "baseline_dataset_input", good)
    monkeypatch.setenv("analysis_type", "MODEL_QUALITY")
    monkeypatch.setenv("AIRSAGE_MONITOR_MODE", "suggest-baseline")
    job.main()
    out = opt_ml / "processing" / "output"
    cons = json.loads((out / "constraints.json").read_text())
    assert cons["binary_classification_constraints"]["auc"]["comparison_operator"] == "LessThanThreshold"
    assert "confusion_matrix" in json.loads((out / "statistics.json").read_text())["binary_classification_metrics"]

    cons_path = opt_ml / "mq_constraints.json"
    cons_path.write_text(json.dumps(cons))
    bad = good.assign(score=rng.random(2000))  # a model that lost its signal
    _put(opt_ml, "dataset", bad.drop(columns=["ground_truth"]))
    _put(opt_ml, "groundtruth", bad[["inference_id", "ground_truth"]])  # labels joined by inference id
    monkeypatch.setenv("AIRSAGE_MONITOR_MODE", "analyze")
    monkeypatch.setenv("baseline_constraints", str(cons_path))
    monkeypatch.setenv("output_path", str(opt_ml / "mq"))
    job.main()
    names = {v["metric_name"] for v in json.loads((opt_ml / "mq" / "constraint_violations.json").read_text())["violations"]}
    assert {"auc", "accuracy"} <= names


def test_bias_drift_job(opt_ml, monkeypatch):
    def analysis(ci):
        return {"pre_training_bias_metrics": {"facets": {"sex": [
            {"value_or_threshold": "female", "metrics": [{"name": "CI", "description": "CI", "value": ci}]}]}}}

    (opt_ml / "baseline.json").write_text(json.dumps(analysis(0.1)))
    cur = opt_ml / "processing" / "input" / "dataset"
    cur.mkdir(parents=True)
    (cur / "analysis.json").write_text(json.dumps(analysis(-0.2)))
    monkeypatch.setenv("analysis_type", "MODEL_BIAS")
    monkeypatch.setenv("baseline_constraints", str(opt_ml / "baseline.json"))
    job.main()
    doc = json.loads((opt_ml / "processing" / "output" / "constraint_violations.json").read_text())
    assert doc["version"] == "1.0" and [v["metric_name"] for v in doc["violations"]] == ["CI"]


def test_unsupported_settings_fail_the_job_with_a_reason(opt_ml, monkeypatch):
    monkeypatch.setenv("record_preprocessor_script", "s3://bucket/pre.py")
    with pytest.raises(SystemExit) as exc:
        job.main()
    assert exc.value.code == 1
    assert "record_preprocessor_script" in (opt_ml / "output" / "failure").read_text()
    monkeypatch.delenv("record_preprocessor_script")
    monkeypatch.setenv("AIRSAGE_MONITOR_MODE", "baseline-please")
    with pytest.raises(SystemExit):
        job.main()
    assert "AIRSAGE_MONITOR_MODE" in (opt_ml / "output" / "failure").read_text()
