"""Bad label input ends in a quarantined item or a clear error, never a traceback, and one bad file does
not block the good ones (issue 14); the fidelity fixes of issue 16, each built from the shape of the
real artifact (AWS's A2I samples, an S3 key with a literal ``%2F``, a class-balance failure)."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from airsage.errors import ConfigError, DataValidationError
from airsage.labeling import records as R
from airsage.labeling.dataset import resolve_dataset
from airsage.labeling.importer import import_labels, read_sources
from airsage.labeling.readers import expand_sources, read_a2i_output, read_ground_truth_manifest, read_label_table
from airsage.labeling.records import Annotation, ReaderOptions, Rejection, source_ref_problem
from airsage.labeling.validation import describe

CREDIT = ReaderOptions(record_key="application_id", label_values=(0, 1), class_map={"no_default": 0, "default": 1},
                       label_attribute="default-label", allowed_source_prefixes=("s3://airsage-labels/credit/",),
                       label_column="default")
GOOD_CSV = "application_id,label\napp-1,default\napp-2,no_default\n"


def split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Annotation)], [i for i in items if isinstance(i, Rejection)]


# ------------------------------------------------------------------ tables
def test_ragged_csv_rows_are_quarantined_one_by_one(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("application_id,label\napp-1,default\napp-2,no_default,extra\napp-3\napp-4,default\n")
    ok, bad = split(read_label_table(str(path), CREDIT))
    assert [(a.record_id, a.line) for a in ok] == [("app-1", 2), ("app-4", 5)]
    assert [(r.line, r.reason) for r in bad] == [(3, R.MALFORMED_ROW), (4, R.MALFORMED_ROW)]
    assert bad[0].detail == "3 field(s), the header has 2"


def test_non_utf8_csv_is_one_unreadable_file_item(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("application_id,label\napp-1,d\xe9fault\n".encode("latin-1"))
    (r,) = read_label_table(str(path), CREDIT)
    assert (r.reason, r.line) == (R.UNREADABLE_FILE, 0) and "not UTF-8" in r.detail and "line 2" in r.detail


def test_empty_and_header_only_files_yield_nothing(tmp_path):
    for name, body in (("empty.csv", b""), ("header.csv", b"application_id,label\n"), ("blank.csv", b"\n \n")):
        (tmp_path / name).write_bytes(body)
        assert list(read_label_table(str(tmp_path / name), CREDIT)) == []


def test_one_bad_file_does_not_block_the_good_ones_and_counts_reconcile(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "a_good.csv").write_text(GOOD_CSV)
    (folder / "b_corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    (folder / "c_nocols.csv").write_text("id,y\nx,1\n")
    (folder / "d_ragged.csv").write_text("application_id,label\napp-5,default,1\napp-6,default\n")
    read = read_sources(expand_sources([str(folder)]), CREDIT)
    assert sorted(a.record_id for a in read.annotations) == ["app-1", "app-2", "app-6"]
    got = sorted((Path(r.source).name, r.line, r.reason) for r in read.rejections)
    assert got == [("b_corrupt.parquet", 0, R.UNREADABLE_FILE), ("c_nocols.csv", 0, R.UNREADABLE_FILE),
                   ("d_ragged.csv", 2, R.MALFORMED_ROW)]
    assert sum(s["lines"] for s in read.sources) == len(read.annotations) + len(read.rejections) == 6
    assert {Path(s["uri"]).name: (s["parsed"], s["rejected_on_read"]) for s in read.sources} == {
        "a_good.csv": (2, 0), "b_corrupt.parquet": (0, 1), "c_nocols.csv": (0, 1), "d_ragged.csv": (1, 1)}


# ------------------------------------------------------------------ JSON
def test_deeply_nested_manifest_line_is_quarantined(tmp_path):
    good = {"application_id": "app-1", "default-label": 1,
            "default-label-metadata": {"class-name": "default", "confidence": 0.9, "type":
                                       "groundtruth/text-classification", "job-name": "labeling-job/j",
                                       "human-annotated": "yes", "creation-date": "2026-11-20T08:00:00"}}
    path = tmp_path / "deep.manifest"
    path.write_text(json.dumps(good) + "\n" + "[" * 200_000 + "]" * 200_000 + "\n")
    ok, bad = split(read_ground_truth_manifest(str(path), CREDIT))
    assert [a.record_id for a in ok] == ["app-1"]
    assert [(r.line, r.reason, r.detail) for r in bad] == [(2, R.MALFORMED_JSON, "not valid JSON: nested too deeply")]
    a2i = tmp_path / "output.json"
    a2i.write_text('{"humanAnswers": ' + "[" * 200_000)
    (r,) = read_a2i_output(str(a2i), CREDIT)
    assert r.reason == R.MALFORMED_JSON


def test_a_manifest_without_any_label_attribute_is_quarantined_line_by_line(tmp_path):
    path = tmp_path / "input.manifest"
    path.write_text('{"source": "hello"}\nnot json\n')
    opt = replace(CREDIT, label_attribute=None)
    ok, bad = split(read_ground_truth_manifest(str(path), opt))
    assert ok == [] and [(r.line, r.reason) for r in bad] == [(1, R.MISSING_LABEL_ATTRIBUTE), (2, R.MALFORMED_JSON)]


# ------------------------------------------------------------------ symlinks
def test_symlink_out_of_a_label_folder_is_quarantined_without_reading_it(tmp_path):
    secret = tmp_path / "credentials.csv"
    secret.write_text("application_id,label\nAKIASECRETKEY,default\n")
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "good.csv").write_text(GOOD_CSV)
    os.symlink(secret, folder / "creds.csv")
    links: list[str] = []
    files = expand_sources([str(folder)], escaped=links)
    assert [Path(f).name for f in files] == ["good.csv"] and [Path(f).name for f in links] == ["creds.csv"]
    read = read_sources(files, CREDIT, links=links)
    (r,) = read.rejections
    assert (Path(r.source).name, r.reason, r.raw) == ("creds.csv", R.LINK_OUTSIDE_SOURCE, None)
    assert "AKIASECRETKEY" not in json.dumps([x.to_dict() for x in read.rejections] + read.sources)


def test_import_of_a_folder_with_a_link_quarantines_it_and_writes_no_secret(tmp_path, make_tiny):
    uc = make_tiny(tmp_path / "root", max_bad_share=0.5, min_minority_share=0.0)
    secret = tmp_path / "aws_credentials.csv"
    secret.write_text("application_id,label\nAKIASECRETKEY,default\n")
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "good.csv").write_text(GOOD_CSV.replace("app-2,no_default", "app-2,no_default\napp-3,no_default"))
    os.symlink(secret, folder / "creds.csv")
    report = import_labels(uc, [str(folder)])
    assert (report.lines_read, report.accepted, report.quarantined) == (4, 3, 1)
    assert report.by_reason == {R.LINK_OUTSIDE_SOURCE: 1}
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "root").rglob("*")
                      if p.is_file() and p.suffix in (".jsonl", ".json", ".html"))
    assert "AKIASECRETKEY" not in written


def test_empty_label_file_is_a_clear_error(tmp_path, make_tiny):
    uc = make_tiny(tmp_path / "root")
    (tmp_path / "empty.manifest").write_bytes(b"")
    with pytest.raises(DataValidationError) as exc:
        import_labels(uc, [str(tmp_path / "empty.manifest")])
    text = str(exc.value)
    assert "hold no label lines" in text and "empty" in text and "0 of 0" not in text and "Fix:" in text


def test_import_output_may_not_overlap_its_sources(tmp_path, make_tiny):
    uc = make_tiny(tmp_path / "root")
    src = tmp_path / "root" / "labeling" / "in.csv"
    src.parent.mkdir(parents=True)
    src.write_text(GOOD_CSV)
    with pytest.raises(ConfigError, match="overlap|lies inside|contains"):
        import_labels(uc, [str(src)])


# ------------------------------------------------------------------ issue 16: A2I samples
def _a2i(tmp_path, input_content, answer) -> str:
    doc = {"flowDefinitionArn": "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/news-review",
           "humanLoopName": "loop-1", "inputContent": input_content,
           "humanAnswers": [{"answerContent": answer, "submissionTime": "2026-11-20T17:08:26.246Z",
                             "workerId": "w1"}]}
    path = tmp_path / "output.json"
    path.write_text(json.dumps(doc))
    return str(path)


NEWS = ReaderOptions(record_key="record_id", label_values=("world", "sports", "business"),
                     class_map={"World": "world", "Sports": "sports", "Business": "business"},
                     a2i_answer_key="category", a2i_record_key="taskObject.record_id")


def test_a2i_record_id_nested_under_task_object(tmp_path):
    # AWS's custom-template samples send InputContent = {"taskObject": {...}}; the template reads task.input.taskObject
    path = _a2i(tmp_path, {"taskObject": {"record_id": "news-17", "text": "Talks resume in Geneva"}},
                {"category": {"label": "World"}})
    (a,) = read_a2i_output(path, NEWS)
    assert (a.record_id, a.label, a.job) == ("news-17", "world", "news-review")
    # the same object sent as a JSON string inside taskObject
    path = _a2i(tmp_path, {"taskObject": json.dumps({"record_id": "news-18"})}, {"category": {"label": "Sports"}})
    (a,) = read_a2i_output(path, NEWS)
    assert (a.record_id, a.label) == ("news-18", "sports")
    path = _a2i(tmp_path, {"taskObject": {"text": "no id"}}, {"category": {"label": "World"}})
    (r,) = read_a2i_output(path, NEWS)
    assert r.reason == R.MISSING_RECORD_ID and "taskObject.record_id" in r.detail


def test_single_element_multi_select_answer_is_its_class(tmp_path):
    content = {"taskObject": {"record_id": "news-1"}}
    for answer in ({"category": {"labels": ["World"]}}, {"category": ["World"]}):
        (a,) = read_a2i_output(_a2i(tmp_path, content, answer), NEWS)
        assert (a.label, a.class_name) == ("world", "World")
    (r,) = read_a2i_output(_a2i(tmp_path, content, {"category": {"labels": ["World", "Sports"]}}), NEWS)
    assert r.reason == R.MULTIPLE_LABELS
    (r,) = read_a2i_output(_a2i(tmp_path, content, {"category": {"labels": ["Weather"]}}), NEWS)
    assert r.reason == R.UNKNOWN_CLASS


# ------------------------------------------------------------------ issue 16: %2F in an S3 key
def test_literal_percent_2f_in_an_s3_key_is_not_a_traversal():
    allowed = ("s3://airsage-labels/credit/",)
    assert source_ref_problem("s3://airsage-labels/credit/2026%2F11/app-7.jpg", allowed) is None
    assert source_ref_problem("s3://airsage-labels/credit/a%2fb%2Fc.txt", allowed) is None
    # still refused: segments that decode to a climb, and encoded characters where URIs are decoded
    for ref in ("s3://airsage-labels/credit/%2e%2e/x", "s3://airsage-labels/credit/..%2Fx",
                "s3://airsage-labels/credit/x%2F..%2Fy", "https://airsage-labels/credit/a%2Fb"):
        assert source_ref_problem(ref, allowed + ("https://airsage-labels/credit/",)), ref


# ------------------------------------------------------------------ issue 16: class balance in words
def test_class_balance_failure_reads_as_a_minority_share():
    # 118 rows, 1 positive: the "positives >= 1 %" expectation sees 117 unexpected rows (99.15 %)
    r = {"check": "class_balance", "expectation": "expect_column_values_to_be_in_set", "column": "default",
         "kwargs": {"value_set": [1], "mostly": 0.01}, "success": False, "observed": None,
         "unexpected_count": 117, "unexpected_percent": 117 / 118 * 100, "element_count": 118,
         "partial_unexpected": [0, 0, 0], "exception": None}
    text = describe(r)
    assert "minority class 0.85 % < 1 %" in text and "1 of 118 rows" in text and "99.15" not in text
    other = {**r, "expectation": "expect_column_values_to_not_be_in_set", "unexpected_count": 40,
             "unexpected_percent": 40.0, "element_count": 100, "kwargs": {"value_set": [1], "mostly": 0.65}}
    assert "minority class 60 % < 65 % (labels other than [1]: 60 of 100 rows" in describe(other)


# ------------------------------------------------------------------ dataset versions are never paths
@pytest.mark.parametrize("ref", ["../x", "ds-0123456789ab/../../etc", "ds-0123456789ab/..", "x", "data/ds-1",
                                 "/data/datasets/../../etc", "s3://b/datasets/../secrets", "ds-0123456789AB"])
def test_dataset_version_that_is_a_path_is_refused(ref, tmp_path, make_tiny):
    uc = make_tiny(tmp_path)
    with pytest.raises(ConfigError) as exc:
        resolve_dataset(ref, uc)
    assert "Fix:" in str(exc.value)


def test_dataset_versions_resolve_below_the_datasets_folder(tmp_path, make_tiny):
    uc = make_tiny(tmp_path)
    assert resolve_dataset("ds-0123456789ab", uc) == str(tmp_path / "datasets" / "ds-0123456789ab")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "latest.json").write_text(json.dumps({"version": "../../etc", "uri": "/etc"}))
    with pytest.raises(ConfigError):
        resolve_dataset("latest", uc)
