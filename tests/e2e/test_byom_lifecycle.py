"""Bring your own model, end to end: models trained outside Airsage go through approval and the nightly
transform DAG (``airflow dags test credit_risk__batch_transform``) like a trained version.

Three models of the example use case, none trained by Airsage:

* ``mlflow.xgboost.log_model``: an XGBoost Booster on the numeric features, registered with
  ``ModelRegistry.register_model``;
* ``mlflow.sklearn.log_model``: a scikit-learn pipeline (one-hot ``region`` + scaled numerics + logistic
  regression), registered the same way, with the ``region`` vocabulary coming from the pipeline itself;
* a SageMaker built-in XGBoost ``model.tar.gz`` (one file, ``xgboost-model``, written by xgboost's own
  ``save_model``) over all the use case's features in Airsage's encoding, imported with
  ``airsage.lifecycle.importer.import_model`` (evaluated on the held-out rows, gates applied).

Each is approved through the registry facade with a comment by a different person than the one who
trained it (four eyes: the trainer's own approval is refused first), then scored by the DAG with
``{"partition": ..., "model_version": ...}``. The DAG's ``.out`` scores must equal the native model's
own prediction on the scoring partition, computed in the setup process with xgboost / scikit-learn
directly (not through Airsage).

The environment is the monitoring e2e's (an isolated home with a small copy of the example use case and
no bias gate): its ``env`` fixture and ``run`` helper are reused.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_monitor_dag import AIRFLOW, PARTITION, env, run  # noqa: F401 - env is a fixture used below

pytestmark = pytest.mark.e2e

PREPARE = f"""
import json, tarfile, tempfile
from pathlib import Path
import numpy as np, pandas as pd
import mlflow, xgboost as xgb
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from airsage import layout, storage
from airsage.config import get_usecase, load_settings
from airsage.registry.types import FourEyesError
from airsage.labeling import load_dataset
from airsage.lifecycle import labels
from airsage.lifecycle.importer import import_model
from airsage.registry import ModelRegistry

uc = get_usecase("credit_risk")
home = Path(load_settings().home)
data = labels.prepare_example_data(uc, end_date="{PARTITION}", days=3, rows_per_day=800)
labels.import_labels(uc, data["manifest"], log_lineage=False)
train = load_dataset("latest", uc)
scoring = pd.concat([pd.read_parquet(p) for p in storage.list_files(layout.scoring(uc, "{PARTITION}"))],
                    ignore_index=True)
y = train[uc.schema_.label].astype(int).to_numpy()
numeric = [f.name for f in uc.schema_.features if f.type == "numeric"]
categorical = [f.name for f in uc.schema_.features if f.type == "categorical"]

mlflow.set_experiment(experiment_id=mlflow.create_experiment("byom", artifact_location=(home / "byom").as_uri()))
reg = ModelRegistry.from_settings()
out = {{}}

def approve(version, trainer):
    try:  # four eyes: whoever trained it may not approve it
        reg.approve(uc.registered_model_name, version, approver=trainer, comment="my own model", usecase=uc)
        raise SystemExit("the trainer approved their own model")
    except FourEyesError:
        pass
    reg.approve(uc.registered_model_name, version, approver="approver", usecase=uc, source="e2e",
                comment="reviewed the offline evaluation; ok to score")

# 1. an XGBoost Booster logged with mlflow.xgboost
x = train[numeric].astype("float64")
booster = xgb.train({{"objective": "binary:logistic", "max_depth": 3, "nthread": 1, "seed": 1}},
                    xgb.DMatrix(x, label=y), 30)
with mlflow.start_run():
    info = mlflow.xgboost.log_model(booster, name="model", signature=infer_signature(x, np.zeros(len(x))),
                                    pip_requirements=["xgboost"])
v = reg.register_model(uc, info.model_uri, actor="dana", trained_by="dana", source="e2e")
approve(v.version, "dana")
out["xgboost"] = {{"version": str(v.version), "status": str(v.status),
                   "expected": booster.inplace_predict(scoring[numeric].to_numpy(np.float32)).astype(float).tolist()}}

# 2. a scikit-learn pipeline logged with mlflow.sklearn (a string column: its vocabulary is the model's own)
cols = numeric[:8] + ["region"]
pipe = make_pipeline(ColumnTransformer([("num", StandardScaler(), numeric[:8]),
                                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"])]),
                     LogisticRegression(max_iter=500))
pipe.fit(train[cols], y)
with mlflow.start_run():
    info = mlflow.sklearn.log_model(pipe, name="model", signature=infer_signature(train[cols], np.zeros(len(train))),
                                    pip_requirements=["scikit-learn"])
v = reg.register_model(uc, info.model_uri, actor="erin", trained_by="erin", source="e2e", threshold=0.3)
approve(v.version, "erin")
out["sklearn"] = {{"version": str(v.version), "status": str(v.status), "threshold": 0.3,
                   "expected": pipe.predict_proba(scoring[cols])[:, 1].tolist()}}

# 3. a SageMaker built-in XGBoost model.tar.gz: numbers only, in the use case's feature order; a category is
#    its index in the sorted vocabulary (the import's documented input contract)
features = [f.name for f in uc.schema_.features]
vocab = {{c: sorted(train[c].dropna().astype(str).unique()) for c in categorical}}
def encode(df):
    cols = {{}}
    for f in features:
        if f in vocab:
            cols[f] = df[f].astype(str).map({{v: i for i, v in enumerate(vocab[f])}}).astype("float32")
        else:
            cols[f] = df[f].astype("float32")
    return pd.DataFrame(cols).to_numpy(np.float32)
sm = xgb.train({{"objective": "binary:logistic", "max_depth": 4, "nthread": 1, "seed": 2}},
               xgb.DMatrix(encode(train), label=y), 40)
work = Path(tempfile.mkdtemp(dir=home))
sm.save_model(str(work / "xgboost-model.json"))
(work / "xgboost-model.json").rename(work / "xgboost-model")
with tarfile.open(work / "model.tar.gz", "w:gz") as tar:
    tar.add(work / "xgboost-model", arcname="xgboost-model")
report = import_model(uc, str(work / "model.tar.gz"), framework="xgboost", actor="frank", trained_by="sagemaker-team",
                      source="e2e")
assert report.status == "PendingManualApproval", report.to_dict()
approve(report.version, "sagemaker-team")
out["sagemaker"] = {{"version": str(report.version), "status": report.status,
                     "expected": sm.inplace_predict(encode(scoring)).astype(float).tolist()}}
out["ids"] = scoring[uc.schema_.record_id].astype(str).tolist()
out["tags"] = {{k: dict(reg.client.get_model_version(uc.registered_model_name, d["version"]).tags)
               for k, d in out.items() if isinstance(d, dict) and "version" in d}}
print("PREPARED " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def prepared(env):  # noqa: F811 - the imported fixture
    prep = run([sys.executable, "-c", PREPARE], env, timeout=900)
    assert prep.returncode == 0, (prep.stdout + prep.stderr)[-6000:]
    for cmd in (["db", "migrate"], ["dags", "reserialize"]):
        proc = run([AIRFLOW, *cmd], env)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return json.loads(prep.stdout.split("PREPARED ", 1)[1].splitlines()[0])


def test_outside_models_are_registered_and_approved_by_a_second_person(prepared):
    tags = prepared["tags"]
    for kind in ("xgboost", "sklearn", "sagemaker"):
        assert tags[kind]["approval_status"] == "Approved", (kind, tags[kind])
        assert tags[kind]["approved_by"] == "approver"
    assert tags["xgboost"]["airsage.flavor"] == "xgboost" and tags["sklearn"]["airsage.flavor"] == "sklearn"
    assert "model.tar.gz" in json.dumps(tags["sagemaker"])  # lineage: imported from the SageMaker artifact


@pytest.mark.parametrize("kind, day", [("xgboost", 1), ("sklearn", 2), ("sagemaker", 3)])
def test_the_nightly_transform_dag_scores_each_with_its_native_prediction(prepared, env, kind, day):  # noqa: F811
    import numpy as np
    import pandas as pd

    model = prepared[kind]
    conf = {"partition": PARTITION, "model_version": model["version"]}
    proc = run([AIRFLOW, "dags", "test", "credit_risk__batch_transform", f"2026-12-1{day}T00:00:00+00:00",
                "-c", json.dumps(conf)], env, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    outs = sorted((Path(env["AIRSAGE__HOME"]) / "data" / "credit_risk" / "predictions" / f"dt={PARTITION}")
                  .rglob("*.out"))
    assert outs, "no predictions"
    scored = pd.concat([pd.read_parquet(p) for p in outs], ignore_index=True)
    assert scored["application_id"].astype(str).tolist() == prepared["ids"]  # joined, in input order
    assert scored["model_version"].astype(str).eq(model["version"]).all()
    expected = np.asarray(model["expected"])
    assert np.allclose(scored["score"].to_numpy(), expected, rtol=0, atol=1e-6)
    threshold = model.get("threshold", 0.5)
    assert scored["predicted_label"].tolist() == (expected > threshold).astype(int).tolist()
