"""The nightly transform's wiring for late data and partial partitions (issue 14): the deferrable wait
(a rescheduling sensor) before the model is resolved, its deadline and poke interval from the use case,
the late-data alert on timeout only, the asset-triggered variant and the partition it scores."""
from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("airsage_dag_batch_transform", REPO / "dags" / "batch_transform.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def uc():
    from airsage.config import get_usecase

    return get_usecase("credit_risk")


def _with(uc, **transform):
    from airsage.config import TransformSpec

    t = TransformSpec.model_validate({**uc.transform.model_dump(by_alias=True), **transform})
    return uc.model_copy(update={"transform": t})


def test_the_wait_comes_first_and_reschedules(module, uc):
    dag = module.build(_with(uc, wait_for_data={"timeout_minutes": 90, "poke_minutes": 2.5}))
    wait = dag.get_task("wait_for_partition")
    assert wait.mode == "reschedule" and wait.poke_interval == 150 and wait.timeout == 90 * 60
    assert wait.on_failure_callback
    assert dag.get_task("resolve_model").upstream_task_ids == {"wait_for_partition"}
    assert dag.get_task("score_partition").upstream_task_ids == {"resolve_model"}
    assert {"score_partition", "resolve_model"} <= dag.get_task("publish_predictions").upstream_task_ids
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"


def test_default_deadline(module, uc):
    wait = module.build(uc).get_task("wait_for_partition")
    assert (wait.poke_interval, wait.timeout) == (5 * 60, 360 * 60)


def test_an_upstream_asset_can_schedule_it(module, uc):
    dag = module.build(_with(uc, trigger={"asset": "s3://upstream/credit/scoring"}))
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    assert "s3://upstream/credit/scoring" in str(dag.timetable.asset_condition)


def test_the_partition_a_run_scores(module, uc):
    start = dt.datetime(2026, 11, 21, 2, tzinfo=dt.timezone.utc)
    assert module._default_partition(uc, start, None, None) == dt.date(2026, 11, 21)  # cron: the interval
    assert module._default_partition(uc, None, None, None) is None  # a manual run must name it
    triggered = _with(uc, trigger={"asset": "s3://upstream/x"})
    events = {"s3://upstream/x": [SimpleNamespace(extra={"partition": "2026-11-19"}, timestamp="2026-11-20T01:00"),
                                  SimpleNamespace(extra={"partition": "2026-11-20"}, timestamp="2026-11-21T01:00"),
                                  SimpleNamespace(extra={}, timestamp="2026-11-22T01:00")]}
    assert module._default_partition(triggered, None, events, None) == "2026-11-20"
    run = SimpleNamespace(run_after=dt.datetime(2026, 11, 23, 5, tzinfo=dt.timezone.utc))
    assert module._default_partition(triggered, None, {}, run) == dt.date(2026, 11, 23)


def test_late_data_alerts_through_the_notifiers_only_on_timeout(module, uc, caplog):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    alert = module._late_data_alert(_with(uc, wait_for_data={"timeout_minutes": 30, "marker": "_SUCCESS"}))
    run = SimpleNamespace(run_id="scheduled__2026-11-22T02:00:00+00:00")
    with caplog.at_level(logging.INFO):
        alert({"exception": ValueError("not a timeout"), "dag_run": run})
    assert "late" not in caplog.text
    assert "log" in uc.monitor.notifiers  # the example alerts to the task log (LogNotifier)
    with caplog.at_level(logging.INFO):
        alert({"exception": AirflowSensorTimeout("Sensor has timed out"), "dag_run": run})
    subject = "[airsage] credit_risk: scoring data is late (scheduled__2026-11-22T02:00:00+00:00)"
    notified = [r for r in caplog.records if r.name != "airsage.transform.late_data" and subject in r.getMessage()]
    assert notified, caplog.text  # the LogNotifier's record, besides our own log line
    assert "waited 30 minutes for the marker '_SUCCESS'" in caplog.text


def _shadow(uc, *, backend: str, sagemaker_jobs: bool, enabled: bool = True):
    compute = uc.compute.model_copy(update={"transform": uc.compute.transform.model_copy(update={"backend": backend})})
    shadow = uc.shadow.model_copy(update={"enabled": enabled, "sagemaker_jobs": sagemaker_jobs})
    return uc.model_copy(update={"compute": compute, "shadow": shadow})


def test_shadow_comparison_runs_after_the_predictions_are_published(module, uc):
    """Shadow scoring (issue 18): the comparison waits for the champion's publish (monitoring and review are
    never delayed by it) and is not there at all when shadow scoring is off."""
    dag = module.build(_shadow(uc, backend="local", sagemaker_jobs=False))
    compare = dag.get_task("compare_shadow")
    assert "publish_predictions" in compare.upstream_task_ids
    assert str(compare.trigger_rule) in ("none_failed", "TriggerRule.NONE_FAILED")
    assert "shadow_score" not in dag.task_ids
    off = module.build(_shadow(uc, backend="local", sagemaker_jobs=False, enabled=False))
    assert "compare_shadow" not in off.task_ids


def test_on_sagemaker_each_challenger_is_a_mapped_transform_job(module, uc):
    dag = module.build(_shadow(uc, backend="sagemaker", sagemaker_jobs=True))
    jobs = dag.get_task("shadow_score")
    assert jobs.upstream_task_ids >= {"plan_shadow_jobs", "publish_predictions"}
    # the comparison needs no XCom of the mapped jobs (their outputs are at known places): with nothing
    # pending the mapped task is skipped and the comparison still runs
    assert dag.get_task("compare_shadow").upstream_task_ids >= {"shadow_score", "publish_predictions"}
    assert "shadow_score" not in module.build(_shadow(uc, backend="sagemaker", sagemaker_jobs=False)).task_ids
