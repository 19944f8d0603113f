"""Routing: reasons, cap and the stated priority order (hand-built records)."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsage.config import ReviewRule, ReviewSpec
from airsage.review import route_parquet, route_records

SPEC = ReviewSpec(probability_band=(0.45, 0.55), high_risk_threshold=0.9, max_per_night=10,
                  rules=[ReviewRule(feature="loan_amount", op=">", value=60000, reason="large loan"),
                         ReviewRule(feature="region", op="in", value=["offshore"], reason="unusual region")])


def _scored() -> pd.DataFrame:
    return pd.DataFrame({
        "inference_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
        "score":        [0.95, 0.50, 0.20, 0.91, 0.46, 0.30, 0.55, 0.92, 0.10],
        "predicted_label": [1, 0, 0, 1, 0, 0, 1, 1, 0],
        "loan_amount":  [1000, 2000, 70000, 5000, 90000, 80000, None, 3000, 100],
        "region":       ["north", "south", "offshore", "east", "west", "west", "north", "north", None],
    })


def test_reasons_and_priority_order():
    routed, report = route_records(_scored(), SPEC)
    # high risk by score (a .95, h .92, d .91); rules by #rules then score (c: 2 rules; e .46 vs f .30);
    # low confidence by distance to 0.5 (b .50, then g .55 -> 0.05)
    assert routed["inference_id"].tolist() == ["a", "h", "d", "c", "e", "f", "b", "g"]
    assert routed["rank"].tolist() == list(range(1, 9))
    assert routed["tier"].tolist() == ["high_risk"] * 3 + ["rule"] * 3 + ["low_confidence"] * 2
    e = routed.set_index("inference_id").loc["e"]
    assert e["reason_codes"] == ["rule", "low_confidence"]  # every reason is kept, the tier is the first
    assert e["reasons"][0] == "rule: large loan (loan_amount=90000)"
    assert "low confidence: score 0.460 within [0.45, 0.55]" in e["reasons"]
    assert routed.set_index("inference_id").loc["c", "reasons"] == [
        "rule: large loan (loan_amount=70000)", "rule: unusual region (region=offshore)"]
    assert (report.records, report.candidates, report.routed, report.over_cap) == (9, 8, 8, 0)
    assert report.by_reason == {"high_risk": 3, "rule": 3, "low_confidence": 3}


def test_cap_keeps_the_highest_priority_records():
    routed, report = route_records(_scored(), SPEC.model_copy(update={"max_per_night": 4}))
    assert routed["inference_id"].tolist() == ["a", "h", "d", "c"]
    assert (report.routed, report.over_cap) == (4, 4)


def test_priority_order_is_configurable():
    spec = SPEC.model_copy(update={"priority": ["low_confidence", "rule", "high_risk"], "max_per_night": 3})
    routed, _ = route_records(_scored(), spec)
    assert routed["inference_id"].tolist() == ["b", "e", "g"]  # distance to 0.5: b 0, e 0.04, g 0.05


def test_missing_values_never_match_and_disabled_routes_nothing():
    routed, _ = route_records(_scored(), SPEC)
    assert "i" not in set(routed["inference_id"])  # region None, small loan, low score
    off, report = route_records(_scored(), SPEC.model_copy(update={"enabled": False}))
    assert off.empty and not report.enabled


def test_streaming_over_row_groups_matches_in_memory(tmp_path):
    df = _scored()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "cap.parquet", row_group_size=2)
    streamed, s_report = route_parquet(str(tmp_path / "cap.parquet"), SPEC.model_copy(update={"max_per_night": 5}))
    in_memory, m_report = route_records(df, SPEC.model_copy(update={"max_per_night": 5}))
    assert streamed["inference_id"].tolist() == in_memory["inference_id"].tolist()
    assert streamed["reasons"].tolist() == in_memory["reasons"].tolist()
    assert s_report == m_report


# ------------------------------------------------------------------------------ quotas per reason
# Expectations below are worked out by hand from _scored() (see each comment), not from the code.
def test_quota_reserves_places_for_low_confidence():
    spec = SPEC.model_copy(update={"max_per_night": 4, "quotas": {"low_confidence": 0.5}})
    routed, report = route_records(_scored(), spec)
    # floor(0.5 * 4) = 2 places for low confidence: candidates b (.50), e (.46), g (.55), most uncertain first
    # (|s - 0.5|: b 0, e .04, g .05) -> b, e; the 2 other places by priority: high risk a (.95), h (.92).
    # Listed in priority order: a, h (high risk tier), e (rule tier), b (low-confidence tier).
    assert routed["inference_id"].tolist() == ["a", "h", "e", "b"]
    assert routed["routed_by"].tolist() == ["priority", "priority", "quota:low_confidence", "quota:low_confidence"]
    assert report.by_quota == {"low_confidence": 2} and (report.routed, report.over_cap) == (4, 4)


def test_unused_reserved_places_go_back_to_priority():
    spec = SPEC.model_copy(update={"max_per_night": 4, "quotas": {"low_confidence": 1.0}})
    routed, report = route_records(_scored(), spec)
    # 4 places reserved, only 3 low-confidence candidates (b, e, g); the 4th place by priority: a
    assert sorted(routed["inference_id"]) == ["a", "b", "e", "g"]
    assert routed["inference_id"].tolist() == ["a", "e", "b", "g"]  # tiers: high, rule, low (b before g)
    assert report.by_quota == {"low_confidence": 3}


def test_quotas_for_two_reasons_are_served_in_priority_order():
    spec = SPEC.model_copy(update={"max_per_night": 4, "quotas": {"rule": 0.25, "low_confidence": 0.25}})
    routed, _ = route_records(_scored(), spec)
    # rule (1 place): most rules first -> c (2 rules); low confidence (1 place): b; then priority a, h
    assert routed["inference_id"].tolist() == ["a", "h", "c", "b"]
    assert dict(zip(routed["inference_id"], routed["routed_by"])) == {
        "a": "priority", "h": "priority", "c": "quota:rule", "b": "quota:low_confidence"}


def test_streaming_with_quotas_matches_in_memory(tmp_path):
    df = _scored()
    spec = SPEC.model_copy(update={"max_per_night": 3, "quotas": {"low_confidence": 0.67}})
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "cap.parquet", row_group_size=2)
    streamed, s_report = route_parquet(str(tmp_path / "cap.parquet"), spec)
    in_memory, m_report = route_records(df, spec)
    # floor(0.67 * 3) = 2 low-confidence places (b, e), 1 priority place (a)
    assert streamed["inference_id"].tolist() == in_memory["inference_id"].tolist() == ["a", "e", "b"]
    assert s_report == m_report


def test_credit_risk_routes_low_confidence_cases_every_night():
    """The issue's night: far more high-risk candidates than the cap. Strict priority routed only them."""
    from pathlib import Path

    from airsage.config import load_usecase_file

    uc = load_usecase_file(Path(__file__).parents[3] / "include" / "usecases" / "credit_risk.yaml")
    n_high, n_low = 69, 136
    scored = pd.DataFrame({
        "inference_id": [f"h{i:03d}" for i in range(n_high)] + [f"l{i:03d}" for i in range(n_low)],
        "score": [0.91 + 0.07 * i / n_high for i in range(n_high)] + [0.45 + 0.1 * i / n_low for i in range(n_low)],
        "predicted_label": [1] * n_high + [int(0.45 + 0.1 * i / n_low >= 0.5) for i in range(n_low)],
        "loan_amount": [1000.0] * (n_high + n_low)})
    routed, _ = route_records(scored, uc.review)
    low = routed[routed["inference_id"].str.startswith("l")]
    # cap 20, quota 0.3 -> 6 low-confidence records; the other 14 places: the highest-risk records
    assert (len(routed), len(low)) == (20, 6)
    assert all("low_confidence" in codes for codes in low["reason_codes"])
    strict, _ = route_records(scored, uc.review.model_copy(update={"quotas": {}}))
    assert not strict["inference_id"].str.startswith("l").any()  # what the issue saw


@pytest.mark.parametrize("quotas", [{"low_confidence": 0.0}, {"low_confidence": 1.5}, {"rule": 0.6, "low_confidence": 0.5},
                                    {"bogus": 0.2}])
def test_invalid_quotas_are_refused(quotas):
    with pytest.raises(ValueError):  # pydantic's ValidationError; a use-case file turns it into a ConfigError
        ReviewSpec(quotas=quotas)
