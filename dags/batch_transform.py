"""### Nightly batch transform
Scores the partition of the run's data interval (yesterday's records for the nightly run) with the
**approved** champion model, with SageMaker Batch Transform semantics (split, filters, join, one
`<file>.out` per input file), captures inputs and outputs for monitoring, and publishes the
predictions Asset (which schedules monitoring and human review). On SageMaker
(`compute.transform.backend: sagemaker`) the publish step imports the job's data capture into the
same capture table the local engine writes.

**Form** (every field may stay empty): `partition` (YYYY-MM-DD; empty = the run's data interval),
`model_alias` or `model_version` (an unapproved version is refused), `input_uri` / `output_uri` overrides.
"""
from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from airsage_airflow import params as form
from airsage_airflow.assets import predictions_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    t = uc.transform
    schedule = CronDataIntervalTimetable(t.schedule, timezone=t.timezone) if t.schedule else None

    @dag(dag_id=f"{uc.name}__batch_transform", schedule=schedule, start_date=start_date(uc), catchup=False,
         max_active_runs=1, default_args=default_args(uc), tags=tags(uc, "Transform"), doc_md=__doc__,
         description="Nightly: score yesterday's partition with the approved champion (SageMaker Batch Transform).",
         params={
             "partition": form.partition("Empty = the run's data interval start (yesterday for the nightly run)."),
             "model_alias": form.model_alias(t.model_alias),
             "model_version": form.model_version("Overrides the alias; must be Approved. Empty = use the alias."),
             "input_uri": form.uri("Input URI", "Empty = <root>/scoring/dt=<partition>."),
             "output_uri": form.uri("Output URI", "Empty = <root>/predictions/dt=<partition>."),
         })
    def batch_transform():
        @task
        @fail_fast
        def resolve_model(params=None, data_interval_start=None) -> dict:
            from airsage.contracts import TransformArgs
            from airsage.lifecycle.common import partition_for
            from airsage.lifecycle.governance import resolve_model

            params = form.validated(params)
            model = resolve_model(uc, alias=params["model_alias"], version=params["model_version"] or None)
            partition = partition_for(params["partition"], default=data_interval_start.date()
                                      if data_interval_start else None)
            print(f"Scoring partition {partition} with {model.name} v{model.version} ({model.status})")
            return TransformArgs(model=model, partition=str(partition), input_uri=params["input_uri"] or None,
                                 output_uri=params["output_uri"] or None).to_dict()

        plan = resolve_model()
        job = RunJobOperator(task_id="score_partition", usecase=uc.name, job="transform", job_args=plan)

        @task(outlets=[predictions_asset(uc)])
        @fail_fast
        def publish_predictions(job: dict, plan: dict, outlet_events=None) -> dict:
            from airsage.lifecycle.transform import finish_transform

            from airsage_airflow.assets import predictions_extra

            report = finish_transform(uc, job, plan)  # SageMaker: imports its data capture
            summary = {k: report.get(k) for k in ("files_in", "files_out", "files_failed", "records_in",
                                                  "records_out", "records_failed", "records_per_s",
                                                  "capture_file") if k in report}
            print(f"Transform summary: {summary}")
            outlet_events[predictions_asset(uc)].extra = predictions_extra(
                partition=plan["partition"], output_uri=job["outputs"].get("output"),
                model_version=plan["model"]["version"])
            return {"partition": plan["partition"], "output_uri": job["outputs"].get("output"), **summary}

        publish_predictions(job.output, plan)

    return batch_transform()


for _uc in usecases_or_none():
    build(_uc)
