"""``python -m airsage.entrypoints.transform`` under the local job contract (run in-process)."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from airsage.data import generator as g
from airsage.entrypoints import transform as entry
from airsage.errors import ConfigError


def _contract(monkeypatch, tmp_path, bundle, params):
    opt_ml = tmp_path / "opt_ml"
    bundle.save(opt_ml / "model")
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(opt_ml))
    monkeypatch.delenv("SM_MODEL_DIR", raising=False)
    monkeypatch.delenv("SM_OUTPUT_DATA_DIR", raising=False)
    monkeypatch.setenv("AIRSAGE_INPUT_DATA", str(tmp_path / "in"))
    monkeypatch.setenv("AIRSAGE_OUTPUT_URI", str(tmp_path / "out"))
    monkeypatch.setenv("AIRSAGE_JOB_NAME", "credit-transform-1")
    monkeypatch.setenv("AIRSAGE_JOB_PARAMETERS", json.dumps(params))
    return opt_ml


def test_job_writes_outputs_and_report(monkeypatch, tmp_path, bundle):
    (tmp_path / "in").mkdir()
    g.generate(500, seed=1).to_parquet(tmp_path / "in" / "part.parquet", index=False)
    opt_ml = _contract(monkeypatch, tmp_path, bundle, {
        "content_type": "application/x-parquet", "join_source": "None", "model_name": "credit", "model_version": "4",
        "record_id_col": "application_id", "capture": True, "capture_uri": str(tmp_path / "cap"),
        "partition_date": "2026-11-20"})
    entry.main()
    report = json.loads((opt_ml / "output" / "data" / "report.json").read_text())
    assert report["status"] == "Completed" and report["records_out"] == 500
    assert report["run_key"] == "credit-transform-1"
    out = pd.read_parquet(tmp_path / "out" / "part.parquet.out")
    assert set(out["model_version"]) == {"4"} and len(out) == 500
    assert (tmp_path / "cap" / "dt=2026-11-20" / "credit-transform-1.parquet").exists()


def test_job_fails_nonzero_with_report_when_a_file_failed(monkeypatch, tmp_path, bundle):
    (tmp_path / "in").mkdir()
    g.generate(50, seed=1).to_parquet(tmp_path / "in" / "a.parquet", index=False)
    (tmp_path / "in" / "b.parquet").write_text("garbage")
    opt_ml = _contract(monkeypatch, tmp_path, bundle, {"model_name": "credit", "model_version": "4"})
    with pytest.raises(SystemExit) as exit_:
        entry.main()
    assert exit_.value.code == 1
    report = json.loads((opt_ml / "output" / "data" / "report.json").read_text())
    assert report["files_failed"] == 1 and report["failures"][0]["relative_path"] == "b.parquet"
    assert "b.parquet" in (opt_ml / "output" / "failure").read_text()
    assert (tmp_path / "out" / "a.parquet.out").exists()


def test_unknown_parameters_are_named():
    with pytest.raises(ConfigError) as err:
        entry.split_parameters({"model_name": "m", "input_filtre": "$"})
    assert "input_filtre" in str(err.value)
