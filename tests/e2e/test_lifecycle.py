"""The whole lifecycle through Airflow (``airflow dags test``, DAG after DAG) on the embedded default.

Asserts the MLflow state (versions, approval tags, aliases), the audit log and the written predictions,
not just exit codes; then that a second run is safe. (That Airflow refuses to score with a version that is
not approved is asserted in ``test_sagemaker_lifecycle.py``, after its tuning run registers version 2.)
"""
from __future__ import annotations

import getpass

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from airsage.devenv import airflow_env

    home = tmp_path_factory.mktemp("e2e-home")
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("AIRSAGE__", "AIRFLOW", "MLFLOW_"))}
    return airflow_env(home, base=base)


def run(cmd: list[str], env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return proc


def registry(env):
    """Read the registry the way an auditor would: a fresh process, MLflow's own client."""
    code = (
        "import json, mlflow\n"
        "c = mlflow.MlflowClient()\n"
        "rm = c.get_registered_model('credit_risk')\n"
        "vs = c.search_model_versions(\"name='credit_risk'\")\n"
        "print(json.dumps({'aliases': {k: str(v) for k, v in rm.aliases.items()}, 'versions': {v.version: dict(c.get_model_version('credit_risk', v.version).tags) for v in vs}}))\n"
    )
    out = run([sys.executable, "-c", code], env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def first_run(env):
    proc = run([sys.executable, "-m", "airsage.demo"], env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return proc


def test_demo_registers_approves_and_scores(first_run, env):
    reg = registry(env)
    assert reg["aliases"] == {"champion": "1"}
    tags = reg["versions"]["1"]
    assert tags["approval_status"] == "Approved"
    assert tags["approved_by"] == getpass.getuser()
    # `airflow dags test` has no authenticated user: recorded like the CLI, so an auditor can tell it from the UI
    assert tags["approval_source"] == f"cli:airflow-dags-test:{getpass.getuser()}"
    assert tags["dataset_version"].startswith("ds-")

    data = Path(env["AIRSAGE__HOME"]) / "data" / "credit_risk"
    outs = sorted((data / "predictions" / "dt=2026-11-21").rglob("*.out"))
    assert outs, "no prediction files"
    import pandas as pd

    scored = pd.concat([pd.read_parquet(p) for p in outs])
    inputs = pd.concat([pd.read_parquet(p) for p in (data / "scoring" / "dt=2026-11-21").rglob("*.parquet")])
    assert len(scored) == len(inputs)
    assert scored["application_id"].tolist() == inputs["application_id"].tolist()  # order preserved
    out_cols = set(scored.columns)
    assert {"inference_id", "score", "predicted_label", "model_name", "model_version"} <= out_cols
    assert scored["model_version"].astype(str).eq("1").all() and scored["score"].between(0, 1).all()
    captures = list((data / "capture").rglob("*.parquet"))
    assert captures, "no data capture written"

    audit = sorted((data.parent / "_audit" / "credit_risk").glob("*.json"))
    actions = [json.loads(p.read_text())["action"] for p in audit]
    assert actions[:2] == ["register", "approve"], actions
    assert "What the demo produced" in first_run.stdout


def test_second_run_is_safe(first_run, env):
    data = Path(env["AIRSAGE__HOME"]) / "data" / "credit_risk"
    before = sorted(p.name for p in (data / "predictions" / "dt=2026-11-21").rglob("*"))
    datasets_before = sorted(p.name for p in (data / "datasets").iterdir())
    proc = run([sys.executable, "-m", "airsage.demo"], env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "skipping training" in proc.stdout
    assert sorted(p.name for p in (data / "predictions" / "dt=2026-11-21").rglob("*")) == before
    assert sorted(p.name for p in (data / "datasets").iterdir()) == datasets_before
    assert list(registry(env)["versions"]) == ["1"]
    captures = sorted((data / "capture" / "dt=2026-11-21").glob("*.parquet"))
    assert len(captures) == 1, captures  # a rerun of the partition replaces its capture, never adds one


# ---------------------------------------------------------------------- champion and challenger (shadow scoring)
SHADOW_DAY = "2026-11-22"


@pytest.fixture(scope="module")
def shadow_run(first_run, env):
    """``make demo-shadow`` after the demo: outcomes arrive, v2 is trained and left pending, the next night's
    partition is scored by v1 with v2 in shadow, its outcomes arrive, v2 is approved from the evidence."""
    proc = run([sys.executable, "-m", "airsage.demo", "--shadow"], env, timeout=1500)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    return proc


def test_shadow_scores_a_pending_version_beside_the_champion(shadow_run, env):
    import pandas as pd

    data = Path(env["AIRSAGE__HOME"]) / "data" / "credit_risk"
    inputs = pd.concat([pd.read_parquet(p) for p in sorted((data / "scoring" / f"dt={SHADOW_DAY}").rglob("*.parquet"))])
    # the predictions Asset holds the champion's scores only: the shadow version is never served
    scored = pd.concat([pd.read_parquet(p) for p in sorted((data / "predictions" / f"dt={SHADOW_DAY}").rglob("*.out"))])
    assert scored["model_version"].astype(str).eq("1").all()
    assert len(scored) == len(inputs)
    capture = pd.concat([pd.read_parquet(p) for p in (data / "capture" / f"dt={SHADOW_DAY}").glob("*.parquet")])
    assert set(capture["model_version"].astype(str)) == {"1"}
    # v2's scores of the same rows, in its own place, beside the champion's
    shadow = pd.concat([pd.read_parquet(p) for p in sorted((data / "shadow" / "v2" / "scores" / f"dt={SHADOW_DAY}").rglob("*.out"))])
    assert shadow["inference_id"].tolist() == inputs["application_id"].astype(str).tolist()
    assert shadow["champion_score"].tolist() == scored["score"].tolist()
    assert {"sex", "age_group", "score", "predicted_label", "champion_label"} <= set(shadow.columns)
    assert not shadow["score"].equals(shadow["champion_score"])  # a different model
    comparison = json.loads((data / "shadow" / "v2" / "compare" / f"dt={SHADOW_DAY}.json").read_text())
    flips = int((shadow["champion_label"] != shadow["predicted_label"]).sum())
    assert comparison["rows"] == len(inputs) and comparison["flips"]["total"] == flips
    assert comparison["agreement"]["agree"] == len(inputs) - flips
    assert {"sex", "age_group"} <= set(comparison["groups"]) and comparison["bias"]


def test_shadow_evidence_reaches_the_approver_and_stops_on_approval(shadow_run, env):
    data = Path(env["AIRSAGE__HOME"]) / "data" / "credit_risk"
    summary = json.loads((data / "shadow" / "v2" / "summary.json").read_text())
    # the outcomes of the shadow partition arrived: the paired quality comparison on the same labelled rows
    quality = summary["quality"]
    assert quality["status"] == "ok" and quality["labelled_rows"] > 0
    assert 0 <= quality["delong"]["p_value"] <= 1
    assert quality["auc_delta"] == pytest.approx(quality["challenger"]["auc"] - quality["champion"]["auc"])
    assert "Shadow" in shadow_run.stdout  # the approval request's summary printed by the demo
    # approving v2 made it the champion and stopped its shadow scoring, recorded with who and when
    reg = registry(env)
    assert reg["aliases"]["champion"] == "2" and reg["aliases"]["previous"] == "1"
    assert summary["status"] == "stopped"
    assert summary["stopped_reason"].startswith(f"approved by {getpass.getuser()}")
    assert summary["partitions"] == 1 and summary["history"][0]["partition"] == SHADOW_DAY

