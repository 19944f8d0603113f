"""The great-expectations suite: committed file == generated, and the checks catch what they claim."""
from __future__ import annotations

import json

import pytest

from airsage.config import load_usecases
from airsage.errors import ConfigError
from airsage.labeling.consolidate import Consolidated
from airsage.labeling.dataset import build_dataset
from airsage.labeling.validation import generate_suite, load_suite, render_html, suite_path, validate_dataset


def test_committed_suites_equal_generated():
    ucs = load_usecases()
    assert ucs, "no bundled use case found"
    for uc in ucs:
        path = suite_path(uc)
        assert path.exists(), f"missing {path}: run python -m airsage.labeling.validation {uc.name}"
        assert json.loads(path.read_text()) == generate_suite(uc), f"{path} is stale: regenerate it"


def test_credit_risk_suite_covers_every_column():
    (uc,) = [u for u in load_usecases() if u.name == "credit_risk"]
    suite = generate_suite(uc)
    typed = {e["kwargs"]["column"] for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_of_type"}
    assert typed == set(suite["expectations"][0]["kwargs"]["column_list"])
    keys = [(e["type"], e["kwargs"].get("column"), e["meta"]["check"]) for e in suite["expectations"]]
    assert len(keys) == len(set(keys))  # validate_dataset relies on this to keep results in suite order
    assert {e["meta"]["check"] for e in suite["expectations"]} == {
        "schema", "completeness", "duplicates", "label_domain", "conflicts", "class_balance"}


def test_stale_committed_suite_is_refused(tmp_path, tiny):
    assert load_suite(tiny, tmp_path) == generate_suite(tiny)  # no committed file: the generated suite
    stale = generate_suite(tiny)
    stale["expectations"] = stale["expectations"][:-1]
    (tmp_path / "tiny_credit.json").write_text(json.dumps(stale))
    with pytest.raises(ConfigError, match="python -m airsage.labeling.validation tiny_credit"):
        load_suite(tiny, tmp_path)


@pytest.fixture(scope="module")
def broken(tmp_path_factory, make_tiny, tiny_frame):
    """One validation run of a dataset with four planted faults."""
    uc = make_tiny(tmp_path_factory.mktemp("val"))
    feats = tiny_frame().iloc[:10]
    records = [Consolidated(record_id=rid, label=i % 2, confidence=0.9, human_annotated=True, job="j",
                            kind="ground_truth", flags=(), votes=1, created=None)
               for i, rid in enumerate(feats["application_id"])]
    df = build_dataset(uc, feats, records)
    df.loc[1, "default"] = 7  # unknown label
    df.loc[[2, 3, 4], "label_flag"] = ["conflict", "low_confidence,conflict", "conflict,auto_labeled"]  # 3/11 > 10 %
    df["x2"] = df["x2"].astype("float32")  # wrong type
    df = __import__("pandas").concat([df, df.iloc[[0]]], ignore_index=True)  # duplicate id
    return uc, validate_dataset(df, generate_suite(uc))


def _failed(result):
    return {(r["check"], r["expectation"], r["column"]): r for r in result.failed}


def test_planted_faults_are_found(broken):
    _, result = broken
    failed = _failed(result)
    assert not result.success
    assert set(failed) == {
        ("duplicates", "expect_column_values_to_be_unique", "application_id"),
        ("label_domain", "expect_column_values_to_be_in_set", "default"),
        ("conflicts", "expect_column_values_to_not_match_regex", "label_flag"),
        ("schema", "expect_column_values_to_be_of_type", "x2"),
    }
    assert failed[("duplicates", "expect_column_values_to_be_unique", "application_id")]["unexpected_count"] == 2
    assert failed[("label_domain", "expect_column_values_to_be_in_set", "default")]["partial_unexpected"] == [7]
    assert failed[("conflicts", "expect_column_values_to_not_match_regex", "label_flag")]["unexpected_count"] == 3
    assert failed[("schema", "expect_column_values_to_be_of_type", "x2")]["observed"] == "float32"


def test_results_follow_suite_order_and_summarise(broken):
    uc, result = broken
    suite = generate_suite(uc)
    assert [(r["expectation"], r["column"]) for r in result.results] == [
        (e["type"], e["kwargs"].get("column")) for e in suite["expectations"]]
    s = result.summary()
    assert (s["evaluated"], s["successful"], len(s["failed"])) == (len(suite["expectations"]),
                                                                   len(suite["expectations"]) - 4, 4)
    assert any(line.startswith("duplicates: expect_column_values_to_be_unique(application_id)")
               for line in result.failures())


def test_html_is_self_contained(broken):
    _, result = broken
    page = render_html(result, title="t <x>", facts={"rows": 11})
    assert page.startswith("<!DOCTYPE html>") and "FAILED" in page and "t &lt;x&gt;" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page
    assert page.count("<tr class=\"failed\">") == 4
