"""Decisions stored as A2I output.json (A2I's output-data format) and read back."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from airsage.config import ReviewSpec
from airsage.errors import ConfigError
from airsage.review import (human_decision, human_loop_name, read_decisions, resolve_decisions, timeout_decision,
                            write_a2i_output)

LOOP = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")  # d.1
CREATED = dt.datetime(2026, 11, 21, 2, 15, 7, tzinfo=dt.timezone.utc)
PAYLOAD = {"inference_id": "app-20261120-00000042", "record_id": "app-20261120-00000042", "score": 0.52,
           "model_label": 1, "reasons": ["low confidence"], "features": {"income": 51000.0}}


@pytest.mark.parametrize("inference_id", ["app-20261120-00000042", "APP_2026/11:20 #42", "x" * 80, "--", "Ü"])
def test_loop_names_are_valid_deterministic_and_distinct(inference_id):
    name = human_loop_name(inference_id)
    assert LOOP.match(name) and 1 <= len(name) <= 63
    assert human_loop_name(inference_id) == name
    assert human_loop_name(inference_id + "a") != name
    assert human_loop_name("app-20261120-00000042") == "app-20261120-00000042"


def test_output_json_layout_matches_a2i(tmp_path):
    decision = human_decision(PAYLOAD, decision="override", label=0, reviewer="alice", comment="income verified",
                              created_at=CREATED, submitted_at=CREATED + dt.timedelta(minutes=5, seconds=3, milliseconds=250),
                              accepted_at=CREATED + dt.timedelta(minutes=1))
    uri = write_a2i_output(decision, str(tmp_path), "credit-risk-review")
    assert uri == str(tmp_path / "credit-risk-review" / "2026/11/21/02/15/07" / "app-20261120-00000042" / "output.json")
    doc = json.loads((tmp_path / "credit-risk-review/2026/11/21/02/15/07/app-20261120-00000042/output.json").read_text())
    assert list(doc) == ["flowDefinitionArn", "humanAnswers", "humanLoopName", "inputContent"]
    assert re.fullmatch(r"arn:aws:sagemaker:us-east-1:\d{12}:flow-definition/credit-risk-review", doc["flowDefinitionArn"])
    assert doc["humanLoopName"] == "app-20261120-00000042" and doc["inputContent"] == PAYLOAD
    (answer,) = doc["humanAnswers"]
    assert answer == {"answerContent": {"decision": "override", "label": 0, "comment": "income verified"},
                      "acceptanceTime": "2026-11-21T02:16:07.000Z", "submissionTime": "2026-11-21T02:20:10.250Z",
                      "timeSpentInSeconds": 243.25, "workerId": "alice"}


def test_round_trip_and_resolution(tmp_path):
    root = str(tmp_path)
    other = dict(PAYLOAD, inference_id="app-2", record_id="app-2", model_label=0)
    spec = ReviewSpec(timeout_hours=24, default_decision="accept_model")
    write_a2i_output(timeout_decision(PAYLOAD, spec, created_at=CREATED), root, "credit-risk-review")
    write_a2i_output(human_decision(PAYLOAD, decision="confirm", reviewer="bob", created_at=CREATED,
                                    submitted_at=CREATED + dt.timedelta(hours=30)), root, "credit-risk-review")
    write_a2i_output(timeout_decision(other, spec, created_at=CREATED), root, "credit-risk-review")
    frame = read_decisions(root)
    assert len(frame) == 2  # the same loop (same creation time and name): the later write replaced the timeout
    by_id = frame.set_index("inference_id")
    assert by_id.loc["app-20261120-00000042", ["status", "decision", "final_label", "reviewer"]].tolist() == \
        ["reviewed", "confirm", 1, "bob"]
    assert by_id.loc["app-2", ["status", "decision", "final_label", "model_label"]].tolist() == \
        ["timed_out", "timeout_default", 0, 0]
    assert by_id.loc["app-2", "decided_at"] == CREATED + dt.timedelta(hours=24)
    assert by_id.loc["app-2", "created_at"] == CREATED


def test_timeout_applies_the_default_decision_and_is_recorded_as_such(tmp_path):
    flag = ReviewSpec(default_decision="flag_high_risk", timeout_hours=12)
    payload = dict(PAYLOAD, model_label=0)
    d = timeout_decision(payload, flag, created_at=CREATED)
    assert (d.final_label, d.status, d.decided_at) == (1, "timed_out", CREATED + dt.timedelta(hours=12))
    uri = write_a2i_output(d, str(tmp_path), "review")
    doc = json.loads(open(uri).read())
    assert doc["humanAnswers"] == []  # nobody answered
    assert doc["airsageTimeout"] == {"defaultDecision": "flag_high_risk", "label": 1,
                                     "timedOutAt": "2026-11-21T14:15:07.000Z"}


def test_human_beats_timeout_and_latest_human_wins(tmp_path):
    spec = ReviewSpec()
    root = str(tmp_path)
    later = CREATED + dt.timedelta(days=1)  # a second loop for the same record (new creation time)
    write_a2i_output(human_decision(PAYLOAD, decision="confirm", reviewer="bob", created_at=CREATED,
                                    submitted_at=CREATED + dt.timedelta(hours=1)), root, "review")
    write_a2i_output(timeout_decision(PAYLOAD, spec, created_at=later), root, "review")
    write_a2i_output(human_decision(PAYLOAD, decision="override", label=0, reviewer="carol", created_at=later - dt.timedelta(hours=2),
                                    submitted_at=CREATED + dt.timedelta(hours=3)), root, "review")
    resolved = resolve_decisions(read_decisions(root))
    assert resolved[["reviewer", "final_label"]].values.tolist() == [["carol", 0]]


@pytest.mark.parametrize(("decision", "label"), [("confirm", 0), ("override", 1), ("override", None), ("maybe", 1)])
def test_inconsistent_decisions_are_rejected(decision, label):
    with pytest.raises(ConfigError):
        human_decision(PAYLOAD, decision=decision, label=label, reviewer="bob", created_at=CREATED, submitted_at=CREATED)


def test_invalid_flow_definition_name(tmp_path):
    d = timeout_decision(PAYLOAD, ReviewSpec(), created_at=CREATED)
    with pytest.raises(ConfigError):
        write_a2i_output(d, str(tmp_path), "Credit_Review")
