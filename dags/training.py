"""### Training, quality gates, registration and approval
Trains on the latest (or a named) dataset version through the use case's compute backend, evaluates on
the held-out split, runs Clarify (pre-training bias on the training set; post-training bias and SHAP on
the held-out set — SageMaker Pipelines' ClarifyCheck), applies the quality gates (metrics, bias limits,
challenger vs champion), and registers the model in MLflow: `PendingManualApproval`
when every gate passed, `Rejected` (with the failed checks) otherwise. A pending version then waits in this
run's **Required actions** (Airflow human-in-the-loop), assigned to the use case's `governance.approvers`
except the user who triggered this run (four eyes): *Approve* moves the `champion` alias (the old champion
keeps `previous`) and updates the champion Asset; *Reject* leaves the champion unchanged. Both need a
comment; the answering Airflow user is recorded. If recording fails, the version stays pending: decide with
`<usecase>__approve_model`.

Scheduled by the training-dataset Asset (a new label import) unless the use case sets a cron schedule.
"""
from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from airsage_airflow import params as form
from airsage_airflow.assets import dataset_asset, model_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.hitl import DecisionOperator, parse_answer, run_identity, triggering_user
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none

APPROVAL_OPTIONS = ["Approve", "Reject"]


def build(uc):
    @dag(dag_id=f"{uc.name}__train", schedule=uc.training.schedule or [dataset_asset(uc)],
         start_date=start_date(uc), catchup=False, max_active_runs=1, default_args=default_args(uc),
         tags=tags(uc, "Training"), doc_md=__doc__,
         description="Train, check bias and quality gates, register in MLflow, and ask an approver.",
         params={
             "dataset_version": form.dataset_version(),
             "await_approval": Param(True, type="boolean", title="Wait for approval",
                                     description="Ask an approver in this run (human-in-the-loop). Off: the version "
                                                 "stays PendingManualApproval for the approve_model DAG or the CLI."),
         })
    def train():
        @task
        @fail_fast
        def resolve_dataset(params=None) -> dict:
            from airsage.lifecycle.labels import latest_dataset

            params = form.validated(params)
            return latest_dataset(uc, params["dataset_version"] or None).to_dict()

        dataset = resolve_dataset()
        job = RunJobOperator(task_id="train_model", usecase=uc.name, job="train", job_args={"dataset": dataset})

        @task(multiple_outputs=True)
        @fail_fast
        def plan_bias_analysis(job: dict, dataset: dict, run_id=None) -> dict:
            from airsage.lifecycle.clarify import clarify_plan
            from airsage.lifecycle.common import run_key_from

            return clarify_plan(uc, job=job, dataset=dataset, run_key=run_key_from(run_id))

        plan = plan_bias_analysis(job.output, dataset)
        pre = RunJobOperator(task_id="pre_training_bias", usecase=uc.name, job="clarify", job_args=plan["pre"])
        post = RunJobOperator(task_id="post_training_bias_and_shap", usecase=uc.name, job="clarify",
                              job_args=plan["post"])

        @task(pool="airsage_registry", retries=3)
        @fail_fast
        def register_model(job: dict, dataset: dict, pre: dict, post: dict, run_id=None, dag_run=None) -> dict:
            """The ``Registration`` (``to_dict()``: name, version, status, passed, gates) the approval steps read."""
            from airsage.contracts import JobResult
            from airsage.lifecycle.common import run_key_from
            from airsage.lifecycle.training import register

            # four eyes: the authenticated user who started this run may not approve what it produces
            _, source = run_identity(dag_run)
            clarify_outputs = [JobResult.from_dict(r).outputs.get("output") for r in (pre, post)]
            registered = register(uc, job=job, dataset=dataset, run_key=run_key_from(run_id),
                                  actor=f"airflow:{dag_run.dag_id}", trained_by=triggering_user(dag_run),
                                  source=source, clarify_outputs=clarify_outputs,
                                  mirror=False)  # mirrored once the baseline exists (below)
            for g in registered.gates:
                print(f"gate {g['name']}: {'PASS' if g['passed'] else 'FAIL'} value={g.get('value')} "
                      f"threshold={g.get('threshold')} {g.get('detail') or ''}")
            return registered.to_dict()

        registered = register_model(job.output, dataset, pre.output, post.output)

        @task.short_circuit(multiple_outputs=True)
        @fail_fast
        def plan_monitoring_baseline(registered: dict, job: dict, dataset: dict, post: dict,
                                     run_id=None) -> dict | None:
            """The version's Model Monitor baseline: None (the job and its publish are skipped) when it exists."""
            from airsage import storage
            from airsage.contracts import BaselinePlan, DatasetRef, JobResult, Registration
            from airsage.lifecycle.common import run_key_from
            from airsage.lifecycle.monitoring import plan_baseline

            version = Registration.from_dict(registered).version
            clarify_output = JobResult.from_dict(post).outputs.get("output")
            analysis = storage.join(clarify_output, "analysis.json") if clarify_output else None
            plan = plan_baseline(uc, version, dataset_uri=DatasetRef.from_dict(dataset).uri,
                                 output_data_uri=JobResult.from_dict(job).output("output_data"),
                                 run_key=run_key_from(run_id), clarify_analysis_uri=analysis)
            planned = BaselinePlan.from_dict(plan)
            if not planned.needed:
                print(f"Baseline of version {version} exists: {planned.result['baseline_uri']} (kept)")
                _mirror(version)
                return None
            return plan

        baseline_plan = plan_monitoring_baseline(registered, job.output, dataset, post.output)
        # data-quality statistics + constraints of the training features: the monitor job in suggest-baseline
        # mode, local or SageMaker (compute.monitor.backend)
        baseline_job = RunJobOperator(task_id="suggest_monitoring_baseline", usecase=uc.name, job="monitor",
                                      job_args=baseline_plan["job"])

        @task
        @fail_fast
        def publish_monitoring_baseline(plan: dict, job: dict) -> dict:
            """Model Monitor baselines of this version (data quality, scores, model quality, SHAP weights); then
            the SageMaker Model Registry mirror, whose DriftCheckBaselines point at them (when mirroring is on)."""
            from airsage.contracts import BaselinePlan
            from airsage.lifecycle.monitoring import finish_baseline

            result = finish_baseline(uc, plan, job)
            _mirror(BaselinePlan.from_dict(plan).version)
            return result

        def _mirror(version) -> None:
            if uc.sagemaker.mirror_model_registry:
                from airsage.lifecycle.training import mirror_version

                print("SageMaker model package: {model_package_arn}".format(**mirror_version(uc, version)))

        publish_monitoring_baseline(baseline_plan, baseline_job.output)

        @task.short_circuit
        def needs_approval(registered: dict, params=None) -> bool:
            from airsage.contracts import Registration

            return Registration.from_dict(registered).awaits_approval and bool(params["await_approval"])

        @task
        @fail_fast
        def approval_summary(registered: dict) -> str:
            from airsage.contracts import Registration
            from airsage.lifecycle import governance

            return governance.approval_summary(uc, Registration.from_dict(registered).version)

        summary = approval_summary(registered)
        # assigned to governance.approvers, minus (four eyes) the user who triggered this training run: Airflow's
        # API refuses anyone else's answer; the comment is required by the form, its length checked by the operator
        approval = DecisionOperator(
            task_id="approve_model",
            subject=f"Approve {uc.registered_model_name} version {{{{ ti.xcom_pull(task_ids='register_model')['version'] }}}}?",
            body="{{ ti.xcom_pull(task_ids='approval_summary') }}",
            options=APPROVAL_OPTIONS,
            params={"comment": form.comment()},
            respondents=uc.governance.approvers, respondents_key="governance.approvers",
            excluded_user="{{ dag_run.triggering_user_name }}" if uc.governance.four_eyes else None,
            comment_required_for=APPROVAL_OPTIONS, comment_min_length=form.MIN_COMMENT,
            required_fields=["comment"],
            response_timeout=dt.timedelta(days=7), retries=0,
        )

        @task(pool="airsage_registry", outlets=[model_asset(uc)])
        @fail_fast
        def record_decision(answer: dict, registered: dict) -> dict:
            from airsage.contracts import Registration
            from airsage.lifecycle import governance

            decided = parse_answer(answer, options=APPROVAL_OPTIONS)
            version = Registration.from_dict(registered).version
            return governance.decide(uc, version, "approve" if decided.option == "Approve" else "reject",
                                     actor=decided.user, comment=decided.text("comment"), source=decided.source,
                                     four_eyes=uc.governance.four_eyes)

        gate = needs_approval(registered)
        gate >> summary >> approval
        record_decision(approval.output, registered)

    return train()


for _uc in usecases_or_none():
    build(_uc)
