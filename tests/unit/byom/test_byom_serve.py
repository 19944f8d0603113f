"""Serve any MLflow model: logged with mlflow.xgboost / mlflow.sklearn / pyfunc, registered and approved
through the registry facade (audit-backed), loaded by flavor and scored like the native model."""
from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from byom_testkit import approve_champion

from airsage.errors import AirsageError, ConfigError, ModelNotApprovedError, StorageError


def _log(mlflow, flavor: str, model, x, **kw):
    from mlflow.models import infer_signature

    signature = kw.pop("signature", "infer")
    if signature == "infer":
        signature = infer_signature(x, np.zeros(len(x)))
    kw.setdefault("pip_requirements", [{"sklearn": "scikit-learn"}.get(flavor, flavor)])  # no slow inference
    with mlflow.start_run():
        return getattr(mlflow, flavor).log_model(model, name="model", signature=signature, **kw)


@pytest.fixture(scope="module")
def booster(numeric):
    import xgboost as xgb

    x, y = numeric
    return xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1},
                     xgb.DMatrix(x, label=y), 15)


def test_xgboost_flavor_is_served_through_the_same_inplace_path(reg, mlflow_on_reg, numeric, booster, name):
    x, _ = numeric
    info = _log(mlflow_on_reg, "xgboost", booster, x)
    v = reg.register_model(name, info.model_uri, actor="alice", trained_by="bob", source="test")
    assert v.status == "PendingManualApproval" and v.tags["airsage.flavor"] == "xgboost"
    (event,) = reg.audit_events(name)
    assert event["action"] == "register" and event["reason"].startswith(f"MLflow model {info.model_uri}")
    resolved, bundle = approve_champion(reg, v)
    assert resolved.alias == "champion" and bundle.algorithm == "xgboost" and bundle.booster is not None
    assert bundle.feature_names == list(x.columns) and bundle.categorical == {} and bundle.threshold == 0.5
    expected = booster.inplace_predict(x.to_numpy(np.float32))  # the native model's own prediction
    assert np.array_equal(bundle.predict_proba(x), expected.astype(np.float64))
    assert np.array_equal(bundle.predict_label(bundle.predict_proba(x)), (expected > 0.5).astype(int))
    assert reg.verify(SimpleNamespace(registered_model_name=name, name=name)).ok


def test_the_transform_engine_scores_a_served_flavor_unchanged(reg, mlflow_on_reg, numeric, booster, name, tmp_path):
    import pyarrow.parquet as pq

    from airsage.transform import run_batch_transform

    x, _ = numeric
    info = _log(mlflow_on_reg, "xgboost", booster, x)
    _, bundle = approve_champion(reg, reg.register_model(name, info.model_uri, actor="alice", threshold=0.3))
    assert bundle.threshold == 0.3
    (tmp_path / "in").mkdir()
    x.assign(rid=[f"r{i}" for i in range(len(x))]).to_parquet(tmp_path / "in" / "part.parquet", index=False)
    report = run_batch_transform(bundle, str(tmp_path / "in"), str(tmp_path / "out"),
                                 {"content_type": "application/x-parquet"}, model_name=name, model_version="1",
                                 run_key="t", record_id_col="rid")
    out = pq.read_table(tmp_path / "out" / "part.parquet.out").to_pandas()
    expected = booster.inplace_predict(x.to_numpy(np.float32)).astype(np.float64)
    assert report.records_out == len(x) and out["inference_id"].tolist()[:2] == ["r0", "r1"]
    assert np.array_equal(out["score"].to_numpy(), expected)
    assert out["predicted_label"].tolist() == (expected > 0.3).astype(int).tolist()


def test_sklearn_pipeline_with_a_string_column_is_served_identically(reg, mlflow_on_reg, numeric, name, uc):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, y = numeric
    x = x.assign(region=np.where(x.f3 > 0, "north", np.where(x.f3 > -1, "south", "west")))
    pipe = make_pipeline(ColumnTransformer([("num", StandardScaler(), ["f0", "f1", "f2"]),
                                            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"])]),
                         LogisticRegression()).fit(x[["f0", "f1", "f2", "region"]], y)
    feats = x[["f0", "f1", "f2", "region"]]
    info = _log(mlflow_on_reg, "sklearn", pipe, feats)
    v = reg.register_model(uc.model_copy(update={"model_name": name}), info.model_uri, actor="alice")
    _, bundle = approve_champion(reg, v)
    assert bundle.algorithm == "sklearn" and bundle.categorical == {"region": ["north", "south", "west"]}
    assert bundle.threshold == uc.training.decision_threshold  # the use case's, no tag given
    probe = feats.copy()
    probe.loc[:4, "region"] = "east"  # unseen: one-hot all zeros either way
    assert np.array_equal(bundle.predict_proba(probe), pipe.predict_proba(probe)[:, 1])


def test_pyfunc_fallback_returning_probabilities_is_served(reg, mlflow_on_reg, numeric, name):
    import mlflow.pyfunc
    from sklearn.linear_model import LogisticRegression

    x, y = numeric
    lr = LogisticRegression().fit(x, y)

    class Proba(mlflow.pyfunc.PythonModel):
        def __init__(self, est):
            self.est = est

        def predict(self, context, model_input, params=None):
            return self.est.predict_proba(model_input)[:, 1]

    from mlflow.models import infer_signature

    with mlflow_on_reg.start_run():
        info = mlflow_on_reg.pyfunc.log_model(name="model", python_model=Proba(lr), pip_requirements=["scikit-learn"],
                                              signature=infer_signature(x, lr.predict_proba(x)[:, 1]))
    _, bundle = approve_champion(reg, reg.register_model(name, info.model_uri, actor="alice"))
    assert bundle.algorithm == "pyfunc"
    assert np.allclose(bundle.predict_proba(x), lr.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- refusals (each with a Fix)
def _refused(reg, mlflow_on_reg, name, flavor, model, x, **kw) -> ConfigError:
    info = _log(mlflow_on_reg, flavor, model, x, **kw)
    with pytest.raises(ConfigError) as err:
        reg.register_model(name, info.model_uri, actor="alice")
    assert "Fix:" in str(err.value) and err.value.fix
    assert reg.list_versions(name) == []  # nothing registered
    return err.value


def test_multiclass_xgboost_is_refused(reg, mlflow_on_reg, numeric, name):
    import xgboost as xgb

    x, _ = numeric
    y3 = np.digitize(x.f0, [-0.5, 0.5])
    multi = xgb.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1}, xgb.DMatrix(x, label=y3), 3)
    err = _refused(reg, mlflow_on_reg, name, "xgboost", multi, x)
    assert "multiclass" in err.message and "binary:logistic" in err.fix


def test_regressors_are_refused(reg, mlflow_on_reg, numeric, name):
    import xgboost as xgb
    from sklearn.linear_model import LinearRegression

    x, y = numeric
    err = _refused(reg, mlflow_on_reg, name, "sklearn", LinearRegression().fit(x, y), x)
    assert "regressor" in err.message
    reg_booster = xgb.train({"objective": "reg:squarederror", "nthread": 1}, xgb.DMatrix(x, label=x.f0), 3)
    err = _refused(reg, mlflow_on_reg, name, "xgboost", reg_booster, x)
    assert "regressor" in err.message


def test_multiclass_sklearn_and_no_signature_are_refused(reg, mlflow_on_reg, numeric, name):
    from sklearn.linear_model import LogisticRegression

    x, y = numeric
    err = _refused(reg, mlflow_on_reg, name, "sklearn", LogisticRegression().fit(x, np.digitize(x.f0, [-0.5, 0.5])), x)
    assert "3 classes" in err.message
    bare = LogisticRegression().fit(x.to_numpy(), y)  # fitted on an array: no feature names either
    err = _refused(reg, mlflow_on_reg, name, "sklearn", bare, x, signature=None)
    assert "signature" in err.message and "infer_signature" in err.fix


def test_pyfunc_returning_labels_is_refused(reg, mlflow_on_reg, numeric, name):
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    x, _ = numeric

    class Labels(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return (model_input["f0"] > 0).astype(int)

    with mlflow_on_reg.start_run():
        info = mlflow_on_reg.pyfunc.log_model(name="model", python_model=Labels(), pip_requirements=["pandas"],
                                              signature=infer_signature(x, (x.f0 > 0).astype(int)))
    with pytest.raises(ConfigError, match="class labels") as err:
        reg.register_model(name, info.model_uri, actor="alice")
    assert err.value.fix


# ---------------------------------------------------------------------- the guard and the errors still apply
def test_unapproved_and_tampered_flavors_are_not_served(reg, mlflow_on_reg, numeric, booster, name):
    x, _ = numeric
    info = _log(mlflow_on_reg, "xgboost", booster, x)
    v = reg.register_model(name, info.model_uri, actor="alice")
    with pytest.raises(ModelNotApprovedError):
        reg.resolve(f"models:/{name}/{v.version}")
    reg.client.set_model_version_tag(name, v.version, "approval_status", "Approved")  # by hand, not audited
    with pytest.raises(ModelNotApprovedError, match="audit log"):
        reg.resolve(f"models:/{name}/{v.version}")


def test_changed_or_deleted_model_files_are_airsage_errors(reg, mlflow_on_reg, numeric, booster, name):
    x, _ = numeric
    info = _log(mlflow_on_reg, "xgboost", booster, x)
    v = reg.register_model(name, info.model_uri, actor="alice")
    resolved, _ = approve_champion(reg, v)
    location = Path(reg.client.get_logged_model(info.model_id).artifact_location.removeprefix("file://"))
    (location / "MLmodel").write_text((location / "MLmodel").read_text() + "\n# edited\n")
    with pytest.raises(StorageError, match="digest recorded at registration") as err:
        resolved.load_bundle()
    assert err.value.fix
    shutil.rmtree(location)
    with pytest.raises(AirsageError) as err:
        resolved.load_bundle()
    assert "cannot download the MLflow model" in err.value.message and "artifact store" in err.value.fix


def test_registering_the_same_logged_model_twice_is_one_version(reg, mlflow_on_reg, numeric, booster, name):
    x, _ = numeric
    info = _log(mlflow_on_reg, "xgboost", booster, x)
    first = reg.register_model(name, info.model_uri, actor="alice")
    again = reg.register_model(name, info.model_uri, actor="alice")
    assert first.version == again.version and len(reg.list_versions(name)) == 1
    assert [e["action"] for e in reg.audit_events(name)] == ["register"]


def test_a_bad_threshold_tag_is_a_config_error(reg, mlflow_on_reg, numeric, booster, name):
    x, _ = numeric
    info = _log(mlflow_on_reg, "xgboost", booster, x)
    with pytest.raises(ConfigError, match="airsage.threshold"):
        reg.register_model(name, info.model_uri, actor="alice", threshold=1.5)
