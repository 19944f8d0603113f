"""MLflow tracking for the steps before a model exists: a label import's dataset lineage.

``log_dataset_import(uc, lineage)`` records one MLflow run per dataset version in the use case's
experiment (``airsage/<usecase>``): the lineage's params, tags and metrics plus an MLflow dataset input
(the dataset URI, its hash as the digest). Idempotent per dataset version: importing the same labels
again returns the run logged the first time.
"""
from __future__ import annotations

from typing import Any

from airsage.registry.model_registry import ModelRegistry


def log_dataset_import(uc, lineage: dict[str, dict[str, Any]], *, registry: ModelRegistry | None = None) -> str | None:
    """Log a label import (``airsage.labeling.lineage(report)``); return the MLflow run id."""
    return (registry or ModelRegistry.from_settings()).log_dataset_import(uc, lineage)
