"""Shadow scoring's lifecycle step: which versions a night scores, what the transform job is handed, the
gate that refuses an approval, and the stop recorded when a version is decided."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from airsage import layout, storage
from airsage.config import get_usecase
from airsage.contracts import ServingModel, TransformArgs
from airsage.lifecycle import shadow

CHAMPION = ServingModel(uri="models:/credit_risk@champion", name="credit_risk", version="1", status="Approved",
                        model_artifact_uri="/m/v1/model.tar.gz")
PENDING = "PendingManualApproval"


def _uc(**shadow_settings):
    uc = get_usecase("credit_risk")
    gate = shadow_settings.pop("gate", None)
    spec = uc.shadow.model_copy(update=shadow_settings)
    if gate:
        spec = spec.model_copy(update={"gate": spec.gate.model_copy(update=gate)})
    return uc.model_copy(update={"shadow": spec})


def _on_sagemaker(uc, sagemaker_jobs: bool):
    compute = uc.compute.model_copy(update={"transform": uc.compute.transform.model_copy(update={"backend": "sagemaker"})})
    return uc.model_copy(update={"compute": compute,
                                 "shadow": uc.shadow.model_copy(update={"sagemaker_jobs": sagemaker_jobs})})


class FakeRegistry:
    def __init__(self, versions):
        self.versions = versions

    def list_versions(self, name):
        return [SimpleNamespace(version=v, status=s) for v, s in self.versions]

    def resolve(self, uri, *, require_approved=True):
        assert not require_approved  # a shadow version is never resolved through the serving guard
        v = uri.rsplit("/", 1)[-1]
        return SimpleNamespace(name="credit_risk", version=v, status=PENDING, model_artifact_uri=f"/m/v{v}/model.tar.gz",
                               run_id=None, tags={})


@pytest.fixture
def registry(monkeypatch):
    from airsage import registry as reg_pkg

    fake = FakeRegistry([("1", "Approved"), ("2", "Rejected"), ("3", PENDING), ("4", PENDING), ("5", PENDING)])
    monkeypatch.setattr(reg_pkg.ModelRegistry, "from_settings", classmethod(lambda cls, settings=None: fake))
    return fake


def test_candidates_are_the_newest_pending_versions_never_the_champion(registry):
    assert [m.version for m in shadow.candidates(_uc(enabled=True, versions="newest", newest=2), "1")] == ["5", "4"]
    assert [m.version for m in shadow.candidates(_uc(enabled=True, versions="all"), "1")] == ["5", "4", "3"]
    assert shadow.candidates(_uc(enabled=False), "1") == ()
    # approved or rejected versions are not pending: their shadow scoring has stopped
    registry.versions = [("1", "Approved"), ("5", "Approved")]
    assert shadow.candidates(_uc(enabled=True, versions="all"), "1") == ()


def test_on_sagemaker_shadow_costs_jobs_so_it_needs_sagemaker_jobs(registry):
    assert shadow.candidates(_on_sagemaker(_uc(enabled=True), False), "1") == ()
    uc = _on_sagemaker(_uc(enabled=True, newest=1), True)
    challengers = shadow.candidates(uc, "1")
    plan = TransformArgs(model=CHAMPION, partition="2026-11-22", shadow=challengers)
    jobs = shadow.sagemaker_jobs(uc, plan)
    assert len(jobs) == 1 and jobs[0]["model"]["version"] == "5"
    assert jobs[0]["overrides"] == {"shadow_job": True}
    assert jobs[0]["output_uri"].startswith(layout.shadow_version(uc, "5"))
    # the challenger's own job: no data capture (the champion's capture stays the champion's)
    from airsage.lifecycle.jobs import spec_for

    spec = spec_for(uc, "transform", jobs[0], "run1")
    assert spec.parameters["capture_uri"] is None and spec.parameters["model_version"] == "5"
    assert "shadow" not in spec.parameters and spec.output_uri == jobs[0]["output_uri"]
    assert spec.name != spec_for(uc, "transform", plan.to_dict(), "run1").name


def test_local_transform_job_gets_each_challenger_as_an_input_channel(registry):
    from airsage.lifecycle.jobs import spec_for

    uc = _uc(enabled=True, newest=2)
    plan = TransformArgs(model=CHAMPION, partition="2026-11-22", shadow=shadow.candidates(uc, "1"))
    doc = json.loads(json.dumps(plan.to_dict()))
    assert TransformArgs.from_dict(doc) == plan
    spec = spec_for(uc, "transform", doc, "run1")
    assert spec.inputs["shadow_5"] == "/m/v5/model.tar.gz" and spec.inputs["shadow_4"] == "/m/v4/model.tar.gz"
    targets = {t["model_version"]: t for t in spec.parameters["shadow"]}
    assert targets["5"]["output_uri"] == layout.shadow_scores(uc, "5", "2026-11-22")
    assert targets["5"]["input"] == "shadow_5"
    assert spec.parameters["shadow_columns"] == ["sex", "age_group"]
    assert spec.parameters["capture_uri"] == layout.captures(uc)  # the champion's capture as before
    # without challengers the job is exactly what it was
    plain = spec_for(uc, "transform", TransformArgs(model=CHAMPION, partition="2026-11-22").to_dict(), "run1")
    assert "shadow" not in plain.parameters and set(plain.inputs) == {"model", "data"}
    assert "shadow" not in TransformArgs(model=CHAMPION, partition="2026-11-22").to_dict()


# ---------------------------------------------------------------------- evidence, gate and stop
def _write_scores(uc, version: str, day: str, n: int = 400, flip_every: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    champion = rng.random(n)
    challenger = np.clip(champion + rng.normal(0, 0.02, n), 0, 1)
    frame = pd.DataFrame({
        "inference_id": [f"{day}-{i}" for i in range(n)],
        "sex": np.where(np.arange(n) % 2 == 0, "female", "male"),
        "age_group": np.where(np.arange(n) % 4 == 0, "18-25", "26-40"),
        "champion_score": champion, "champion_label": (champion > 0.5).astype("int64"),
        "score": challenger, "predicted_label": (challenger > 0.5).astype("int64")})
    flip = np.arange(n) % flip_every == 0
    frame.loc[flip, "predicted_label"] = 1 - frame.loc[flip, "champion_label"]
    with storage.atomic_dir(layout.shadow_scores(uc, version, day), kind="shadow") as stage:
        frame.to_parquet(stage / "part-00000.parquet.out", index=False)
    return frame


@pytest.fixture
def fresh_uc(tmp_path, monkeypatch):
    """The example use case on its own data root (nothing shared with other tests)."""
    def make(**settings):
        uc = _uc(**settings)
        return uc.model_copy(update={"data": uc.data.model_copy(update={"root": str(tmp_path / "data")})})

    monkeypatch.setattr("airsage.lifecycle.monitoring_data.load_ground_truth",
                        lambda uc, ids: pd.DataFrame(columns=["inference_id", "label", "labeled_at", "source"]))
    return make


def _compare(uc, version, day, **kw):
    frame = _write_scores(uc, version, day, **kw)
    m = ServingModel(uri=f"models:/credit_risk/{version}", name="credit_risk", version=version, status=PENDING,
                     model_artifact_uri="/m")
    shadow.compare_partition(uc, m, day, layout.shadow_scores(uc, version, day), champion_version="1")
    return frame


def test_summary_accumulates_partitions_and_the_gate_refuses_until_they_pass(fresh_uc):
    uc = fresh_uc(enabled=True, gate={"enabled": True, "min_partitions": 2, "max_flip_rate": 0.05})
    frame = _compare(uc, "2", "2026-11-21")
    with pytest.raises(shadow.ShadowGateError) as err:
        shadow.check_gate(uc, "2")
    text = str(err.value)
    assert "shadow.gate.min_partitions" in text and "0.1" in text  # 1 of 2 partitions; flip rate 0.1 > 0.05
    summary = shadow.read_summary(uc, "2")
    flips = int((frame["champion_label"] != frame["predicted_label"]).sum())
    assert summary["partitions"] == 1 and summary["flips"]["total"] == flips
    assert summary["status"] == "active" and summary["gate"]["passed"] is False

    _compare(uc, "2", "2026-11-22", flip_every=1000, seed=1)
    relaxed = fresh_uc(enabled=True, gate={"enabled": True, "min_partitions": 2, "max_flip_rate": 0.2,
                                           "max_group_flip_rate": 0.5, "max_bias_change": 0.5})
    verdict = shadow.check_gate(relaxed, "2")
    assert verdict["passed"] is True
    summary = shadow.read_summary(relaxed, "2")
    assert [h["partition"] for h in summary["history"]] == ["2026-11-21", "2026-11-22"]
    assert summary["rows"] == 800
    json.dumps(summary, allow_nan=False)  # plain JSON: the dashboard and the card read it as it is


def test_gate_off_never_blocks_and_a_decision_stops_shadow_scoring(fresh_uc):
    uc = fresh_uc(enabled=True)
    assert shadow.check_gate(uc, "2") is None  # gate disabled: nothing to pass
    _compare(uc, "2", "2026-11-21")
    stopped = shadow.stop(uc, "2", action="rejected", actor="alice")
    assert stopped["status"] == "stopped" and stopped["stopped_reason"].startswith("rejected by alice on ")
    # a later refresh keeps the record of the stop
    assert shadow.refresh(uc, "2")["status"] == "stopped"
    assert shadow.refresh_all(uc) == {}  # stopped versions are left alone
    assert shadow.headlines(uc)["2"]["status"] == "stopped"
    assert shadow.stop(uc, "9", action="approved", actor="bob") is None  # never scored in shadow


def test_an_approval_is_refused_by_the_gate_before_the_registry_is_touched(fresh_uc, monkeypatch):
    from airsage.lifecycle import governance
    from airsage import registry as reg_pkg

    calls = []

    class Reg:
        def approve(self, *a, **k):
            calls.append("approve")

    monkeypatch.setattr(reg_pkg.ModelRegistry, "from_settings", classmethod(lambda cls, settings=None: Reg()))
    uc = fresh_uc(enabled=True, gate={"enabled": True, "min_partitions": 3})
    with pytest.raises(shadow.ShadowGateError, match="min_partitions"):
        governance.decide(uc, "2", "approve", actor="carol", comment="looks fine", source="cli:carol")
    assert calls == []


def test_outcomes_that_arrive_later_give_the_paired_quality_comparison(fresh_uc, monkeypatch):
    uc = fresh_uc(enabled=True)
    frame = _compare(uc, "2", "2026-11-21")
    assert shadow.read_summary(uc, "2") is None or shadow.read_summary(uc, "2")["quality"] is None
    rng = np.random.default_rng(3)
    truth = pd.DataFrame({"inference_id": frame["inference_id"][:300],
                          "label": (rng.random(300) < frame["champion_score"][:300]).astype("int64"),
                          "labeled_at": pd.Timestamp("2026-11-25", tz="UTC"), "source": "dataset:ds-x"})
    monkeypatch.setattr("airsage.lifecycle.monitoring_data.load_ground_truth",
                        lambda uc, ids: truth[truth["inference_id"].isin(set(ids))])
    summary = shadow.refresh(uc, "2")
    q = summary["quality"]
    assert q["status"] == "ok" and q["labelled_rows"] == 300
    assert 0 <= q["delong"]["p_value"] <= 1
    assert summary["history"][0]["labelled_rows"] == 300 and summary["history"][0]["auc_delta"] is not None
    labelled = pd.read_parquet(layout.shadow_labelled(uc, "2", "2026-11-21"))
    assert len(labelled) == 300 and set(labelled["ground_truth"]) <= {0, 1}


def test_a_challenger_the_job_did_not_score_is_not_compared_on_older_scores(fresh_uc, tmp_path):
    """The job report says v2 failed tonight: its older scores of the partition must not pass for tonight's."""
    uc = fresh_uc(enabled=True)
    _write_scores(uc, "2", "2026-11-21")  # an earlier run's complete scores
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"shadow": [{"model_version": "2", "status": "Failed", "error": "lacks income"},
                                             {"model_version": "3", "status": "Completed"}]}))
    _write_scores(uc, "3", "2026-11-21", seed=4)
    challengers = tuple(ServingModel(uri=f"models:/credit_risk/{v}", name="credit_risk", version=v, status=PENDING,
                                     model_artifact_uri="/m") for v in ("2", "3"))
    plan = TransformArgs(model=CHAMPION, partition="2026-11-21", shadow=challengers)
    out = shadow.compare(uc, plan, {"job_name": "j", "kind": "transform", "state": "Completed",
                                    "outputs": {"report": str(report)}})
    assert out["2"]["status"] == "failed" and "lacks income" in out["2"]["error"]
    assert out["3"]["status"] == "compared" and out["3"]["rows"] == 400
    assert shadow.partitions_of(uc, "2") == [] and shadow.partitions_of(uc, "3") == ["2026-11-21"]
