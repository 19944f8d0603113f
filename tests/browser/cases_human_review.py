"""Human review (issue 19) in a real (headless) Chromium: ``admin`` triggers ``credit_risk__human_review`` for
the scored partition from its form; ``reviewer`` finds the night's tasks in *Required actions* -- each subject
names the record, its score, the predicted label and why it was routed -- and answers some of them one by
one in the task's page, leaving the others open. Each decision is kept the moment it is made: its A2I
``output.json`` and its sidecar row exist while the other tasks still wait. An Override without a comment is
refused (the request re-opens, nothing is written) and ``approver``, who is not a reviewer, cannot answer.

The checks read what an auditor reads: the files under the data root (the routing sidecar
``predictions/dt=<day>/_review/review_status.parquet``, the per-record rows ``_review/decisions/<loop>.json``,
the A2I outputs ``review/a2i/<flow>/<yyyy/mm/dd/hh/mm/ss>/<loop>/output.json``) and Airflow's REST API.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_services import ApiError, wait_for
from browser_harness import login, PARTITION, REVIEW, REVIEW_TASK, UC, passwords

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

OVERRIDE_COMMENT = "Income verified by phone: not the risk the model sees."
# what the list of Required actions shows per task: "<record id> · score 0.934 → default · high risk, large loan"
SUBJECT = re.compile(r"^(?P<record>\S+) · score (?P<score>[01]\.\d{3}) → (?P<label>default|no default)"
                     r"(?: · (?P<reasons>.+))?$")
LABEL_NAMES = {0: "no default", 1: "default"}  # credit_risk.yaml review.label_names


@dataclass
class Night:
    run_id: str
    pending: list[dict]  # the Required actions, by map index
    routed: dict[str, dict]  # the routing sidecar's rows by inference id (written when the run routed them)
    predictions: Path
    a2i: Path

    def task(self, i: int) -> dict:
        return self.pending[i]

    def inference_id(self, i: int) -> str:
        body = self.pending[i]["body"]
        m = re.search(r"inference `([^`]+)`", body) or re.search(r"Record `([^`]+)`", body)
        assert m, body
        return m.group(1)

    def loop(self, i: int) -> str:
        return self.routed[self.inference_id(i)]["human_loop_name"]

    def output_json(self, i: int) -> Path | None:
        found = sorted(self.a2i.rglob(f"{self.loop(i)}/output.json"))
        return found[0] if found else None

    def decision_row(self, i: int) -> Path:
        return self.predictions / "_review" / "decisions" / f"{self.loop(i)}.json"

    def recorded(self) -> set[int]:
        """The tasks whose decision has an A2I output or a sidecar row."""
        return {i for i in range(len(self.pending)) if self.output_json(i) or self.decision_row(i).exists()}


def read_sidecar(path: Path) -> dict[str, dict]:
    import pyarrow.parquet as pq

    return {r["inference_id"]: r for r in pq.read_table(path).to_pylist()}


@pytest.fixture(scope="module")
def night(driver, airflow, scored) -> Night:
    """The review run, triggered from its form by admin with the scored partition, waiting for its reviewers."""
    from ui import AirflowUI

    t0 = time.monotonic()
    ui = AirflowUI(driver, airflow.base_url)
    ui.login("admin", passwords(airflow)["admin"])
    form = ui.open_trigger_form(REVIEW)
    assert form.params() == ["partition", "output_uri"], form.params()
    outcome = form.fill(partition=PARTITION).press_trigger()  # "Unpause on trigger" stays on: the run does its work
    assert outcome.ok and outcome.run_id, outcome.errors
    pending = airflow.wait_awaiting_input(REVIEW, outcome.run_id, REVIEW_TASK, timeout_s=600)
    pending.sort(key=lambda d: d["task_instance"]["map_index"])
    predictions = airflow.home / "data" / UC / "predictions" / f"dt={PARTITION}"
    routed = read_sidecar(predictions / "_review" / "review_status.parquet")
    print(f"\nreview run {outcome.run_id}: {len(pending)} tasks waiting after {time.monotonic() - t0:.0f} s")
    return Night(outcome.run_id, pending, routed, predictions, airflow.home / "data" / UC / "review" / "a2i")



def still_waiting(airflow, night: Night, i: int) -> bool:
    d = airflow.api("admin").hitl_detail(REVIEW, night.run_id, REVIEW_TASK, night.task(i)["task_instance"]["map_index"])
    return d["response_received"] is False and d["task_instance"]["state"] == "awaiting_input"


def answer_in_the_page(ui, airflow, night: Night, i: int, option: str, comment: str | None, *, shot: str = ""):
    login(ui, airflow, "reviewer")
    d = night.task(i)
    page = ui.open_required_action(REVIEW, night.run_id, REVIEW_TASK, d["subject"],
                                   map_index=d["task_instance"]["map_index"])
    assert night.inference_id(i) in ui.page_text()  # the record is on the page, not only a map index
    if shot:
        ui.screenshot(shot)
    assert page.inputs() == ["comment"], page.inputs()
    if comment is not None:
        page.fill(comment=comment)
    assert page.offered("Confirm") and page.offered("Override")
    outcome = page.answer(option)
    assert outcome.ok, outcome.toasts  # Airflow took the answer; whether it counts is the task's to say
    return outcome


# ---------------------------------------------------------------------- the night's tasks
def test_the_night_routes_records_within_the_cap(night):
    assert 4 <= len(night.pending) <= 20, len(night.pending)  # the cases below need 4; review.max_per_night: 20
    assert [d["task_instance"]["map_index"] for d in night.pending] == list(range(len(night.pending)))
    assert len(night.routed) == len(night.pending)
    assert {r["status"] for r in night.routed.values()} == {"pending_review"}
    assert all(d["options"] == ["Confirm", "Override"] for d in night.pending)


def test_the_list_of_required_actions_names_record_score_and_reason(ui, airflow, night):
    login(ui, airflow, "reviewer")
    # the open tasks, in Browse > Required Actions (the wait fails naming what the list shows instead)
    listed = ui.required_actions_list(expect=tuple(d["subject"] for d in night.pending))
    for i, d in enumerate(night.pending):
        subject = d["subject"]
        assert subject in listed, f"{subject!r} not in the list"
        m = SUBJECT.match(subject)
        assert m, subject
        row = night.routed[night.inference_id(i)]  # the routing decision, as written beside the predictions
        assert m["record"] == night.inference_id(i) or m["record"] in d["body"]
        assert abs(float(m["score"]) - row["score"]) <= 0.0005, (subject, row["score"])
        assert m["label"] == LABEL_NAMES[int(row["model_label"])], (subject, row["model_label"])
        assert m["reasons"], f"no reason in {subject!r} (routed for {row['reasons']!r})"
    assert len({d["subject"] for d in night.pending}) == len(night.pending)  # tasks can be told apart


# ---------------------------------------------------------------------- answering one by one
def test_each_answer_is_kept_the_moment_it_is_given(ui, airflow, night):
    assert night.recorded() == set()  # nothing decided before anyone answered
    answers = [(0, "Override", OVERRIDE_COMMENT), (1, "Confirm", None)]  # a confirm needs no comment
    for n, (i, option, comment) in enumerate(answers):
        answer_in_the_page(ui, airflow, night, i, option, comment, shot="review-task" if n == 0 else "")
        wait_for(lambda: night.output_json(i) and night.decision_row(i).exists(), timeout_s=180, interval_s=1,
                 what=f"task {i}'s A2I output.json and sidecar row",
                 on_timeout=lambda: airflow.run_report(REVIEW, night.run_id))
        out = json.loads(night.output_json(i).read_text())
        row = json.loads(night.decision_row(i).read_text())
        model_label = int(night.routed[night.inference_id(i)]["model_label"])
        label = 1 - model_label if option == "Override" else model_label
        human = out["humanAnswers"]
        assert len(human) == 1 and human[0]["workerId"] == "reviewer", human
        assert human[0]["answerContent"] == {"decision": option.lower(), "label": label, "comment": comment or ""}
        assert out["inputContent"]["inference_id"] == night.inference_id(i)
        assert (row["inference_id"], row["status"], row["decision"], row["reviewer"], row["final_label"]) == \
            (night.inference_id(i), "reviewed", option.lower(), "reviewer", label)
        # kept now, while the rest of the night still waits
        assert night.recorded() == {a[0] for a in answers[:n + 1]}
        assert all(still_waiting(airflow, night, j) for j in range(i + 1, len(night.pending)))
        assert airflow.api("admin").dag_run(REVIEW, night.run_id)["state"] == "running"
        # the task says how far the partition is
        log = airflow.task_log(REVIEW, night.run_id, REVIEW_TASK, night.task(i)["task_instance"]["map_index"])
        waiting = len(night.pending) - (n + 1)
        assert f"{n + 1} of {len(night.pending)} decided, {waiting} waiting" in log.read_text(errors="replace")


def test_an_override_without_a_comment_is_refused_and_asks_again(ui, airflow, night):
    i = 2
    before = night.task(i)
    answer_in_the_page(ui, airflow, night, i, "Override", None)
    api = airflow.api("admin")
    mi = before["task_instance"]["map_index"]

    def reopened() -> bool:  # the task refused the answer and wrote the request again
        log = airflow.task_log(REVIEW, night.run_id, REVIEW_TASK, mi)
        return bool(log and "refused" in log.read_text(errors="replace") and still_waiting(airflow, night, i))

    wait_for(reopened, timeout_s=180, interval_s=1, what=f"task {i} to refuse the answer and wait again",
             on_timeout=lambda: airflow.run_report(REVIEW, night.run_id))
    assert night.output_json(i) is None and not night.decision_row(i).exists()  # nothing recorded for it
    assert api.hitl_detail(REVIEW, night.run_id, REVIEW_TASK, mi)["chosen_options"] in (None, [])
    assert night.recorded() == {0, 1}
    # the page offers the task again, as before the refused answer
    login(ui, airflow, "reviewer")
    page = ui.open_required_action(REVIEW, night.run_id, REVIEW_TASK, before["subject"], map_index=mi)
    ui.wait(lambda: page.offered("Override"), "the task to be offered again")


def test_an_approver_who_is_not_a_reviewer_cannot_answer(airflow, night):
    i = 3
    mi = night.task(i)["task_instance"]["map_index"]
    assigned = {u["name"] for u in night.task(i).get("assigned_users") or []}
    assert "reviewer" in assigned and "approver" not in assigned, assigned
    with pytest.raises(ApiError) as refused:
        airflow.api("approver").respond(REVIEW, night.run_id, REVIEW_TASK, ["Confirm"], {"comment": "Looks fine."},
                                        map_index=mi)
    assert refused.value.status == 403, refused.value
    assert still_waiting(airflow, night, i)
    assert night.output_json(i) is None and not night.decision_row(i).exists()
