"""Helpers of the dashboard tests: registered versions, a registry stand-in (versions + audit events, no MLflow)."""
from __future__ import annotations

import json

import pytest

from airsage.config import get_usecase
from airsage.registry.types import RegisteredVersion


def make_version(n: int, status: str, *, aliases=(), approved_by=None, gates_failed=(), auc=0.8,
                 dataset="ds-aaaaaaaaaaaa") -> RegisteredVersion:
    gates = [{"name": "min_auc", "passed": "min_auc" not in gates_failed, "value": auc, "threshold": 0.7},
             {"name": "max_bias", "passed": "max_bias" not in gates_failed, "value": 0.1, "threshold": 0.2}]
    tags = {"approval_status": status, "run_key": f"run-{n}", "dataset_version": dataset, "dataset_hash": "h" * 64,
            "dataset_uri": f"/data/datasets/{dataset}", "dataset_rows": "2000", "code_version": f"abc{n}",
            "metrics": json.dumps({"auc": auc, "recall": 0.6, "baseline_auc": 0.75}),
            "gate_results": json.dumps(gates), "registered_by": "airflow:credit_risk__train",
            "model_artifact_uri": f"/models/{n}/model.tar.gz"}
    if gates_failed:
        tags["failed_checks"] = ",".join(gates_failed)
    if approved_by:
        tags.update({"approved_by": approved_by, "approval_ts": f"2026-11-0{n}T10:00:00+00:00",
                     "approval_comment": "looks good"})
    return RegisteredVersion(name="credit_risk", version=str(n), status=status, aliases=list(aliases),
                             run_id=f"mlflow-run-{n}", tags=tags, metrics={"auc": auc}, created_at=f"2026-11-0{n}T09:00:00+00:00")


class FakeRegistry:
    def __init__(self, versions, events):
        self.versions = {v.version: v for v in versions}
        self.events = events

    def list_versions(self, name):
        return [self.versions[k] for k in sorted(self.versions, key=int)]

    def get_version(self, name, version):
        return self.versions[str(version)]

    def audit_events(self, name):
        return list(self.events)


def event(seq, action, actor, version, frm=None, to=None, reason=""):
    return {"seq": seq, "ts": f"2026-11-0{seq}T10:00:00+00:00", "model": "credit_risk", "version": str(version),
            "action": action, "actor": actor, "from_version": frm, "to_version": to, "from_status": None,
            "to_status": None, "reason": reason, "extra": {}}


def registry_fixture():
    versions = [make_version(1, "Approved", aliases=["previous"], approved_by="alice"),
                make_version(2, "Approved", aliases=["champion"], approved_by="bob", auc=0.82),
                make_version(3, "Rejected", gates_failed=("min_auc",), auc=0.6),
                make_version(4, "PendingManualApproval", auc=0.83)]
    events = [event(1, "register", "airflow", 1), event(2, "approve", "alice", 1, None, "1", "first"),
              event(3, "register", "airflow", 2, "1", "1"), event(4, "approve", "bob", 2, "1", "2", "better"),
              event(5, "register", "airflow", 3, "2", "2"), event(6, "register", "airflow", 4, "2", "2")]
    return FakeRegistry(versions, events)
