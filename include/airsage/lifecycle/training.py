"""The training workflow (``<uc>__train``, ``airsage train``): the training job's spec, gating and
registration of its model (``Registration``: what the approval steps read), the SageMaker Model Registry
mirror."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airsage import layout
from airsage.compute.base import JobSpec, job_name
from airsage.config import UseCase
from airsage.contracts import DatasetRef, JobResult, Registration
from airsage.lifecycle.common import resources, run_job, run_key_from
from airsage.provenance import code_version


def _dataset(dataset: DatasetRef | Mapping[str, Any]) -> DatasetRef:
    return dataset if isinstance(dataset, DatasetRef) else DatasetRef.from_dict(dataset)


def _job(job: JobResult | Mapping[str, Any]) -> JobResult:
    return job if isinstance(job, JobResult) else JobResult.from_dict(job)


def train_spec(uc: UseCase, dataset: DatasetRef | Mapping[str, Any], run_key: str) -> JobSpec:
    """The training job (a tuning job when ``training.tuning.enabled``) on one dataset version."""
    from airsage.training.train import TrainingJobConfig

    ds = _dataset(dataset)
    kind = "tune" if uc.training.tuning.enabled else "train"
    cfg = TrainingJobConfig.from_usecase(uc, dataset_version=ds.version)
    hps = cfg.to_hyperparameters()
    if kind == "tune":
        hps["airsage_tuning"] = json.dumps(uc.training.tuning.model_dump())
    return JobSpec(kind=kind, name=job_name(uc.name, kind, run_key), entrypoint=f"airsage.entrypoints.{kind}",
                   inputs={"train": ds.uri}, output_uri=layout.training_outputs(uc), hyperparameters=hps,
                   resources=resources(uc, kind), tags={"usecase": uc.name, "dataset_version": ds.version})


def register_trained(uc: UseCase, *, job: JobResult | Mapping[str, Any], dataset: DatasetRef | Mapping[str, Any],
                     run_key: str, actor: str, bias: dict | None = None, clarify_outputs: list[str] | None = None,
                     mirror: bool = True, trained_by: str | None = None, source: str | None = None) -> dict[str, Any]:
    """Gate the trained model and register it (PendingManualApproval, or Rejected with the failed checks).
    ``mirror=False``: the SageMaker model package is made later by ``mirror_version``. ``trained_by``: the
    authenticated user who started the training run (four eyes: they may not approve it); ``source``: the
    channel it came through (audit log). Returns every field of the version (``RegisteredVersion.to_dict()``)
    with ``gates`` and ``passed``; ``register`` returns the ``Registration`` hand-off instead."""
    from airsage.lifecycle.clarify import merge_clarify
    from airsage.registry import ModelRegistry
    from airsage.training.gates import evaluate_gates

    result, ds = _job(job), _dataset(dataset)
    output_data = result.output("output_data")
    metrics = _read_job_metrics(output_data)
    if bias is None and clarify_outputs:
        bias = merge_clarify(*clarify_outputs)
    reg = ModelRegistry.from_settings()
    champion = reg.champion(uc.registered_model_name)
    gates = evaluate_gates(uc, metrics["evaluation"], champion=champion.metrics if champion else None,
                           bias_analysis=bias)
    version = reg.register_training(
        uc, model_artifact_uri=result.output("model_artifact"), output_data_uri=output_data, dataset=ds.to_dict(),
        run_key=run_key, gate_results=gates, actor=actor, code_version=code_version(), bias=bias,
        tuning_trials=metrics.get("trials"), mirror=mirror, trained_by=trained_by, source=source,
        clarify_report_uri=_clarify_report(clarify_outputs))
    _dashboard("record_version", uc, version.to_dict(), gates=gates)
    return {**version.to_dict(), "gates": gates, "passed": all(g["passed"] for g in gates)}


def register(uc: UseCase, **kwargs: Any) -> Registration:
    """``register_trained`` (same arguments), as the typed hand-off the approval steps read: the version,
    its status and the gates' results (the training DAG's ``register_model`` XCom: ``to_dict()``)."""
    return Registration.from_dict(register_trained(uc, **kwargs))


def _clarify_report(clarify_outputs: list[str] | None) -> str | None:
    """The post-training Clarify report of the run (the last output that has one)."""
    from airsage import storage

    for out in reversed([o for o in clarify_outputs or [] if o]):
        uri = storage.join(out, "report.html")
        if storage.exists(uri):
            return uri
    return None


def _dashboard(fn: str, *args, **kwargs) -> None:
    """Update the dashboard's summaries; a failure there never fails the lifecycle step (logged)."""
    from airsage import dashboard

    dashboard.safe_record(getattr(dashboard, fn), *args, **kwargs)


def train_and_register(uc: UseCase, *, dataset_version: str | None = None, run_key: str | None = None,
                       actor: str = "cli") -> dict[str, Any]:
    """``airsage train``: the train DAG's job and registration in one call (without Clarify or baselines)."""
    from airsage.lifecycle.labels import latest_dataset

    dataset = latest_dataset(uc, dataset_version)
    key = run_key_from(run_key)
    job = run_job(uc, train_spec(uc, dataset, key))
    return register_trained(uc, job=job, dataset=dataset, run_key=key, actor=actor)


def mirror_version(uc: UseCase, version: str | int) -> dict[str, Any]:
    """The version's SageMaker Model Registry mirror (``sagemaker.mirror_model_registry``): created with
    the reports and baselines that exist now, or its approval status brought in line; a no-op when off."""
    from airsage.registry import ModelRegistry
    from airsage.registry.sagemaker_mirror import TAG_PACKAGE_ARN

    v = ModelRegistry.from_settings().sync_mirror(uc, version)
    return {"name": v.name, "version": v.version, "status": str(v.status),
            "model_package_arn": v.tags.get(TAG_PACKAGE_ARN)}


def _read_job_metrics(output_data_uri: str) -> dict[str, Any]:
    """``metrics.json`` (+ ``trials`` from ``trials.json`` when tuning) of a training job's output data."""
    import tempfile
    from pathlib import Path

    from airsage.training.outputs import read_job_outputs

    with tempfile.TemporaryDirectory() as tmp:
        docs = read_job_outputs(output_data_uri, Path(tmp))
    out = dict(docs["metrics"])
    if docs["trials"] is not None:
        out["trials"] = docs["trials"]
    return out
