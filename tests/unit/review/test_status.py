"""The review sidecar beside a scored partition: pending -> reviewed / timed_out, idempotent."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from airsage.config import ReviewSpec
from airsage.review import (apply_decisions, due_for_timeout, human_decision, read_decisions, read_review_status,
                            review_status_uri, timeout_decision, write_a2i_output, write_pending)

T0 = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.timezone.utc)
ROUTED = pd.DataFrame({"inference_id": ["a", "b", "c"], "score": [0.95, 0.5, 0.47], "predicted_label": [1, 0, 0],
                       "tier": ["high_risk", "low_confidence", "low_confidence"],
                       "reasons": [["high risk"], ["low confidence"], ["low confidence", "rule: x"]]})


def _payload(i, label):
    return {"inference_id": i, "record_id": i, "model_label": label, "score": 0.5, "reasons": []}


def test_pending_until_decided_then_final_label_beside_models(tmp_path):
    preds, root = str(tmp_path / "predictions" / "dt=2026-11-20"), str(tmp_path / "a2i")
    uri = write_pending(preds, ROUTED, routed_at=T0)
    assert uri == str(tmp_path / "predictions" / "dt=2026-11-20" / "_review" / "review_status.parquet")
    status = read_review_status(preds)
    assert status["status"].tolist() == ["pending_review"] * 3 and status["final_label"].isna().all()
    assert status.loc[2, "reasons"] == "low confidence; rule: x"

    write_a2i_output(human_decision(_payload("a", 1), decision="override", label=0, reviewer="alice", created_at=T0,
                                    submitted_at=T0 + dt.timedelta(hours=2)), root, "review")
    spec = ReviewSpec(timeout_hours=24)
    due = due_for_timeout(read_review_status(preds), spec.timeout_hours, now=T0 + dt.timedelta(hours=25))
    assert due["inference_id"].tolist() == ["a", "b", "c"]  # 'a' was answered but not yet applied
    write_a2i_output(timeout_decision(_payload("b", 0), spec, created_at=T0), root, "review")
    report = apply_decisions(preds, read_decisions(root))
    assert (report.pending_review, report.reviewed, report.timed_out, report.updated) == (1, 1, 1, 2)
    s = read_review_status(preds).set_index("inference_id")
    assert s.loc["a", ["status", "final_label", "model_label", "reviewer", "decision"]].tolist() == \
        ["reviewed", 0, 1, "alice", "override"]
    assert s.loc["a", "decided_at"] == pd.Timestamp(T0 + dt.timedelta(hours=2))
    assert s.loc["b", ["status", "final_label", "decision"]].tolist() == ["timed_out", 0, "timeout_default"]
    assert pd.isna(s.loc["b", "reviewer"])
    assert s.loc["c", "status"] == "pending_review"
    assert due_for_timeout(read_review_status(preds), 24, now=T0 + dt.timedelta(hours=25))["inference_id"].tolist() == ["c"]


def test_sidecar_updates_are_idempotent(tmp_path):
    preds, root = str(tmp_path / "p"), str(tmp_path / "a2i")
    write_pending(preds, ROUTED, routed_at=T0)
    write_a2i_output(human_decision(_payload("c", 0), decision="confirm", reviewer="bob", created_at=T0,
                                    submitted_at=T0 + dt.timedelta(hours=1)), root, "review")
    first = apply_decisions(preds, read_decisions(root))
    before = open(review_status_uri(preds), "rb").read()
    again = apply_decisions(preds, read_decisions(root))
    write_pending(preds, ROUTED, routed_at=T0 + dt.timedelta(days=1))  # re-routing the same records keeps their state
    assert (first.updated, again.updated) == (1, 0)
    assert open(review_status_uri(preds), "rb").read() == before


def test_late_timeout_never_replaces_a_human_decision_and_unknown_ids_are_counted(tmp_path):
    preds, root = str(tmp_path / "p"), str(tmp_path / "a2i")
    write_pending(preds, ROUTED, routed_at=T0)
    write_a2i_output(human_decision(_payload("a", 1), decision="confirm", reviewer="bob", created_at=T0,
                                    submitted_at=T0 + dt.timedelta(hours=1)), root, "review")
    apply_decisions(preds, read_decisions(root))
    late = timeout_decision(_payload("a", 1), ReviewSpec(default_decision="flag_high_risk"),
                            created_at=T0 + dt.timedelta(days=2))
    write_a2i_output(late, root, "review")
    write_a2i_output(timeout_decision(_payload("zzz", 0), ReviewSpec(), created_at=T0), root, "review")
    report = apply_decisions(preds, read_decisions(root))
    assert (report.updated, report.unknown) == (0, 1)
    assert read_review_status(preds).set_index("inference_id").loc["a", "reviewer"] == "bob"
