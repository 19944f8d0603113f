"""### Model monitoring (SageMaker Model Monitor on the captured scoring data)
Runs when the batch transform publishes a scored partition (the use case's **predictions Asset**; the
event names the partition and the model version), or by hand with the form below. For each partition it
compares the captured inputs and scores with the baseline **of the model version that scored them**
(suggested from its training data at registration):

* data quality: Model Monitor's checks and `constraint_violations.json` (types, completeness,
  categorical domains, missing/extra columns, L-infinity distribution distance);
* data drift: PSI / Jensen-Shannon / normalised Wasserstein per feature, weighted by the version's SHAP
  importance; prediction drift of the score;
* model quality, once labels have arrived (published datasets, human review decisions) within
  `monitor.ground_truth_offset_hours` of the capture;
* bias drift (Clarify's post-training metrics per facet vs the version's Clarify analysis, bounded by
  `gates.max_bias`) and feature-attribution drift (NDCG of the mean-|SHAP| ranking, below 0.9), when the
  version has a post-training Clarify analysis (`AIRSAGE_MONITOR_CLARIFY_MONITORS=none` turns them off).

Three steps per partition: `plan_monitoring` selects the captured rows (each record once, the newest
run's) and stages them with the Clarify-based monitors' inputs; `run_monitor_job` runs the monitor job (`python -m airsage.entrypoints.monitor`,
Model Monitor's processing contract) locally or on SageMaker, as `compute.monitor.backend` says — one
mapped job per partition; `monitor_partition` adds model quality, the verdict and the report.

Outputs: `<root>/monitor/runs/dt=<partition>/<run>/` (Model Monitor files, `bias_drift/`,
`feature_attribution_drift/`, `report.html`) and one
history point per partition. On an alert it notifies every channel in `monitor.notifiers` (log, email,
Slack, SNS through Airflow connections) and, with `monitor.retrain_on_alert`, triggers `<uc>__train`.

**Form:** `partition` (YYYY-MM-DD; empty = the partition(s) named by the triggering asset events),
`model_version` (empty = the version recorded in the capture).
"""
from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from airsage_airflow.assets import predictions_asset, predictions_events
from airsage_airflow import params as form
from airsage_airflow.errors import fail_fast
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    asset = predictions_asset(uc)

    @dag(dag_id=f"{uc.name}__monitor", schedule=[asset], start_date=start_date(uc), catchup=False,
         max_active_runs=1, default_args=default_args(uc), tags=tags(uc, "Monitoring"), doc_md=__doc__,
         description="Model Monitor checks of each scored partition: data quality, drift, model quality, alerts.",
         params={
             "partition": form.partition("The scored partition to monitor. Empty = the partition(s) of the "
                                         "triggering predictions asset events."),
             "model_version": form.model_version("Judge only the rows this version scored. Empty = the version "
                                                 "recorded in the capture (the newest scoring run's)."),
         })
    def monitor():
        @task
        @fail_fast
        def plan_monitoring(params=None, run_id=None, triggering_asset_events=None) -> list[dict]:
            """Per partition: select and stage the captured rows, name the baseline (one job each)."""
            from airsage.errors import ConfigError
            from airsage.lifecycle.common import run_key_from
            from airsage.lifecycle.monitoring import plan_partition

            targets = _targets(form.validated(params), triggering_asset_events, asset)
            if not targets:
                raise ConfigError("no partition to monitor: the form's partition is empty and no predictions asset "
                                  "event triggered this run", key="partition",
                                  fix="Give partition=YYYY-MM-DD (a scored partition) in the trigger form.")
            return [plan_partition(uc, partition=partition, run_key=run_key_from(run_id), model_version=version)
                    for partition, version in targets]

        plans = plan_monitoring()
        # one monitor job (analyze mode) per partition, local or SageMaker (compute.monitor.backend)
        jobs = RunJobOperator.partial(task_id="run_monitor_job", usecase=uc.name, job="monitor").expand(
            job_args=plans.map(_job_args))

        @task
        @fail_fast
        def monitor_partition(plans: list[dict], jobs: list[dict]) -> dict:
            """Model quality, verdict, report and history point of each partition, from its job's output
            (``MonitorOutcome.to_dict()``: ``alert`` and every partition's ``MonitorRunSummary``)."""
            from airsage.contracts import MonitorOutcome, MonitorRunSummary
            from airsage.lifecycle.monitoring import finish_partition

            runs = []
            for plan, job in zip(plans, jobs, strict=True):
                summary = MonitorRunSummary.from_dict(finish_partition(uc, plan, job))
                clarify = "; ".join(f"{kind}: {r.get('status')}" + (f" ({r['reason']})" if r.get("reason") else "")
                                    for kind, r in ((k, getattr(summary, k) or {}) for k in
                                                    ("bias_drift", "feature_attribution_drift")))
                print(f"Monitoring {summary.partition} (model v{summary.model_version}): "
                      + ("ALERT: " + "; ".join(summary.reasons) if summary.alert else "no alert")
                      + f"; {clarify}; report {summary.report_uri}")
                runs.append(summary)
            return MonitorOutcome.of(runs).to_dict()

        @task.branch
        def branch_on_alert(result: dict) -> str:
            from airsage.contracts import MonitorOutcome

            return "notify_alert" if MonitorOutcome.from_dict(result).alert else "no_alert"

        @task
        @fail_fast
        def notify_alert(result: dict) -> dict:
            from airflow.sdk import get_current_context

            from airsage.contracts import MonitorOutcome
            from airsage_airflow.notifiers import send_alert

            runs = [r.to_dict() for r in MonitorOutcome.from_dict(result).runs]
            return send_alert(uc, runs, get_current_context())

        result = monitor_partition(plans, jobs.output)
        notified = notify_alert(result)
        branch_on_alert(result) >> [notified, EmptyOperator(task_id="no_alert")]
        if uc.monitor.retrain_on_alert:
            notified >> TriggerDagRunOperator(
                task_id="trigger_retraining", trigger_dag_id=f"{uc.name}__train",
                trigger_run_id="monitor_alert__{{ run_id }}", logical_date=None, skip_when_already_exists=True,
                conf={"dataset_version": None, "await_approval": True},
                note=f"Triggered by {uc.name}__monitor: a monitoring alert (monitor.retrain_on_alert).")

    return monitor()


def _job_args(plan: dict) -> dict:
    """The monitor job's arguments in a partition's plan (``airsage.contracts.MonitorArgs``)."""
    from airsage.contracts import PartitionPlan

    return PartitionPlan.from_dict(plan).job.to_dict()


def _targets(params: dict, events, asset) -> list[tuple[str, str | None]]:
    """(partition, model version) pairs: the form's, else one per distinct partition of the triggering
    asset events (several scored partitions may be waiting when the run starts)."""
    version = params.get("model_version") or None
    if params.get("partition"):
        return [(params["partition"], version)]
    return [(e.partition, version or e.model_version) for e in predictions_events(events, asset)]


for _uc in usecases_or_none():
    build(_uc)
