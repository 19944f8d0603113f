"""The container contract, as a bare SageMaker container sees it.

Each job runs in a subprocess with ``AIRSAGE_OPT_ML`` pointing at a directory laid out like
``/opt/ml`` (``input/config/hyperparameters.json`` with SageMaker's all-string values — the very
``HyperParameters`` of the request the backend builds —, ``input/data/train/``), and no ``SM_*``
variable at all. Two jobs, run in parallel:

* ``python -m airsage.entrypoints.train`` (a plain training job);
* ``python airsage_train.py`` from the unpacked ``sourcedir.tar.gz``, given what one trial of a
  SageMaker tuning job receives (static hyperparameters plus the tuned values).

Then the inference module scores the trained model, and the MetricDefinitions regexes read the log.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sagemaker_specs import compute, settings, train_spec, tune_spec

from airsage.compute import sagemaker_requests as rq
from airsage.compute.packaging import build_sourcedir

SOURCEDIR = "s3://airsage-test/airsage/code/0123456789abcdef/sourcedir.tar.gz"
TUNED = {"max_depth": "2", "eta": "0.25"}  # what SageMaker adds for one trial (strings)


def _layout(root: Path, hyperparameters: dict[str, str], data) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    train = root / "input" / "data" / "train"
    train.mkdir(parents=True)
    data.to_parquet(train / "part-0.parquet", index=False)
    return root


def _bare_env(opt_ml: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "AIRSAGE_", "SAGEMAKER_"))}
    env["AIRSAGE_OPT_ML"] = str(opt_ml)
    return env


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    from airsage.config import get_usecase
    from airsage.data.generator import generate
    from airsage.training.train import TrainingJobConfig
    from airsage.training.tuning import tuning_hyperparameters

    uc = get_usecase("credit_risk")
    data = generate(600, seed=5, bias_strength=0.3)
    small = {"hyperparameters": {"num_round": 20, "max_depth": 3, "eta": 0.2}, "baseline_algorithm": "none"}
    root = tmp_path_factory.mktemp("contract")

    train_hps = TrainingJobConfig.from_usecase(uc, **small).to_hyperparameters()
    train_req = rq.training_request(train_spec(hyperparameters=train_hps), settings(), compute(),
                                    sourcedir_uri=SOURCEDIR)
    train_ml = _layout(root / "train", train_req["HyperParameters"], data)

    tune_hps = tuning_hyperparameters(uc, **small)
    tune_req = rq.tuning_request(tune_spec(hyperparameters=tune_hps, parameters={}), settings(), compute(),
                                 sourcedir_uri=SOURCEDIR)
    trial_hps = {**tune_req["TrainingJobDefinition"]["StaticHyperParameters"], **TUNED}
    trial_ml = _layout(root / "trial", trial_hps, data)
    code = root / "code"
    with tarfile.open(build_sourcedir(root / "dist")) as tar:
        tar.extractall(code, filter="data")

    procs = {
        "train": subprocess.Popen([sys.executable, "-m", "airsage.entrypoints.train"], cwd=root, env=_bare_env(train_ml),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        "trial": subprocess.Popen([sys.executable, "airsage_train.py"], cwd=code, env=_bare_env(trial_ml),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
    }
    logs = {name: p.communicate(timeout=300)[0] for name, p in procs.items()}
    rcs = {name: p.returncode for name, p in procs.items()}
    return {"train": (train_ml, logs["train"], rcs["train"], train_req),
            "trial": (trial_ml, logs["trial"], rcs["trial"], tune_req), "code": code}


def test_train_entrypoint_under_the_bare_sagemaker_layout(jobs):
    opt_ml, log, rc, _ = jobs["train"]
    assert rc == 0, log
    assert not (opt_ml / "output" / "failure").exists()
    assert {p.name for p in (opt_ml / "model").iterdir()} >= {"airsage_model.json", "xgboost-model.json"}
    out = {p.name for p in (opt_ml / "output" / "data").iterdir()}
    assert {"metrics.json", "eval_predictions.parquet"} <= out


def test_metric_definitions_read_what_the_job_logged(jobs):
    opt_ml, log, _, req = jobs["train"]
    evaluation = json.loads((opt_ml / "output" / "data" / "metrics.json").read_text())["evaluation"]
    for d in req["AlgorithmSpecification"]["MetricDefinitions"]:
        matches = re.findall(d["Regex"], log)
        name = d["Name"].removeprefix("test:")
        assert len(matches) == 1, (d["Name"], matches)
        assert float(matches[0]) == pytest.approx(evaluation[name], rel=1e-12)


def test_inference_module_scores_the_trained_model_like_training_did(jobs):
    import pandas as pd

    from airsage.entrypoints import inference as inf

    opt_ml = jobs["train"][0]
    model = inf.model_fn(opt_ml / "model")
    held_out = pd.read_parquet(opt_ml / "output" / "data" / "eval_predictions.parquet").head(40)
    body = held_out[model.feature_names].to_csv(header=False, index=False)  # header-less, feature order
    out = inf.output_fn(inf.predict_fn(inf.input_fn(body.encode(), "text/csv"), model), "text/csv")
    scores = [float(line.split(",")[0]) for line in out.splitlines()]
    labels = [int(line.split(",")[1]) for line in out.splitlines()]
    assert scores == pytest.approx(held_out["score"].tolist(), abs=1e-9)
    assert labels == held_out["predicted_label"].astype(int).tolist()


def test_a_tuning_trial_runs_the_local_tuner_on_sagemakers_candidate(jobs):
    opt_ml, log, rc, req = jobs["trial"]
    assert rc == 0, log
    assert f"with airsage from {jobs['code'] / 'airsage'}" in log  # the code from the tarball, not the checkout
    trials = json.loads((opt_ml / "output" / "data" / "trials.json").read_text())
    assert len(trials["trials"]) == 1
    assert trials["trials"][0]["params"] == {"eta": 0.25, "max_depth": 2}
    objective = req["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"]
    regex = {d["Name"]: d["Regex"] for d in req["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]}
    assert objective == "validation:auc"
    assert float(re.findall(regex[objective], log)[0]) == pytest.approx(trials["trials"][0]["metric"], rel=1e-12)
    metrics = json.loads((opt_ml / "output" / "data" / "metrics.json").read_text())
    assert metrics["hyperparameters"]["max_depth"] == 2 and metrics["hyperparameters"]["eta"] == 0.25
    assert (opt_ml / "model" / "airsage_model.json").exists()
