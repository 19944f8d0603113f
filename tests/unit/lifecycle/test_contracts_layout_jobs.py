"""The hand-off types (one to/from-dict pair each), the data layout and the declared job table."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from airsage import layout
from airsage.config import DataSpec, get_usecase
from airsage.contracts import (
    BaselinePlan,
    ClarifyArgs,
    DatasetRef,
    JobResult,
    MonitorArgs,
    PartitionPlan,
    ServingModel,
    TrainArgs,
    TransformArgs,
)
from airsage.errors import ConfigError

MODEL = {"uri": "models:/credit_risk@champion", "name": "credit_risk", "version": "3", "status": "Approved",
         "model_artifact_uri": "s3://b/m/model.tar.gz", "run_id": "r1"}
ANALYZE = {"mode": "analyze", "target": "2026-11-21", "dataset_uri": "/d", "config_uri": "/c", "input_digest": "ab",
           "statistics_uri": "/s", "constraints_uri": "/k"}


@pytest.mark.parametrize("obj", [
    DatasetRef("ds-0123456789ab", "/data/datasets/ds-0123456789ab", "f" * 64, 1200),
    ServingModel.from_dict(MODEL),
    TrainArgs(DatasetRef("ds-0123456789ab", "/x")),
    TransformArgs(ServingModel.from_dict(MODEL), "2026-11-21", overrides={"max_payload_mb": 2}),
    ClarifyArgs("pre", "/cfg.json", "/data", "/out"),
    MonitorArgs.from_dict(ANALYZE),
    JobResult("j1", "train", "Completed", {"model_artifact": "/m.tar.gz", "output_data": "/o.tar.gz"}),
    BaselinePlan(needed=False, result={"baseline_uri": "/b", "created": False}),
    PartitionPlan("2026-11-21", "3", "r1", "/b", "/o", "/o/_staging/meta.parquet", "uniform", 10, ("/c1",), ("3",),
                  0, MonitorArgs.from_dict(ANALYZE)),
])
def test_each_type_round_trips_through_plain_json(obj):
    import json

    doc = json.loads(json.dumps(obj.to_dict()))
    assert type(obj).from_dict(doc) == obj
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(obj, dataclasses.fields(obj)[0].name, "x")


def test_xcom_key_names_stay_what_dags_and_tests_read():
    assert set(ServingModel.from_dict(MODEL).to_dict()) == set(MODEL)
    assert set(TransformArgs(ServingModel.from_dict(MODEL), "2026-11-21").to_dict()) == {
        "model", "partition", "input_uri", "output_uri"}
    assert set(MonitorArgs.from_dict(ANALYZE).to_dict()) == set(ANALYZE)  # None fields are left out
    assert BaselinePlan(needed=False, result={"a": 1}).to_dict() == {"needed": False, "result": {"a": 1}}


def test_a_missing_key_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="lacks \\['uri'\\]"):
        DatasetRef.from_dict({"version": "ds-0123456789ab"})
    with pytest.raises(ConfigError, match="input_digest"):
        MonitorArgs.from_dict({k: v for k, v in ANALYZE.items() if k != "input_digest"})
    with pytest.raises(ConfigError, match="names no 'output_data' output"):
        JobResult("j", "train", "Completed", {}).output("output_data")


def test_serving_model_from_a_resolved_registry_version():
    class Resolved:
        name, version, status, model_artifact_uri, run_id = "credit_risk", 7, "Approved", "/m.tar.gz", None

    m = ServingModel.from_resolved("models:/credit_risk/7", Resolved())
    assert m == ServingModel("models:/credit_risk/7", "credit_risk", "7", "Approved", "/m.tar.gz", None)


# ---------------------------------------------------------------------- layout
@pytest.fixture
def uc(tmp_path):
    shipped = get_usecase("credit_risk")
    return shipped.model_copy(update={"data": DataSpec(root=str(tmp_path / "root"))})


def test_layout_paths_below_the_root(uc, tmp_path):
    r = str(tmp_path / "root")
    assert layout.predictions(uc, "2026-11-21") == f"{r}/predictions/dt=2026-11-21"
    assert layout.captures(uc, dt.date(2026, 11, 21)) == f"{r}/capture/dt=2026-11-21"
    assert layout.scoring(uc, "2026-11-21") == f"{r}/scoring/dt=2026-11-21"
    assert layout.monitor_baseline(uc, "v3") == layout.monitor_baseline(uc, 3) == f"{r}/monitor/baselines/v3"
    assert layout.monitor_run(uc, "2026-11-21", "r1") == f"{r}/monitor/runs/dt=2026-11-21/r1"
    assert layout.clarify_analysis(uc, "k1") == f"{r}/reports/clarify/k1/post_training/analysis.json"
    assert layout.ground_truth_manifest(uc, "job-1") == f"{r}/labels/incoming/job-1/manifests/output/output.manifest"
    assert layout.transform_report(uc, "2026-11-21", "j") == f"{r}/reports/transform/dt=2026-11-21/j.json"
    assert layout.a2i_outputs(uc) == f"{r}/review/a2i"


@pytest.mark.parametrize("call", [
    lambda uc: layout.predictions(uc, "../etc"),
    lambda uc: layout.captures(uc, "2026-13-40"),
    lambda uc: layout.dataset(uc, "../ds-0123456789ab"),
    lambda uc: layout.monitor_baseline(uc, "../1"),
])
def test_layout_refuses_values_that_are_not_path_segments(uc, call):
    with pytest.raises(ConfigError):
        call(uc)


# ---------------------------------------------------------------------- the job table
def test_every_dag_job_kind_is_declared_with_its_arguments(uc):
    from airsage.lifecycle.jobs import JOBS, spec_for

    assert set(JOBS) == {"train", "transform", "clarify", "monitor"}
    spec = spec_for(uc, "clarify", {"stage": "pre", "config_uri": "/c.json", "data_uri": "/d", "output_uri": "/o",
                                    "model_uri": None}, "manual-1")
    assert spec.kind == "clarify" and spec.name == "credit-risk-clarify-pre-manual-1"
    assert dict(spec.inputs) == {"config": "/c.json", "data": "/d"}
    with pytest.raises(ConfigError, match="unknown job 'score'"):
        spec_for(uc, "score", {}, "r")
    with pytest.raises(ConfigError, match="lacks"):
        spec_for(uc, "monitor", {"mode": "analyze"}, "r")
