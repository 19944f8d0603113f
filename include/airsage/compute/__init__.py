"""Compute backends: one ``JobSpec`` runs locally (default) or on SageMaker, through the same operator.

``get_backend(name)`` picks one by name; backends are registered in ``BACKENDS``.
"""
from __future__ import annotations

from airsage.compute.base import ComputeBackend, JobHandle, JobSpec, JobStatus, job_name  # noqa: F401

BACKENDS = {
    "local": "airsage.compute.local:LocalBackend",
    "sagemaker": "airsage.compute.sagemaker:SageMakerBackend",
}


def get_backend(name: str, **kwargs) -> ComputeBackend:
    import importlib

    from airsage.errors import ConfigError

    if name not in BACKENDS:
        raise ConfigError(f"unknown compute backend {name!r}", key="compute.<job>.backend",
                          fix=f"Use one of {sorted(BACKENDS)}.")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)
