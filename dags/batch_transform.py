"""### Nightly batch transform
Scores the partition of the run's data interval (yesterday's records for the nightly run) with the
**approved** champion model, with SageMaker Batch Transform semantics (split, filters, join, one
`<file>.out` per input file), captures inputs and outputs for monitoring, and publishes the
predictions Asset (which schedules monitoring and human review). On SageMaker
(`compute.transform.backend: sagemaker`) the publish step imports the job's data capture into the
same capture table the local engine writes.

**Form:** `partition` (YYYY-MM-DD; empty = the run's data interval), `model_alias` or `model_version`
(an unapproved version is refused), `input_uri` / `output_uri` overrides.
"""
from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from airsage_airflow.assets import predictions_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    t = uc.transform
    schedule = CronDataIntervalTimetable(t.schedule, timezone=t.timezone) if t.schedule else None

    @dag(dag_id=f"{uc.name}__batch_transform", schedule=schedule, start_date=start_date(uc), catchup=False,
         max_active_runs=1, default_args=default_args(uc), tags=tags(uc, "transform"), doc_md=__doc__,
         params={
             "partition": Param("", type="string", title="Partition (YYYY-MM-DD)",
                                description="Empty = the run's data interval start (yesterday for the nightly run)."),
             "model_alias": Param(t.model_alias, type="string", title="Model alias"),
             "model_version": Param("", type="string", title="Model version",
                                    description="Overrides the alias; must be Approved."),
             "input_uri": Param("", type="string", title="Input URI", description="Empty = <root>/scoring/dt=<partition>."),
             "output_uri": Param("", type="string", title="Output URI", description="Empty = <root>/predictions/dt=<partition>."),
         })
    def batch_transform():
        @task
        @fail_fast
        def resolve_model(params=None, data_interval_start=None) -> dict:
            from airsage import pipeline

            model = pipeline.resolve_model(uc, alias=params["model_alias"], version=params["model_version"] or None)
            partition = pipeline.partition_for(params["partition"], default=data_interval_start.date()
                                               if data_interval_start else None)
            print(f"Scoring partition {partition} with {model['name']} v{model['version']} ({model['status']})")
            return {"model": model, "partition": str(partition), "input_uri": params["input_uri"],
                    "output_uri": params["output_uri"]}

        plan = resolve_model()
        job = RunJobOperator(task_id="score_partition", usecase=uc.name, job="transform", job_args=plan)

        @task(outlets=[predictions_asset(uc)])
        @fail_fast
        def publish_predictions(job: dict, plan: dict, outlet_events=None) -> dict:
            from airsage import pipeline

            report = pipeline.finish_transform(uc, job, plan)  # SageMaker: imports its data capture
            summary = {k: report.get(k) for k in ("files_in", "files_out", "files_failed", "records_in",
                                                  "records_out", "records_failed", "records_per_s",
                                                  "capture_file") if k in report}
            print(f"Transform summary: {summary}")
            outlet_events[predictions_asset(uc)].extra = {"partition": plan["partition"],
                                                          "output_uri": job["outputs"].get("output"),
                                                          "model_version": plan["model"]["version"]}
            return {"partition": plan["partition"], "output_uri": job["outputs"].get("output"), **summary}

        publish_predictions(job.output, plan)

    return batch_transform()


for _uc in usecases_or_none():
    build(_uc)
