"""Each decision recorded the moment it is made (A2I output.json + its own sidecar row); summary at the end."""
from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pandas as pd
import pytest

from airsage import storage
from airsage.config import ReviewSpec
from airsage.errors import DataValidationError
from airsage.review import (ReviewAnswer, answer_error, estimate_acceptance, read_review_status, record_one_decision,
                            review_progress, summarise, write_pending)
from airsage.review.status import decision_row_uri

T0 = dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.timezone.utc)
SPEC = ReviewSpec(timeout_hours=24, default_decision="accept_model")
NAMES = {"0": "no default", "1": "default"}
ROUTED = pd.DataFrame({"inference_id": ["a", "b", "c"], "score": [0.95, 0.5, 0.47], "predicted_label": [1, 0, 0],
                       "tier": ["high_risk", "low_confidence", "low_confidence"],
                       "reasons": [["high risk"], ["low confidence"], ["low confidence"]]})
LABELS = dict(zip(ROUTED["inference_id"], ROUTED["predicted_label"]))


def _payload(i):
    return {"inference_id": i, "record_id": i, "application_id": i, "model_label": int(LABELS[i]), "score": 0.5,
            "reasons": ["r"], "label_names": NAMES, "record": {"income": 1.0, "sex": "female"}}


@pytest.fixture
def night(tmp_path):
    preds, root = str(tmp_path / "predictions" / "dt=2026-11-20"), str(tmp_path / "a2i")
    write_pending(preds, ROUTED, routed_at=T0)

    def record(i, answer, now=None, **kw):
        return record_one_decision(_payload(i), created_at=T0, answer=answer, spec=SPEC, predictions_uri=preds,
                                   a2i_root=root, flow_definition_name="credit-risk-review", now=now, **kw)
    return preds, root, record


def _answer(decision, minutes, comment="", reviewer="alice", created=T0):
    return ReviewAnswer(decision=decision, reviewer=reviewer, comment=comment,
                        responded_at=T0 + dt.timedelta(minutes=minutes), task_created_at=created)


def test_one_answer_is_kept_at_once_while_others_wait(night):
    preds, root, record = night
    r = record("a", _answer("Override", 4, comment="income verified, no risk"))
    # A2I layout: <flow>/YYYY/MM/DD/hh/mm/ss (loop creation = routing time)/<loop>/output.json
    out = Path(root) / "credit-risk-review/2026/11/21/02/00/00/a/output.json"
    assert r.output_uri == str(out) and out.exists()
    doc = json.loads(out.read_text())
    assert doc["humanAnswers"][0]["answerContent"] == {"decision": "override", "label": 0,
                                                        "comment": "income verified, no risk"}
    assert doc["inputContent"]["record"] == {"income": 1.0, "sex": "female"}  # the whole record travels along
    assert (r.status, r.final_label, r.final_label_name, r.reviewer) == ("reviewed", 0, "no default", "alice")
    assert (r.progress.decided, r.progress.waiting, r.progress.overridden) == (1, 2, 1)
    status = read_review_status(preds).set_index("inference_id")
    assert status["status"].to_dict() == {"a": "reviewed", "b": "pending_review", "c": "pending_review"}
    assert status.loc["a", "final_label"] == 0 and status.loc["a", "model_label"] == 1


def test_a_retry_records_nothing_twice(night):
    preds, root, record = night
    first = record("b", _answer("confirm", 3))
    out, row = Path(first.output_uri).read_bytes(), Path(first.row_uri).read_bytes()
    again = record("b", _answer("confirm", 3))
    assert (first.written, again.written) == (True, False)
    assert Path(first.output_uri).read_bytes() == out and Path(first.row_uri).read_bytes() == row
    assert review_progress(preds).decided == 1


def test_concurrent_decisions_of_one_partition_keep_each_row(night):
    preds, _, record = night
    barrier = threading.Barrier(3)
    errors = []

    def answer(i, minutes):
        try:
            barrier.wait()
            record(i, _answer("confirm", minutes, reviewer=f"r-{i}"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    threads = [threading.Thread(target=answer, args=(i, m)) for i, m in (("a", 1), ("b", 2), ("c", 3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert read_review_status(preds)["reviewer"].tolist() == ["r-a", "r-b", "r-c"]


def test_override_without_comment_is_refused_with_the_fix(night):
    preds, root, record = night
    with pytest.raises(DataValidationError) as err:
        record("a", _answer("override", 2, comment="   "))
    text = str(err.value)
    assert "Override without a comment" in text and "Fix:" in text and "Comment field" in text
    assert "'no default' and not the model's 'default'" in text
    assert not Path(root).exists() and review_progress(preds).decided == 0  # nothing recorded
    assert answer_error("confirm", "", payload=_payload("a")) is None  # a confirm needs no comment
    assert answer_error("maybe", "x") is not None and answer_error("confirm", "", reviewer="") is not None


def test_times_mean_what_a2i_means(night):
    """Hand-computed: the task is created at 02:00; alice answers a at 02:10, b at 02:12, c at 07:00."""
    _, _, record = night

    def answer_of(r):
        return json.loads(Path(r.output_uri).read_text())["humanAnswers"][0]

    a = answer_of(record("a", _answer("confirm", 10)))
    b = answer_of(record("b", _answer("confirm", 12)))
    c = record("c", _answer("confirm", 300))
    assert (a["acceptanceTime"], a["timeSpentInSeconds"]) == ("2026-11-21T02:00:00.000Z", 600.0)  # from the task
    assert (b["acceptanceTime"], b["timeSpentInSeconds"]) == ("2026-11-21T02:10:00.000Z", 120.0)  # from a's answer
    # c: the last sign of work (b at 02:12) is 4 h 48 min before the answer -> not known, not queue time
    assert (answer_of(c)["acceptanceTime"], answer_of(c)["timeSpentInSeconds"]) == ("2026-11-21T07:00:00.000Z", 0.0)
    assert c.acceptance_basis == "unknown"
    assert json.loads(Path(c.output_uri).read_text())["airsageTiming"] == {
        "acceptanceBasis": "unknown", "taskCreatedAt": "2026-11-21T02:00:00.000Z"}


def test_estimate_acceptance_ignores_answers_outside_the_task_window():
    t = T0 + dt.timedelta(hours=1)
    before, other_later = T0 + dt.timedelta(minutes=30), t + dt.timedelta(minutes=20)
    assert estimate_acceptance(t, t + dt.timedelta(minutes=5), [before, other_later]) == (t, "task_created")
    assert estimate_acceptance(t, t + dt.timedelta(minutes=5), [t + dt.timedelta(minutes=2)]) == \
        (t + dt.timedelta(minutes=2), "previous_answer")
    assert estimate_acceptance(t, t - dt.timedelta(seconds=1)) == (t - dt.timedelta(seconds=1), "unknown")


def test_timeout_is_recorded_only_when_due_and_never_replaces_an_answer(night):
    preds, root, record = night
    early = record("b", None, now=T0 + dt.timedelta(hours=23))
    assert (early.status, early.output_uri, early.written) == ("pending_review", None, False)
    assert not Path(root).exists()
    late = record("b", None, now=T0 + dt.timedelta(hours=24))
    assert (late.status, late.decision, late.final_label) == ("timed_out", "timeout_default", 0)
    record("a", _answer("confirm", 5))
    after = record("a", None, now=T0 + dt.timedelta(days=2))
    assert (after.status, after.reviewer, after.written) == ("reviewed", "alice", False)


def test_summarise_reconciles_counts_and_rewrites_no_decision(night):
    preds, root, record = night
    a = record("a", _answer("override", 5, comment="documents show income"))
    b = record("b", _answer("confirm", 7))
    storage.delete(decision_row_uri(preds, "b"))  # the task died between output.json and its row
    outputs = {u: Path(u).read_bytes() for u in (a.output_uri, b.output_uri)}
    tasks = [{"payload": _payload(i), "created_at": T0.isoformat()} for i in "abc"]
    s = summarise(preds, a2i_root=root, flow_definition_name="credit-risk-review", tasks=tasks)
    assert (s.routed, s.decided, s.reviewed, s.confirmed, s.overridden, s.timed_out, s.waiting) == (3, 2, 2, 1, 1, 0, 1)
    assert s.reconciled == ["b"]
    assert {u: Path(u).read_bytes() for u in outputs} == outputs  # decisions are not rewritten
    on_disk = read_review_status(preds, overlay=False).set_index("inference_id")  # the Parquet file, folded
    assert on_disk["status"].to_dict() == {"a": "reviewed", "b": "reviewed", "c": "pending_review"}
    assert json.loads(Path(s.summary_uri).read_text())["waiting"] == 1
    again = summarise(preds, a2i_root=root, flow_definition_name="credit-risk-review", tasks=tasks)
    assert again.reconciled == [] and again.decided == 2


def test_reviewed_low_confidence_cases_feed_the_label_import(night):
    """The label import reads the recorded output.json like any A2I output (record id, final label, reviewer)."""
    from airsage.config import load_usecase_file
    from airsage.labeling.readers import read_a2i_output
    from airsage.labeling.records import ReaderOptions

    _, _, record = night
    r = record("b", _answer("override", 4, comment="missed payments in the file"))
    uc = load_usecase_file(Path(__file__).parents[3] / "include" / "usecases" / "credit_risk.yaml")
    (item,) = list(read_a2i_output(r.output_uri, ReaderOptions.from_usecase(uc)))
    assert (item.record_id, item.label, item.annotator, item.human_annotated) == ("b", 1, "alice", True)


def test_answers_arrive_as_xcom_text():
    a = ReviewAnswer.from_dict({"decision": "Override", "reviewer": "alice", "comment": None,
                                "responded_at": "2026-11-21T02:10:00+00:00", "task_created_at": "2026-11-21T02:00:00Z"})
    assert (a.responded_at, a.task_created_at, a.comment) == (T0 + dt.timedelta(minutes=10), T0, "")
    assert ReviewAnswer.from_dict(a.to_dict()) == a
