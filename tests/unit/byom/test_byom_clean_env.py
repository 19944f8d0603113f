"""An Airsage version loads with ``mlflow.pyfunc.load_model`` in a clean virtual environment built from
nothing but the model's own logged requirements (from PyPI): airsage itself is not installed there, its
code travels with the model (``code_paths``). Measured at ~30 s here (venv + ``uv pip install`` from a
warm cache, then MLflow's import and the prediction), so it is not marked ``slow``; a cold uv cache
downloads ~600 MB (mlflow, xgboost and its NCCL wheel) and takes minutes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROBE = r"""
import importlib.util, json, sys
import pandas as pd
assert importlib.util.find_spec("airsage") is None, "airsage must not be installed in the clean venv"
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
out = model.predict(pd.read_parquet(sys.argv[2]))
print(json.dumps({"score": out["score"].tolist(), "label": out["predicted_label"].tolist(),
                  "airsage_from": sys.modules["airsage"].__file__}))
"""


def _uv() -> str:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        pytest.skip("uv is not installed")
    return uv


def test_airsage_pyfunc_loads_in_a_clean_venv_from_its_own_requirements(reg, credit_uc, frame, tmp_path):
    import mlflow

    from airsage.training.testing import dataset_info, job_outputs
    from airsage.training.train import TrainingJobConfig

    cfg = TrainingJobConfig.from_usecase(credit_uc, hyperparameters={"max_depth": 3, "num_round": 10, "nthread": 1})
    job = job_outputs(frame, cfg, tmp_path / "job")
    uc = credit_uc.model_copy(update={"model_name": "clean_env"})
    v = reg.register_training(uc, model_artifact_uri=job.model_artifact_uri, output_data_uri=job.output_data_uri,
                              dataset=dataset_info(frame, str(tmp_path / "ds"), "ds-0001"), run_key="clean",
                              gate_results=[], actor="test")
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=reg.client.get_model_version(v.name, v.version).source,
                                                     dst_path=str(tmp_path / "model"), tracking_uri=reg.tracking_uri))
    reqs = (local / "requirements.txt").read_text().split()
    assert not any(r.startswith("airsage") or "/" in r or r.startswith("-e") for r in reqs), reqs
    assert (local / "code" / "airsage" / "model.py").exists()

    features = job.result.bundle.feature_names
    categorical = job.result.bundle.categorical
    sample = frame[features].head(20).astype({f: "float64" for f in features if f not in categorical})
    data = tmp_path / "sample.parquet"
    sample.to_parquet(data, index=False)
    venv = tmp_path / "venv"
    uv = _uv()
    t0 = time.monotonic()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(py), "-r", str(local / "requirements.txt")],
                   check=True, timeout=900)
    t_install = time.monotonic() - t0
    done = subprocess.run([str(py), "-c", PROBE, str(local), str(data)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                             "MLFLOW_DISABLE_TELEMETRY": "true"})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"clean venv: install {t_install:.0f} s, load+predict {time.monotonic() - t0 - t_install:.0f} s")
    assert str(local / "code") in out["airsage_from"]  # the logged copy, not an installed package
    expected = job.result.bundle.predict_proba(frame.head(20))
    assert out["score"] == pytest.approx(expected.tolist(), abs=1e-12)
    assert out["label"] == job.result.bundle.predict_label(expected).tolist()
