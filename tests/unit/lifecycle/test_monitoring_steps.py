"""The monitoring steps on small generated data: baselines per version, runs per partition, ground truth.

No Airflow, no MLflow, no model library: a fixed logistic "model" scores the generated records, and the
capture files are written with the batch transform's own capture writer (``airsage.transform.capture``).
Golden values come from pandas/numpy on the same rows (means, a brute-force AUC), never from the code
under test.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from airsage.config import DataSpec, get_usecase
from airsage.data import generator
from airsage.errors import ConfigError, DataValidationError
from airsage.monitor.model_quality import binary_classification_metrics, suggest_model_quality_constraints
from airsage import layout
from airsage.lifecycle import monitoring as mon
from airsage.lifecycle import monitoring_adhoc as adhoc
from airsage.lifecycle import monitoring_alert as alerts
from airsage.lifecycle import monitoring_clarify as mclarify
from airsage.lifecycle import monitoring_data as mdata

PARTITION = dt.date(2026, 11, 21)
CAPTURED_AT = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.timezone.utc)
TRAIN_ROWS, EVAL_ROWS, SCORE_ROWS = 4000, 1000, 1500
BASE = get_usecase("credit_risk")
FEATURES = BASE.schema_.feature_names


def model_score(df: pd.DataFrame) -> np.ndarray:
    """A fixed stand-in model: the generator's main risk drivers through a logistic link."""
    z = (-2.2 + 1.6 * (650 - df["credit_score"]) / 100 + 1.2 * np.clip(df["debt_to_income"], 0, 2)
         + 1.1 * (df["revolving_utilization"] - 0.35) + 0.35 * df["num_delinquencies_2y"])
    return (1 / (1 + np.exp(-z))).to_numpy()


def make_uc(root: Path, **monitor):
    return BASE.model_copy(update={"data": DataSpec(root=str(root)),
                                   "monitor": BASE.monitor.model_copy(update=monitor)})


@pytest.fixture(scope="module")
def training(tmp_path_factory) -> dict:
    """The version's training dataset and its training job's output.tar.gz (held-out predictions and
    the model-quality baseline, as airsage.training.outputs writes them)."""
    d = tmp_path_factory.mktemp("training")
    train = generator.generate(TRAIN_ROWS, seed=5, day="2026-11-10")
    (d / "dataset").mkdir()
    train.to_parquet(d / "dataset" / "data.parquet", index=False)
    held_out = generator.generate(EVAL_ROWS, seed=6, day="2026-11-11")
    held_out["score"] = model_score(held_out)
    out = d / "output"
    out.mkdir()
    held_out.to_parquet(out / "eval_predictions.parquet", index=False)
    stats = binary_classification_metrics(held_out["default"], held_out["score"], threshold=0.5)
    (out / "model_quality.json").write_text(json.dumps(stats))
    (out / "model_quality_constraints.json").write_text(json.dumps(suggest_model_quality_constraints(stats)))
    with tarfile.open(d / "output.tar.gz", "w:gz") as tar:
        for p in out.iterdir():
            tar.add(p, arcname=p.name)
    return {"dataset": str(d / "dataset"), "output": str(d / "output.tar.gz"), "train": train, "eval": held_out}


def write_capture(uc, frame: pd.DataFrame, *, run_key: str = "run-1", version: str = "1",
                  captured_at: dt.datetime = CAPTURED_AT, day: dt.date = PARTITION) -> str:
    """A capture file exactly as the batch transform writes it."""
    import pyarrow as pa

    from airsage.transform import capture as cap

    scores = model_score(frame)
    categorical = {c: [] for c in uc.schema_.categorical_features}
    table = cap.capture_table(pa.array(frame["application_id"].astype(str)), captured_at,
                              {f: pa.array(frame[f]) for f in FEATURES}, scores, (scores > 0.5).astype(int),
                              uc.registered_model_name, version, FEATURES, categorical)
    uri = cap.capture_file_uri(uc.path("capture"), day, run_key)
    Path(uri).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, uri, **cap.write_options(table.schema, cap.ID_COLUMNS))
    return uri


def scoring_frame(drift: str = "none", n: int = SCORE_ROWS) -> pd.DataFrame:
    return generator.generate(n, seed=9, day=PARTITION, drift=drift)


def publish_labels(uc, frame: pd.DataFrame, created_at: dt.datetime, labels=None) -> str:
    """A published dataset version holding labels for ``frame``'s records."""
    from airsage.labeling.dataset import dataset_uri, publish_dataset

    rows = frame[["application_id", "default"]].copy()
    if labels is not None:
        rows["default"] = labels
    version = "ds-" + hashlib.sha1(f"{created_at.isoformat()}|{len(rows)}".encode()).hexdigest()[:12]
    uri = dataset_uri(uc, version)
    publish_dataset(rows, {"created_at": created_at.isoformat()}, "<html/>", uri, record_id="application_id")
    return uri


def baseline(uc, training, **kw) -> dict:
    return mon.suggest_baseline_for_version(uc, "1", dataset_uri=training["dataset"],
                                            output_data_uri=training["output"], run_key="train-run-1", **kw)


# =========================================================================== baselines
def test_baseline_holds_the_training_features_scores_and_model_quality(tmp_path, training):
    uc = make_uc(tmp_path, model_quality_constraints={"recall": {"threshold": 0.33,
                                                                 "comparison_operator": "LessThanThreshold"}})
    result = baseline(uc, training)
    base = Path(result["baseline_uri"])
    assert base == tmp_path / "monitor" / "baselines" / "v1" and result["created"] is True
    assert {p.name for p in base.iterdir()} >= {"statistics.json", "constraints.json", "score_statistics.json",
                                                "model_quality.json", "model_quality_constraints.json",
                                                "baseline.json", "_SUCCESS"}
    stats = json.loads((base / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == TRAIN_ROWS
    by_name = {f["name"]: f for f in stats["features"]}
    assert sorted(by_name) == sorted(FEATURES)  # the model inputs only: no id, label or sensitive column
    assert by_name["income"]["numerical_statistics"]["mean"] == pytest.approx(training["train"]["income"].mean(), rel=1e-9)
    scores = json.loads((base / "score_statistics.json").read_text())["features"][0]
    assert scores["name"] == "score"
    assert scores["numerical_statistics"]["mean"] == pytest.approx(training["eval"]["score"].mean(), rel=1e-9)
    cons = json.loads((base / "constraints.json").read_text())
    assert cons["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"
    mqc = json.loads((base / "model_quality_constraints.json").read_text())["binary_classification_constraints"]
    assert mqc["recall"] == {"threshold": 0.33, "comparison_operator": "LessThanThreshold"}  # the override
    assert "auc" in mqc  # the training job's suggestion is kept for the other metrics


def test_baseline_is_not_rewritten_unless_asked(tmp_path, training):
    uc = make_uc(tmp_path)
    first = baseline(uc, training)
    stats = Path(first["baseline_uri"]) / "statistics.json"
    before = stats.stat().st_mtime_ns
    again = baseline(uc, training)
    assert again["created"] is False and stats.stat().st_mtime_ns == before
    forced = baseline(uc, training, overwrite=True)
    assert forced["created"] is True and stats.stat().st_mtime_ns != before


def test_baseline_from_eval_predictions_alone_computes_model_quality(tmp_path, training):
    uc = make_uc(tmp_path)
    ev = tmp_path / "eval_predictions.parquet"
    training["eval"].to_parquet(ev, index=False)
    result = mon.suggest_baseline_for_version(uc, "7", dataset_uri=training["dataset"], eval_predictions_uri=str(ev),
                                              run_key="")
    mq = json.loads((Path(result["baseline_uri"]) / "model_quality.json").read_text())
    y, s = training["eval"]["default"].to_numpy(), training["eval"]["score"].to_numpy()
    tp = int(((s > 0.5) & (y == 1)).sum())
    assert mq["binary_classification_metrics"]["recall"]["value"] == pytest.approx(tp / (y == 1).sum())
    assert result["weights"] == "uniform"


# =========================================================================== runs
def test_same_distribution_raises_no_alert(tmp_path, training):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    write_capture(uc, scoring_frame())
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="manual__1")
    assert out["alert"] is False, out["reasons"]
    assert out["violations"] == 0 and out["drifted_features"] == [] and out["prediction_drift"] is False
    assert out["item_count"] == SCORE_ROWS and out["model_version"] == "1"
    run = Path(out["output_uri"])
    assert run == tmp_path / "monitor" / "runs" / "dt=2026-11-21" / "manual__1"
    assert json.loads((run / "constraint_violations.json").read_text()) == {"violations": []}
    assert (run / "report.html").read_text().count("<svg") > 30  # one chart per feature and the score
    history = list((tmp_path / "monitor" / "history" / "1").glob("*.json"))
    assert [p.name for p in history] == ["2026-11-21.json"]


def test_shifted_data_alerts_with_the_drifted_features(tmp_path, training):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    write_capture(uc, scoring_frame("shift"))
    out = mon.monitor_partition(uc, partition=dt.date(2026, 11, 21), run_key="r1")
    assert out["alert"] is True and out["dataset_drift"] is True and out["prediction_drift"] is True
    # the generator's "shift" lowers income and credit score and raises debt and utilisation
    assert {"income", "credit_score", "total_debt", "revolving_utilization"} <= set(out["drifted_features"])
    assert "age" not in out["drifted_features"] and "region" not in out["drifted_features"]
    violations = json.loads((Path(out["output_uri"]) / "constraint_violations.json").read_text())["violations"]
    assert {"feature_name": "credit_score", "constraint_check_type": "baseline_drift_check"}.items() <= next(
        v for v in violations if v["feature_name"] == "credit_score").items()
    assert any(r.startswith("data drift") for r in out["reasons"])
    assert any(r.startswith("prediction drift") for r in out["reasons"])


def test_missing_baseline_is_an_error_naming_the_fix(tmp_path):
    uc = make_uc(tmp_path)
    write_capture(uc, scoring_frame(n=600), version="4")
    with pytest.raises(DataValidationError) as err:
        mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert "model version 4 has no monitoring baseline" in str(err.value)
    assert "suggest_baseline_for_version" in str(err.value) and "suggest-baseline" in str(err.value)


def test_partition_without_capture_is_an_error(tmp_path):
    with pytest.raises(DataValidationError, match="no captured data for partition 2026-11-21"):
        mon.monitor_partition(make_uc(tmp_path), partition="2026-11-21", run_key="r1")
    with pytest.raises(ConfigError, match="not a date"):
        mon.monitor_partition(make_uc(tmp_path), partition="yesterday", run_key="r1")


def test_rerun_replaces_the_run_and_its_history_point(tmp_path, training):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    capture = write_capture(uc, scoring_frame())
    first = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    run = Path(first["output_uri"])
    (run / "stale.txt").write_text("from an older run")
    Path(capture).unlink()
    write_capture(uc, scoring_frame("shift"))  # the partition was re-scored
    second = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert first["alert"] is False and second["alert"] is True
    assert not (run / "stale.txt").exists()
    assert json.loads((run / "run.json").read_text())["alert"] is True
    assert sorted(p.name for p in run.parent.iterdir()) == ["r1"]  # no staging leftovers
    points = list((tmp_path / "monitor" / "history" / "1").glob("*.json"))
    assert len(points) == 1 and json.loads(points[0].read_text())["alert"] is True


def test_records_captured_twice_count_once_and_the_newest_version_is_judged(tmp_path, training):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    frame = scoring_frame(n=1000)
    write_capture(uc, frame, run_key="early", version="1", captured_at=CAPTURED_AT)
    write_capture(uc, frame.iloc[:600], run_key="late", version="1", captured_at=CAPTURED_AT + dt.timedelta(hours=3))
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert out["item_count"] == 1000 and out["model_version"] == "1"
    assert json.loads((Path(out["output_uri"]) / "run.json").read_text())["duplicates_dropped"] == 600
    # a newer run by another version decides the version when none is given
    write_capture(uc, frame, run_key="v2-run", version="2", captured_at=CAPTURED_AT + dt.timedelta(days=1))
    with pytest.raises(DataValidationError, match="model version 2 has no monitoring baseline"):
        mon.monitor_partition(uc, partition="2026-11-21", run_key="r2")
    assert mon.monitor_partition(uc, partition="2026-11-21", run_key="r3", model_version="1")["item_count"] == 1000
    with pytest.raises(DataValidationError, match="no row of the partition was scored by model version 3"):
        mon.monitor_partition(uc, partition="2026-11-21", run_key="r4", model_version="3")


def test_shap_importance_weights_the_drift_decision(tmp_path, training):
    """The shifted features carry no importance here, so the dataset does not drift as a whole."""
    analysis = {"explanations": {"kernel_shap": {"label0": {"global_shap_values": {
        **{f: 0.0001 for f in FEATURES}, "age": 1.0, "loan_amount": 0.8}}}}}
    weighted = make_uc(tmp_path / "w")
    path = Path(layout.clarify_analysis(weighted, "train-run-1"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(analysis))
    assert baseline(weighted, training)["weights"] == "importance"
    write_capture(weighted, scoring_frame("shift"))
    out = mon.monitor_partition(weighted, partition="2026-11-21", run_key="r1")
    assert out["weights"] == "importance" and out["dataset_drift"] is False
    assert out["drifted_features"]  # still listed, and the Model Monitor checks still alert
    uniform = make_uc(tmp_path / "u")
    baseline(uniform, training)
    write_capture(uniform, scoring_frame("shift"))
    assert mon.monitor_partition(uniform, partition="2026-11-21", run_key="r1")["dataset_drift"] is True


def test_importance_weights_need_the_feature_names():
    shap = {f: float(i + 1) for i, f in enumerate(FEATURES)}
    w = mdata.importance_weights({"explanations": {"kernel_shap": {"label0": {"global_shap_values": shap}}}}, FEATURES)
    total = sum(range(1, len(FEATURES) + 1))
    assert w[FEATURES[-1]] == pytest.approx(len(FEATURES) / total) and sum(w.values()) == pytest.approx(1.0)
    one_hot = {f"{f}_x": 1.0 for f in FEATURES}
    assert mdata.importance_weights({"explanations": {"kernel_shap": {"label0": {"global_shap_values": one_hot}}}},
                                  FEATURES) is None
    assert mdata.importance_weights({}, FEATURES) is None


# =========================================================================== model quality
def brute_force_auc(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(pos) * len(neg)))


def test_model_quality_waits_for_labels_inside_the_window(tmp_path, training):
    uc = make_uc(tmp_path, min_ground_truth_rows=200)
    baseline(uc, training)
    frame = scoring_frame()
    write_capture(uc, frame)

    before = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert before["model_quality"] == "no_ground_truth" and before["alert"] is False

    publish_labels(uc, frame, CAPTURED_AT + dt.timedelta(days=20))  # later than the 14-day window
    late = mon.monitor_partition(uc, partition="2026-11-21", run_key="r2")
    assert late["model_quality"] == "no_ground_truth_in_window" and late["ground_truth_rows"] == 0

    publish_labels(uc, frame, CAPTURED_AT + dt.timedelta(days=3))  # delayed, but in time
    ok = mon.monitor_partition(uc, partition="2026-11-21", run_key="r3")
    assert ok["model_quality"] == "ok" and ok["ground_truth_rows"] == SCORE_ROWS and ok["alert"] is False
    stats = json.loads((Path(ok["output_uri"]) / "model_quality" / "statistics.json").read_text())
    expected_auc = brute_force_auc(frame["default"].to_numpy(), model_score(frame))
    assert stats["binary_classification_metrics"]["auc"]["value"] == pytest.approx(expected_auc, abs=1e-12)
    assert stats["dataset"]["item_count"] == SCORE_ROWS


def test_wrong_predictions_raise_a_model_quality_alert(tmp_path, training):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    frame = scoring_frame()
    write_capture(uc, frame)
    publish_labels(uc, frame, CAPTURED_AT + dt.timedelta(days=2), labels=1 - frame["default"])  # the model is wrong
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert out["model_quality"] == "violations" and out["alert"] is True and out["model_quality_violations"] > 0
    violations = json.loads((Path(out["output_uri"]) / "model_quality" / "constraint_violations.json").read_text())
    assert any(v["metric_name"] == "auc" and v["constraint_check_type"] == "LessThanThreshold"
               for v in violations["violations"])
    assert any(r.startswith("model quality: Metric auc") for r in out["reasons"])


def test_too_few_labels_are_reported_not_judged(tmp_path, training):
    uc = make_uc(tmp_path, min_ground_truth_rows=500)
    baseline(uc, training)
    frame = scoring_frame()
    write_capture(uc, frame)
    publish_labels(uc, frame.iloc[:100], CAPTURED_AT + dt.timedelta(days=1), labels=1 - frame["default"].iloc[:100])
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert out["model_quality"] == "insufficient_ground_truth" and out["ground_truth_rows"] == 100
    assert out["alert"] is False


def test_review_decisions_are_ground_truth_and_the_latest_label_wins(tmp_path):
    from airsage.review.a2i import human_decision, timeout_decision, write_a2i_output

    uc = make_uc(tmp_path)
    frame = scoring_frame(n=10)
    publish_labels(uc, frame, CAPTURED_AT + dt.timedelta(hours=5))
    ids = frame["application_id"].tolist()
    truth = dict(zip(ids, frame["default"]))
    routed = CAPTURED_AT + dt.timedelta(hours=1)
    payload = {"inference_id": ids[0], "model_label": int(truth[ids[0]])}
    write_a2i_output(human_decision(payload, decision="override", label=1 - int(truth[ids[0]]), reviewer="ana",
                                    created_at=routed, submitted_at=CAPTURED_AT + dt.timedelta(hours=9)),
                     uc.path("review", "a2i"), "credit-risk-review")
    payload = {"inference_id": ids[1], "model_label": 1 - int(truth[ids[1]])}
    write_a2i_output(timeout_decision(payload, uc.review, created_at=routed), uc.path("review", "a2i"),
                     "credit-risk-review")
    labels = mdata.load_ground_truth(uc, ids)
    assert sorted(labels["source"].unique()) == ["dataset:" + p.name for p in (tmp_path / "datasets").glob("ds-*")] + ["review"]
    assert len(labels[labels["source"] == "review"]) == 1  # the timeout default is not ground truth
    captured = pd.DataFrame({"inference_id": ids, "captured_at": CAPTURED_AT, "score": 0.5, "predicted_label": 0})
    from airsage.monitor.model_quality import join_ground_truth

    joined = join_ground_truth(captured, labels, label_col="label", label_time_col="labeled_at").set_index("inference_id")
    assert joined.loc[ids[0], "ground_truth"] == 1 - truth[ids[0]]  # the reviewer answered after the dataset
    assert joined.loc[ids[1], "ground_truth"] == truth[ids[1]]


def test_binary_labels_map_positive_values_and_keep_missing_apart():
    out = mdata.binary_labels(pd.Series([1, 0, None, 1.0, "1", "yes"], dtype=object), [1])
    assert out.tolist() == [1, 0, -1, 1, 1, 0]
    assert mdata.binary_labels(["default", "ok", None], ["default"]).tolist() == [1, 0, -1]


# =========================================================================== alert text and CLI
def test_alert_text_names_partitions_reasons_and_report(tmp_path):
    uc = make_uc(tmp_path, retrain_on_alert=True)
    runs = [{"alert": True, "partition": "2026-11-21", "model_version": "3", "item_count": 10,
             "reasons": ["data drift: <income>"], "report_uri": "/r/report.html"},
            {"alert": False, "partition": "2026-11-20", "model_version": "3", "reasons": []}]
    msg = alerts.format_alert(uc, runs)
    assert msg["subject"] == "[airsage] credit_risk: monitoring alert for 2026-11-21 (v3)"
    assert "data drift: <income>" in msg["text"] and "/r/report.html" in msg["text"]
    assert "credit_risk__train DAG is triggered" in msg["text"]
    assert "&lt;income&gt;" in msg["html"] and "<income>" not in msg["html"]


def cli_frame(n: int, seed: int, drift: str = "none") -> pd.DataFrame:
    df = generator.generate(n, seed=seed, day="2026-11-01", drift=drift)[["income", "credit_score", "region"]]
    return df.astype({"credit_score": "int64"})  # written as 650, read back as an integer column


def test_cli_baseline_and_analysis_of_csv_without_a_use_case(tmp_path):
    base_df = cli_frame(3000, 1)
    base_df.to_csv(tmp_path / "base.csv", index=False)
    out = adhoc.suggest_dataset_baseline(str(tmp_path / "base.csv"), str(tmp_path / "baseline"))
    assert out["inferred"] is True and out["features"] == 3 and out["item_count"] == 3000
    kinds = {f["name"]: f["inferred_type"] for f in json.loads((tmp_path / "baseline" / "statistics.json").read_text())["features"]}
    assert kinds == {"income": "Fractional", "credit_score": "Integral", "region": "String"}
    same = cli_frame(2000, 2)
    same.to_csv(tmp_path / "same.csv", index=False)
    ok = adhoc.analyze_dataset(str(tmp_path / "same.csv"), str(tmp_path / "baseline"), str(tmp_path / "a1"))
    assert ok["alert"] is False and ok["n_violations"] == 0
    shifted = cli_frame(2000, 2, "shift")
    shifted.to_parquet(tmp_path / "shifted.parquet", index=False)
    bad = adhoc.analyze_dataset(str(tmp_path / "shifted.parquet"), str(tmp_path / "baseline"), str(tmp_path / "a2"))
    assert bad["alert"] is True and {"income", "credit_score"} <= set(bad["drifted_features"])
    assert {p.name for p in (tmp_path / "a2").iterdir()} >= {"constraint_violations.json", "statistics.json",
                                                             "drift.json", "summary.json", "report.html"}


def test_cli_with_a_use_case_profiles_its_features_only(tmp_path, training):
    out = adhoc.suggest_dataset_baseline(training["dataset"], str(tmp_path / "b"), usecase="credit_risk")
    assert out["features"] == len(FEATURES) and out["inferred"] is False
    frame = scoring_frame(n=800)
    frame.to_parquet(tmp_path / "current.parquet", index=False)  # ids, label, sensitive columns included
    res = adhoc.analyze_dataset(str(tmp_path / "current.parquet"), str(tmp_path / "b"), str(tmp_path / "o"),
                          usecase="credit_risk")
    assert res["alert"] is False and res["n_violations"] == 0, res


# =========================================================================== plan -> monitor job -> finish
def test_baseline_files_are_those_of_the_in_process_profile(tmp_path, training):
    """The suggest-baseline job writes what profiling the training features in-process writes."""
    from airsage.monitor.baseline import suggest_baseline

    uc = make_uc(tmp_path, comparison_method="Simple", comparison_threshold=0.2)
    base = Path(baseline(uc, training)["baseline_uri"])
    stats, cons = suggest_baseline(training["dataset"], features={f.name: f.type for f in uc.schema_.features},
                                   comparison_method="Simple", comparison_threshold=0.2)
    for name, doc in (("statistics.json", stats), ("constraints.json", cons)):
        assert (base / name).read_text() == json.dumps(doc, indent=2, default=str) + "\n", name
    meta = json.loads((base / "baseline.json").read_text())
    assert sorted(p.name for p in base.iterdir()) == sorted([*meta["files"], "_SUCCESS"])  # no staging left behind


def test_a_complete_baseline_runs_no_job_and_jobs_run_on_the_usecase_backend(tmp_path, training, monkeypatch):
    from airsage.lifecycle import common

    calls = []
    real = common.backend_for

    def recording(uc, job, **kw):
        calls.append(job)
        return real(uc, job, **kw)

    monkeypatch.setattr(common, "backend_for", recording)
    uc = make_uc(tmp_path)
    baseline(uc, training)
    assert calls == ["monitor"]
    plan = mon.plan_baseline(uc, "1", dataset_uri=training["dataset"])
    assert plan["needed"] is False and plan["result"]["created"] is False
    assert baseline(uc, training)["created"] is False and calls == ["monitor"]  # kept: no second job
    write_capture(uc, scoring_frame(n=600))
    mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert calls == ["monitor", "monitor"]


def test_run_files_are_those_of_the_in_process_monitor(tmp_path, training):
    """The analyze job over the staged capture judges exactly what an in-process monitor_data does."""
    from airsage.monitor.data_monitor import monitor_data
    from airsage.monitor.drift import DriftThresholds

    uc = make_uc(tmp_path)
    baseline(uc, training)
    uri = write_capture(uc, scoring_frame("shift"))
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    base, run = Path(out["baseline_uri"]), Path(out["output_uri"])
    current = pq.read_table(uri).to_pandas().drop(columns=[c for c in mdata.CAPTURE_META if c != "score"])
    m = uc.monitor
    stats, cons = (json.loads((base / n).read_text()) for n in ("statistics.json", "constraints.json"))
    expected = monitor_data(current, stats, cons,
                            thresholds=DriftThresholds(psi_threshold=m.psi_threshold, js_threshold=m.js_threshold,
                                                       wasserstein_threshold=m.wasserstein_threshold,
                                                       drifted_share_alert=m.drifted_share_alert,
                                                       min_rows=m.min_drift_rows),
                            score_column="score",
                            score_statistics=json.loads((base / "score_statistics.json").read_text()))
    expected.write(str(tmp_path / "expected"))
    for name in ("statistics.json", "constraint_violations.json", "drift.json", "summary.json"):
        assert (run / name).read_text() == (tmp_path / "expected" / name).read_text(), name
    assert out["drifted_features"] == expected.drift.drifted_features and out["item_count"] == SCORE_ROWS
    assert sorted(p.name for p in run.iterdir()) == ["_SUCCESS", "constraint_violations.json", "drift.json",
                                                     "report.html", "run.json", "statistics.json", "summary.json"]


def test_plan_stages_the_judged_rows_and_names_one_job_per_partition(tmp_path, training):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    frame = scoring_frame(n=1000)
    write_capture(uc, frame, run_key="early", captured_at=CAPTURED_AT)
    write_capture(uc, frame.iloc[:600], run_key="late", captured_at=CAPTURED_AT + dt.timedelta(hours=3))
    write_capture(uc, scoring_frame(n=300), day=PARTITION - dt.timedelta(days=1))
    plan = mon.plan_partition(uc, partition="2026-11-21", run_key="r1")
    staged = pd.read_parquet(plan["job"]["dataset_uri"])
    assert len(staged) == plan["item_count"] == 1000 and plan["duplicates_dropped"] == 600
    assert set(staged.columns) == set(FEATURES) | {"score"}  # the judged columns only
    meta = pd.read_parquet(plan["meta_uri"])
    assert sorted(meta["inference_id"]) == sorted(frame["application_id"].astype(str))  # each record once
    assert Path(plan["meta_uri"]).parent == tmp_path / "monitor" / "runs" / "dt=2026-11-21" / "r1" / "_staging"
    assert mon.plan_partition(uc, partition="2026-11-21", run_key="r1")["job"] == plan["job"]  # deterministic
    other = mon.plan_partition(uc, partition="2026-11-20", run_key="r1")
    assert len({mon.monitor_spec(uc, run_key="r1", **p["job"]).name for p in (plan, other)}) == 2


def test_baseline_and_run_on_an_s3_root_with_the_local_backend(aws, tmp_path, training):
    """Every job input is a staged directory: the local backend downloads them from S3 like SageMaker."""
    import boto3

    from airsage import storage

    boto3.client("s3").create_bucket(Bucket="airsage-monitor")
    root = "s3://airsage-monitor/data"
    uc = make_uc(root)
    storage.upload_file(Path(training["dataset"]) / "data.parquet", f"{root}/train/ds-1/data.parquet")
    storage.upload_file(training["output"], f"{root}/train/output.tar.gz")
    made = mon.suggest_baseline_for_version(uc, "1", dataset_uri=f"{root}/train/ds-1",
                                            output_data_uri=f"{root}/train/output.tar.gz", run_key="")
    assert made["created"] is True and made["item_count"] == TRAIN_ROWS
    local_uc = make_uc(tmp_path / "local")
    capture = write_capture(local_uc, scoring_frame("shift"))
    storage.upload_file(capture, uc.path("capture", "dt=2026-11-21", Path(capture).name))
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert out["alert"] is True and out["item_count"] == SCORE_ROWS and out["prediction_drift"] is True
    assert storage.is_complete(out["output_uri"]) and storage.is_complete(made["baseline_uri"])
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="airsage-monitor")["Contents"]]
    assert not [k for k in keys if "/_staging/" in k]  # the published directories replaced the staging
    assert {k.rsplit("/", 1)[-1] for k in keys if k.startswith("data/monitor/runs/")} == {
        "_SUCCESS", "constraint_violations.json", "drift.json", "report.html", "run.json", "statistics.json",
        "summary.json"}


# =========================================================================== bias and attribution drift, nightly
NUMERIC = [f for f in FEATURES if f in generator.NUMERIC]


@pytest.fixture(scope="module")
def clarified(tmp_path_factory, training):
    """A small XGBoost version of the example data (numeric inputs) as a model.tar.gz, and its
    post-training Clarify analysis (bias per facet with labels, global SHAP) as the training run wrote it."""
    xgb = pytest.importorskip("xgboost")
    from airsage.clarify.gates import analysis_config_for_usecase
    from airsage.model import ModelBundle
    from airsage.monitor import clarify_monitors as cm

    d = tmp_path_factory.mktemp("clarified")
    train = training["train"]
    dm = xgb.DMatrix(train[NUMERIC].to_numpy(np.float32), label=train["default"], feature_names=NUMERIC)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3, "seed": 0, "nthread": 1},
                        dm, num_boost_round=30)
    model = ModelBundle(algorithm="xgboost", feature_names=NUMERIC, categorical={}, booster=booster, label="default")
    model.save(d / "model")
    with tarfile.open(d / "model.tar.gz", "w:gz") as tar:
        for p in (d / "model").iterdir():
            tar.add(p, arcname=p.name)
    held_out = training["eval"].assign(score=model.predict_proba(training["eval"]))
    spec = cm.BiasSpec.from_analysis_config(analysis_config_for_usecase(BASE, stage="post"))
    bias = cm.partition_bias_analysis(held_out, spec, ground_truth_column="default")
    shap = cm.partition_attributions(held_out, model, NUMERIC, sample_size=1000)
    return {"model": model, "artifact": str(d / "model.tar.gz"), "analysis": {**bias, "explanations": shap["explanations"]}}


def clarify_uc(tmp_path, training, clarified, monkeypatch, *, bounds=None):
    """A use case whose version 1 has a baseline, a Clarify analysis (run key train-run-1) and a model."""
    from airsage.registry import tags as rt

    uc = make_uc(tmp_path)
    baseline(uc, training)
    analysis = Path(layout.clarify_analysis(uc, "train-run-1"))
    analysis.parent.mkdir(parents=True)
    analysis.write_text(json.dumps(clarified["analysis"]))
    monkeypatch.setattr(mclarify, "_version_tags", lambda uc, v: {rt.TAG_MODEL_ARTIFACT: clarified["artifact"]})
    if bounds is not None:
        monkeypatch.setenv("AIRSAGE_MONITOR_BIAS_BOUNDS", json.dumps(bounds))
    return uc


def score_partition(uc, clarified, **knobs) -> pd.DataFrame:
    """The partition's records (with the pass-through facets) where the batch transform reads them, and
    their capture (features and scores only, as the transform writes it)."""
    frame = generator.generate(SCORE_ROWS, seed=9, day=PARTITION, **knobs)
    src = Path(layout.scoring(uc, PARTITION))
    src.mkdir(parents=True)
    frame.drop(columns=["default", "label_available_at"]).to_parquet(src / "part-00000.parquet", index=False)
    write_capture(uc, frame)
    return frame.assign(score=model_score(frame))


def test_nightly_run_writes_bias_and_attribution_drift_with_facets_joined(tmp_path, training, clarified, monkeypatch):
    uc = clarify_uc(tmp_path, training, clarified, monkeypatch, bounds={"DPPL": 0.2, "DI": 0.5})
    frame = score_partition(uc, clarified)
    plan = mon.plan_partition(uc, partition="2026-11-21", run_key="r1")
    job = plan["job"]
    staged = pd.read_parquet(job["dataset_uri"])
    # ids, times and the pass-through facets joined by record id ride along; data quality leaves them out
    assert set(staged.columns) == set(FEATURES) | {"score", "inference_id", "captured_at", "sex", "age_group"}
    by_id = frame.set_index(frame["application_id"].astype(str))
    assert (staged["sex"].to_numpy() == by_id.loc[staged["inference_id"], "sex"].to_numpy()).all()
    spec = mon.monitor_spec(uc, run_key="r1", **job)
    assert spec.inputs["model"] == clarified["artifact"] and "clarify_baseline" in spec.inputs
    assert "groundtruth" not in spec.inputs  # no label arrived yet
    assert json.loads(spec.environment["AIRSAGE_MONITOR_EXCLUDE"]) == ["inference_id", "captured_at", "sex", "age_group"]
    out = mon.finish_partition(uc, plan, mon.run_job(uc, job, "r1"))
    run = Path(out["output_uri"])
    for kind in ("bias_drift", "feature_attribution_drift"):
        assert {"analysis.json", "constraint_violations.json"} <= {p.name for p in (run / kind).iterdir()}
    analysis = json.loads((run / "bias_drift" / "analysis.json").read_text())
    # DPPL of sex=female by hand: predicted positive rate of men minus that of women (captured score > 0.5)
    pred = (frame["score"] > 0.5).to_numpy()
    female = (frame["sex"] == "female").to_numpy()
    metrics = {m["name"]: m["value"] for m in analysis["post_training_bias_metrics"]["facets"]["sex"][0]["metrics"]}
    assert metrics["DPPL"] == pytest.approx(pred[~female].mean() - pred[female].mean(), abs=1e-9)
    assert analysis["airsage"]["judge_unbounded"] is False  # bounded: only DPPL and DI are judged
    assert out["bias_drift"]["compared"] == 4 and out["bias_drift"]["rows"] == SCORE_ROWS
    assert out["feature_attribution_drift"]["status"] == "ok" and out["feature_attribution_drift"]["ndcg"] > 0.95
    assert out["feature_attribution_drift"]["top_features"][0] == "credit_score"
    point = json.loads((tmp_path / "monitor" / "history" / "1" / "2026-11-21.json").read_text())
    assert point["attribution_ndcg"] == out["feature_attribution_drift"]["ndcg"]
    assert point["bias_drift_violations"] == out["bias_drift"]["n_violations"]
    page = (run / "report.html").read_text()
    assert "Bias metrics: baseline" in page and "Mean |SHAP| per feature" in page and "train-run-1" not in page
    run_doc = json.loads((run / "run.json").read_text())
    assert run_doc["clarify_inputs"]["runs"] == ["bias", "attribution"]


def test_a_fairness_regression_raises_bias_drift_and_names_it_in_the_alert(tmp_path, training, clarified, monkeypatch):
    uc = clarify_uc(tmp_path, training, clarified, monkeypatch, bounds={"DPPL": 0.1, "DI": 0.3})
    score_partition(uc, clarified, fairness_shift=1.0)
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")
    assert out["alert"] is True and out["bias_drift"]["alert"] is True
    assert any(v.startswith("DPPL sex=female") for v in out["bias_drift"]["violations"])
    msg = alerts.format_alert(uc, [out])
    assert msg["subject"].endswith("bias drift") or "bias drift" in msg["subject"]
    assert "bias drift:" in msg["text"] and "feature attribution drift: NDCG" in msg["text"]


def test_ground_truth_is_staged_for_the_label_metrics(tmp_path, training, clarified, monkeypatch):
    uc = clarify_uc(tmp_path, training, clarified, monkeypatch)
    frame = score_partition(uc, clarified)
    publish_labels(uc, frame.iloc[:700], CAPTURED_AT + dt.timedelta(days=2))
    plan = mon.plan_partition(uc, partition="2026-11-21", run_key="r1")
    labels = pd.read_parquet(plan["job"]["groundtruth_uri"])
    assert len(labels) == 700 and set(labels.columns) == {"inference_id", "ground_truth", "labeled_at"}
    out = mon.finish_partition(uc, plan, mon.run_job(uc, plan["job"], "r1"))
    assert out["bias_drift"]["labelled_rows"] == 700 and out["bias_drift"]["rows"] == SCORE_ROWS
    analysis = json.loads((Path(out["output_uri"]) / "bias_drift" / "analysis.json").read_text())
    names = {m["name"] for m in analysis["post_training_bias_metrics"]["facets"]["sex"][0]["metrics"]}
    assert {"DPPL", "DI", "DCA", "RD", "AD"} <= names  # the label metrics came with the labels
    # bounded by gates.max_bias (DPPL, DI): the label metrics are reported, not judged
    assert analysis["airsage"]["bounds"] == {"DPPL": 0.2, "DI": 0.5} and out["bias_drift"]["compared"] == 4
    # no bounds at all (empty gates.max_bias, no override): Clarify's rule judges every metric
    open_uc = uc.model_copy(update={"gates": uc.gates.model_copy(update={"max_bias": {}})})
    out = mon.monitor_partition(open_uc, partition="2026-11-21", run_key="r2")
    analysis = json.loads((Path(out["output_uri"]) / "bias_drift" / "analysis.json").read_text())
    assert analysis["airsage"]["judge_unbounded"] is True and out["bias_drift"]["compared"] > 4


def test_clarify_monitors_are_skipped_with_a_reason_or_turned_off(tmp_path, training, clarified, monkeypatch):
    uc = make_uc(tmp_path)
    baseline(uc, training)
    score_partition(uc, clarified)
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r1")  # no Clarify analysis of version 1
    assert out["bias_drift"]["status"] == "not_run" and "no post-training Clarify analysis" in out["bias_drift"]["reason"]
    assert not (Path(out["output_uri"]) / "bias_drift").exists()
    uc = clarify_uc(tmp_path / "off", training, clarified, monkeypatch)
    score_partition(uc, clarified)
    monkeypatch.setenv("AIRSAGE_MONITOR_CLARIFY_MONITORS", "bias")
    plan = mon.plan_partition(uc, partition="2026-11-21", run_key="r1")
    assert "model_uri" not in plan["job"] and "clarify_baseline_uri" in plan["job"]
    monkeypatch.setenv("AIRSAGE_MONITOR_CLARIFY_MONITORS", "none")
    out = mon.monitor_partition(uc, partition="2026-11-21", run_key="r2")
    assert out["feature_attribution_drift"] == {"status": "not_run",
                                                "reason": "turned off (AIRSAGE_MONITOR_CLARIFY_MONITORS)"}
    monkeypatch.setenv("AIRSAGE_MONITOR_CLARIFY_MONITORS", "bias,shap")
    with pytest.raises(ConfigError, match="AIRSAGE_MONITOR_CLARIFY_MONITORS"):
        mon.plan_partition(uc, partition="2026-11-21", run_key="r3")
