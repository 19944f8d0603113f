"""Who may answer a human decision, what an answer says, and a refused answer re-opening the request."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskAwaitingInput

from airsage_airflow import hitl, params as form

# the embedded setup's users (airsage.devenv): name -> simple auth manager role
USERS = {"admin": "admin", "approver": "op", "reviewer": "user"}


def test_roles_resolve_to_their_users_and_names_stay_names():
    assert hitl.resolve(["approver", "role:Admin"], users=USERS) == ["admin", "approver"]
    assert hitl.resolve(["role:OP", "role:user"], users=USERS) == ["approver", "reviewer"]  # any case
    assert hitl.resolve(["role:viewer"], users=USERS) == []
    assert hitl.resolve(["approver", "admin"], users=USERS, exclude=["admin", None]) == ["approver"]
    assert hitl.resolve(["role:Admin", "bob"], users=None) == ["bob"]  # another auth manager: names only


def test_the_simple_auth_manager_users_come_from_airflow_config(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER",
                       "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "ann:Admin,bob:op,cy:user:team1")
    assert hitl.auth_manager_users() == {"ann": "Admin", "bob": "op", "cy": "user"}
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "airflow.providers.fab.auth_manager.FabAuthManager")
    assert hitl.auth_manager_users() is None


def test_assigned_users_are_hitl_users_and_nobody_left_fails():
    assert hitl.respondents(["approver", "role:admin"], what="approve", key="governance.approvers", users=USERS) == [
        {"id": "admin", "name": "admin"}, {"id": "approver", "name": "approver"}]
    with pytest.raises(AirflowFailException) as err:
        hitl.respondents(["approver"], what="approve", key="governance.approvers", exclude=["approver"], users=USERS)
    assert "four eyes" in str(err.value) and "Fix:" in str(err.value) and "governance.approvers" in str(err.value)


def test_only_an_approver_may_trigger_a_decision():
    assert hitl.require_user("approver", ["approver", "role:Admin"], what="approve", key="k", users=USERS) == "approver"
    assert hitl.require_user("admin", ["approver", "role:Admin"], what="approve", key="k", users=USERS) == "admin"
    with pytest.raises(AirflowFailException) as err:
        hitl.require_user("reviewer", ["approver", "role:Admin"], what="roll back credit_risk",
                          key="governance.approvers", users=USERS)
    assert str(err.value).startswith("reviewer may not roll back credit_risk") and "Fix:" in str(err.value)
    with pytest.raises(AirflowFailException):
        hitl.require_user(None, ["approver"], what="approve", key="k", users=USERS)


def test_an_answer_is_parsed_into_option_user_and_form_values():
    at = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    answer = {"chosen_options": ["Approve"], "params_input": {"comment": "  Gates passed. "},
              "responded_by_user": {"id": "approver", "name": "approver"}, "responded_at": at}
    got = hitl.parse_answer(answer, options=["Approve", "Reject"])
    assert (got.option, got.user, got.user_id, got.source) == ("Approve", "approver", "approver", "airflow-ui")
    assert got.text("comment") == "Gates passed." and got.text("missing") == ""
    assert got.responded_at == "2026-12-01T09:30:00+00:00"
    assert hitl.parse_answer(None, options=["Approve"]) is None
    for bad in ({**answer, "chosen_options": ["Approve", "Reject"]}, {**answer, "chosen_options": ["Maybe"]},
                {**answer, "responded_by_user": None}):
        with pytest.raises(AirflowFailException, match="Fix:"):
            hitl.parse_answer(bad, options=["Approve", "Reject"])


def test_the_triggering_user_of_a_run():
    assert hitl.triggering_user(SimpleNamespace(triggering_user_name="approver")) == "approver"
    assert hitl.triggering_user(SimpleNamespace(triggering_user_name=None)) is None
    assert hitl.triggering_user(SimpleNamespace()) is None


# ------------------------------------------------------------------------------------------- the operator
@pytest.fixture
def upserts(monkeypatch):
    """The request writes the operator makes (the Execution API call), recorded instead of sent."""
    import airflow.providers.standard.operators.hitl as provider

    calls = []
    monkeypatch.setattr(provider, "upsert_hitl_detail", lambda **kw: calls.append(kw))
    monkeypatch.setattr(hitl, "auth_manager_users", lambda: dict(USERS))
    return calls


def _review_op(**kw):
    return hitl.DecisionOperator(task_id="review_record", subject="Review", options=["Confirm", "Override"],
                                 params={"comment": form.comment(required=False)}, respondents=["reviewer", "admin"],
                                 respondents_key="review.reviewers", comment_required_for=["Override"], **kw)


def _event(option, comment, user="reviewer"):
    return {"chosen_options": [option], "params_input": {"comment": comment},
            "responded_at": dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "responded_by_user": {"id": user, "name": user}}


CONTEXT = {"task_instance": SimpleNamespace(id="0191-ti")}


def test_the_request_is_assigned_when_it_runs_minus_the_excluded_user(upserts):
    op = _review_op(excluded_user="admin")
    with pytest.raises(TaskAwaitingInput):
        op.execute(CONTEXT)
    assert upserts[-1]["assigned_users"] == [{"id": "reviewer", "name": "reviewer"}]
    op = _review_op(excluded_user="None")  # a run nobody triggered renders the template as "None"
    with pytest.raises(TaskAwaitingInput):
        op.execute(CONTEXT)
    assert [u["name"] for u in upserts[-1]["assigned_users"]] == ["admin", "reviewer"]


def test_an_override_without_a_comment_is_refused_and_asked_again(upserts):
    op = _review_op()
    for comment in (None, "", "  ", "ok"):
        with pytest.raises(TaskAwaitingInput):
            op.execute_complete(CONTEXT, _event("Override", comment))
    assert len(upserts) == 4  # each refusal re-wrote the request (Airflow clears the refused answer)


def test_a_confirm_needs_no_comment_and_an_override_with_one_counts(upserts):
    op = _review_op()
    done = op.execute_complete(CONTEXT, _event("Confirm", None))
    assert done["chosen_options"] == ["Confirm"] and done["responded_by_user"]["name"] == "reviewer"
    done = op.execute_complete(CONTEXT, _event("Override", "Income verified by phone."))
    assert done["params_input"] == {"comment": "Income verified by phone."}
    assert upserts == []
    with pytest.raises(TaskAwaitingInput):  # a comment given must still meet the minimum length
        op.execute_complete(CONTEXT, _event("Confirm", "ok"))


def test_an_approval_comment_below_the_minimum_is_refused(upserts):
    op = hitl.DecisionOperator(task_id="approve_model", subject="Approve?", options=["Approve", "Reject"],
                               params={"comment": form.comment()}, respondents=["approver"],
                               respondents_key="governance.approvers", comment_required_for=["Approve", "Reject"],
                               required_fields=["comment"])
    assert op.serialized_params["comment"]["schema"]["type"] == "string"
    with pytest.raises(TaskAwaitingInput):
        op.execute_complete(CONTEXT, _event("Approve", "ok", user="approver"))
    assert upserts[-1]["assigned_users"] == [{"id": "approver", "name": "approver"}]
    assert op.execute_complete(CONTEXT, _event("Reject", "Same data.", user="approver"))["chosen_options"] == ["Reject"]
