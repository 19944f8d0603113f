"""``pip install .`` into a fresh virtual environment gives a working ``airsage``.

The environment is built the way a user (or an image) would: a new venv, ``requirements.txt``'s runtime
pins and a *non-editable* install of the project (built from a copy of ``pyproject.toml`` + ``include/airsage``
so the working tree gets no ``build/``). No test tool is installed there. Then, in subprocesses with only that
venv on ``PATH``, the command line runs label import (great-expectations) and Clarify with SHAP (shap, an
XGBoost model) on tiny generated data.

Measured at 85 s on this project's 2-core machine (2026-12-05, warm uv cache: venv + install 5 s; the rest is
the commands, each importing great-expectations, shap, MLflow or xgboost), so those tests are marked ``e2e`` (``make test``
runs them, ``make test-fast`` does not). A cold uv cache downloads the pins (~1 GB) first. The check that the
requirement files split runtime from test tools is fast and always runs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEST_ONLY = ("pytest", "moto", "smclarify", "selenium", "responses", "cfn-lint", "s3fs", "pytest-xdist")

MAKE_MODEL = r"""
import sys
import xgboost as xgb
from airsage.data import generator as g
from airsage.model import ModelBundle, vocabularies
df = g.generate(400, seed=3, day="2026-11-01")
features = g.NUMERIC[:6] + ["region"]
bundle = ModelBundle("xgboost", features, vocabularies(df, ["region"]), label=g.LABEL)
bundle.booster = xgb.train({"max_depth": 2, "objective": "binary:logistic", "nthread": 1},
                           xgb.DMatrix(bundle.encode(df), label=df[g.LABEL]), num_boost_round=5)
bundle.save(sys.argv[1])
df[features + [g.LABEL, "sex", "application_id"]].to_parquet(sys.argv[2], index=False)
"""


def _uv() -> str:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        pytest.skip("uv is not installed (make install puts it in .venv/bin)")
    return uv


def _pins(name: str) -> set[str]:
    return {line.split("==")[0].split("[")[0].strip().lower() for line in (REPO / name).read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def test_requirements_split_runtime_from_test_tools():
    runtime, test = _pins("requirements.txt"), _pins("requirements-test.txt")
    assert not runtime & set(TEST_ONLY), f"test tools pinned as runtime: {sorted(runtime & set(TEST_ONLY))}"
    assert set(TEST_ONLY) <= test
    assert not runtime & test, f"pinned twice: {sorted(runtime & test)}"
    image = [line for line in (REPO / "include/docker/Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in image if "requirements-test" in line], "the production image installs test tools"
    assert any("requirements.txt" in line and "install" in line for line in image)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    uv = _uv()
    tmp = tmp_path_factory.mktemp("fresh")
    src = tmp / "src"
    shutil.copytree(REPO / "include" / "airsage", src / "include" / "airsage",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO / "pyproject.toml", src / "pyproject.toml")
    venv = tmp / "venv"
    t0 = time.monotonic()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(py), "-r", str(REPO / "requirements.txt"),
                    str(src)], check=True, timeout=1200)
    print(f"fresh venv: created and installed in {time.monotonic() - t0:.0f} s")
    return tmp, venv


def _run(venv: Path, tmp: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp), "LANG": "C.UTF-8",
           "AIRSAGE__HOME": str(tmp / "home"), "AIRSAGE__USECASES_DIR": str(REPO / "include" / "usecases"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'home' / 'mlflow.db'}", "GIT_PYTHON_REFRESH": "quiet",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=tmp, env=env)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.mark.e2e
def test_installed_package_is_not_the_working_tree_and_has_no_test_tools(fresh_venv):
    tmp, venv = fresh_venv
    probe = ("import importlib.util, json, airsage; print(json.dumps({'file': airsage.__file__, 'missing': "
             f"[m for m in {['pytest', 'moto', 'smclarify', 'selenium', 'responses']!r} "
             "if importlib.util.find_spec(m) is None]}))")
    out = json.loads(_run(venv, tmp, str(venv / "bin" / "python"), "-c", probe).stdout.strip().splitlines()[-1])
    assert Path(out["file"]).is_relative_to(venv), out["file"]  # site-packages, not an editable link to the repo
    assert sorted(out["missing"]) == ["moto", "pytest", "responses", "selenium", "smclarify"]


@pytest.mark.e2e
def test_label_import_and_clarify_run_from_the_installed_cli(fresh_venv):
    tmp, venv = fresh_venv
    airsage = str(venv / "bin" / "airsage")
    t0 = time.monotonic()
    prepared = json.loads(_run(venv, tmp, airsage, "demo", "prepare", "--usecase", "credit_risk", "--days", "2",
                               "--rows", "300").stdout)
    imported = json.loads(_run(venv, tmp, airsage, "labels", "import", "--usecase", "credit_risk",
                               "--manifest", prepared["manifest"]).stdout)
    dataset = Path(imported["uri"])
    assert dataset.is_relative_to(tmp / "home") and any(dataset.rglob("*.parquet")), imported
    assert imported["manifest"]["rows"] == 2 * 300 and imported["quarantined"] == 0  # two days of 300 records

    model, data = tmp / "model", tmp / "data.parquet"
    _run(venv, tmp, str(venv / "bin" / "python"), "-c", MAKE_MODEL, str(model), str(data))
    cfg = {"dataset_type": "application/x-parquet", "label": "default", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "sex", "value_or_threshold": ["female"]}],
           "excluded_columns": ["sex", "application_id"],
           "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]},
                       "post_training_bias": {"methods": ["DPPL"]},
                       # KernelSHAP: the path that needs the shap package itself
                       "shap": {"explainer": "kernel", "num_clusters": 3, "num_samples": 20,
                                "save_local_shap_values": False}}}
    (tmp / "analysis_config.json").write_text(json.dumps(cfg))
    _run(venv, tmp, airsage, "clarify", "--analysis-config", str(tmp / "analysis_config.json"),
         "--dataset", str(data), "--output", str(tmp / "clarify"), "--model-uri", str(model))
    analysis = json.loads((tmp / "clarify" / "analysis.json").read_text())
    assert {m["name"] for m in analysis["pre_training_bias_metrics"]["facets"]["sex"][0]["metrics"]} == {"CI", "DPL"}
    assert analysis["airsage"]["shap_method"] == "kernel_shap", analysis["airsage"]
    assert set(analysis["explanations"]["kernel_shap"]["label0"]["global_shap_values"]) == {
        "age", "income", "loan_amount", "loan_term_months", "interest_rate", "debt_to_income", "region"}
    print(f"label import + clarify from the installed CLI: {time.monotonic() - t0:.0f} s")
