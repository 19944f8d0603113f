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
TRAIN, APPROVE, TRANSFORM, REVIEW = (f"{UC}__train", f"{UC}__approve_model", f"{UC}__batch_transform",
                                     f"{UC}__human_review")
PARTITION = "2026-11-21"  # prepare_example_data's default end date: the scoring partition
APPROVAL_COMMENT = "Gates passed; AUC and bias reviewed in the summary."
REJECT_COMMENT = "Same data as the champion: nothing gained."
OVERRIDE_COMMENT = "Income verified by phone: not a default risk."

PREPARE = f"""
import json
from airsage.lifecycle import labels, training
from airsage.config import get_usecase
uc = get_usecase({UC!r})
data = labels.prepare_example_data(uc, end_date={PARTITION!r}, days=3, rows_per_day=800, scoring_rows=150)
ds = labels.import_labels(uc, [data["manifest"]], log_lineage=False)
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

REGISTER_AGAIN = f"""
import json
from airsage.lifecycle import labels, training
from airsage.config import get_usecase
x = json.loads(__XCOMS__)
r = training.register_trained(get_usecase({UC!r}), job=x["job"], dataset=x["dataset"], run_key="hitl-e2e-second",
                              actor="e2e-setup", clarify_outputs=[x["pre"]["outputs"].get("output"),
                                                                  x["post"]["outputs"].get("output")])
print(json.dumps({{k: r[k] for k in ("version", "status")}}))
"""

SIDECAR = """
import json, pandas as pd
df = pd.read_parquet(__PATH__)
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
    with airflow_services(env, dag_ids=[TRAIN, APPROVE, TRANSFORM, REVIEW]) as af:
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
            "twice": twice.value, "run": run, "after": registry(airflow.env), "audit": audit_events(airflow.home)}


def test_the_approval_request_shows_the_version_and_its_summary(airflow, approved):
    before = approved["before"]
    assert list(before["versions"]) == ["1"] and before["aliases"] == {}  # nothing serves before the human says so
    assert before["versions"]["1"]["approval_status"] == "PendingManualApproval"
    d = approved["detail"]
    assert d["subject"] == f"Approve {UC} version 1?"
    assert d["options"] == ["Approve", "Reject"] and not d["multiple"]
    assert set(d["params"]) == {"comment"}  # the form asks for the comment only, not the DAG's own params
    assert d["params"]["comment"]["schema"].get("minLength") == 3
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
    events = approved["audit"]
    assert [e["action"] for e in events] == ["register", "approve"]
    assert events[0]["actor"] == f"airflow:{TRAIN}"
    approve = events[1]
    assert (approve["actor"], approve["version"], approve["reason"]) == ("approver", "1", APPROVAL_COMMENT)
    assert (approve["from_status"], approve["to_status"], approve["to_version"]) == \
        ("PendingManualApproval", "Approved", "1")


@pytest.fixture(scope="module")
def governed(airflow, approved):
    """A second pending version (the same training registered again: cheap), decided through
    ``credit_risk__approve_model`` with decision ``ask_in_ui``: triggered with the whole form, as the UI sends
    it, and rejected by approver in *Required actions*."""
    t0 = time.monotonic()
    admin, approver = airflow.api("admin"), airflow.api("approver")
    tasks = {"job": "train_model", "dataset": "resolve_dataset", "pre": "pre_training_bias",
             "post": "post_training_bias_and_shap"}
    xcoms = {k: admin.xcom(TRAIN, approved["run_id"], t) for k, t in tasks.items()}
    second = run_python(REGISTER_AGAIN.replace("__XCOMS__", repr(json.dumps(xcoms))), airflow.env, timeout_s=300)
    admin.unpause(APPROVE)
    # the whole form as the UI sends it: an optional field left empty travels as null (there is no approver
    # field: who decides comes from the login)
    run_id = admin.trigger(APPROVE, {"version": second["version"], "decision": "ask_in_ui", "comment": None},
                           run_id="hitl-e2e-approve")
    airflow.wait_awaiting_input(APPROVE, run_id, "ask_approver", count=1, timeout_s=600)
    detail = approver.hitl_detail(APPROVE, run_id, "ask_approver")
    fields = list(detail["params"])
    answer = approver.respond(APPROVE, run_id, "ask_approver", ["Reject"], {f: REJECT_COMMENT for f in fields})
    airflow.wait_run(APPROVE, run_id, timeout_s=600)
    print(f"\nsecond version + approve_model (ask_in_ui): {time.monotonic() - t0:.0f} s")
    return {"second": second, "detail": detail, "answer": answer, "after": registry(airflow.env),
            "audit": audit_events(airflow.home)}


def test_ask_in_ui_rejection_leaves_the_champion_and_names_the_approver(governed):
    v = governed["second"]["version"]
    assert governed["second"]["status"] == "PendingManualApproval"
    d = governed["detail"]
    assert d["subject"] == f"Approve {UC} version {v}?" and d["options"] == ["Approve", "Reject"]
    assert f"### {UC} version {v}: PendingManualApproval" in d["body"] and "v1 becomes `previous`" in d["body"]
    assert len(d["params"]) == 1  # one comment field, nothing of the trigger form
    assert governed["answer"]["responded_by"]["name"] == "approver"
    after = governed["after"]
    assert after["aliases"] == {"champion": "1"}
    tags = after["versions"][v]
    assert tags["approval_status"] == "Rejected"
    assert (tags.get("rejected_by"), tags.get("rejection_comment")) == ("approver", REJECT_COMMENT)
    last = governed["audit"][-1]
    assert (last["action"], last["actor"], last["version"], last["reason"]) == ("reject", "approver", v, REJECT_COMMENT)
    assert last["from_status"] == "PendingManualApproval" and last["to_status"] == "Rejected"


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
    m = re.search(r"[Rr]ecord `([^`]+)`", body)
    assert m, body
    return m.group(1)


def test_each_routed_record_is_a_required_action(reviewed):
    pending = reviewed["pending"]
    assert 1 <= len(pending) <= 20  # review.max_per_night
    assert [d["task_instance"]["map_index"] for d in pending] == list(range(len(pending)))
    for d in pending:
        # the subject tells the tasks apart in the list: "<record id> · score 0.934 → default · <reasons>"
        assert d["subject"].startswith(f"{_record_id(d['body'])} · score "), d["subject"]
        assert d["options"] == ["Confirm", "Override"]
        assert "**Why it is here:**" in d["body"] and "model credit_risk v1" in d["body"]
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
    rows = run_python(SIDECAR.replace("__PATH__", repr(str(sidecar))), airflow.env, timeout_s=120)
    by_id = {r["inference_id"]: r for r in rows}
    assert len(rows) == len(pending) and all(r["status"] == "reviewed" for r in rows)
    over = by_id[str(overridden["inputContent"]["inference_id"])]
    assert (over["decision"], over["reviewer"], over["final_label"]) == ("override", "reviewer", 1 - model_label)
    assert sum(r["decision"] == "confirm" for r in rows) == len(rows) - 1
