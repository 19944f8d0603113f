"""The model registry: MLflow versions with SageMaker's approval workflow, an audit log, a serving guard.

Light to import (no MLflow at import time); MLflow is loaded by the first registry call.

    from airsage.registry import ModelRegistry, ApprovalStatus
    reg = ModelRegistry.from_settings()
    reg.resolve("models:/credit_risk@champion").load_bundle()
"""
from airsage.registry.model_registry import ModelRegistry
from airsage.registry.types import (ApprovalStatus, RegisteredVersion, RegistryTransitionError, ResolvedModel)

__all__ = ["ApprovalStatus", "ModelRegistry", "RegisteredVersion", "RegistryTransitionError", "ResolvedModel"]
