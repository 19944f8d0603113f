"""Import a SageMaker model: the built-in XGBoost algorithm's model.tar.gz (one file, ``xgboost-model``) and
a scikit-learn script-mode model.tar.gz (``model.joblib``), evaluated on the use case's held-out rows and
registered as PendingManualApproval through the facade."""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest
from byom_testkit import approve_champion

from airsage.errors import ConfigError, DataValidationError


def _tarball(tmp: Path, files: dict[str, bytes]) -> str:
    src = tmp / "src"
    src.mkdir(parents=True)
    target = tmp / "model.tar.gz"
    with tarfile.open(target, "w:gz") as tar:
        for name, data in files.items():
            (src / name).write_bytes(data)
            tar.add(src / name, arcname=name)
    return str(target)


@pytest.fixture(scope="module")
def prepared(credit_uc, frame):
    """The use case's split and encoding, computed the training way (what the outside model was trained on)."""
    from airsage.training.train import TrainingJobConfig, prepare

    return prepare(frame, TrainingJobConfig.from_usecase(credit_uc))


@pytest.fixture(scope="module")
def sm_booster(prepared):
    """A Booster as SageMaker's built-in XGBoost trains it: a numeric matrix, no feature names."""
    import xgboost as xgb

    x_tr, y_tr = prepared.train
    return xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 2},
                     xgb.DMatrix(x_tr, label=y_tr, missing=np.nan), 20)


def _golden_auc(booster, prepared):
    from sklearn.metrics import roc_auc_score

    x_te, y_te = prepared.test
    return roc_auc_score(y_te, booster.inplace_predict(x_te))


@pytest.mark.parametrize("fmt", ["ubj", "json"])
def test_builtin_xgboost_artifact_is_imported_pending_with_lineage(reg, uc, frame, prepared, sm_booster, fmt, tmp_path):
    from airsage.lifecycle.importer import import_model

    uri = _tarball(tmp_path, {"xgboost-model": bytes(sm_booster.save_raw(raw_format=fmt))})
    report = import_model(uc, uri, framework="xgboost", actor="airflow:import", source="test", dataset=frame,
                          output_uri=str(tmp_path / "imported"), registry=reg, trained_by="dana")
    assert report.status == "PendingManualApproval" and report.failed_checks == []
    assert report.metrics["auc"] == pytest.approx(_golden_auc(sm_booster, prepared), abs=1e-12)
    assert report.metrics["n"] == int(prepared.is_test.sum())
    v = reg.get_version(report.model, report.version)
    assert v.tags["airsage.imported_from"] == uri and v.tags["airsage.trained_by"] == "dana"
    assert reg.client.get_model_version(v.name, v.version).description == f"{uc.name} imported from {uri}"
    (event,) = reg.audit_events(v.name)
    assert event["reason"].startswith(f"imported from {uri}") and event["extra"]["imported_from"] == uri
    assert {g["name"] for g in report.gates} == {"min_auc", "champion_max_auc_drop"}
    _, bundle = approve_champion(reg, v)  # served like a trained version (its own model.tar.gz)
    x_te, _ = prepared.test
    assert np.array_equal(bundle.predict_proba_encoded(x_te), sm_booster.inplace_predict(x_te).astype(np.float64))
    held_out = frame.loc[prepared.is_test]
    assert np.array_equal(bundle.predict_proba(held_out), sm_booster.inplace_predict(x_te).astype(np.float64))
    assert "held-out evaluation" in report.render() and report.to_dict()["uri"] == f"models:/{v.name}/{v.version}"
    again = import_model(uc, uri, framework="xgboost", actor="airflow:import", dataset=frame,
                         output_uri=str(tmp_path / "imported"), registry=reg)
    assert again.version == report.version  # idempotent per artifact and dataset


def test_sklearn_joblib_artifact_is_imported(reg, uc, frame, prepared, tmp_path):
    import io

    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from airsage.lifecycle.importer import import_model

    x_tr, y_tr = prepared.train
    est = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x_tr, y_tr)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    uri = _tarball(tmp_path, {"model.joblib": buf.getvalue()})
    report = import_model(uc, uri, framework="sklearn", actor="airflow:import", dataset=frame,
                          output_uri=str(tmp_path / "imported"), registry=reg)
    x_te, y_te = prepared.test
    assert report.status == "PendingManualApproval"
    assert report.metrics["auc"] == pytest.approx(roc_auc_score(y_te, est.predict_proba(x_te)[:, 1]), abs=1e-12)


def test_without_a_clarify_analysis_the_bias_gates_reject_the_import(reg, credit_uc, frame, sm_booster, tmp_path):
    from airsage.lifecycle.importer import import_model

    uc = credit_uc.model_copy(update={"model_name": "imported_bias_gates"})  # max_bias: {DPPL, DI}
    uri = _tarball(tmp_path, {"xgboost-model": bytes(sm_booster.save_raw())})
    report = import_model(uc, uri, actor="airflow:import", dataset=frame, output_uri=str(tmp_path / "out"),
                          registry=reg)
    assert report.status == "Rejected" and set(report.failed_checks) == {"max_bias.DPPL", "max_bias.DI"}


def test_import_refusals_name_the_fix(reg, uc, frame, prepared, tmp_path):
    import xgboost as xgb
    from sklearn.linear_model import LinearRegression

    from airsage.lifecycle.importer import import_model

    x_tr, y_tr = prepared.train

    def attempt(files, framework="xgboost", sub="x"):
        uri = _tarball(tmp_path / sub, files)
        return import_model(uc, uri, framework=framework, actor="a", dataset=frame,
                            output_uri=str(tmp_path / sub / "out"), registry=reg)

    multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1},
                      xgb.DMatrix(x_tr, label=np.arange(len(y_tr)) % 3, missing=np.nan), 2)
    with pytest.raises(ConfigError, match="multiclass") as err:
        attempt({"xgboost-model": bytes(multi.save_raw())}, sub="multi")
    assert err.value.fix
    narrow = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(x_tr[:, :3], label=y_tr), 2)
    with pytest.raises(DataValidationError, match="expects 3 features"):
        attempt({"xgboost-model": bytes(narrow.save_raw())}, sub="narrow")
    with pytest.raises(DataValidationError, match="no xgboost-model") as err:
        attempt({"model.bin": b"\x00\x01"}, sub="nofile")
    assert "--framework" in err.value.fix
    with pytest.raises(DataValidationError, match="not an XGBoost model"):
        attempt({"xgboost-model": b"garbage, not a model"}, sub="garbage")
    import io

    import joblib

    buf = io.BytesIO()
    joblib.dump(LinearRegression().fit(np.nan_to_num(x_tr), y_tr), buf)
    with pytest.raises(ConfigError, match="not a probabilistic classifier"):
        attempt({"model.joblib": buf.getvalue()}, framework="sklearn", sub="regressor")
    with pytest.raises(ConfigError, match="unknown framework"):
        attempt({"model.joblib": buf.getvalue()}, framework="tensorflow", sub="tf")
    with pytest.raises(DataValidationError, match="cannot read the model artifact"):
        import_model(uc, str(tmp_path / "missing.tar.gz"), actor="a", dataset=frame, registry=reg,
                     output_uri=str(tmp_path / "missing-out"))
    assert reg.list_versions(uc.registered_model_name) == []
