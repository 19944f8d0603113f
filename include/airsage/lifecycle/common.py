"""Small helpers every workflow uses: run keys, partitions, the job backend, running a job in-process."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from airsage import identifiers
from airsage.compute import backend_for as _backend_for
from airsage.compute.base import ComputeBackend, JobSpec
from airsage.config import UseCase
from airsage.contracts import JobResult
from airsage.errors import ConfigError


def run_key_from(run_id: str | None) -> str:
    """A short, path- and job-name-safe key for a run (Airflow run ids contain ':' and '+')."""
    if not run_id:
        return "cli-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return re.sub(r"[^A-Za-z0-9]+", "-", run_id).strip("-")[:48]


def partition_for(value: str | dt.date | dt.datetime | None, *, default: dt.date | None = None) -> dt.date:
    """The partition date: an explicit ``YYYY-MM-DD`` (or a date / datetime) wins, then ``default``."""
    if value in (None, ""):
        if default is None:
            raise ConfigError("no partition given and none could be derived from the run", key="partition",
                              fix="Pass partition=YYYY-MM-DD (the form's 'partition' field) or run on a schedule.")
        return default
    if isinstance(value, str) and len(value) > 10 and value[10] in "T ":  # an ISO timestamp: its date
        value = value[:10]
    try:
        return identifiers.partition(value)
    except ConfigError:
        raise ConfigError(f"partition {value!r} is not a date", key="partition",
                          fix="Use the YYYY-MM-DD form of a real date, e.g. 2026-11-21.") from None


def backend_for(uc: UseCase, job: str, **kwargs: Any) -> ComputeBackend:
    """The use case's backend for ``job`` (``airsage.compute.backend_for``: the one place it is chosen)."""
    return _backend_for(uc, job, **kwargs)


def resources(uc: UseCase, job: str) -> dict[str, Any]:
    """The job's compute settings (instance type and count, volume, max runtime) from the use case."""
    return getattr(uc.compute, job).model_dump()


def run_job(uc: UseCase, spec: JobSpec, *, poll_s: float = 2.0) -> JobResult:
    """Run one job on the use case's backend and wait: what RunJobOperator does, without Airflow."""
    status = backend_for(uc, spec.kind).run(spec, poll_s=poll_s)
    return JobResult.from_status(spec, status)


def bundle_for(uri: str, *, require_approved: bool):
    """``(ModelBundle, name, version)`` from a registry URI (``models:/…``, guarded) or a model directory /
    ``model.tar.gz`` (``unregistered``, ``0``)."""
    from airsage.model import ModelBundle

    if uri.startswith("models:/"):
        from airsage.registry import ModelRegistry

        resolved = ModelRegistry.from_settings().resolve(uri, require_approved=require_approved)
        return resolved.load_bundle(), resolved.name, str(resolved.version)
    return ModelBundle.load_uri(uri), "unregistered", "0"
