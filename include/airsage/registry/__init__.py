"""The model registry: MLflow versions with SageMaker's approval workflow, a hash-chained audit log, a
serving guard that trusts only what the audit log backs.

Light to import (no MLflow at import time); MLflow is loaded by the first registry call.

    from airsage.registry import ModelRegistry, ApprovalStatus, verify
    reg = ModelRegistry.from_settings()
    reg.resolve("models:/credit_risk@champion").load_bundle()
    report = verify("credit_risk")          # report.ok, report.findings

Modules: ``model_registry`` (the facade: register / approve / reject / promote / rollback / resolve),
``store`` (every MLflow call), ``approval`` (how a decision is recorded: preconditions, tags, champion
move, audit event), ``serving`` (``models:/`` URI resolution and the serving guard), ``artifacts``
(model.tar.gz, SHA-256, bundle loading), ``lineage`` (the training run: params, metrics, dataset lineage,
signature, requirements), ``audit`` (the hash-chained log), ``integrity`` (is MLflow's state backed by the
log?), ``sagemaker_mirror`` (the SageMaker copy), ``lock``, ``tags`` / ``types`` (the vocabulary).
"""
from airsage.registry.integrity import VerifyReport
from airsage.registry.model_registry import ModelRegistry
from airsage.registry.types import (ApprovalNotBackedError, ApprovalStatus, FourEyesError, RegisteredVersion,
                                    RegistryTransitionError, ResolvedModel)

__all__ = ["ApprovalNotBackedError", "ApprovalStatus", "FourEyesError", "ModelRegistry", "RegisteredVersion",
           "RegistryTransitionError", "ResolvedModel", "VerifyReport", "verify"]


def verify(usecase, *, registry: ModelRegistry | None = None) -> VerifyReport:
    """Is the registry state of ``usecase`` (a ``UseCase`` or its name) backed by an intact audit log?

    Checks the hash chain (naming the first broken event), that every ``Approved`` version's last
    decision in the log is its approval, and that the ``champion`` / ``previous`` aliases are where the
    log's last champion move left them. Read-only. ``registry`` defaults to ``ModelRegistry.from_settings()``.
    The report has ``ok``, ``findings`` (one human-readable line each), ``notes``, ``render()``, ``to_dict()``.
    """
    if isinstance(usecase, str):
        from airsage.config import get_usecase

        usecase = get_usecase(usecase)
    return (registry or ModelRegistry.from_settings()).verify(usecase)
