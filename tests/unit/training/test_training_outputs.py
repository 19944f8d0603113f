"""The one reader of a training job's output data (``read_job_outputs``)."""
from __future__ import annotations

import json
import tarfile

import pytest

from airsage.errors import DataValidationError
from airsage.training.outputs import read_job_outputs


def _tar(src, target):
    with tarfile.open(target, "w:gz") as tar:
        for p in sorted(src.rglob("*")):
            tar.add(p, arcname=p.relative_to(src).as_posix(), recursive=False)
    return str(target)


@pytest.fixture
def output_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "metrics.json").write_text(json.dumps({"evaluation": {"auc": 0.8}, "train_rows": 10}))
    (d / "model_quality.json").write_text(json.dumps({"binary_classification_metrics": {}}))
    (d / "trials.json").write_text(json.dumps([{"trial": 1}]))
    (d / "eval_predictions.parquet").write_bytes(b"PAR1")
    return d


@pytest.mark.parametrize("packed", [True, False], ids=["output.tar.gz", "directory"])
def test_reads_archive_or_directory(tmp_path, output_dir, packed):
    uri = _tar(output_dir, tmp_path / "output.tar.gz") if packed else str(output_dir)
    out = read_job_outputs(uri, tmp_path / "dest")
    assert out["metrics"] == {"evaluation": {"auc": 0.8}, "train_rows": 10}
    assert out["trials"] == [{"trial": 1}]
    assert out["model_quality"] == {"binary_classification_metrics": {}}
    assert out["model_quality_constraints"] is None
    assert out["eval_predictions"].read_bytes() == b"PAR1"
    assert out["eval_predictions"].is_relative_to(tmp_path / "dest")


def test_missing_metrics_is_a_data_error_with_a_fix(tmp_path, output_dir):
    (output_dir / "metrics.json").unlink()
    with pytest.raises(DataValidationError, match="no metrics.json") as err:
        read_job_outputs(str(output_dir), tmp_path / "dest")
    assert "Fix:" in str(err.value) or err.value.fix
    assert read_job_outputs(str(output_dir), tmp_path / "d2", require_metrics=False)["metrics"] is None


def test_unreadable_archive_is_a_data_error(tmp_path):
    bad = tmp_path / "output.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(DataValidationError, match="cannot read the training output"):
        read_job_outputs(str(bad), tmp_path / "dest")
    with pytest.raises(DataValidationError):
        read_job_outputs(str(tmp_path / "missing.tar.gz"), tmp_path / "dest2")


def test_reader_module_is_light():
    import subprocess
    import sys

    code = "import sys, airsage.training.outputs; print(any(m in sys.modules for m in ('pandas', 'numpy', 'xgboost')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
