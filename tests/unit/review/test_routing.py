"""Routing: reasons, cap and the stated priority order (hand-built records)."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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
