"""CSV / JSON Lines through InputFilter -> model -> JoinSource -> OutputFilter (SageMaker Batch Transform semantics).

Expected outputs are computed by hand from the exact model in conftest (p = x1/8 + x2/16 + code/4)."""
from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from airsage.transform import TransformConfig, TransformFailedError, run_batch_transform

CSV_ROWS = "r1,1,2,red\nr2,2,4,red\n\nr3,0,1,green\n"  # p = 0.5, 0.75, 0.0625 (green unseen -> missing -> 0)


def _run(model, src, out, **config):
    kwargs = {k: config.pop(k) for k in ("record_id_col", "capture_uri", "partition_date", "fail_on_file_error",
                                          "feature_columns") if k in config}
    return run_batch_transform(model, str(src), str(out), TransformConfig(**config), model_name="credit", model_version="7",
                               run_key="run-1", **kwargs)


def _digest(rel):  # the documented inference-id prefix: sha1(run_key \0 relative path)[:16]
    return hashlib.sha1(f"run-1\0{rel}".encode()).hexdigest()[:16]


def test_csv_input_filter_drops_id_and_output_filter_keeps_id_and_prediction(model, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text(CSV_ROWS)
    report = _run(model, tmp_path / "in", tmp_path / "out", content_type="text/csv", input_filter="$[1:]",
                  join_source="Input", output_filter="$[0,-1]")
    assert (tmp_path / "out" / "a.csv.out").read_text() == "r1,0.5\nr2,0.75\nr3,0.0625\n"
    assert (report.files_in, report.files_out, report.records_in, report.records_out) == (1, 1, 3, 3)


def test_csv_join_appends_inference_columns_to_the_input_row(model, tmp_path):
    (tmp_path / "a.csv").write_text(CSV_ROWS)
    _run(model, tmp_path / "a.csv", tmp_path / "out", content_type="text/csv", input_filter="$[1:]", join_source="Input")
    d = _digest("a.csv")
    assert (tmp_path / "out" / "a.csv.out").read_text().splitlines() == [
        f"r1,1,2,red,{d}-0,credit,7,0,0.5", f"r2,2,4,red,{d}-1,credit,7,1,0.75", f"r3,0,1,green,{d}-2,credit,7,0,0.0625"]


def test_csv_without_join_outputs_only_the_inference(model, tmp_path):
    (tmp_path / "a.csv").write_text("1,2,red\n2,4,red\n")
    _run(model, tmp_path / "a.csv", tmp_path / "out", content_type="text/csv", inference_fields=("score", "predicted_label"))
    assert (tmp_path / "out" / "a.csv.out").read_text() == "0.5,0\n0.75,1\n"


def test_csv_record_id_column_becomes_the_inference_id(model, tmp_path):
    (tmp_path / "a.csv").write_text(CSV_ROWS)
    _run(model, tmp_path / "a.csv", tmp_path / "out", content_type="text/csv", input_filter="$[1:]",
         inference_fields=("inference_id", "score"), record_id_col=0)
    assert (tmp_path / "out" / "a.csv.out").read_text() == "r1,0.5\nr2,0.75\nr3,0.0625\n"


def test_json_join_adds_sagemaker_output_and_output_filter_selects_keys(model, tmp_path):
    lines = [{"id": "j1", "features": [1, 2, "red"]}, {"id": "j2", "features": [2, 4, "red"]}]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    _run(model, tmp_path / "a.jsonl", tmp_path / "out", content_type="application/jsonlines", input_filter="$.features",
         join_source="Input", output_filter="$['id','SageMakerOutput']", record_id_col="id")
    got = [json.loads(x) for x in (tmp_path / "out" / "a.jsonl.out").read_text().splitlines()]
    assert got == [
        {"id": "j1", "SageMakerOutput": {"inference_id": "j1", "model_name": "credit", "model_version": "7",
                                         "predicted_label": 0, "score": 0.5}},
        {"id": "j2", "SageMakerOutput": {"inference_id": "j2", "model_name": "credit", "model_version": "7",
                                         "predicted_label": 1, "score": 0.75}}]


def test_json_non_object_input_is_wrapped_in_sagemaker_input(model, tmp_path):
    (tmp_path / "a.jsonl").write_text('[2, 4, "red"]\n')
    _run(model, tmp_path / "a.jsonl", tmp_path / "out", content_type="application/jsonlines", join_source="Input",
         inference_fields=("score",))
    assert json.loads((tmp_path / "out" / "a.jsonl.out").read_text()) == {
        "SageMakerInput": [2, 4, "red"], "SageMakerOutput": {"score": 0.75}}


def test_json_objects_give_features_by_name(model, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"color": "red", "x2": 4, "x1": 2, "other": true}\n{"x1": 8, "x2": null, "color": null}\n')
    _run(model, tmp_path / "a.jsonl", tmp_path / "out", content_type="application/jsonlines", accept="text/csv",
         inference_fields=("score",))
    assert (tmp_path / "out" / "a.jsonl.out").read_text() == "0.75\n1.0\n"


def test_assemble_with_none_glues_requests_together(model, tmp_path):
    (tmp_path / "a.csv").write_text("1,2,red\n2,4,red\n")
    _run(model, tmp_path / "a.csv", tmp_path / "single", content_type="text/csv", batch_strategy="SingleRecord",
         assemble_with="None", inference_fields=("score",))
    _run(model, tmp_path / "a.csv", tmp_path / "multi", content_type="text/csv", assemble_with="None",
         inference_fields=("score",))
    assert (tmp_path / "single" / "a.csv.out").read_text() == "0.50.75"  # one record per request, no separator
    assert (tmp_path / "multi" / "a.csv.out").read_text() == "0.5\n0.75"  # one request: the response's lines


def test_order_is_preserved_across_model_batches(model, tmp_path):
    n = 12_345  # more than one internal batch
    rows = [f"{i % 8},{i % 16},{'red' if i % 3 else 'blue'}" for i in range(n)]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    _run(model, tmp_path / "a.csv", tmp_path / "out", content_type="text/csv", join_source="Input",
         output_filter="$[0,1,2,-1]")
    got = (tmp_path / "out" / "a.csv.out").read_text().splitlines()
    assert [g.rsplit(",", 1)[0] for g in got] == rows
    assert [float(g.rsplit(",", 1)[1]) for g in got] == [
        (i % 8) / 8 + (i % 16) / 16 + (0.25 if i % 3 else 0) for i in range(n)]


def test_a_bad_record_fails_only_its_file(model, tmp_path):
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "good.csv").write_text("1,2,red\n")
    (src / "sub" / "bad.csv").write_text("1,2,red\n2,4,blue\n3,abc,red\n4,4,red\n")
    (src / "sub" / "deeper" / "good2.csv").write_text("2,4,red\n")
    report = _run(model, src, tmp_path / "out", content_type="text/csv", fail_on_file_error=False)
    outs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.out"))
    assert outs == ["good.csv.out", "sub/deeper/good2.csv.out"]
    assert report.status == "Failed"
    assert (report.files_in, report.files_out, report.files_failed) == (3, 2, 1)
    assert (report.records_in, report.records_out, report.records_failed) == (5, 2, 3)
    (failure,) = report.failures
    assert (failure.relative_path, failure.line, failure.record) == ("sub/bad.csv", 3, 2)
    assert "'abc' is not a number" in failure.reason and "x2" in failure.reason


def test_fail_on_file_error_raises_after_publishing_the_good_files(model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n")
    (src / "b.csv").write_text("1,2\n")  # too few values for the model
    with pytest.raises(TransformFailedError) as err:
        _run(model, src, tmp_path / "out", content_type="text/csv")
    assert "b.csv, line 1" in str(err.value) and "2 value(s)" in str(err.value)
    assert err.value.report.files_out == 1
    assert (tmp_path / "out" / "a.csv.out").exists() and not (tmp_path / "out" / "b.csv.out").exists()


@pytest.mark.parametrize(("content", "reason"), [
    ('{"x1": 1, "x2": 2}\n', "no field(s) ['color']"),
    ('{"x1": 1, "x2": 2, "color": "red"\n', "not valid JSON"),
    ('{"x1": true, "x2": 2, "color": "red"}\n', "boolean"),
])
def test_json_record_errors(model, tmp_path, content, reason):
    (tmp_path / "a.jsonl").write_text(content)
    report = _run(model, tmp_path / "a.jsonl", tmp_path / "out", content_type="application/jsonlines",
                  fail_on_file_error=False)
    assert reason in report.failures[0].reason and report.failures[0].line == 1


def test_output_filter_index_outside_the_joined_row_is_a_record_error(model, tmp_path):
    (tmp_path / "a.csv").write_text("1,2,red\n")
    report = _run(model, tmp_path / "a.csv", tmp_path / "out", content_type="text/csv", join_source="Input",
                  output_filter="$[0,9]", fail_on_file_error=False)
    assert "index 9 is outside" in report.failures[0].reason


def test_record_larger_than_max_payload_fails_the_file(model, tmp_path):
    big = "1," + "1" * (1024 * 1024) + ",red\n"
    (tmp_path / "a.csv").write_text("1,2,red\n" + big)
    report = _run(model, tmp_path / "a.csv", tmp_path / "out", content_type="text/csv", max_payload_mb=1,
                  fail_on_file_error=False)
    assert report.failures[0].line == 2 and "larger than max_payload_mb=1" in report.failures[0].reason
    line = "1,2," + "r" * 100_000 + "\n"  # ~100 kB records (an unseen category: scored as missing)
    (tmp_path / "b.csv").write_text(line * 8)  # 0.8 MB: fits one request (SplitType None sends the file whole)
    ok = _run(model, tmp_path / "b.csv", tmp_path / "out2", content_type="text/csv", split_type="None",
              assemble_with="None", max_payload_mb=1)
    assert ok.records_out == 8
    (tmp_path / "c.csv").write_text(line * 12)  # 1.2 MB > 1 MB
    bad = _run(model, tmp_path / "c.csv", tmp_path / "out3", content_type="text/csv", split_type="None",
               assemble_with="None", max_payload_mb=1, fail_on_file_error=False)
    assert "SplitType None" in bad.failures[0].reason


def test_capture_layout_and_only_published_files_are_captured(model, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.csv").write_text("r1,1,2,red\nr2,2,4,\n")
    (src / "b.csv").write_text("r3,1,2,red\nr4,x,2,red\n")  # fails at line 2: nothing of b is captured
    report = _run(model, src, tmp_path / "out", content_type="text/csv", input_filter="$[1:]", record_id_col=0,
                  capture_uri=str(tmp_path / "capture"), partition_date="2026-11-20", fail_on_file_error=False)
    path = tmp_path / "capture" / "dt=2026-11-20" / "run-1.parquet"
    assert report.capture_file == str(path)
    got = pd.read_parquet(path)
    assert list(got.columns) == ["inference_id", "captured_at", "x1", "x2", "color", "score", "predicted_label",
                                 "model_name", "model_version"]
    assert got["inference_id"].tolist() == ["r1", "r2"]
    assert got["x1"].tolist() == [1.0, 2.0] and got["color"].tolist()[0] == "red" and pd.isna(got["color"].iloc[1])
    assert got["score"].tolist() == [0.5, 0.5] and got["predicted_label"].tolist() == [0, 0]
    assert str(got["captured_at"].dt.tz) == "UTC"
    assert set(got["model_name"]) == {"credit"} and set(got["model_version"]) == {"7"}
