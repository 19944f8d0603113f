"""Compute backends: one ``JobSpec`` runs locally (default) or on SageMaker, through the same operator.

``backend_for(uc, job)`` is the one place a backend is chosen (the use case's ``compute.<job>.backend``);
``get_backend(name, **kwargs)`` constructs one by name. Backends are registered in ``BACKENDS``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airsage.compute.base import JOB_KINDS, ComputeBackend, JobHandle, JobSpec, JobStatus, job_name  # noqa: F401

BACKENDS = {
    "local": "airsage.compute.local:LocalBackend",
    "sagemaker": "airsage.compute.sagemaker:SageMakerBackend",
}


def backend_class(name: str) -> type[ComputeBackend]:
    import importlib

    from airsage.errors import ConfigError

    if name not in BACKENDS:
        raise ConfigError(f"unknown compute backend {name!r}", key="compute.<job>.backend",
                          fix=f"Use one of {sorted(BACKENDS)}.")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def get_backend(name: str, **kwargs) -> ComputeBackend:
    """A backend by name, constructed with ``kwargs`` (tests, tools)."""
    return backend_class(name)(**kwargs)


def backend_for(uc, job: str, *, clients: Callable[[str], Any] | None = None) -> ComputeBackend:
    """The backend the use case names for ``job`` (``train``, ``tune``, ``transform``, ``clarify``, ``monitor``).
    ``clients(service)`` makes AWS clients (the Airflow layer passes its connection's)."""
    from airsage.errors import ConfigError

    if job not in JOB_KINDS:
        raise ConfigError(f"unknown job kind {job!r}", key="job", fix=f"Use one of {list(JOB_KINDS)}.")
    return backend_class(getattr(uc.compute, job).backend).from_usecase(uc, job, clients=clients)
