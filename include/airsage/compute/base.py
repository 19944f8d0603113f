"""What a job is, and what every compute backend must do with one.

A ``JobSpec`` is frozen and fully describes one job; its ``name`` is deterministic for a run, so a
retried task resubmits the *same* job and the backend reattaches to it instead of starting another.
"""
from __future__ import annotations

import abc
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from airsage.errors import JobFailedError

JobKind = Literal["train", "tune", "transform", "clarify", "monitor"]
#: every job kind, once: SageMaker's training contract (train, tune), batch transform, processing
JOB_KINDS: tuple[str, ...] = ("train", "tune", "transform", "clarify", "monitor")
TRAINING_KINDS = frozenset({"train", "tune"})
PROCESSING_KINDS = frozenset({"clarify", "monitor"})
NON_TERMINAL = frozenset({"InProgress", "Stopping"})
FAILED = frozenset({"Failed", "Stopped"})
MAX_NAME = 63  # SageMaker's limit for job names


def job_name(*parts: str, max_len: int = MAX_NAME) -> str:
    """A deterministic, SageMaker-valid job name (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``).

    Long names keep their head and end in a short hash of the full name, so two runs never collide.
    """
    raw = "-".join(str(p) for p in parts if str(p))
    clean = re.sub(r"[^a-zA-Z0-9]+", "-", raw).strip("-")
    if len(clean) <= max_len:
        return clean
    digest = hashlib.sha1(raw.encode()).hexdigest()[:8]
    return f"{clean[: max_len - 9].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class JobSpec:
    """One job. ``inputs`` maps a channel name to a URI (a file or a prefix).

    * ``train``/``tune``: SageMaker training contract; the model goes to
      ``<output_uri>/<name>/output/model.tar.gz`` and output data to ``.../output/output.tar.gz``.
    * ``clarify``/``monitor``: processing contract; ``/opt/ml/processing/output`` goes to ``output_uri``.
    * ``transform``: batch transform; ``inputs["model"]`` is a model.tar.gz, ``inputs["data"]`` the input
      prefix, ``output_uri`` the S3OutputPath; ``parameters`` hold the DataProcessing settings.
    """

    kind: JobKind
    name: str
    entrypoint: str  # python module run as ``python -m <entrypoint>``
    inputs: Mapping[str, str]
    output_uri: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)  # kind-specific settings (transform, processing)
    environment: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, Any] = field(default_factory=dict)  # instance_type, instance_count, volume_size_gb, max_runtime_s
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if job_name(self.name) != self.name:
            raise ValueError(f"job name {self.name!r} is not SageMaker-valid; build it with airsage.compute.job_name()")
        if any(not isinstance(v, str) for v in self.hyperparameters.values()):
            raise ValueError("hyperparameters must be strings (SageMaker's contract); json.dumps structured values")

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "JobSpec":
        return cls(**d)


@dataclass(frozen=True)
class JobHandle:
    backend: str
    name: str
    kind: str
    arn: str | None = None
    console_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobStatus:
    state: str  # InProgress | Completed | Failed | Stopping | Stopped
    failure_reason: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)  # e.g. model_artifact, output_data, output
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state not in NON_TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "failure_reason": self.failure_reason, "outputs": dict(self.outputs),
                "details": dict(self.details)}


class ComputeBackend(abc.ABC):
    """Runs ``JobSpec``s. ``submit`` is idempotent by job name; ``status`` never blocks.

    Everything the Airflow operator uses is declared here: ``from_usecase`` (the one constructor the
    use case's ``compute.<job>.backend`` goes through), ``submit`` / ``status`` / ``stop`` / ``wait``,
    ``handle_for`` (the handle of a spec's job, to resume after a deferral), ``log_tail`` and
    ``deferral`` (``None``: the task polls; else the amazon provider's ``SageMakerTrigger`` arguments).
    """

    name: str = "abstract"

    @classmethod
    def from_usecase(cls, uc, job: str, *, clients: Callable[[str], Any] | None = None) -> "ComputeBackend":
        """The backend for one of the use case's jobs. ``clients(service)`` makes AWS clients (backends that
        call no AWS API ignore it)."""
        return cls()

    @abc.abstractmethod
    def submit(self, spec: JobSpec) -> JobHandle: ...

    @abc.abstractmethod
    def status(self, handle: JobHandle) -> JobStatus: ...

    @abc.abstractmethod
    def stop(self, handle: JobHandle) -> None: ...

    def handle_for(self, spec: JobSpec) -> JobHandle:
        """The handle of ``spec``'s job (its deterministic name), without submitting anything."""
        return JobHandle(backend=self.name, name=spec.name, kind=spec.kind)

    def log_tail(self, handle: JobHandle, lines: int = 40) -> str:
        """The last lines of the job's log, when the backend keeps one ('' otherwise)."""
        return ""

    def deferral(self, handle: JobHandle, spec: JobSpec) -> dict[str, Any] | None:
        """How an Airflow task may wait without a worker slot: ``None`` (poll), or the keyword arguments of
        the amazon provider's ``SageMakerTrigger`` (``waiter_delay`` and ``waiter_max_attempts`` included)."""
        return None

    def wait(self, handle: JobHandle, *, poll_s: float = 2.0, timeout_s: float | None = None,
             on_poll=None) -> JobStatus:
        """Block until the job ends; raise ``JobFailedError`` when it failed or was stopped."""
        start = time.monotonic()
        while True:
            st = self.status(handle)
            if on_poll:
                on_poll(st)
            if st.done:
                if st.state in FAILED:
                    raise JobFailedError(self.name, handle.name, st.failure_reason or st.state)
                return st
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                self.stop(handle)
                raise JobFailedError(self.name, handle.name, f"timed out after {timeout_s:.0f} s (stopped)")
            time.sleep(poll_s)

    def run(self, spec: JobSpec, **wait_kwargs) -> JobStatus:
        return self.wait(self.submit(spec), **wait_kwargs)
