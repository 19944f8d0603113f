"""The nightly transform's late-data condition (``partition_ready``) and its verdict on a partition where some
input files failed (``partial_failure``)."""
from __future__ import annotations

import json

import pytest

from airsage.config import get_usecase
from airsage.errors import PartialFailureError
from airsage.lifecycle.transform import partial_failure, partition_ready, scoring_input


def test_any_input_file_makes_the_partition_ready(tmp_path):
    part = tmp_path / "scoring" / "dt=2026-11-21"
    assert partition_ready(str(part), None) == (False, f"no input file under {part} yet")  # not even the folder
    part.mkdir(parents=True)
    (part / ".part-0.parquet.tmp").write_text("x")  # an upload in progress does not count
    (part / "_started").write_text("")
    assert partition_ready(str(part), None)[0] is False
    (part / "part-0.parquet").write_text("x")
    assert partition_ready(str(part), None) == (True, f"1 input file(s) under {part}")


def test_a_marker_is_waited_for_and_an_airsage_publish_in_progress_is_not_ready(tmp_path):
    part = tmp_path / "dt=2026-11-21"
    part.mkdir()
    (part / "part-0.csv").write_text("1,2\n")
    ready, why = partition_ready(str(part), "_SUCCESS")
    assert not ready and why == f"waiting for {part / '_SUCCESS'}"
    (part / "_SUCCESS").write_text(json.dumps({"format": "airsage-output/1", "kind": "output", "state": "publishing"}))
    assert partition_ready(str(part), "_SUCCESS")[0] is False
    (part / "_SUCCESS").write_text("")  # Spark / Hadoop: an empty marker
    assert partition_ready(str(part), "_SUCCESS") == (True, f"{part / '_SUCCESS'} is there")
    (part / "DONE").write_text("")
    assert partition_ready(str(part), "DONE")[0] is True


def test_scoring_input_is_the_override_or_the_layout():
    uc = get_usecase("credit_risk")
    assert scoring_input(uc, "2026-11-21", "s3://b/in") == "s3://b/in"
    assert scoring_input(uc, "2026-11-21").endswith("/scoring/dt=2026-11-21")


REPORT = {"files_in": 3, "files_out": 2, "files_failed": 1, "report_uri": "/r/report.json",
          "failures": [{"input_uri": "/in/b.csv", "relative_path": "b.csv", "reason": "could not convert 'x'",
                        "line": 2, "record": None}]}


def test_failed_files_fail_the_partition_naming_them():
    uc = get_usecase("credit_risk")
    assert uc.transform.allow_partial is False
    assert partial_failure(uc, {**REPORT, "files_failed": 0, "failures": []}, "2026-11-21") == {}
    with pytest.raises(PartialFailureError) as info:
        partial_failure(uc, REPORT, "2026-11-21")
    err = info.value
    assert err.permanent and err.exit_code == 3
    assert err.failures == ["b.csv, line 2: could not convert 'x'"]
    assert "1 of 3 input file(s) failed (2 published, see /r/report.json)" in err.message
    assert "transform.allow_partial" in err.fix


def test_allow_partial_marks_the_partition_partial_instead():
    uc = get_usecase("credit_risk")
    uc = uc.model_copy(update={"transform": uc.transform.model_copy(update={"allow_partial": True})})
    assert partial_failure(uc, REPORT, "2026-11-21") == {"partial": True, "files_failed": 1}
