"""Human-in-the-loop through real Airflow services, answered the way the UI answers: Airflow's REST API.

The api-server, scheduler, dag-processor and triggerer run (via ``airsage.services``, what ``make up`` uses) on
a temporary home and free port. Users log in through the simple auth manager's ``POST /auth/token``; ``admin``
triggers runs, ``approver`` answers the model approval and ``reviewer`` the record reviews with
``PATCH .../hitlDetails``. The assertions read the results where an auditor would: MLflow through its own
client in a fresh process, the audit log files, the A2I ``output.json`` files and the review sidecar.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from airflow_services import ApiError, airflow_services, isolated_env, run_python

pytestmark = pytest.mark.e2e

UC = "credit_risk"
TRAIN, TRANSFORM, REVIEW = f"{UC}__train", f"{UC}__batch_transform", f"{UC}__human_review"
PARTITION = "2026-11-21"  # prepare_example_data's default end date: the scoring partition
APPROVAL_COMMENT = "Gates passed; AUC and bias reviewed in the summary."
OVERRIDE_COMMENT = "Income verified by phone: not a default risk."

PREPARE = f"""
import json
from airsage import pipeline
from airsage.config import get_usecase
uc = get_usecase({UC!r})
data = pipeline.prepare_example_data(uc, end_date={PARTITION!r}, days=3, rows_per_day=800, scoring_rows=150)
ds = pipeline.import_labels(uc, [data["manifest"]], log_lineage=False)
print(json.dumps({{"dataset_version": ds["version"], "rows": ds.get("accepted")}}))
"""

REGISTRY = f"""
import json, mlflow
c = mlflow.MlflowClient()
rm = c.get_registered_model({UC!r})
vs = c.search_model_versions("name='{UC}'")
print(json.dumps({{"aliases": {{k: str(v) for k, v in rm.aliases.items()}},
                  "versions": {{v.version: dict(c.get_model_version({UC!r}, v.version).tags) for v in vs}}}}))
"""

SIDECAR = f"""
import json, pandas as pd
df = pd.read_parquet({{path!r}})
print(df[["inference_id", "status", "decision", "reviewer", "final_label", "model_label"]].to_json(orient="records"))
"""


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, request):
    """Airflow on a fresh home with the example data prepared (3 days x 800 labelled rows, one dataset
    version) and the DAGs parsed; stopped afterwards, with the components' logs printed if a test failed."""
    from airsage.demo import init_airflow

    t0 = time.monotonic()
    env = isolated_env(tmp_path_factory.mktemp("hitl-home"))
    init_airflow(env)
    prepared = run_python(PREPARE, env, timeout_s=300)
    failed_before = request.session.testsfailed
    with airflow_services(env, dag_ids=[TRAIN, TRANSFORM, REVIEW]) as af:
        af.prepared = prepared
        print(f"\nAirflow up on {af.base_url} after {time.monotonic() - t0:.0f} s; dataset {prepared}")
        yield af
        if request.session.testsfailed > failed_before:
            print(af.component_logs(tail=60))


def registry(env) -> dict:
    return run_python(REGISTRY, env, timeout_s=120)


def audit_events(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((home / "data" / "_audit" / UC).glob("*.json"))]


@pytest.fixture(scope="module")
def approved(airflow):
    """``credit_risk__train`` triggered by admin, its ``approve_model`` answered by approver."""
    t0 = time.monotonic()
    admin, approver = airflow.api("admin"), airflow.api("approver")
    admin.unpause(TRAIN)
    run_id = admin.trigger(TRAIN, {"await_approval": True}, run_id="hitl-e2e-train")
    pending = airflow.wait_awaiting_input(TRAIN, run_id, "approve_model", count=1, timeout_s=900)
    before = registry(airflow.env)
    detail = approver.hitl_detail(TRAIN, run_id, "approve_model")
    answer = approver.respond(TRAIN, run_id, "approve_model", ["Approve"], {"comment": APPROVAL_COMMENT})
    with pytest.raises(ApiError) as twice:  # the form cannot be submitted a second time
        approver.respond(TRAIN, run_id, "approve_model", ["Reject"], {"comment": "changed my mind"})
    run = airflow.wait_run(TRAIN, run_id, timeout_s=600)
    print(f"\ntrain run with approval: {time.monotonic() - t0:.0f} s")
    return {"run_id": run_id, "pending": pending, "before": before, "detail": detail, "answer": answer,
            "twice": twice.value, "run": run, "after": registry(airflow.env)}


def test_the_approval_request_shows_the_version_and_its_summary(airflow, approved):
    before = approved["before"]
    assert list(before["versions"]) == ["1"] and before["aliases"] == {}  # nothing serves before the human says so
    assert before["versions"]["1"]["approval_status"] == "PendingManualApproval"
    d = approved["detail"]
    assert d["subject"] == f"Approve {UC} version 1?"
    assert d["options"] == ["Approve", "Reject"] and not d["multiple"]
    assert "comment" in d["params"] and d["params"]["comment"]["schema"].get("minLength") == 3
    assert d["response_received"] is False and d["responded_by_user"] is None
    assert d["task_instance"]["state"] == "awaiting_input"
    body = d["body"]
    assert f"### {UC} version 1: PendingManualApproval" in body
    assert f"dataset **{airflow.prepared['dataset_version']}**" in body
    assert "All quality gates passed." in body and "| gate | result | value | threshold |" in body
    assert "there is no champion yet" in body


def test_the_approver_answer_is_recorded_and_cannot_be_changed(approved):
    answer = approved["answer"]
    assert answer["responded_by"] == {"id": "approver", "name": "approver"}
    assert answer["chosen_options"] == ["Approve"] and answer["params_input"] == {"comment": APPROVAL_COMMENT}
    assert approved["twice"].status == 409


def test_approval_makes_the_version_champion_with_the_approver_named(airflow, approved):
    tis = {t["task_id"]: t["state"] for t in airflow.api("admin").task_instances(TRAIN, approved["run_id"])}
    assert tis["approve_model"] == "success" and tis["record_decision"] == "success"
    after = approved["after"]
    assert after["aliases"] == {"champion": "1"}
    tags = after["versions"]["1"]
    assert tags["approval_status"] == "Approved"
    assert tags["approved_by"] == "approver"
    assert tags["approval_comment"] == APPROVAL_COMMENT
    events = audit_events(airflow.home)
    assert [e["action"] for e in events] == ["register", "approve"]
    assert events[0]["actor"] == f"airflow:{TRAIN}"
    approve = events[1]
    assert (approve["actor"], approve["version"], approve["reason"]) == ("approver", "1", APPROVAL_COMMENT)
    assert (approve["from_status"], approve["to_status"], approve["to_version"]) == \
        ("PendingManualApproval", "Approved", "1")


@pytest.fixture(scope="module")
def reviewed(airflow, approved):
    """The approved champion scores the partition; ``credit_risk__human_review`` routes records; reviewer
    overrides the first and confirms the rest."""
    t0 = time.monotonic()
    admin, reviewer = airflow.api("admin"), airflow.api("reviewer")
    admin.unpause(TRANSFORM)
    run_id = admin.trigger(TRANSFORM, {"partition": PARTITION}, run_id="hitl-e2e-transform")
    airflow.wait_run(TRANSFORM, run_id, timeout_s=600)
    t1 = time.monotonic()
    admin.unpause(REVIEW)
    run_id = admin.trigger(REVIEW, {"partition": PARTITION}, run_id="hitl-e2e-review")
    pending = airflow.wait_awaiting_input(REVIEW, run_id, "review_record", timeout_s=600)
    pending.sort(key=lambda d: d["task_instance"]["map_index"])
    answers = []
    for i, d in enumerate(pending):
        choice = "Override" if i == 0 else "Confirm"
        comment = OVERRIDE_COMMENT if i == 0 else "Looks right."
        answers.append(reviewer.respond(REVIEW, run_id, "review_record", [choice], {"comment": comment},
                                        map_index=d["task_instance"]["map_index"]))
    airflow.wait_run(REVIEW, run_id, timeout_s=600)
    print(f"\ntransform: {t1 - t0:.0f} s; review with {len(pending)} answers: {time.monotonic() - t1:.0f} s")
    return {"run_id": run_id, "pending": pending, "answers": answers}


def _record_id(body: str) -> str:
    m = re.search(r"record `([^`]+)`", body)
    assert m, body
    return m.group(1)


def test_each_routed_record_is_a_required_action(reviewed):
    pending = reviewed["pending"]
    assert 1 <= len(pending) <= 20  # review.max_per_night
    assert [d["task_instance"]["map_index"] for d in pending] == list(range(len(pending)))
    for d in pending:
        assert d["subject"] == f"Review a {UC} prediction" and d["options"] == ["Confirm", "Override"]
        assert "**Why it is here:**" in d["body"] and "model credit_risk v1 scored" in d["body"]
    assert len({_record_id(d["body"]) for d in pending}) == len(pending)
    assert all(a["responded_by"]["name"] == "reviewer" for a in reviewed["answers"])


def test_the_override_is_written_as_an_a2i_output_and_in_the_sidecar(airflow, reviewed):
    root = airflow.home / "data" / UC
    outputs = {}
    for p in (root / "review" / "a2i").rglob("output.json"):
        doc = json.loads(p.read_text())
        outputs[str(doc["inputContent"]["record_id"])] = doc
    pending = reviewed["pending"]
    ids = [_record_id(d["body"]) for d in pending]
    assert set(outputs) == set(ids)
    overridden = outputs[ids[0]]
    human = overridden["humanAnswers"]
    assert len(human) == 1 and human[0]["workerId"] == "reviewer"
    model_label = int(overridden["inputContent"]["model_label"])
    assert human[0]["answerContent"] == {"decision": "override", "label": 1 - model_label, "comment": OVERRIDE_COMMENT}
    assert "airsageTimeout" not in overridden
    for rid in ids[1:]:
        answer = outputs[rid]["humanAnswers"][0]["answerContent"]
        assert answer["decision"] == "confirm" and answer["label"] == int(outputs[rid]["inputContent"]["model_label"])

    sidecar = root / "predictions" / f"dt={PARTITION}" / "_review" / "review_status.parquet"
    rows = run_python(SIDECAR.format(path=str(sidecar)), airflow.env, timeout_s=120)
    by_id = {r["inference_id"]: r for r in rows}
    assert len(rows) == len(pending) and all(r["status"] == "reviewed" for r in rows)
    over = by_id[str(overridden["inputContent"]["inference_id"])]
    assert (over["decision"], over["reviewer"], over["final_label"]) == ("override", "reviewer", 1 - model_label)
    assert sum(r["decision"] == "confirm" for r in rows) == len(rows) - 1
