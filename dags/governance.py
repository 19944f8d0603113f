"""### Model governance: approve, reject, promote, roll back
* `<usecase>__approve_model` — decide on a `PendingManualApproval` version. With *decision* =
  `ask_in_ui` the run waits in **Required actions** for an approver (human-in-the-loop); with
  `approve` / `reject` the decision is taken by the person who triggered the run (their Airflow user is
  recorded; restrict who may trigger this DAG with Airflow's access control).
* `<usecase>__promote_model` — move the `champion` alias to an **Approved** version (`promote`), or
  back to the previous champion / a named approved version (`rollback`).

Every decision needs a comment and is appended to the audit log (who, when, from -> to, why).
"""
from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from airsage_airflow.assets import model_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def _actor(params: dict, dag_run) -> str:
    return (params.get("approver") or "").strip() or (getattr(dag_run, "triggering_user_name", None) or "")


def build_approve(uc):
    @dag(dag_id=f"{uc.name}__approve_model", schedule=None, start_date=start_date(uc), catchup=False,
         default_args=default_args(uc, retries=0), tags=tags(uc, "governance"), doc_md=__doc__,
         params={
             "version": Param(type="string", minLength=1, title="Model version", description="The version to decide on."),
             "decision": Param("ask_in_ui", type="string", enum=["ask_in_ui", "approve", "reject"], title="Decision",
                               description="ask_in_ui: an approver answers in Required actions."),
             "approver": Param("", type="string", title="Approver",
                               description="Name of the person deciding; empty = the user who triggered the run."),
             "comment": Param("", type="string", title="Comment", description="Why (required for approve/reject)."),
         })
    def approve_model():
        @task
        @fail_fast
        def approval_summary(params=None) -> str:
            from airsage import pipeline

            return pipeline.approval_summary(uc, params["version"])

        @task.branch
        def route(params=None) -> str:
            return "ask_approver" if params["decision"] == "ask_in_ui" else "record_decision"

        ask = HITLOperator(
            task_id="ask_approver",
            subject=f"Approve {uc.registered_model_name} version {{{{ params.version }}}}?",
            body="{{ ti.xcom_pull(task_ids='approval_summary') }}",
            options=["Approve", "Reject"],
            # not "comment": the DAG's own form field of that name would override this one with ""
            params={"approval_comment": Param(None, type=["null", "string"], minLength=3, title="Comment",
                                              description="Why (recorded in the audit log).")},
            response_timeout=dt.timedelta(days=7),
        )

        @task(pool="airsage_registry", trigger_rule="none_failed_min_one_success", outlets=[model_asset(uc)])
        @fail_fast
        def record_decision(params=None, dag_run=None, ti=None) -> dict:
            from airsage import pipeline

            answer = ti.xcom_pull(task_ids="ask_approver")
            if answer:
                user = answer.get("responded_by_user") or {}
                decision = "approve" if answer["chosen_options"] == ["Approve"] else "reject"
                actor = user.get("name") or user.get("id") or ""
                comment = (answer.get("params_input") or {}).get("approval_comment") or ""
            else:
                decision, actor, comment = params["decision"], _actor(params, dag_run), params["comment"]
            return pipeline.decide(uc, params["version"], decision, actor=actor, comment=comment)

        summary = approval_summary()
        branch = route()
        summary >> branch >> [ask, record_decision_task := record_decision()]
        ask >> record_decision_task

    return approve_model()


def build_promote(uc):
    @dag(dag_id=f"{uc.name}__promote_model", schedule=None, start_date=start_date(uc), catchup=False,
         default_args=default_args(uc, retries=0), tags=tags(uc, "governance"), doc_md=__doc__,
         params={
             "action": Param("promote", type="string", enum=["promote", "rollback"], title="Action"),
             "version": Param("", type="string", title="Model version",
                              description="promote: the Approved version; rollback: empty = the previous champion."),
             "approver": Param("", type="string", title="Who", description="Empty = the user who triggered the run."),
             "reason": Param(type="string", minLength=3, title="Reason", description="Why (audit log)."),
         })
    def promote_model():
        @task(pool="airsage_registry", outlets=[model_asset(uc)])
        @fail_fast
        def move_champion(params=None, dag_run=None) -> dict:
            from airsage import pipeline

            return pipeline.decide(uc, params["version"], params["action"], actor=_actor(params, dag_run),
                                   comment=params["reason"])

        move_champion()

    return promote_model()


for _uc in usecases_or_none():
    build_approve(_uc)
    build_promote(_uc)
