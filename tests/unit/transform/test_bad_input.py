"""Bad transform input and dangerous outputs (issue 14): the output never replaces an input or a folder
Airsage did not publish, a run with failed files is a partial failure (exit code 3), every malformed
file is a named failure, and what a killed run left is cleaned up by the next run of the same target."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airsage import storage
from airsage.errors import ConfigError, OutputRefusedError, PartialFailureError
from airsage.transform import TransformConfig, TransformFailedError, run_batch_transform


def _run(model, src, out, **kwargs):
    config = TransformConfig(content_type=kwargs.pop("content_type", "text/csv"), inference_fields=("score",))
    return run_batch_transform(model, str(src), str(out), config, model_name="m", model_version="1", run_key="r",
                               **kwargs)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_output_containing_its_input_is_refused_and_nothing_is_deleted(model, tmp_path):
    d = tmp_path / "D"
    (d / "in").mkdir(parents=True)
    (d / "in" / "a.csv").write_text("1,2,red\n")
    (d / "unrelated.txt").write_text("keep")
    before = _tree(tmp_path)
    for out in (d, d / "in", tmp_path / "D" / "x" / ".." / "in"):
        with pytest.raises((ConfigError, OutputRefusedError)) as exc:
            _run(model, d / "in", out, force=True)
        assert "Fix:" in str(exc.value)
    assert _tree(tmp_path) == before


def test_output_on_a_folder_airsage_did_not_publish_is_refused(model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n")
    baseline = tmp_path / "baseline"  # e.g. a monitoring baseline someone keeps by hand
    baseline.mkdir()
    (baseline / "constraints.json").write_text("{}")
    with pytest.raises(OutputRefusedError, match="constraints.json"):
        _run(model, src, baseline)
    assert (baseline / "constraints.json").read_text() == "{}"
    with storage.atomic_dir(str(tmp_path / "ds"), kind="dataset") as stage:  # an Airsage dataset directory
        (stage / "data.parquet").write_text("rows")
    with pytest.raises(OutputRefusedError, match="'dataset' output"):
        _run(model, src, tmp_path / "ds")
    assert (tmp_path / "ds" / "data.parquet").read_text() == "rows"
    report = _run(model, src, tmp_path / "out")  # a new folder is fine, and so is its rerun
    assert report.files_out == 1 and _run(model, src, tmp_path / "out").files_out == 1
    assert json.loads((tmp_path / "out" / "_SUCCESS").read_text())["kind"] == "transform"


def test_capture_may_not_overlap_input_or_output(model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n")
    with pytest.raises(ConfigError, match="capture_uri"):
        _run(model, src, tmp_path / "out", capture_uri=str(src / "capture"))
    with pytest.raises(ConfigError, match="capture_uri"):
        _run(model, src, tmp_path / "out", capture_uri=str(tmp_path / "out" / "capture"))


def test_partial_failure_is_an_error_with_exit_code_3(model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n")
    (src / "b.csv").write_text("1,2,red,9,9\n1,2\n")
    with pytest.raises(TransformFailedError) as err:
        _run(model, src, tmp_path / "out")
    assert isinstance(err.value, PartialFailureError) and err.value.exit_code == 3
    assert err.value.failures == ["b.csv, line 1: the filtered record has 5 value(s); the model expects 3 "
                                  "(x1, x2, color) - check input_filter"]
    (src / "a.csv").write_text("x,y,z\n")  # now every file fails: nothing published, a plain failure
    with pytest.raises(TransformFailedError) as err:
        _run(model, src, tmp_path / "out2")
    assert err.value.exit_code == 2


@pytest.mark.parametrize(("content_type", "body", "reason"), [
    ("application/jsonlines", b"[" * 200_000 + b"]" * 200_000 + b"\n", "nested too deeply"),
    ("application/jsonlines", b'{"x1": 1, "x2": 2, "color": "r\xe9d"}\n', "not UTF-8"),
    ("text/csv", b'1,2,"red\n', "not a valid CSV row"),
    ("application/x-parquet", b"PAR1 not really", "not a readable Parquet file"),
    ("application/x-parquet", b"", "not a readable Parquet file"),
])
def test_malformed_files_are_named_failures_and_good_files_still_complete(model, tmp_path, content_type, body, reason):
    import pandas as pd

    src = tmp_path / "in"
    src.mkdir()
    if content_type == "application/x-parquet":
        pd.DataFrame({"x1": [1.0], "x2": [2.0], "color": ["red"]}).to_parquet(src / "a_good.parquet")
    elif content_type == "text/csv":
        (src / "a_good.csv").write_text("1,2,red\n")
    else:
        (src / "a_good.jsonl").write_text('{"x1": 1, "x2": 2, "color": "red"}\n')
    (src / "b_bad.dat").write_bytes(body)
    report = _run(model, src, tmp_path / "out", content_type=content_type, fail_on_file_error=False)
    assert (report.files_in, report.files_out, report.files_failed) == (2, 1, 1)
    (failure,) = report.failures
    assert failure.relative_path == "b_bad.dat" and reason in failure.reason


def test_a_symlink_out_of_the_input_folder_is_a_failure_not_read(model, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("1,2,red\n")
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n")
    os.symlink(secret, src / "link.csv")
    report = _run(model, src, tmp_path / "out", fail_on_file_error=False)
    assert (report.files_in, report.files_out, report.files_failed) == (2, 1, 1)
    assert report.failures[0].relative_path == "link.csv" and "symbolic link" in report.failures[0].reason
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_SUCCESS", "a.csv.out"]


def test_capture_scratch_of_a_killed_run_is_removed_by_the_next_run(model, tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv(storage.WORK_ROOT_ENV, str(tmp_path / "work"))
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n")
    capture_file = storage.join(str(tmp_path / "cap"), "dt=2026-11-20", "r.parquet")
    prefix = f".capture-{hashlib.sha1(capture_file.encode()).hexdigest()[:12]}."
    base = tmp_path / "work" / "airsage-work"
    base.mkdir(parents=True)
    leftover = base / f"{prefix}stage-0000dead"  # what a kill -9 left (its lock is held by nobody)
    leftover.mkdir()
    (leftover / "part-00000.parquet").write_bytes(b"x" * 1000)
    (base / f"{prefix}stage-0000dead.lock").write_text("")
    old = 0  # whatever its age
    os.utime(leftover, (old, old))
    _run(model, src, tmp_path / "out", capture_uri=str(tmp_path / "cap"), partition_date="2026-11-20")
    assert list(base.iterdir()) == []
    assert (tmp_path / "cap" / "dt=2026-11-20" / "r.parquet").exists()
