"""The DAGs' trigger forms and approval/review requests, checked the way Airflow's server checks them.

A trigger from the UI or the REST API creates the run only if the DAG's serialized params, merged with the
form's values, validate (``SerializedParamsDict.deep_merge(conf).validate()`` in ``create_dagrun``; HTTP 400
otherwise). The UI marks a field required unless its type includes "null", and sends null for an emptied
field. These tests run exactly that validation on the serialized DAGs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UC = "credit_risk"


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return {dag_id: (dag, DagSerialization.from_dict(DagSerialization.to_dict(dag)))
            for dag_id, dag in bag.dags.items()}


def _accepts(dags, dag_id: str, conf: dict) -> bool:
    from airflow.sdk.exceptions import ParamValidationError

    try:
        dags[dag_id][1].params.deep_merge(conf).validate()
    except ParamValidationError:
        return False
    return True


def test_every_form_triggers_with_its_defaults_except_promote_which_needs_a_reason(dags):
    for dag_id in dags:
        if dag_id.endswith("__promote_model"):
            assert not _accepts(dags, dag_id, {}), "a rollback without a reason must not start"
            assert _accepts(dags, dag_id, {"reason": "v3 drifted"})
        else:
            assert _accepts(dags, dag_id, {}), f"{dag_id}: the form does not trigger with its defaults"


def test_the_ui_sends_null_for_an_emptied_optional_field_and_it_is_accepted(dags):
    for dag_id, (dag, _) in dags.items():
        for name in dag.params:
            schema = dag.params.get_param(name).schema
            if dag.params.get_param(name).value is None and isinstance(schema.get("type"), list):
                assert "null" in schema["type"], f"{dag_id}.{name}"
                assert _accepts(dags, dag_id, {name: None, **({"reason": "why not"} if "promote" in dag_id else {})})


@pytest.mark.parametrize(("workflow", "field", "bad", "good"), [
    ("batch_transform", "partition", "not-a-date", "2026-11-21"),
    ("batch_transform", "partition", "", "2026-11-21"),
    ("batch_transform", "model_version", "0", "12"),
    ("batch_transform", "model_version", "3 please", "3"),
    ("batch_transform", "model_alias", "champion please", "challenger-2"),
    ("batch_transform", "input_uri", "", "s3://bucket/scoring/dt=2026-11-21"),
    ("batch_transform", "output_uri", "   ", "/tmp/out"),
    ("train", "dataset_version", "latest please", "ds-0123456789ab"),
    ("train", "dataset_version", "ds-0123456789AB", "latest"),
    ("clarify", "model_version", "-1", "1"),
    ("clarify", "dataset_uri", "", "s3://b/d.parquet"),
    ("monitor", "partition", "2026-1-2", "2026-01-02"),
    ("monitor", "model_version", "v3", "3"),
    ("human_review", "partition", "yesterday", "2026-11-21"),
    ("import_labels", "manifest_uri", "", "s3://b/output.manifest"),
    ("approve_model", "version", "latest", "7"),
    ("approve_model", "decision", "maybe", "approve"),
    ("approve_model", "comment", "ok", "Gates passed."),
    ("promote_model", "reason", "no", "Rolled back: drift."),
])
def test_a_malformed_value_is_refused_and_a_good_one_accepted(dags, workflow, field, bad, good):
    dag_id = f"{UC}__{workflow}"
    base = {"reason": "a reason"} if workflow == "promote_model" else {}
    assert not _accepts(dags, dag_id, {**base, field: bad}), f"{dag_id}: {field}={bad!r} accepted"
    assert _accepts(dags, dag_id, {**base, field: good}), f"{dag_id}: {field}={good!r} refused"


def test_no_form_asks_who_is_deciding(dags):
    """The actor is the authenticated user: no free-text identity field in any form."""
    for dag_id, (dag, _) in dags.items():
        for name in dag.params:
            title = (dag.params.get_param(name).schema.get("title") or "").lower()
            assert name not in {"approver", "actor", "who", "user", "reviewer"}, f"{dag_id}.{name}"
            assert title not in {"approver", "who", "actor"}, f"{dag_id}.{name}: {title}"


def test_every_dag_has_a_one_line_description_and_its_workflow_tag_shows_first(dags):
    for dag_id, (dag, _) in dags.items():
        assert dag.description and "\n" not in dag.description and len(dag.description) <= 110, dag_id
        # Airflow's API lists tags sorted by name and the DAG list shows the first ones: the workflow tag
        # (capitalised, so it sorts before the lower-case ones) comes first
        first = sorted(dag.tags)[0]
        assert first[0].isupper() and first not in ("airsage", UC), (dag_id, sorted(dag.tags))


def test_approval_requests_are_assigned_to_approvers_and_need_a_comment(dags):
    from airsage.config import get_usecase

    from airsage_airflow.hitl import DecisionOperator

    uc = get_usecase(UC)
    for dag_id, task_id, field in [(f"{UC}__train", "approve_model", "comment"),
                                   (f"{UC}__approve_model", "ask_approver", "approval_comment")]:
        op = dags[dag_id][0].get_task(task_id)
        assert isinstance(op, DecisionOperator)
        assert op.respondents == uc.governance.approvers == ["approver", "admin"]
        assert op.options == ["Approve", "Reject"] and set(op.params) == {field}
        shown = op.serialized_params[field]["schema"]  # what the Required actions form gets
        assert shown["type"] == "string" and shown["minLength"] == 3  # required: the form will not send it empty
        # ... while the Param stays valid unanswered (Airflow validates task params when the task starts)
        assert op.params.get_param(field).resolve() is None
        assert set(op.comment_required_for) == {"Approve", "Reject"}
        assert op.excluded_user  # four eyes is on in credit_risk
    train_op = dags[f"{UC}__train"][0].get_task("approve_model")
    assert train_op.excluded_user == "{{ dag_run.triggering_user_name }}"


def test_review_requests_are_assigned_to_reviewers_and_an_override_needs_a_comment(dags):
    from airsage.config import get_usecase

    review = dags[f"{UC}__human_review"][0].get_task("review_record")
    kwargs = review.partial_kwargs
    assert kwargs["respondents"] == get_usecase(UC).review.reviewers == ["reviewer", "admin"]
    assert kwargs["comment_required_for"] == ["Override"]
    schema = review.params.get_param("comment").schema
    assert schema["type"] == ["null", "string"]  # optional for Confirm


def test_every_approval_emits_the_champion_asset(dags):
    for dag_id, task_id in [(f"{UC}__train", "record_decision"), (f"{UC}__approve_model", "record_decision"),
                            (f"{UC}__promote_model", "move_champion")]:
        outlets = dags[dag_id][0].get_task(task_id).outlets
        assert [o.name for o in outlets] == [f"{UC}.champion_model"], dag_id
