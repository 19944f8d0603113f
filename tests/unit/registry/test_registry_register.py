"""Registration: one MLflow run with everything, Pending or Rejected by the gates, idempotent per run key."""
from __future__ import annotations

import json

import pytest
from registry_testkit import FAIL, PASS

from airsage.registry import ApprovalStatus, ModelRegistry


def test_passing_gates_register_pending_with_lineage_tags(reg, uc, register, job, dataset):
    v = register(uc, "run-a", code_version="0123456789abcdef0123456789abcdef01234567")
    assert v.status == ApprovalStatus.PENDING == "PendingManualApproval"
    assert v.version == "1" and v.aliases == [] and v.name == uc.registered_model_name
    t = v.tags
    assert t["run_key"] == "run-a" and t["dataset_version"] == "ds-0001" and t["dataset_hash"] == dataset["hash"]
    assert t["code_version"] == "0123456789abcdef0123456789abcdef01234567"
    assert t["model_artifact_uri"] == job.model_artifact_uri
    assert json.loads(t["gate_results"]) == PASS and "failed_checks" not in t
    assert v.metrics["auc"] == pytest.approx(job.result.evaluation.auc)
    assert v.metrics["baseline_auc"] == pytest.approx(job.result.baseline_evaluation.auc)
    d = v.to_dict()
    assert d["status"] == "PendingManualApproval" and type(d["status"]) is str and d["uri"] == f"models:/{v.name}/1"


def test_mlflow_run_holds_params_metrics_dataset_model_and_artifacts(reg, uc, register, job, dataset):
    v = register(uc, "run-b")
    run = reg.client.get_run(v.run_id)
    exp = reg.client.get_experiment(run.info.experiment_id)
    assert exp.name == f"airsage/{uc.name}" and run.info.status == "FINISHED"
    assert run.data.params["algorithm"] == "xgboost" and run.data.params["hp.num_round"] == "20"
    assert run.data.params["baseline_algorithm"] == "logistic_regression"
    assert run.data.metrics["auc"] == pytest.approx(job.result.evaluation.auc)
    assert "baseline_auc" in run.data.metrics
    assert run.data.tags["airsage.run_key"] == "run-b" and run.data.tags["mlflow.user"] == "airflow:test__train"
    (ds_input,) = run.inputs.dataset_inputs
    assert ds_input.dataset.digest == dataset["hash"][:36]
    assert {t.key: t.value for t in ds_input.tags}["airsage.dataset_version"] == "ds-0001"
    files = {f.path for f in reg.client.list_artifacts(v.run_id)}
    assert {"model_artifact", "evaluation"} <= files
    evaluation = {f.path for f in reg.client.list_artifacts(v.run_id, "evaluation")}
    assert "evaluation/model_quality.json" in evaluation and "evaluation/metrics.json" in evaluation
    (output,) = run.outputs.model_outputs
    model = reg.client.get_logged_model(output.model_id)
    assert model.source_run_id == v.run_id and model.status.name == "READY"
    assert reg.client.get_model_version(v.name, v.version).source == model.artifact_location


def test_logged_pyfunc_has_signature_and_explicit_requirements(reg, uc, register, job, frame, tmp_path):
    import mlflow

    v = register(uc, "run-c")
    mv = reg.client.get_model_version(v.name, v.version)
    local = mlflow.artifacts.download_artifacts(artifact_uri=mv.source, dst_path=str(tmp_path),
                                                tracking_uri=reg.tracking_uri)
    model = mlflow.models.Model.load(local)
    inputs = [c["name"] for c in model.signature.inputs.to_dict()]
    assert inputs == job.result.bundle.feature_names
    reqs = (tmp_path / "requirements.txt").read_text() if (tmp_path / "requirements.txt").exists() else \
        next(tmp_path.rglob("requirements.txt")).read_text()
    assert "xgboost==" in reqs and "mlflow==" in reqs
    pyfunc = mlflow.pyfunc.load_model(local)
    out = pyfunc.predict(frame[job.result.bundle.feature_names].head(5))
    expected = job.result.bundle.predict_proba(frame.head(5))
    assert list(out.columns) == ["score", "predicted_label"]
    assert out["score"].to_numpy() == pytest.approx(expected)


def test_failing_gates_register_rejected_with_the_failed_checks(reg, uc, register):
    v = register(uc, "run-d", gates=FAIL)
    assert v.status == ApprovalStatus.REJECTED and v.failed_checks == ["min_auc"]
    (event,) = reg.audit_events(v.name)
    assert event["action"] == "register" and event["to_status"] == "Rejected"
    assert "min_auc" in event["reason"] and event["extra"]["failed_checks"] == ["min_auc"]


def test_registration_is_idempotent_per_run_key(reg, uc, register):
    first = register(uc, "run-e")
    again = register(uc, "run-e")
    other = register(uc, "run-f")
    assert again.version == first.version and again.run_id == first.run_id
    assert other.version == str(int(first.version) + 1)
    assert [v.version for v in reg.list_versions(uc.registered_model_name)] == [first.version, other.version]
    assert [e["action"] for e in reg.audit_events(uc.registered_model_name)] == ["register", "register"]


def test_approved_is_never_set_at_registration(reg, uc, register):
    v = register(uc, "run-g", gates=PASS)
    assert v.status != ApprovalStatus.APPROVED
    from airsage.errors import ModelNotApprovedError

    with pytest.raises(ModelNotApprovedError):
        reg.resolve(f"models:/{v.name}/{v.version}")


def test_tuning_trials_become_child_runs(reg, uc, register, tuned_job):
    v = register(uc, "run-tuned", source=tuned_job)
    run = reg.client.get_run(v.run_id)
    children = reg.client.search_runs([run.info.experiment_id],
                                      filter_string=f"tags.`mlflow.parentRunId` = '{v.run_id}'")
    assert len(children) == 3
    statuses = {c.data.tags["airsage.trial_status"] for c in children}
    assert statuses <= {"Completed", "Pruned", "Failed"}
    assert all("max_depth" in c.data.params for c in children)
    completed = [c for c in children if c.data.tags["airsage.trial_status"] == "Completed"]
    assert completed and all("validation_auc" in c.data.metrics for c in completed)
    assert reg.read_run_json(v.name, v.version, "evaluation/trials.json")["best_trial"] in (0, 1, 2)


def test_unreadable_output_is_a_validation_error(reg, uc, job, dataset, tmp_path):
    from airsage.errors import DataValidationError

    with pytest.raises(DataValidationError, match="metrics.json"):
        reg.register_training(uc, model_artifact_uri=job.model_artifact_uri, output_data_uri=str(tmp_path),
                              dataset=dataset, run_key="bad", gate_results=PASS, actor="t")


def test_from_settings_uses_home_tracking_uri_and_data_root(monkeypatch, tmp_path):
    from airsage.config import load_settings

    monkeypatch.setenv("AIRSAGE__HOME", str(tmp_path))
    monkeypatch.delenv("AIRSAGE__DATA_ROOT", raising=False)
    monkeypatch.delenv("AIRSAGE__MLFLOW__ARTIFACT_ROOT", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    r = ModelRegistry.from_settings(load_settings())
    assert r.tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    assert r.audit.root == str(tmp_path / "data" / "_audit")
    assert r.lock_dir == tmp_path / "locks" and r.artifact_root == str(tmp_path / "mlartifacts")
