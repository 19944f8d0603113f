"""The Airflow UI as its users meet it, in a real (headless) Chromium: sign in, trigger every DAG from its
form with the defaults, see a bad value refused by the form, and the approval of a model: ``reviewer`` cannot
give it (neither in the page nor through the REST API), ``approver`` can, and the audit log names them.

The services are the ones ``make up`` starts, on a temporary home (see ``conftest.py``); forms are
triggered with *Unpause on trigger* off, so a run is created (and checked through the REST API) without the
DAG doing its work. ``AIRSAGE_SCREENSHOTS=docs/screenshots`` saves the README's screenshots.
"""
from __future__ import annotations

import pytest

from airflow_services import ApiError, run_python
from browser_harness import login, APPROVAL_COMMENT, APPROVE, ASK, UC, passwords

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

USERS = ("admin", "approver", "reviewer")
# The forms a person triggers without typing anything (issue 13: "every DAG's form triggers with its
# defaults"). The governance DAGs need the version to decide on / the reason, so they are not among them.
DEFAULT_FORMS = ("batch_transform", "train", "clarify", "monitor", "import_labels", "human_review")
GOVERNANCE_FORMS = ("approve_model", "promote_model")
IDENTITY_FIELDS = {"approver", "who", "actor", "user", "approved_by", "decided_by"}

AUDIT = f"""
import json
from airsage.registry import ModelRegistry
reg = ModelRegistry.from_settings()
v = reg.get_version({UC!r}, __VERSION__)
print(json.dumps({{"events": reg.audit_events({UC!r}), "status": str(v.status), "tags": dict(v.tags),
                  "aliases": list(v.aliases)}}, default=str))
"""



def runs(airflow, dag_id: str) -> dict[str, dict]:
    body = airflow.api("admin").request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})
    return {r["dag_run_id"]: r for r in body["dag_runs"]}


# ---------------------------------------------------------------------- signing in
@pytest.mark.parametrize("user", USERS)
def test_each_user_signs_in_on_the_login_page(ui, airflow, user):
    ui.login(user, passwords(airflow)[user], again=True)
    assert ui.signed_in_user() == user
    ui.driver.get(f"{airflow.base_url}/dags")
    ui.wait(lambda: f"{UC}__train" in ui.page_text(), "the DAG list")


def test_a_wrong_password_is_refused(ui, airflow):
    ui.logout()
    ui.driver.get(f"{airflow.base_url}/auth/login")
    ui.wait(lambda: ui._labelled_input("Username"), "the login form")
    ui.type_into(ui._labelled_input("Username"), "reviewer")
    ui.type_into(ui._labelled_input("Password"), "not-the-password")
    ui.driver.find_element("xpath", "//button[normalize-space()='Sign in']").click()
    ui.wait(lambda: "Invalid credentials" in ui.page_text(), "the login error")
    assert ui.signed_in_user() is None and "/auth/login" in ui.driver.current_url


# ---------------------------------------------------------------------- trigger forms
@pytest.mark.parametrize("dag", DEFAULT_FORMS)
def test_the_form_triggers_with_its_defaults(ui, airflow, dag):
    dag_id = f"{UC}__{dag}"
    login(ui, airflow, "admin")
    form = ui.open_trigger_form(dag_id)
    if dag == "batch_transform":
        ui.screenshot("trigger-form")  # for the README: the form as a person first sees it
    form.set_unpause_on_trigger(False)
    before = set(runs(airflow, dag_id))
    assert not IDENTITY_FIELDS & set(form.params()), form.params()  # who acts comes from the login (item 3)
    assert form.can_trigger(), f"{dag_id}: the Trigger button is disabled with the defaults: {form.errors()}"
    outcome = form.press_trigger()
    assert outcome.ok and outcome.run_id, f"{dag_id}: the form refused its own defaults: {outcome.errors}"
    created = set(runs(airflow, dag_id)) - before
    assert created == {outcome.run_id}
    run = airflow.api("admin").dag_run(dag_id, outcome.run_id)
    assert run["run_type"] == "manual" and run["triggering_user_name"] == "admin"
    # optional values travel as null (type ["null", ...]), never as "" that a task must interpret
    assert "" not in run["conf"].values(), run["conf"]


def test_the_governance_forms_do_not_ask_who_you_are(ui, airflow):
    """The actor comes from authentication, never from a free-text field (issue 13, item 3)."""
    login(ui, airflow, "admin")
    for dag in GOVERNANCE_FORMS:
        params = ui.open_trigger_form(f"{UC}__{dag}").params()
        assert "version" in params and not IDENTITY_FIELDS & set(params), (dag, params)


def test_a_dataset_version_typed_in_triggers_train(ui, airflow):
    """The harness on a value every version of the form accepts: a real dataset version."""
    dag_id = f"{UC}__train"
    login(ui, airflow, "admin")
    form = ui.open_trigger_form(dag_id).set_unpause_on_trigger(False)
    form.fill(dataset_version=airflow.prepared["dataset_version"])
    outcome = form.press_trigger()
    assert outcome.ok and outcome.run_id, outcome.errors
    assert runs(airflow, dag_id)[outcome.run_id]["conf"]["dataset_version"] == airflow.prepared["dataset_version"]


@pytest.mark.parametrize(("dag", "param", "value"), [
    ("batch_transform", "partition", "not-a-date"),
    ("train", "dataset_version", "latest please"),
    ("batch_transform", "model_version", "three"),
])
def test_an_invalid_value_shows_an_error_and_does_not_trigger(ui, airflow, dag, param, value):
    dag_id = f"{UC}__{dag}"
    login(ui, airflow, "admin")
    form = ui.open_trigger_form(dag_id).set_unpause_on_trigger(False)
    before = set(runs(airflow, dag_id))
    form.fill(**{param: value})
    outcome = form.press_trigger()
    assert not outcome.ok, f"{dag_id} accepted {param}={value!r} (run {outcome.run_id})"
    assert any(param in e or value in e for e in outcome.errors), outcome.errors  # the error names the field
    assert set(runs(airflow, dag_id)) == before
    assert form.dialog.is_displayed()  # the form stays open, with the value, to be corrected


# ---------------------------------------------------------------------- who may approve
@pytest.fixture(scope="module")
def pending(airflow):
    """The prepared PendingManualApproval version before an approver: ``<uc>__approve_model``'s run (started
    by the ``airflow`` fixture) waiting in *Required actions*."""
    prepared = airflow.prepared
    assert prepared["status"] == "PendingManualApproval", prepared
    airflow.wait_awaiting_input(APPROVE, airflow.approval_run_id, ASK, count=1, timeout_s=300)
    return {"run_id": airflow.approval_run_id, "version": prepared["version"],
            "subject": f"Approve {UC} version {prepared['version']}?"}


def test_the_approval_is_assigned_to_approvers_only(airflow, pending):
    detail = airflow.api("admin").hitl_detail(APPROVE, pending["run_id"], ASK)
    assigned = {u["name"] for u in detail.get("assigned_users") or []}
    assert "approver" in assigned and "reviewer" not in assigned, detail.get("assigned_users")


def test_reviewer_cannot_answer_the_approval_through_the_rest_api(airflow, pending):
    reviewer = airflow.api("reviewer")
    with pytest.raises(ApiError) as refused:
        reviewer.respond(APPROVE, pending["run_id"], ASK, ["Approve"], {"approval_comment": "I approve it myself."})
    assert refused.value.status == 403, refused.value
    assert airflow.api("admin").hitl_detail(APPROVE, pending["run_id"], ASK)["response_received"] is False


def test_reviewer_cannot_answer_the_approval_in_the_page(ui, airflow, pending):
    login(ui, airflow, "reviewer")
    page = ui.open_required_action(APPROVE, pending["run_id"], ASK, pending["subject"])
    page.fill(**{p: "I approve it myself." for p in page.inputs()})  # the buttons wait for the comment
    if page.offered("Approve"):  # shown (Airflow's page does not hide it): pressing it must be refused
        outcome = page.answer("Approve")
        assert not outcome.ok, f"reviewer's approval was accepted: {outcome.toasts}"
    detail = airflow.api("admin").hitl_detail(APPROVE, pending["run_id"], ASK)
    assert detail["response_received"] is False and detail["task_instance"]["state"] == "awaiting_input"


def test_approver_approves_in_the_page_and_the_audit_log_names_them(ui, airflow, pending):
    login(ui, airflow, "approver")
    page = ui.open_required_action(APPROVE, pending["run_id"], ASK, pending["subject"])
    ui.screenshot("approval-page")
    fields = page.inputs()
    assert fields, "the approval asks for a comment"
    page.fill(**{p: APPROVAL_COMMENT for p in fields})
    assert page.offered("Approve") and page.offered("Reject")
    outcome = page.answer("Approve")
    assert outcome.ok, outcome.toasts
    detail = airflow.api("admin").hitl_detail(APPROVE, pending["run_id"], ASK)
    assert detail["responded_by_user"]["name"] == "approver" and detail["chosen_options"] == ["Approve"]
    airflow.wait_run(APPROVE, pending["run_id"], timeout_s=300)

    v = pending["version"]
    state = run_python(AUDIT.replace("__VERSION__", repr(v)), airflow.env, timeout_s=120)
    assert state["status"] == "Approved" and "champion" in state["aliases"], state
    assert state["tags"].get("approved_by") == "approver", state["tags"]
    approve = [e for e in state["events"] if e.get("action") == "approve" and str(e.get("version")) == v]
    assert len(approve) == 1, state["events"]
    assert approve[0]["actor"] == "approver" and approve[0]["reason"] == APPROVAL_COMMENT
    # where it came from, so an auditor can tell Airflow's page from a terminal (`cli:<os user>`)
    assert str(approve[0].get("source", "")).startswith("airflow"), approve[0]
    # nobody else is recorded as having decided on this version
    assert {e["actor"] for e in state["events"] if str(e.get("version")) == v and e["action"] != "register"} == \
        {"approver"}

