"""### Training, quality gates, registration and approval
Trains on the latest (or a named) dataset version through the use case's compute backend, evaluates on
the held-out split, runs Clarify (pre-training bias on the training set; post-training bias and SHAP on
the held-out set — SageMaker Pipelines' ClarifyCheck), applies the quality gates (metrics, bias limits,
challenger vs champion), and registers the model in MLflow: `PendingManualApproval`
when every gate passed, `Rejected` (with the failed checks) otherwise. A pending version then waits for a
named approver in this run's **Required actions** (Airflow human-in-the-loop): *Approve* moves the
`champion` alias (the old champion keeps `previous`); *Reject* leaves the champion unchanged.

Scheduled by the training-dataset Asset (a new label import) unless the use case sets a cron schedule.
"""
from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from airsage_airflow.assets import dataset_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    @dag(dag_id=f"{uc.name}__train", schedule=uc.training.schedule or [dataset_asset(uc)],
         start_date=start_date(uc), catchup=False, max_active_runs=1, default_args=default_args(uc),
         tags=tags(uc, "training"), doc_md=__doc__,
         params={
             "dataset_version": Param("", type="string", title="Dataset version",
                                      description="e.g. ds-1a2b3c4d5e6f; empty = the latest published version."),
             "await_approval": Param(True, type="boolean", title="Wait for approval",
                                     description="Ask an approver in this run (human-in-the-loop). Off: the version "
                                                 "stays PendingManualApproval for the approve_model DAG or the CLI."),
         })
    def train():
        @task
        @fail_fast
        def resolve_dataset(params=None) -> dict:
            from airsage import pipeline

            return pipeline.latest_dataset(uc, params["dataset_version"] or None)

        dataset = resolve_dataset()
        job = RunJobOperator(task_id="train_model", usecase=uc.name, job="train", job_args={"dataset": dataset})

        @task(multiple_outputs=True)
        @fail_fast
        def plan_bias_analysis(job: dict, dataset: dict, run_id=None) -> dict:
            from airsage import pipeline

            return pipeline.clarify_plan(uc, job=job, dataset=dataset, run_key=pipeline.run_key_from(run_id))

        plan = plan_bias_analysis(job.output, dataset)
        pre = RunJobOperator(task_id="pre_training_bias", usecase=uc.name, job="clarify", job_args=plan["pre"])
        post = RunJobOperator(task_id="post_training_bias_and_shap", usecase=uc.name, job="clarify",
                              job_args=plan["post"])

        @task(pool="airsage_registry", retries=3)
        @fail_fast
        def register_model(job: dict, dataset: dict, pre: dict, post: dict, run_id=None, dag_run=None) -> dict:
            from airsage import pipeline

            result = pipeline.register_trained(uc, job=job, dataset=dataset, run_key=pipeline.run_key_from(run_id),
                                               actor=f"airflow:{dag_run.dag_id}",
                                               clarify_outputs=[pre["outputs"].get("output"),
                                                                post["outputs"].get("output")],
                                               mirror=False)  # mirrored once the baseline exists (below)
            for g in result["gates"]:
                print(f"gate {g['name']}: {'PASS' if g['passed'] else 'FAIL'} value={g.get('value')} "
                      f"threshold={g.get('threshold')} {g.get('detail') or ''}")
            return {k: result[k] for k in ("name", "version", "status", "passed", "gates")}

        registered = register_model(job.output, dataset, pre.output, post.output)

        @task.short_circuit(multiple_outputs=True)
        @fail_fast
        def plan_monitoring_baseline(registered: dict, job: dict, dataset: dict, post: dict,
                                     run_id=None) -> dict | None:
            """The version's Model Monitor baseline: None (the job and its publish are skipped) when it exists."""
            from airsage import pipeline, storage
            from airsage.steps.monitoring import plan_baseline

            analysis = storage.join(post["outputs"]["output"], "analysis.json") if post["outputs"].get("output") else None
            plan = plan_baseline(uc, registered["version"], dataset_uri=dataset["uri"],
                                 output_data_uri=job["outputs"]["output_data"], run_key=pipeline.run_key_from(run_id),
                                 clarify_analysis_uri=analysis)
            if not plan["needed"]:
                print(f"Baseline of version {registered['version']} exists: {plan['result']['baseline_uri']} (kept)")
                _mirror(registered["version"])
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
            from airsage.steps.monitoring import finish_baseline

            result = finish_baseline(uc, plan, job)
            _mirror(plan["version"])
            return result

        def _mirror(version) -> None:
            if uc.sagemaker.mirror_model_registry:
                from airsage import pipeline

                print("SageMaker model package: {model_package_arn}".format(**pipeline.mirror_version(uc, version)))

        publish_monitoring_baseline(baseline_plan, baseline_job.output)

        @task.short_circuit
        def needs_approval(registered: dict, params=None) -> bool:
            return registered["status"] == "PendingManualApproval" and bool(params["await_approval"])

        @task
        @fail_fast
        def approval_summary(registered: dict) -> str:
            from airsage import pipeline

            return pipeline.approval_summary(uc, registered["version"])

        summary = approval_summary(registered)
        approval = HITLOperator(
            task_id="approve_model",
            subject=f"Approve {uc.registered_model_name} version {{{{ ti.xcom_pull(task_ids='register_model')['version'] }}}}?",
            body="{{ ti.xcom_pull(task_ids='approval_summary') }}",
            options=["Approve", "Reject"],
            params={"comment": Param(None, type=["null", "string"], minLength=3, title="Comment",
                                     description="Why (recorded in the audit log and the model card).")},
            response_timeout=dt.timedelta(days=7), retries=0,
        )

        @task(pool="airsage_registry")
        @fail_fast
        def record_decision(answer: dict, registered: dict) -> dict:
            from airsage import pipeline

            user = answer.get("responded_by_user") or {}
            decision = "approve" if answer["chosen_options"] == ["Approve"] else "reject"
            return pipeline.decide(uc, registered["version"], decision,
                                    actor=user.get("name") or user.get("id") or "unknown",
                                    comment=(answer.get("params_input") or {}).get("comment") or "")

        gate = needs_approval(registered)
        gate >> summary >> approval
        record_decision(approval.output, registered)

    return train()


for _uc in usecases_or_none():
    build(_uc)
