"""import_labels end to end on the small use case: joins, consolidation across formats, quarantine,
reconciliation, max_bad_share, validation failures, content-addressed idempotent publishing.

Expected values are read off the fixture files by hand (see fixtures/README.md)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from airsage.errors import ConfigError, DataValidationError
from airsage.labeling import import_labels, latest_dataset, lineage, load_dataset
from airsage.labeling import records as R
from airsage.labeling.records import ReaderOptions


@pytest.fixture(scope="module")
def happy(tmp_path_factory, make_tiny, fixtures_dir):
    """One import shared by the module (great-expectations runs once): a GT manifest, an A2I prefix, a CSV."""
    root = tmp_path_factory.mktemp("happy")
    uc = make_tiny(root)
    sources = [str(fixtures_dir / "tiny_labels.manifest"), str(fixtures_dir / "a2i"), str(fixtures_dir / "labels.csv")]
    return uc, root, sources, import_labels(uc, sources)


def test_counts_reconcile(happy):
    *_, r = happy
    # 13 manifest lines (1 blank not counted) + 3 A2I answers + 5 CSV rows; nothing rejected
    assert (r.lines_read, r.accepted, r.quarantined, r.by_reason, r.quarantine_uri) == (21, 21, 0, {}, None)
    # 12 manifest records (app-3 twice) + app-20, app-21 + app-30..33
    assert r.rows == 18 and r.created and r.version.startswith("ds-") and len(r.version) == 15
    assert [(s["format"], s["lines"]) for s in r.sources] == [("ground_truth", 13), ("a2i", 1), ("a2i", 2), ("table", 5)]


def test_dataset_rows(happy):
    uc, *_ = happy
    df = load_dataset("latest", uc).set_index("application_id")
    assert list(df.reset_index().columns) == ["application_id", "event_ts", "x1", "x2", "color", "sex", "default",
                                              "label_confidence", "label_source", "human_annotated", "labeling_job",
                                              "label_flag"]
    row = lambda rid: tuple(df.loc[rid, ["default", "label_confidence", "label_source", "human_annotated",  # noqa: E731
                                         "labeling_job", "label_flag"]])
    assert row("app-3") == (1, 0.8, "ground_truth", True, "tiny-job-1", "conflict")  # 0.8 vs 0.6
    assert row("app-4") == (0, 0.95, "ground_truth", False, "tiny-job-1", "")  # auto_labeled: keep
    assert row("app-5") == (1, 0.2, "ground_truth", True, "tiny-job-1", "low_confidence")
    assert row("app-7") == (1, 0.0, "ground_truth", True, "tiny-job-1", "low_confidence")  # single worker 0.00
    assert row("app-12") == (1, 0.77, "ground_truth", True, "tiny-job-1", "")
    assert row("app-20") == (1, 1.0, "a2i", True, "tiny-review", "")
    assert row("app-31") == (0, 0.8, "table", True, "", "")
    assert row("app-33") == (0, 1.0, "table", True, "", "")
    assert df.loc["app-1", "x1"] == 0.15  # the later feature row of app-1 won
    assert df.loc["app-2", "color"] == "blue" and df.loc["app-2", "sex"] == "female"
    assert str(df["event_ts"].dtype) == "datetime64[us, UTC]" and str(df["default"].dtype) == "int64"
    assert list(df.index) == sorted(df.index)


def test_manifest(happy):
    uc, root, _, r = happy
    m = json.loads((Path(r.uri) / "manifest.json").read_text())
    assert m == r.manifest
    assert m["hash"].startswith(r.version[3:]) and m["rows"] == 18
    assert m["classes"] == {"0": 8, "1": 10}
    assert m["labeling_jobs"] == ["tiny-job-1", "tiny-job-2", "tiny-review"]
    assert m["creation_date_range"] == ["2026-11-20T08:00:01.000001", "2026-11-20T10:02:26.246000"]
    assert m["annotations"]["conflicts"] == 1 and m["annotations"]["multi_annotated_records"] == 3
    assert m["annotations"]["flags"] == {"conflict": 1, "low_confidence": 2}
    assert m["features"]["duplicate_ids"] == 1 and m["quarantine"]["count"] == 0
    assert m["validation"]["success"] and m["validation"]["failed"] == []
    assert sorted(p.name for p in Path(r.uri).iterdir()) == ["_SUCCESS", "data.parquet", "manifest.json",
                                                              "validation.html"]
    html = (Path(r.uri) / "validation.html").read_text()
    assert "PASSED" in html and "<script" not in html and "src=" not in html and "href=" not in html


def test_reimport_writes_nothing(happy, file_snapshot):
    uc, root, sources, first = happy
    before = file_snapshot(root)
    again = import_labels(uc, sources)
    assert (again.version, again.created, again.rows) == (first.version, False, first.rows)
    assert file_snapshot(root) == before


def test_latest_pointer_and_verified_load(happy):
    uc, _, _, r = happy
    latest = latest_dataset(uc)
    assert (latest["version"], latest["uri"], latest["rows"], latest["hash"]) == (r.version, r.uri, 18, r.manifest["hash"])
    a = load_dataset(r.version, uc, verify=True)
    b = load_dataset(str(Path(r.uri) / "data.parquet"), uc)
    assert a.equals(b)


def test_lineage_and_report_dict(happy):
    *_, r = happy
    lin = lineage(r)
    assert lin["params"]["dataset_version"] == r.version and lin["tags"]["airsage.dataset.hash"] == r.manifest["hash"]
    assert lin["metrics"] == {"label_lines_read": 21, "label_lines_accepted": 21, "label_lines_quarantined": 0,
                              "dataset_rows": 18, "label_conflicts": 1}
    assert all(isinstance(v, str) for v in {**lin["params"], **lin["tags"]}.values())
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d and d["version"] == r.version


def test_other_labels_make_a_new_version(happy, fixtures_dir, file_snapshot):
    uc, root, _, first = happy
    old = file_snapshot(first.uri)
    r = import_labels(uc, [str(fixtures_dir / "labels.csv")])
    assert r.created and r.version != first.version and r.rows == 4
    assert latest_dataset(uc)["version"] == r.version
    assert file_snapshot(first.uri) == old  # versions are immutable


# ------------------------------------------------------------------ quarantine
QUARANTINE_EXPECTED = [  # (line, reason) read off fixtures/quarantine_cases.manifest
    (2, R.MALFORMED_JSON), (3, R.MALFORMED_JSON), (4, R.MISSING_METADATA), (5, R.UNKNOWN_CLASS),
    (6, R.SOURCE_REF_NOT_ALLOWED), (7, R.SOURCE_REF_NOT_ALLOWED), (8, R.SOURCE_REF_NOT_ALLOWED),
    (9, R.UNSUPPORTED_TYPE), (10, R.NO_FEATURE_RECORD), (11, R.MISSING_RECORD_ID), (12, R.LABELING_FAILED),
    (13, R.MISSING_LABEL_ATTRIBUTE), (14, R.INVALID_METADATA), (15, R.INVALID_METADATA),
]


def _quarantine(uri: str) -> list[dict]:
    return [json.loads(line) for line in Path(uri).read_text().splitlines()]


def test_max_bad_share_fails_after_writing_quarantine(tmp_path, make_tiny, fixtures_dir):
    uc = make_tiny(tmp_path)
    src = str(fixtures_dir / "quarantine_cases.manifest")
    with pytest.raises(DataValidationError) as exc:
        import_labels(uc, [src])
    err = exc.value
    assert err.failures[0] == "14 of 16 lines (87.5%) quarantined, above labeling.max_bad_share 5.0%"
    assert err.failures[1:4] == ["source_ref_not_allowed: 3 line(s)", "invalid_metadata: 2 line(s)",
                                 "malformed_json: 2 line(s)"]
    (qfile,) = (tmp_path / "labeling" / "quarantine").iterdir()
    assert str(qfile) in err.fix
    rows = _quarantine(str(qfile))
    assert [(q["line"], q["reason"]) for q in rows] == QUARANTINE_EXPECTED
    assert all(q["source"] == src and q["detail"] for q in rows)
    # the raw line is kept for items rejected while reading (the join happens later, on parsed records)
    assert [q["line"] for q in rows if not q["raw"]] == [10]
    assert rows[8]["record_id"] == "app-999" and "'..'" in rows[4]["detail"]
    assert not (tmp_path / "datasets").exists()


def test_tolerated_bad_lines_reconcile(tmp_path, make_tiny, fixtures_dir):
    uc = make_tiny(tmp_path, max_bad_share=1.0)
    r = import_labels(uc, [str(fixtures_dir / "quarantine_cases.manifest")])
    assert (r.lines_read, r.accepted, r.quarantined, r.rows) == (16, 2, 14, 2)
    assert r.by_reason == {"invalid_metadata": 2, "labeling_failed": 1, "malformed_json": 2, "missing_label_attribute": 1,
                           "missing_metadata": 1, "missing_record_id": 1, "no_feature_record": 1,
                           "source_ref_not_allowed": 3, "unknown_class": 1, "unsupported_type": 1}
    assert [(q["line"], q["reason"]) for q in _quarantine(r.quarantine_uri)] == QUARANTINE_EXPECTED
    assert r.manifest["quarantine"]["by_reason"] == r.by_reason
    assert set(load_dataset(r.version, uc)["application_id"]) == {"app-1", "app-16"}


def test_policy_drops_are_quarantined_but_not_bad(tmp_path, make_tiny, fixtures_dir):
    uc = make_tiny(tmp_path, auto_labeled="drop", low_confidence="drop", max_bad_share=0.0, max_conflict_share=0.2)
    r = import_labels(uc, [str(fixtures_dir / "tiny_labels.manifest")])
    # dropped: app-4 (human-annotated: no), app-5 (0.2) and app-7 (0.0) below min_confidence 0.3
    assert r.by_reason == {"dropped_auto_labeled": 1, "dropped_low_confidence": 2}
    assert (r.lines_read, r.accepted, r.quarantined, r.rows) == (13, 10, 3, 9)


def test_validation_failure_publishes_nothing(tmp_path, make_tiny, fixtures_dir):
    # 5 of 12 labels negative (41.7 %) is below a 45 % class-balance floor
    uc = make_tiny(tmp_path, min_minority_share=0.45)
    with pytest.raises(DataValidationError) as exc:
        import_labels(uc, [str(fixtures_dir / "tiny_labels.manifest")])
    assert len(exc.value.failures) == 1
    assert exc.value.failures[0].startswith("class_balance: expect_column_values_to_not_be_in_set(default)")
    (page,) = (tmp_path / "labeling" / "validation").iterdir()
    assert "FAILED" in page.read_text() and str(page) in exc.value.fix
    assert not (tmp_path / "datasets").exists()


def test_inconsistent_labeling_config_is_rejected(tmp_path, make_tiny):
    with pytest.raises(ConfigError, match="labeling.class_map"):
        ReaderOptions.from_usecase(make_tiny(tmp_path, class_map={"no_default": 0, "default": 2}, label_values=[0, 1]))
    with pytest.raises(ConfigError, match="allowed_source_prefixes"):
        ReaderOptions.from_usecase(make_tiny(tmp_path, join_key="source-ref", allowed_source_prefixes=[]))
