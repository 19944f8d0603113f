"""The monitor job as a compute job: ``airsage.lifecycle.monitoring.monitor_spec`` on the local backend and
as a SageMaker request, the entrypoint's channel/settings-file inputs, and ``DataMonitorReport.read`` (how the caller
rebuilds the job's report).

The SageMaker test builds the ``CreateProcessingJob`` request of a spec over an ``s3://`` root
(validated against botocore's model), lays its inputs out the way SageMaker downloads them, runs the
entrypoint with the request's environment, and compares the outputs with the local backend's job on the
same data: the same spec runs identically on both.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airsage.lifecycle import monitoring
from airsage.compute import sagemaker_requests as rq
from airsage.compute.local import LocalBackend
from airsage.config import DataSpec, get_usecase
from airsage.data import generator
from airsage.entrypoints import monitor as job
from airsage.errors import ConfigError
from airsage.monitor.baseline import suggest_baseline
from airsage.monitor.data_monitor import DataMonitorReport, monitor_data
from airsage.monitor.drift import DriftThresholds
from airsage.monitor.report import render_report

_SPECS = Path(__file__).resolve().parents[1] / "compute" / "sagemaker_specs.py"
_spec = importlib.util.spec_from_file_location("sagemaker_specs_for_monitor", _SPECS)
sm_specs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sm_specs)

S3_ROOT = f"s3://{sm_specs.BUCKET}/data/credit_risk"
OUTPUT_FILES = ("statistics.json", "constraint_violations.json", "drift.json", "summary.json", "quality.json")
ENV = ("AIRSAGE_MONITOR_MODE", "analysis_type", "dataset_format", "dataset_source", "output_path",
       "baseline_statistics", "baseline_constraints", "AIRSAGE_MONITOR_FEATURES", "AIRSAGE_MONITOR_EXCLUDE",
       "AIRSAGE_MONITOR_WEIGHTS", "AIRSAGE_MONITOR_SCORE_COLUMN", "AIRSAGE_MONITOR_SCORE_STATISTICS",
       "AIRSAGE_MONITOR_THRESHOLDS", "AIRSAGE_MONITOR_COMPARISON_METHOD", "AIRSAGE_MONITOR_COMPARISON_THRESHOLD",
       "AIRSAGE_USECASE")


def usecase(root: str):
    base = get_usecase("credit_risk")
    return base.model_copy(update={"data": DataSpec(root=root)})


@pytest.fixture()
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def analysis(tmp_path_factory, features) -> dict:
    """A baseline (training features + scores) and a staged, drifted current dataset under a local root,
    laid out as ``plan_partition`` leaves them; ``args`` are monitor_spec's arguments."""
    root = tmp_path_factory.mktemp("root")
    rng = np.random.default_rng(3)
    train = generator.generate(3000, seed=31, day="2026-11-01")
    stats, cons = suggest_baseline(train, features=features)
    score_stats = suggest_baseline(pd.DataFrame({"score": rng.beta(2, 5, 3000)}), features={"score": "numeric"})[0]
    staging = root / "monitor" / "runs" / "dt=2026-11-21" / "r1" / "_staging"
    for channel, name, doc in (("baseline_statistics", "statistics.json", stats),
                               ("baseline_constraints", "constraints.json", cons),
                               ("score_statistics", "score_statistics.json", score_stats)):
        (staging / channel).mkdir(parents=True)
        (staging / channel / name).write_text(json.dumps(doc))
    current = generator.generate(2000, seed=32, day="2026-11-21", drift="shift")[list(features)]
    current["score"] = rng.beta(3, 4, len(current))
    (staging / "dataset").mkdir(parents=True)
    current.iloc[:1200].to_parquet(staging / "dataset" / "part-00000.parquet", index=False)
    current.iloc[1200:].to_parquet(staging / "dataset" / "part-00001.parquet", index=False)
    weights = {f: (3.0 if f == "credit_score" else 1.0) for f in features}
    total = sum(weights.values())
    weights = {f: w / total for f, w in weights.items()}
    (staging / "monitor_config").mkdir()
    (staging / "monitor_config" / "monitor_config.json").write_text(json.dumps({"AIRSAGE_MONITOR_WEIGHTS": weights}))
    args = {"mode": "analyze", "target": "2026-11-21", "dataset_uri": str(staging / "dataset"),
            "config_uri": str(staging / "monitor_config"), "statistics_uri": str(staging / "baseline_statistics"),
            "constraints_uri": str(staging / "baseline_constraints"),
            "score_statistics_uri": str(staging / "score_statistics"), "input_digest": "0123456789abcdef"}
    return {"root": root, "args": args, "current": current, "stats": stats, "cons": cons,
            "score_stats": score_stats, "weights": weights}


def _on_s3(args: dict, root: Path) -> dict:
    """The same arguments over an s3:// root (directory inputs end in '/', as ``plan_partition`` makes them)."""
    return {k: v.replace(str(root), S3_ROOT) + ("/" if k.endswith("_uri") else "") if isinstance(v, str) else v
            for k, v in args.items()}


def _sagemaker_download(request: dict, root: Path, opt_ml: Path) -> None:
    """Lay the request's S3 inputs out as SageMaker does (S3Prefix, File mode) from the local mirror."""
    for inp in request["ProcessingInputs"]:
        if inp["InputName"] == rq.CODE_CHANNEL:
            continue
        src = Path(inp["S3Input"]["S3Uri"].rstrip("/").replace(S3_ROOT, str(root)))
        dest = opt_ml / Path(inp["S3Input"]["LocalPath"]).relative_to(rq.OPT_ML)
        dest.mkdir(parents=True, exist_ok=True)
        if src.is_file():
            shutil.copy(src, dest / src.name)
        else:
            shutil.copytree(src, dest, dirs_exist_ok=True)


# =========================================================================== the spec
def test_analyze_spec_names_channels_and_a_deterministic_unique_name(analysis):
    uc = usecase(str(analysis["root"]))
    spec = monitoring.monitor_spec(uc, run_key="scheduled__2026-11-22T02-00", **analysis["args"])
    assert spec.kind == "monitor" and spec.entrypoint == "airsage.entrypoints.monitor"
    assert set(spec.inputs) == {"dataset", "baseline_statistics", "baseline_constraints", "score_statistics",
                                "monitor_config"}
    assert spec.name.startswith("credit-risk-monitor-analyze-2026-11-21-scheduled") and len(spec.name) <= 63
    assert spec.output_uri == uc.path("monitor", "jobs", spec.name)
    assert spec.environment["AIRSAGE_MONITOR_MODE"] == "analyze"
    assert spec.environment["AIRSAGE_MONITOR_SCORE_COLUMN"] == "score"
    assert json.loads(spec.environment["AIRSAGE_MONITOR_THRESHOLDS"])["psi_threshold"] == uc.monitor.psi_threshold
    assert spec.resources == uc.compute.monitor.model_dump()
    again = monitoring.monitor_spec(uc, run_key="scheduled__2026-11-22T02-00", **analysis["args"])
    assert again == spec  # a retried task resubmits the same job
    other_day = monitoring.monitor_spec(uc, run_key="scheduled__2026-11-22T02-00",
                                      **{**analysis["args"], "target": "2026-11-20"})
    new_data = monitoring.monitor_spec(uc, run_key="scheduled__2026-11-22T02-00",
                                     **{**analysis["args"], "input_digest": "fedcba9876543210"})
    assert len({spec.name, other_day.name, new_data.name}) == 3  # per mapped partition, per input content
    with pytest.raises(ConfigError, match="unknown monitor mode"):
        monitoring.monitor_spec(uc, run_key="r", **{**analysis["args"], "mode": "baseline"})


def test_the_spec_runs_identically_on_the_local_backend_and_as_a_sagemaker_request(analysis, tmp_path, clean_env):
    root = analysis["root"]
    local = monitoring.monitor_spec(usecase(str(root)), run_key="r1", **analysis["args"])
    status = LocalBackend(jobs_dir=tmp_path / "jobs").run(local, poll_s=0.2)
    assert status.state == "Completed" and status.outputs["output"] == local.output_uri

    s3 = monitoring.monitor_spec(usecase(S3_ROOT), run_key="r1", **_on_s3(analysis["args"], root))
    [(op, request)] = rq.build_requests(s3, sm_specs.settings(), sm_specs.compute(),
                                        sourcedir_uri=sm_specs.SOURCEDIR, usecase="credit_risk")  # validated
    assert op == "CreateProcessingJob"
    paths = {i["InputName"]: i["S3Input"]["LocalPath"] for i in request["ProcessingInputs"]}
    assert paths == {ch: f"/opt/ml/processing/input/{ch}" for ch in (*s3.inputs, rq.CODE_CHANNEL)}
    assert request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == s3.output_uri
    env = request["Environment"]
    assert env["AIRSAGE_MONITOR_MODE"] == "analyze" and env["AIRSAGE_OPT_ML"] == "/opt/ml"
    assert "baseline_statistics" not in env  # found through the channel, as under the local backend

    opt_ml = tmp_path / "opt_ml"
    _sagemaker_download(request, root, opt_ml)
    for k, v in env.items():
        if k != "PYTHONPATH":
            clean_env.setenv(k, v)
    clean_env.setenv("AIRSAGE_OPT_ML", str(opt_ml))
    job.main()
    for name in OUTPUT_FILES:
        on_sagemaker = (opt_ml / "processing" / "output" / name).read_text()
        assert on_sagemaker == (Path(local.output_uri) / name).read_text(), name
    summary = json.loads((Path(local.output_uri) / "summary.json").read_text())
    assert summary["item_count"] == 2000 and summary["prediction_psi"] is not None
    assert json.loads((Path(local.output_uri) / "drift.json").read_text())["weights_source"] == "importance"


def test_baseline_spec_request_validates(analysis):
    args = {"mode": "suggest-baseline", "target": "v3", "dataset_uri": f"{S3_ROOT}/datasets/ds-0123456789ab/",
            "config_uri": f"{S3_ROOT}/monitor/baselines/v3/_staging/monitor_config.json", "input_digest": "abc"}
    spec = monitoring.monitor_spec(usecase(S3_ROOT), run_key="manual__1", **args)
    assert spec.name.startswith("credit-risk-monitor-baseline-v3-manual-1-")
    assert spec.inputs == {"baseline_dataset_input": args["dataset_uri"], "monitor_config": args["config_uri"]}
    assert spec.environment["AIRSAGE_MONITOR_COMPARISON_METHOD"] == "Robust"
    [(_, request)] = rq.build_requests(spec, sm_specs.settings(), sm_specs.compute(),
                                       sourcedir_uri=sm_specs.SOURCEDIR, usecase="credit_risk")
    dataset = next(i for i in request["ProcessingInputs"] if i["InputName"] == "baseline_dataset_input")
    assert dataset["S3Input"]["LocalPath"] == "/opt/ml/processing/input/baseline_dataset_input"
    assert dataset["S3Input"]["S3Uri"].endswith("/ds-0123456789ab/")  # the prefix names this dataset only


# =========================================================================== the entrypoint's inputs
def test_suggest_baseline_reads_features_from_the_settings_file_and_comparison_from_the_env(
        tmp_path, clean_env, features):
    clean_env.setenv("AIRSAGE_OPT_ML", str(tmp_path))
    data = tmp_path / "processing" / "input" / "baseline_dataset_input"
    data.mkdir(parents=True)
    train = generator.generate(2000, seed=41)
    train.to_parquet(data / "data.parquet", index=False)
    cfg = tmp_path / "processing" / "input" / "monitor_config"
    cfg.mkdir(parents=True)
    (cfg / "monitor_config.json").write_text(json.dumps({"AIRSAGE_MONITOR_FEATURES": features,
                                                         "AIRSAGE_MONITOR_COMPARISON_METHOD": "Robust"}))
    clean_env.setenv("AIRSAGE_MONITOR_MODE", "suggest-baseline")
    clean_env.setenv("AIRSAGE_MONITOR_COMPARISON_METHOD", "Simple")  # the environment wins over the file
    clean_env.setenv("AIRSAGE_MONITOR_COMPARISON_THRESHOLD", "0.25")
    job.main()
    out = tmp_path / "processing" / "output"
    stats, cons = (json.loads((out / n).read_text()) for n in ("statistics.json", "constraints.json"))
    exp_stats, exp_cons = suggest_baseline(train, features=features, comparison_method="Simple",
                                           comparison_threshold=0.25)
    assert [f["name"] for f in stats["features"]] == list(features)  # no id, label or passthrough column
    distribution = cons["monitoring_config"]["distribution_constraints"]
    assert distribution == exp_cons["monitoring_config"]["distribution_constraints"]
    assert cons["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Simple"
    assert stats["dataset"] == exp_stats["dataset"]


def test_bad_settings_fail_with_a_fix(tmp_path, clean_env):
    clean_env.setenv("AIRSAGE_OPT_ML", str(tmp_path))
    cfg = tmp_path / "processing" / "input" / "monitor_config"
    cfg.mkdir(parents=True)
    (cfg / "monitor_config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="not a JSON object") as err:
        job.config_file_settings()
    assert err.value.fix
    (cfg / "monitor_config.json").write_text("{}")
    clean_env.setenv("AIRSAGE_MONITOR_COMPARISON_METHOD", "Fancy")
    with pytest.raises(ConfigError, match="Fancy"):
        job.comparison_settings()
    clean_env.setenv("AIRSAGE_MONITOR_COMPARISON_METHOD", "Simple")
    clean_env.setenv("AIRSAGE_MONITOR_COMPARISON_THRESHOLD", "ten percent")
    with pytest.raises(ConfigError, match="not a number"):
        job.comparison_settings()


# =========================================================================== rebuilding the job's report
def test_a_report_read_back_from_the_job_output_equals_the_original(analysis, tmp_path):
    original = monitor_data(analysis["current"], analysis["stats"], analysis["cons"], weights=analysis["weights"],
                            thresholds=DriftThresholds(psi_threshold=0.15), score_column="score",
                            score_statistics=analysis["score_stats"])
    assert original.quality.violations and original.drift.prediction is not None  # a non-trivial report
    original.write_job_outputs(str(tmp_path / "job"))
    read = DataMonitorReport.read(str(tmp_path / "job"))
    assert read.to_dict() == original.to_dict()
    assert read.summary() == original.summary() and read.alert == original.alert
    assert render_report(read, title="t") == render_report(original, title="t")
    read.write(str(tmp_path / "again"))
    for name in OUTPUT_FILES[:-1]:
        assert (tmp_path / "again" / name).read_text() == (tmp_path / "job" / name).read_text(), name
    (tmp_path / "job" / "quality.json").unlink()
    with pytest.raises(Exception, match="quality.json"):
        DataMonitorReport.read(str(tmp_path / "job"))
