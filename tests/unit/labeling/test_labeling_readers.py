"""Readers: Ground Truth manifests (real-world quirks of public Ground Truth sample files), A2I outputs, CSV/Parquet."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from airsage.errors import ConfigError, DataValidationError
from airsage.labeling import records as R
from airsage.labeling.readers import (detect_format, read_a2i_output, read_ground_truth_manifest, read_label_table,
                                      read_labels)
from airsage.labeling.records import Annotation, ReaderOptions, Rejection

CREDIT = ReaderOptions(record_key="application_id", label_values=(0, 1), class_map={"no_default": 0, "default": 1},
                       label_attribute="default-label", allowed_source_prefixes=("s3://airsage-labels/credit/",),
                       label_column="default")


def split(items):
    items = list(items)
    return [i for i in items if isinstance(i, Annotation)], [i for i in items if isinstance(i, Rejection)]


# ------------------------------------------------------------------ real-world Ground Truth files
def test_vehicle_manifest_source_ref_join(fixtures_dir):
    opt = ReaderOptions(record_key="id", label_values=("airplane", "ferry", "helicopter"),
                        class_map={"Airplane": "airplane", "Ferry": "ferry", "Helicopter": "helicopter"},
                        join_key="source-ref",
                        allowed_source_prefixes=("s3://sagemaker-us-east-1-517095012385/ground-truth-demo/images/",))
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "gt_vehicle.manifest"), opt))
    assert bad == []
    # hand-read from the three lines: id = file name without extension, class-name mapped, job prefix stripped
    assert [(a.record_id, a.label, a.confidence, a.line) for a in ok] == [
        ("image_0007", "helicopter", 0.95, 1), ("image_0019", "ferry", 0.54, 2), ("image_0059", "airplane", 0.5, 3)]
    assert {a.job for a in ok} == {"vehicle-labeling-demo"}
    assert ok[0].created == "2023-03-08T19:30:08.880289" and ok[0].human_annotated and ok[0].kind == "ground_truth"


def test_banana_manifest_key_order_and_escapes(fixtures_dir):
    opt = ReaderOptions(record_key="id", label_values=(0, 1), class_map={"ripe banana": 0, "unripe banana": 1},
                        join_key="source-ref", source_ref_id_pattern=r"[^/]+$",
                        allowed_source_prefixes=("s3://testfruit/data/",))
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "gt_banana.manifest"), opt))
    assert bad == []
    assert [(a.record_id, a.label, a.confidence) for a in ok] == [
        ("00390379.jpg.jpg", 1, 0.95), ("160416_00_2x.jpg20181122221525.jpg", 0, 0.5), ("w=640.jpg", 0, 0.81)]


def test_banana_source_ref_outside_allowed_prefix(fixtures_dir):
    opt = ReaderOptions(record_key="id", label_values=(0, 1), class_map={"ripe banana": 0, "unripe banana": 1},
                        join_key="source-ref", allowed_source_prefixes=("s3://testfruit/data/green/",))
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "gt_banana.manifest"), opt))
    assert len(ok) == 2 and [(r.line, r.reason) for r in bad] == [(3, R.SOURCE_REF_NOT_ALLOWED)]


def test_text_multilabel_confidence_map_quirks(fixtures_dir):
    # the real lines carry no record id: use the `source` text as the pass-through key for this parse test
    opt = ReaderOptions(record_key="source", label_values=("positive", "negative"),
                        class_map={"optimism": "positive", "anger": "negative"})
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "gt_text_multilabel.manifest"), opt))
    # line 1: [1] optimism 0.86 (ids 0 and 2 in confidence-map only); line 3: [5] anger 0.29 with six
    # confidence-map ids absent from class-map; line 2: [5, 1] names two use-case labels
    assert [(a.line, a.label, a.confidence) for a in ok] == [(1, "positive", 0.86), (3, "negative", 0.29),
                                                            (4, "positive", 0.7), (5, "negative", 0.66)]
    assert [(r.line, r.reason) for r in bad] == [(2, R.MULTIPLE_LABELS)]
    assert ok[2].record_id == "So \U0001F600 happy today\u2028#blessed"  # escaped surrogate pair decoded
    assert ok[3].record_id == "line\u2028separator"  # raw U+2028 did not split the line


def test_object_detection_manifest_is_quarantined(fixtures_dir):
    opt = ReaderOptions(record_key="id", label_values=(0, 1), class_map={"Cat": 1}, join_key="source-ref",
                        allowed_source_prefixes=("s3://devopstar-ground-truth-input/",))
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "gt_object_detection.manifest"), opt))
    assert ok == [] and [(r.line, r.reason) for r in bad] == [(1, R.UNSUPPORTED_TYPE)]
    assert "groundtruth/object-detection" in bad[0].detail and bad[0].raw.startswith('{"source-ref"')


def test_dg_examples_string_labels_and_attribute_detection(fixtures_dir):
    path = str(fixtures_dir / "gt_dg_examples.manifest")
    opt = ReaderOptions(record_key="id", label_values=(0, 1), join_key="source-ref",
                        allowed_source_prefixes=("s3://AWSDOC-EXAMPLE-BUCKET/",))
    with pytest.raises(ConfigError) as exc:  # two attributes (species, mood): ambiguous
        list(read_ground_truth_manifest(path, opt))
    assert "['mood', 'species']" in str(exc.value) and "labeling.label_attribute" in str(exc.value)

    species = replace(opt, label_attribute="species")
    ok, bad = split(read_ground_truth_manifest(path, species))
    # "species": "0" with class-name "dog" (not a label value, no class_map): the string index maps to 0;
    # confidence 0.00 (single worker); job-name without the labeling-job/ prefix
    assert [(a.record_id, a.label, a.confidence, a.job) for a in ok] == [
        ("example_image", 0, 0.0, "identify-animal-species")]
    assert [(r.line, r.reason) for r in bad] == [(2, R.MISSING_LABEL_ATTRIBUTE)]


# ------------------------------------------------------------------ credit-style manifests
def test_tiny_manifest_all_flavours(fixtures_dir):
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "tiny_labels.manifest"), CREDIT))
    assert bad == []
    got = {(a.record_id, a.line): (a.label, a.confidence, a.human_annotated, a.job) for a in ok}
    assert len(ok) == 13  # 14 lines, one blank (not counted)
    assert got[("app-2", 2)] == (1, 0.85, True, "tiny-job-1")  # "1" string label, other key order
    assert got[("app-3", 4)] == (0, 0.6, True, "tiny-job-2")
    assert got[("app-4", 5)] == (0, 0.95, False, "tiny-job-1")  # human-annotated: no
    assert got[("app-6", 7)] == (0, 0.88, True, "tiny-job-1")  # chained: the configured attribute, not -audit
    assert got[("app-7", 8)] == (1, 0.0, True, "tiny-job-1")
    assert got[("app-12", 14)] == (1, 0.77, True, "tiny-job-1")  # multi-label [1], extra confidence-map ids


def test_chained_job_detection_names_candidates(fixtures_dir):
    opt = replace(CREDIT, label_attribute=None)
    with pytest.raises(ConfigError) as exc:
        list(read_ground_truth_manifest(str(fixtures_dir / "tiny_labels.manifest"), opt))
    assert "['default-label', 'default-label-audit']" in str(exc.value)
    audit = replace(CREDIT, label_attribute="default-label-audit")
    ok, bad = split(read_ground_truth_manifest(str(fixtures_dir / "tiny_labels.manifest"), audit))
    assert [(a.record_id, a.label, a.job) for a in ok] == [("app-6", 1, "tiny-audit")]
    assert len(bad) == 12 and {r.reason for r in bad} == {R.MISSING_LABEL_ATTRIBUTE}


def test_configured_attribute_absent_from_file_is_a_config_error(fixtures_dir):
    opt = replace(CREDIT, label_attribute="risk")
    with pytest.raises(ConfigError, match="occurs on no line"):
        list(read_ground_truth_manifest(str(fixtures_dir / "tiny_labels.manifest"), opt))


def test_integer_record_id_and_unknown_keys_pass_through(tmp_path):
    line = {"zzz": {"nested": True}, "application_id": 123, "default-label": 1, "source": "x",
            "default-label-metadata": {"type": "groundtruth/text-classification", "human-annotated": "yes",
                                       "creation-date": "2026-11-20T08:00:00.000001", "confidence": 1,
                                       "class-name": "default", "job-name": "labeling-job/j"}}
    path = tmp_path / "m.manifest"
    path.write_text(json.dumps(line) + "\n")
    (a,) = read_ground_truth_manifest(str(path), CREDIT)
    assert (a.record_id, a.label, a.confidence) == ("123", 1, 1.0)


# ------------------------------------------------------------------ A2I
def test_a2i_output_files(fixtures_dir):
    base = fixtures_dir / "a2i" / "tiny-review" / "2026" / "11" / "20" / "10" / "00" / "00"
    (a,) = read_a2i_output(str(base / "tiny-app-20" / "output.json"), CREDIT)
    assert (a.record_id, a.label, a.confidence, a.job, a.kind, a.line) == ("app-20", 1, 1.0, "tiny-review", "a2i", 1)
    assert a.created == "2026-11-20T10:01:26.246000" and a.annotator == "ef7294f850a3d9d0"
    two = list(read_a2i_output(str(base / "tiny-app-21" / "output.json"), CREDIT))
    assert [(x.record_id, x.label, x.line) for x in two] == [("app-21", 0, 1), ("app-21", 0, 2)]


def test_a2i_crowd_classifier_answer_key(fixtures_dir):
    path = str(fixtures_dir / "a2i_crowd_classifier.json")
    ok, bad = split(read_a2i_output(path, CREDIT))  # default key "label" is not in these answers
    assert ok == [] and [r.reason for r in bad] == [R.MISSING_METADATA] * 3 and "a2i_answer_key" in bad[0].detail
    for key in ("category", "category.label"):
        opt = replace(CREDIT, a2i_answer_key=key)
        assert [a.label for a in read_a2i_output(path, opt)] == [1, 0, 1]


def test_a2i_malformed_and_missing_record_id(tmp_path):
    bad_json = tmp_path / "output.json"
    bad_json.write_text('{"humanAnswers": [')
    (r,) = read_a2i_output(str(bad_json), CREDIT)
    assert (r.reason, r.line) == (R.MALFORMED_JSON, 1)
    doc = {"flowDefinitionArn": "arn:aws:sagemaker:us-west-2:111122223333:flow-definition/f", "humanLoopName": "l",
           "humanAnswers": [{"answerContent": {"label": "default"}}, {"answerContent": {"label": "default"}}],
           "inputContent": {"other": 1}}
    bad_json.write_text(json.dumps(doc))
    assert [(r.reason, r.line) for r in read_a2i_output(str(bad_json), CREDIT)] == [(R.MISSING_RECORD_ID, 1),
                                                                                    (R.MISSING_RECORD_ID, 2)]


# ------------------------------------------------------------------ CSV / Parquet
def test_csv_labels(fixtures_dir):
    ok, bad = split(read_label_table(str(fixtures_dir / "labels.csv"), CREDIT))
    assert bad == []
    assert [(a.record_id, a.label, a.confidence, a.annotator, a.line) for a in ok] == [
        ("app-30", 1, 0.9, "w1", 2), ("app-31", 0, 0.8, "w2", 3), ("app-31", 0, 0.7, "w3", 4),
        ("app-32", 1, 0.95, "w1", 5), ("app-33", 0, 1.0, "w2", 6)]  # empty confidence = 1.0


def test_csv_bad_rows(fixtures_dir):
    ok, bad = split(read_label_table(str(fixtures_dir / "labels_bad.csv"), CREDIT))
    assert [(a.record_id, a.human_annotated) for a in ok] == [("app-40", True), ("app-44", False)]
    assert [(r.line, r.reason) for r in bad] == [(3, R.MISSING_RECORD_ID), (4, R.UNKNOWN_CLASS),
                                                 (5, R.INVALID_METADATA), (6, R.MISSING_METADATA)]


def test_parquet_labels_and_missing_columns(tmp_path):
    import pandas as pd

    path = tmp_path / "labels.parquet"
    pd.DataFrame({"record_id": ["app-1", "app-2"], "default": [1, 0], "confidence": [0.5, None],
                  "worker_id": ["a", "b"]}).to_parquet(path)
    got = [(a.record_id, a.label, a.confidence, a.annotator, a.line) for a in read_label_table(str(path), CREDIT)]
    assert got == [("app-1", 1, 0.5, "a", 1), ("app-2", 0, 1.0, "b", 2)]
    pd.DataFrame({"id": ["x"], "y": [1]}).to_parquet(path)
    with pytest.raises(DataValidationError, match="record id column"):
        list(read_label_table(str(path), CREDIT))


def test_format_detection(fixtures_dir, tmp_path):
    assert detect_format(fixtures_dir / "labels.csv") == "table"
    assert detect_format(fixtures_dir / "a2i_crowd_classifier.json") == "a2i"
    assert detect_format(fixtures_dir / "gt_vehicle.manifest") == "ground_truth"
    jsonl = tmp_path / "labels.json"
    jsonl.write_text((fixtures_dir / "tiny_labels.manifest").read_text())
    assert detect_format(jsonl) == "ground_truth"
    assert len([i for i in read_labels(str(jsonl), CREDIT) if isinstance(i, Annotation)]) == 13
