"""### Model governance: approve, reject, promote, roll back
Who may decide is the use case's `governance.approvers` (Airflow users and/or `role:<Role>`); the person
recorded is always the authenticated Airflow user (who answered, or who triggered the run), never a name
typed into a form.

* `<usecase>__approve_model` — decide on a `PendingManualApproval` version (empty *version* = the newest
  pending one). With *decision* = `ask_in_ui` the run waits in **Required actions**, assigned to the
  approvers (Airflow refuses anyone else's answer; four eyes: not the user who triggered the version's
  training run). With `approve` / `reject` the user who triggers the run decides: the run fails at once
  unless that user is an approver (and, with four eyes, not the trainer), and it needs a *comment*.
  A failed run changes nothing: trigger it again.
* `<usecase>__promote_model` — move the `champion` alias to an **Approved** version (`promote`), or back
  to the previous champion / a named approved version (`rollback`); only an approver may trigger it.

Every decision needs a comment and is appended to the audit log (who, when, from -> to, why, source).
"""
from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task
from airflow.sdk.exceptions import AirflowFailException

from airsage_airflow import params as form
from airsage_airflow.assets import model_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.hitl import DecisionOperator, parse_answer, require_decider
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none

APPROVAL_OPTIONS = ["Approve", "Reject"]


def build_approve(uc):
    @dag(dag_id=f"{uc.name}__approve_model", schedule=None, start_date=start_date(uc), catchup=False,
         default_args=default_args(uc, retries=0), tags=tags(uc, "Governance"), doc_md=__doc__,
         description="Approve or reject a pending model version (asks the approvers, or you decide as one).",
         params={
             "version": form.model_version("The version to decide on. Empty = the newest PendingManualApproval "
                                           "version."),
             "decision": Param("ask_in_ui", type="string", enum=["ask_in_ui", "approve", "reject"], title="Decision",
                               description="ask_in_ui: an approver answers in Required actions. approve / reject: "
                                           "you decide now (you must be an approver; your Airflow user is recorded)."),
             "comment": form.comment(description="Why. Required for approve / reject; not used by ask_in_ui (the "
                                                 "approver gives it in Required actions).", required=False),
         })
    def approve_model():
        @task
        @fail_fast
        def check_request(params=None, dag_run=None) -> dict:
            """The version to decide on and, for a decision taken by triggering, who takes it (an approver)."""
            from airsage.registry import ModelRegistry

            params = form.validated(params)
            reg = ModelRegistry.from_settings()
            name = uc.registered_model_name
            version = params["version"] or _newest_pending(reg, name)
            trained_by = reg.get_version(name, version).tags.get("trained_by")
            request = {"version": str(version), "decision": params["decision"], "trained_by": trained_by,
                       "actor": None, "source": None, "comment": params["comment"]}
            if params["decision"] != "ask_in_ui":
                request["actor"], request["source"] = require_decider(
                    dag_run, uc.governance.approvers, what=f"{params['decision']} versions of {name}",
                    key="governance.approvers")
                if uc.governance.four_eyes and trained_by and trained_by == request["actor"]:
                    raise AirflowFailException(
                        f"{request['actor']} triggered the training run of {name} version {version} and may not "
                        f"decide on it (governance.four_eyes).\nFix: ask another approver.")
                if len((params["comment"] or "").strip()) < form.MIN_COMMENT:
                    raise AirflowFailException(f"decision {params['decision']} needs a comment (at least "
                                               f"{form.MIN_COMMENT} characters).\nFix: trigger again with the "
                                               "comment field filled in, or choose ask_in_ui.")
            return request

        @task
        @fail_fast
        def approval_summary(request: dict) -> str:
            from airsage.lifecycle import governance

            return governance.approval_summary(uc, request["version"])

        @task.branch
        def route(request: dict) -> str:
            return "ask_approver" if request["decision"] == "ask_in_ui" else "record_decision"

        # assigned to governance.approvers minus (four eyes) the version's trainer: Airflow's API refuses anyone
        # else's answer. Not "comment": the DAG's own form field of that name would override this one.
        ask = DecisionOperator(
            task_id="ask_approver",
            subject=f"Approve {uc.registered_model_name} version "
                    "{{ ti.xcom_pull(task_ids='check_request')['version'] }}?",
            body="{{ ti.xcom_pull(task_ids='approval_summary') }}",
            options=APPROVAL_OPTIONS,
            params={"approval_comment": form.comment()},
            respondents=uc.governance.approvers, respondents_key="governance.approvers",
            excluded_user="{{ ti.xcom_pull(task_ids='check_request')['trained_by'] }}"
            if uc.governance.four_eyes else None,
            comment_field="approval_comment", comment_required_for=APPROVAL_OPTIONS,
            required_fields=["approval_comment"],
            comment_min_length=form.MIN_COMMENT,
            response_timeout=dt.timedelta(days=7),
        )

        @task(pool="airsage_registry", trigger_rule="none_failed_min_one_success", outlets=[model_asset(uc)])
        @fail_fast
        def record_decision(request: dict, ti=None) -> dict:
            from airsage.lifecycle import governance

            decided = parse_answer(ti.xcom_pull(task_ids="ask_approver"), options=APPROVAL_OPTIONS)
            if decided:
                decision = "approve" if decided.option == "Approve" else "reject"
                actor, comment, source = decided.user, decided.text("approval_comment"), decided.source
            else:
                decision, actor, comment = request["decision"], request["actor"], request["comment"]
                source = request["source"]
            return governance.decide(uc, request["version"], decision, actor=actor, comment=comment, source=source,
                                     four_eyes=uc.governance.four_eyes)

        request = check_request()
        summary = approval_summary(request)
        branch = route(request)
        decision = record_decision(request)
        summary >> branch >> [ask, decision]
        ask >> decision

    return approve_model()


def _newest_pending(reg, name: str) -> str:
    pending = [v for v in reg.list_versions(name) if str(v.status) == "PendingManualApproval"]
    if not pending:
        raise AirflowFailException(f"no version of {name} waits for approval (PendingManualApproval).\n"
                                   "Fix: give the version in the form, or train one (the <usecase>__train DAG).")
    return max(pending, key=lambda v: int(v.version)).version


def build_promote(uc):
    @dag(dag_id=f"{uc.name}__promote_model", schedule=None, start_date=start_date(uc), catchup=False,
         default_args=default_args(uc, retries=0), tags=tags(uc, "Governance"), doc_md=__doc__,
         description="Promote an approved version to champion, or roll back (approvers only).",
         params={
             "action": Param("promote", type="string", enum=["promote", "rollback"], title="Action"),
             "version": form.model_version("promote: the Approved version (required); rollback: empty = the "
                                           "previous champion."),
             "reason": Param(type="string", minLength=form.MIN_COMMENT, title="Reason",
                             description="Why (audit log). Required: the run starts only with a reason."),
         })
    def promote_model():
        @task(pool="airsage_registry", outlets=[model_asset(uc)])
        @fail_fast
        def move_champion(params=None, dag_run=None) -> dict:
            from airsage.lifecycle import governance

            params = form.validated(params)
            actor, source = require_decider(dag_run, uc.governance.approvers,
                                            what=f"{params['action']} {uc.registered_model_name}",
                                            key="governance.approvers")
            if params["action"] == "promote" and not params["version"]:
                raise AirflowFailException("promote needs the version to promote.\n"
                                           "Fix: trigger again with an Approved version in the form.")
            return governance.decide(uc, params["version"], params["action"], actor=actor, comment=params["reason"],
                                     source=source)

        move_champion()

    return promote_model()


for _uc in usecases_or_none():
    build_approve(_uc)
    build_promote(_uc)
