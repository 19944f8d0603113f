"""The monitoring DAG end to end: ``airflow dags test credit_risk__monitor`` on a drifted partition.

Setup (no demo run, no scheduler): in an isolated home, a copy of the example use case with a small
generator, a drifted scoring partition (``generator.drift: shift``), no bias gate (no Clarify job here)
and ``monitor.retrain_on_alert``; then, in one subprocess through ``airsage.lifecycle``: example data
(3 days x 800 rows), label import, a local training job, registration, approval, the version's monitoring
baseline and a local batch transform writing the capture.

Asserts the task states (monitor -> branch -> notify -> trigger, ``no_alert`` skipped), the Model Monitor
files and the report, the history point, the log notifier's message and the triggered training run.

The version's post-training Clarify job runs after its baseline is suggested (so the baseline keeps
uniform weights), which turns on the Clarify-based monitors: every run writes bias drift and
feature-attribution drift. Two more scored partitions, one with an injected fairness regression
(``generator.generate(fairness_shift=1)``) and one with an injected attribution shift
(``attribution_shift=1``), each go through the DAG once and must alert through that monitor.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PARTITION = "2026-11-21"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

PREPARE = f"""
import json
from airsage.lifecycle import common, governance, labels, training, transform
from airsage.compute import get_backend
from airsage.config import get_usecase
from airsage.lifecycle.monitoring import suggest_baseline_for_version

uc = get_usecase("credit_risk")
data = labels.prepare_example_data(uc, end_date="{PARTITION}", days=3, rows_per_day=800)
labels.import_labels(uc, data["manifest"], log_lineage=False)
dataset = labels.latest_dataset(uc).to_dict()
backend = get_backend("local")
status = backend.run(training.train_spec(uc, dataset, "e2e-train"), poll_s=1)
job = {{"outputs": dict(status.outputs)}}
registered = training.register_trained(uc, job=job, dataset=dataset, run_key="e2e-train", actor="e2e")
assert registered["passed"], registered["gates"]
governance.decide(uc, registered["version"], "approve", actor="e2e-approver", comment="e2e: gates passed")
# no run_key: the step reads it from the version's tags (the Clarify lookup path)
baseline = suggest_baseline_for_version(uc, registered["version"], dataset_uri=dataset["uri"],
                                        output_data_uri=job["outputs"]["output_data"])
# the version's post-training Clarify analysis (bias metrics + SHAP): the Clarify-based monitors' baseline
from airsage.lifecycle.clarify import clarify_plan, clarify_spec
post = clarify_plan(uc, job=job, dataset=dataset, run_key="e2e-train")["post"]
backend.run(clarify_spec(uc, run_key="e2e-train", **post), poll_s=1)
model = governance.resolve_model(uc)
backend.run(transform.transform_spec(uc, model, common.partition_for("{PARTITION}"), "e2e-score"), poll_s=1)
print("PREPARED " + json.dumps({{"version": registered["version"], "baseline": baseline}}))
"""


SHIFTED = {"2026-11-22": {"fairness_shift": 1.0}, "2026-11-23": {"attribution_shift": 1.0}}
SCORE_SHIFTED = f"""
import json
from airsage import layout, storage
from airsage.config import get_usecase
from airsage.data.generator import generate
from airsage.lifecycle import common, governance, transform
from airsage.compute import get_backend

uc = get_usecase("credit_risk")
model = governance.resolve_model(uc)
for day, knobs in {SHIFTED!r}.items():
    df = generate(800, seed=uc.generator.seed, day=day, bias_strength=uc.generator.bias_strength, **knobs)
    with storage.atomic_path(storage.join(layout.scoring(uc, day), "part-00000.parquet")) as tmp:
        df.drop(columns=[uc.schema_.label, "label_available_at"]).to_parquet(tmp, index=False)
    get_backend("local").run(transform.transform_spec(uc, model, common.partition_for(day), "e2e-score"), poll_s=1)
print("SCORED")
"""


def run(cmd: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def usecase_copy(target: Path) -> None:
    import yaml

    doc = yaml.safe_load((REPO / "include" / "usecases" / "credit_risk.yaml").read_text())
    doc["generator"].update({"rows_per_day": 800, "history_days": 3, "drift": "shift"})
    doc["training"]["hyperparameters"]["num_round"] = 40
    doc["gates"].update({"max_bias": {}, "min_auc": 0.6})
    doc["monitor"].update({"notifiers": ["log"], "retrain_on_alert": True})
    target.mkdir()
    (target / "credit_risk.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from airsage.devenv import airflow_env

    home = tmp_path_factory.mktemp("monitor-e2e")
    usecase_copy(home / "usecases")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRSAGE__", "AIRFLOW", "MLFLOW_"))}
    # bias drift judged by bounds (the use case's gates.max_bias is empty here: no Clarify before its gates)
    return {**airflow_env(home, base=base), "AIRSAGE__USECASES_DIR": str(home / "usecases"),
            "AIRSAGE_MONITOR_BIAS_BOUNDS": json.dumps({"DPPL": 0.2, "DI": 0.5})}


@pytest.fixture(scope="module")
def monitored(env):
    prep = run([sys.executable, "-c", PREPARE], env)
    assert prep.returncode == 0, (prep.stdout + prep.stderr)[-5000:]
    prepared = json.loads(prep.stdout.split("PREPARED ", 1)[1].splitlines()[0])
    for cmd in (["db", "migrate"], ["dags", "reserialize"]):  # the trigger needs credit_risk__train in the DB
        proc = run([AIRFLOW, *cmd], env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    proc = run([AIRFLOW, "dags", "test", "credit_risk__monitor", "-c", json.dumps({"partition": PARTITION})], env)
    return {"prepared": prepared, "proc": proc, "data": Path(env["AIRSAGE__HOME"]) / "data" / "credit_risk"}


def airflow_db(env) -> sqlite3.Connection:
    return sqlite3.connect(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///").split("?")[0])


@pytest.mark.e2e
def test_drifted_partition_alerts_notifies_and_triggers_retraining(monitored, env):
    proc = monitored["proc"]
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    with airflow_db(env) as db:
        run_id, state = db.execute("SELECT run_id, state FROM dag_run WHERE dag_id='credit_risk__monitor'").fetchone()
        states = dict(db.execute("SELECT task_id, state FROM task_instance WHERE dag_id='credit_risk__monitor' "
                                 "AND run_id=?", (run_id,)).fetchall())
        triggered = [r[0] for r in db.execute("SELECT run_id FROM dag_run WHERE dag_id='credit_risk__train'")]
    assert state == "success"
    assert states == {"plan_monitoring": "success", "run_monitor_job": "success", "monitor_partition": "success",
                      "branch_on_alert": "success", "notify_alert": "success",
                      "trigger_retraining": "success", "no_alert": "skipped"}, states
    assert triggered == [f"monitor_alert__{run_id}"]

    version = monitored["prepared"]["version"]
    runs = list((monitored["data"] / "monitor" / "runs" / f"dt={PARTITION}").iterdir())
    assert len(runs) == 1
    result = json.loads((runs[0] / "run.json").read_text())
    assert result["alert"] is True and result["model_version"] == version and result["item_count"] == 800
    assert result["prediction_drift"] is True and "credit_score" in result["drifted_features"]
    violations = json.loads((runs[0] / "constraint_violations.json").read_text())["violations"]
    assert any(v["constraint_check_type"] == "baseline_drift_check" for v in violations)
    assert "ALERT" in (runs[0] / "report.html").read_text()
    assert (monitored["data"] / "monitor" / "history" / version / f"{PARTITION}.json").exists()
    # the Clarify-based monitors ran on the nightly partition, in SageMaker's layout
    for kind in ("bias_drift", "feature_attribution_drift"):
        assert {"analysis.json", "constraint_violations.json"} <= {p.name for p in (runs[0] / kind).iterdir()}
        assert result[kind]["status"] in ("ok", "violations"), result[kind]
    analysis = json.loads((runs[0] / "bias_drift" / "analysis.json").read_text())
    assert set(analysis["post_training_bias_metrics"]["facets"]) == {"sex", "age_group"}
    assert analysis["airsage"]["rows"] == 800 and analysis["airsage"]["bounds"] == {"DPPL": 0.2, "DI": 0.5}

    logs = out + "".join(p.read_text(errors="replace") for p in (Path(env["AIRFLOW_HOME"]) / "logs").rglob("*")
                         if p.is_file() and "notify_alert" in str(p))
    assert f"[airsage] credit_risk: monitoring alert for {PARTITION} (v{version})" in logs


@pytest.mark.e2e
def test_the_baseline_belongs_to_the_version(monitored):
    base = Path(monitored["prepared"]["baseline"]["baseline_uri"])
    assert base.name == f"v{monitored['prepared']['version']}"
    assert {"statistics.json", "constraints.json", "score_statistics.json", "model_quality.json",
            "model_quality_constraints.json", "baseline.json"} <= {p.name for p in base.iterdir()}
    meta = json.loads((base / "baseline.json").read_text())
    assert meta["run_key"] == "e2e-train" and meta["weights"] == "uniform"  # no Clarify job ran here


@pytest.fixture(scope="module")
def shifted(monitored, env):
    """The two shifted partitions scored by the approved version, then one DAG run each."""
    prep = run([sys.executable, "-c", SCORE_SHIFTED], env)
    assert prep.returncode == 0, (prep.stdout + prep.stderr)[-5000:]
    out = {}
    for i, day in enumerate(SHIFTED):
        proc = run([AIRFLOW, "dags", "test", "credit_risk__monitor", f"2026-12-0{i + 1}T00:00:00+00:00",
                    "-c", json.dumps({"partition": day})], env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
        (run_dir,) = (monitored["data"] / "monitor" / "runs" / f"dt={day}").iterdir()
        out[day] = {"run": json.loads((run_dir / "run.json").read_text()), "dir": run_dir, "proc": proc}
    return out


def _violations(run_dir: Path, kind: str) -> list[dict]:
    return json.loads((run_dir / kind / "constraint_violations.json").read_text())["violations"]


@pytest.mark.e2e
def test_an_injected_fairness_regression_alerts_through_the_dag(shifted, env):
    got = shifted["2026-11-22"]
    result, run_dir = got["run"], got["dir"]
    assert result["alert"] is True and result["bias_drift"]["alert"] is True, result
    bad = _violations(run_dir, "bias_drift")
    assert any(v["facet"] == "sex" and v["metric_name"] in ("DPPL", "DI") for v in bad), bad
    assert all(v["constraint_check_type"] == "bias_drift_check" for v in bad)
    assert any(r.startswith("bias drift:") for r in result["reasons"])
    page = (run_dir / "report.html").read_text()
    assert "Bias drift" in page and "Bias metrics: baseline" in page
    point = json.loads((run_dir.parents[2] / "history" / result["model_version"] / "2026-11-22.json").read_text())
    assert point["bias_drift_violations"] == len(bad) and point["alert"] is True
    logs = got["proc"].stdout + got["proc"].stderr  # `dags test` runs the tasks in-process: their logs are here
    assert "[airsage] credit_risk: monitoring alert for 2026-11-22 (v" in logs and "bias drift" in logs


@pytest.mark.e2e
def test_an_injected_attribution_shift_alerts_through_the_dag(shifted, env):
    got = shifted["2026-11-23"]
    result, run_dir = got["run"], got["dir"]
    attribution = result["feature_attribution_drift"]
    assert result["alert"] is True and attribution["alert"] is True, result
    assert attribution["ndcg"] < 0.9 and attribution["top_features"][0] != attribution["baseline_top_features"][0]
    (v,) = _violations(run_dir, "feature_attribution_drift")
    assert v["constraint_check_type"] == "feature_attribution_drift_check"
    assert any(r.startswith("feature attribution drift:") for r in result["reasons"])
    assert "Mean |SHAP| per feature" in (run_dir / "report.html").read_text()
    with airflow_db(env) as db:
        (last,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id='credit_risk__monitor' ORDER BY id DESC "
                             "LIMIT 1").fetchone()  # the attribution partition's run is the last one
        states = dict(db.execute("SELECT task_id, state FROM task_instance WHERE dag_id='credit_risk__monitor' "
                                 "AND run_id=?", (last,)).fetchall())
    assert states.get("notify_alert") == "success" and states.get("no_alert") == "skipped", states


def test_partitions_come_from_the_form_or_the_triggering_asset_events():
    """Not e2e (no Airflow run): the DAG file's choice of what to monitor."""
    import importlib.util
    from types import SimpleNamespace

    sys.path.insert(0, str(REPO / "plugins"))
    spec = importlib.util.spec_from_file_location("monitor_dag_file", REPO / "dags" / "monitor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Events(dict):  # TriggeringAssetEventsAccessor: asset -> events
        def __getitem__(self, asset):
            return dict.__getitem__(self, asset.name)

    from airsage.config import get_usecase
    from airsage_airflow.assets import predictions_asset

    asset = predictions_asset(get_usecase("credit_risk"))
    events = Events({asset.name: [SimpleNamespace(extra={"partition": "2026-11-21", "model_version": "3"}),
                                  SimpleNamespace(extra={"partition": "2026-11-20", "model_version": 2}),
                                  SimpleNamespace(extra={"partition": "2026-11-21", "model_version": "3"}),
                                  SimpleNamespace(extra={})]})
    empty = {"partition": "", "model_version": ""}
    assert module._targets(empty, events, asset) == [("2026-11-20", "2"), ("2026-11-21", "3")]
    assert module._targets({"partition": "2026-11-19", "model_version": ""}, events, asset) == [("2026-11-19", None)]
    assert module._targets({"partition": "", "model_version": "5"}, events, asset) == [("2026-11-20", "5"),
                                                                                         ("2026-11-21", "5")]
    assert module._targets(empty, Events(), asset) == [] and module._targets(empty, None, asset) == []
