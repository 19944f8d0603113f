"""### Nightly batch transform
Scores the partition of the run's data interval (yesterday's records for the nightly run) with the
**approved** champion model, with SageMaker Batch Transform semantics (split, filters, join, one
`<file>.out` per input file), captures inputs and outputs for monitoring, and publishes the
predictions Asset (which schedules monitoring and human review). On SageMaker
(`compute.transform.backend: sagemaker`) the publish step imports the job's data capture into the
same capture table the local engine writes.

**Late data**: `wait_for_partition` checks at once and then every `transform.wait_for_data.poke_minutes`
(rescheduled between checks: no worker slot is held) for the partition's input files (or its
`marker`, e.g. `_SUCCESS`); after `timeout_minutes` it alerts through the use case's notifiers and
fails. With `transform.trigger.asset` the DAG runs on that upstream Asset's events instead of the cron.

**Partial partitions**: when some input files failed, the good output and the report are published and
`publish_predictions` fails naming the files (the run is red, monitoring is not triggered) unless
`transform.allow_partial: true`: then it succeeds and the predictions event's extra says `partial: true`.

**Shadow scoring** (`shadow.enabled`): pending versions are scored on the same rows beside the champion
(never served: their scores go under `shadow/v<version>/` only), then `compare_shadow` compares each with
the champion (agreement, flips per facet group, bias change, paired quality once outcomes arrive) for the
approval request. On SageMaker with `shadow.sagemaker_jobs`, `shadow_score` runs one job per challenger.

**Form** (every field may stay empty): `partition` (YYYY-MM-DD; empty = the run's data interval),
`model_alias` or `model_version` (an unapproved version is refused), `input_uri` / `output_uri` overrides.
"""
from __future__ import annotations

import logging

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from airsage_airflow import params as form
from airsage_airflow.assets import predictions_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def _asset_partition(triggering_asset_events) -> str | None:
    """The partition named by the latest upstream asset event (its extra's ``partition``), if any."""
    latest = None
    try:
        for events in (triggering_asset_events or {}).values():
            for event in events:
                part = (getattr(event, "extra", None) or {}).get("partition")
                if part and (latest is None or str(event.timestamp) >= latest[0]):
                    latest = (str(event.timestamp), str(part))
    except (AttributeError, TypeError):
        return None
    return latest[1] if latest else None


def _default_partition(uc, data_interval_start, triggering_asset_events, dag_run):
    """The partition a run scores when the form names none: the cron run's data interval start
    (yesterday), or for an asset-triggered run the event's partition, else the day it was queued."""
    if data_interval_start:
        return data_interval_start.date()
    if uc.transform.trigger is not None:
        named = _asset_partition(triggering_asset_events)
        if named:
            return named
        run_after = getattr(dag_run, "run_after", None)
        return run_after.date() if run_after else None
    return None


def _late_data_alert(uc):
    """``on_failure_callback`` of the wait: when its deadline passed, alert through the use case's notifiers
    (every channel is tried; a broken channel is logged, it must not hide the late data)."""

    def alert(context) -> None:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        from airsage_airflow.notifiers import build_notifiers

        if not isinstance(context.get("exception"), AirflowSensorTimeout):
            return
        w = uc.transform.wait_for_data
        run = context.get("dag_run")
        subject = f"[airsage] {uc.name}: scoring data is late ({getattr(run, 'run_id', '?')})"
        what = f"the marker {w.marker!r}" if w.marker else "any input file"
        text = (f"The nightly batch transform of {uc.name} waited {w.timeout_minutes} minutes for {what} of its "
                f"partition and gave up; nothing was scored. Once the data has landed, clear the run's "
                f"wait_for_partition task (or trigger the DAG with the partition) to score it.")
        log = logging.getLogger("airsage.transform.late_data")
        log.error("%s: %s", subject, text)
        for channel, notifier in build_notifiers(uc, subject=subject, text=text).items():
            try:
                notifier(context)
            except Exception as exc:  # noqa: BLE001 - try every channel
                log.error("late-data alert via %s failed: %s", channel, exc)

    return alert


def build(uc):
    t = uc.transform
    if t.trigger is not None:  # scheduled by an upstream Asset (its events), not by the cron
        schedule = Asset(t.trigger.asset)
    else:
        schedule = CronDataIntervalTimetable(t.schedule, timezone=t.timezone) if t.schedule else None
    wait = t.wait_for_data

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
        @task.sensor(mode="reschedule", poke_interval=wait.poke_minutes * 60, timeout=wait.timeout_minutes * 60,
                     on_failure_callback=_late_data_alert(uc))
        @fail_fast
        def wait_for_partition(params=None, data_interval_start=None, triggering_asset_events=None, dag_run=None):
            from airflow.sdk import PokeReturnValue

            from airsage.lifecycle.common import partition_for
            from airsage.lifecycle.transform import partition_ready, scoring_input

            params = form.validated(params)
            partition = partition_for(params["partition"], default=_default_partition(
                uc, data_interval_start, triggering_asset_events, dag_run))
            input_uri = scoring_input(uc, partition, params["input_uri"] or None)
            ready, why = partition_ready(input_uri, wait.marker)
            print(f"Partition {partition}: {why}")
            return PokeReturnValue(is_done=ready, xcom_value={"partition": str(partition), "input_uri": input_uri})

        @task
        @fail_fast
        def resolve_model(ready: dict, params=None) -> dict:
            from airsage.contracts import TransformArgs
            from airsage.lifecycle.governance import resolve_model

            params = form.validated(params)
            model = resolve_model(uc, alias=params["model_alias"], version=params["model_version"] or None)
            print(f"Scoring partition {ready['partition']} with {model.name} v{model.version} ({model.status})")
            challengers = ()
            if uc.shadow.enabled:  # pending versions scored beside the champion, never served
                from airsage.lifecycle.shadow import candidates

                challengers = candidates(uc, model.version)
                print("In shadow: " + (", ".join(f"v{m.version}" for m in challengers) or "no pending version"))
            return TransformArgs(model=model, partition=ready["partition"], input_uri=params["input_uri"] or None,
                                 output_uri=params["output_uri"] or None, shadow=challengers).to_dict()

        plan = resolve_model(wait_for_partition())
        job = RunJobOperator(task_id="score_partition", usecase=uc.name, job="transform", job_args=plan)

        @task(outlets=[predictions_asset(uc)])
        @fail_fast
        def publish_predictions(job: dict, plan: dict, outlet_events=None) -> dict:
            from airsage.lifecycle.transform import finish_transform, partial_failure

            from airsage_airflow.assets import predictions_extra

            report = finish_transform(uc, job, plan)  # SageMaker: imports its data capture
            summary = {k: report.get(k) for k in ("files_in", "files_out", "files_failed", "records_in",
                                                  "records_out", "records_failed", "records_per_s",
                                                  "capture_file") if k in report}
            print(f"Transform summary: {summary}")
            # failed files: a permanent error naming them (the good output and the report are published),
            # unless transform.allow_partial -> {"partial": True, "files_failed": n} for the event
            partial = partial_failure(uc, report, plan["partition"])
            outlet_events[predictions_asset(uc)].extra = predictions_extra(
                partition=plan["partition"], output_uri=job["outputs"].get("output"),
                model_version=plan["model"]["version"], **partial)
            return {"partition": plan["partition"], "output_uri": job["outputs"].get("output"), **summary, **partial}

        published = publish_predictions(job.output, plan)
        if uc.shadow.enabled:
            _shadow_tasks(uc, plan, job, published)

    return batch_transform()


def _shadow_tasks(uc, plan, job, published) -> None:
    """Shadow scoring's tasks: on SageMaker with ``shadow.sagemaker_jobs`` one transform job per challenger
    (mapped; none when no version is pending), then the comparison of every challenger with the champion."""
    shadow_jobs = None
    if uc.compute.transform.backend == "sagemaker" and uc.shadow.sagemaker_jobs:
        @task
        @fail_fast
        def plan_shadow_jobs(plan: dict) -> list[dict]:
            from airsage.contracts import TransformArgs
            from airsage.lifecycle.shadow import sagemaker_jobs

            return sagemaker_jobs(uc, TransformArgs.from_dict(plan))

        shadow_jobs = RunJobOperator.partial(task_id="shadow_score", usecase=uc.name, job="transform").expand(
            job_args=plan_shadow_jobs(plan))
        published >> shadow_jobs  # the champion's predictions first: shadow never delays them

    @task(trigger_rule="none_failed")  # runs after shadow_score, also when it had nothing to do (skipped)
    @fail_fast
    def compare_shadow(job: dict, plan: dict) -> dict:
        """Compare each challenger with the champion on this partition; refresh its cumulative evidence."""
        from airsage.errors import DataValidationError
        from airsage.lifecycle.shadow import compare

        if not plan.get("shadow"):
            print("No pending version in shadow tonight.")
            return {}
        result = compare(uc, plan, job)  # a SageMaker challenger's job output is at a known place
        for version, headline in result.items():
            print(f"v{version}: {headline}")
        failed = {v: h["error"] for v, h in result.items() if h.get("status") == "failed"}
        if failed:  # the champion's predictions are published; this only makes the missing evidence visible
            raise DataValidationError(f"shadow comparison of partition {plan['partition']}",
                                      [f"v{v}: {e}" for v, e in failed.items()],
                                      fix="Read the score_partition log (its report's 'shadow' entries say why a "
                                          "challenger was not scored), fix it and clear this task.")
        return result

    compared = compare_shadow(job.output, plan)
    published >> compared
    if shadow_jobs is not None:
        shadow_jobs >> compared


for _uc in usecases_or_none():
    build(_uc)
