"""``SageMakerBackend``: the same ``JobSpec`` that ``LocalBackend`` runs in a subprocess, run as a SageMaker job.

The requests come from the pure builders in ``sagemaker_requests`` (validated against botocore's
service model before any call); this module only adds the I/O: an injected boto3 SageMaker client
(and S3 client, for the code upload), Describe-before-Create, and Describe -> ``JobStatus``.

Resubmitting a spec (an Airflow retry) never starts a second job. ``submit`` describes the job first:

* not found: create it (a concurrent attempt that wins the race is reattached to, not duplicated);
* ``InProgress`` / ``Completed``: return its handle (reattach);
* ``Failed`` / ``Stopping`` / ``Stopped``: raise ``JobFailedError`` with SageMaker's FailureReason.
  SageMaker never reuses a job name, so there is no way to "run it again" under that name, and
  silently starting a renamed copy would hide a failure that is most likely deterministic. To re-run,
  give the job a new name (a new DAG run, or a name part the operator changes on purpose).
* a job of that name made from a *different* spec (its stored ``AIRSAGE_SPEC_DIGEST`` differs):
  ``ConfigError``: the name is not derived from everything that makes the job unique.

``status`` never blocks. For processing and transform jobs that completed it also publishes the
``_SUCCESS`` marker in the output prefix (once), the completeness signal ``storage.is_complete`` reads
and ``LocalBackend`` writes through ``storage.atomic_dir``.

Deferral: ``trigger_kwargs(handle)`` gives the keyword arguments of the amazon provider's
``SageMakerTrigger``; nothing here imports Airflow.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from airsage.compute.base import ComputeBackend, JobHandle, JobSpec, JobStatus
from airsage.compute.packaging import upload_sourcedir
from airsage.compute.sagemaker_requests import (
    PARQUET,
    PROCESSING_KINDS,
    TRIGGER_JOB_TYPES,
    build_requests,
    console_url,
    describe_digest,
    needs_sourcedir,
    physical_name,
    spec_digest,
    status_from_describe,
)
from airsage.config import ComputeSpec, JobCompute, SageMakerSpec
from airsage.errors import AirsageError, ConfigError, JobFailedError, TransientError

log = logging.getLogger(__name__)

DESCRIBE = {"train": ("describe_training_job", "TrainingJobName"),
            "tune": ("describe_hyper_parameter_tuning_job", "HyperParameterTuningJobName"),
            "transform": ("describe_transform_job", "TransformJobName"),
            "clarify": ("describe_processing_job", "ProcessingJobName"),
            "monitor": ("describe_processing_job", "ProcessingJobName")}
STOP = {"train": "stop_training_job", "tune": "stop_hyper_parameter_tuning_job", "transform": "stop_transform_job",
        "clarify": "stop_processing_job", "monitor": "stop_processing_job"}
TRANSIENT_CODES = frozenset({"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
                             "RequestLimitExceeded", "ServiceUnavailable", "InternalFailure", "InternalServerError",
                             "ResourceLimitExceeded", "RequestTimeout"})
ACCESS_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
                          "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"})
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException", "NoSuchEntity"})
_NOT_FOUND_WORDS = ("could not find", "not found", "does not exist", "cannot find")


class SageMakerApiError(AirsageError):
    """A SageMaker API call was refused; ``code`` is AWS's error code."""

    def __init__(self, operation: str, code: str, message: str):
        self.operation = operation
        self.code = code
        fix = ("Grant the caller (the Airflow AWS connection) the SageMaker/S3 actions and iam:PassRole on the "
               "execution role listed in the README (Running on SageMaker)." if code in ACCESS_CODES else
               "Read AWS's message above; correct the use case's sagemaker/compute settings or the JobSpec.")
        super().__init__(f"SageMaker {operation} failed ({code}): {message}", fix=fix)


def _error_code(exc: Exception) -> tuple[str, str]:
    err = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    return str(err.get("Code", "")), str(err.get("Message", exc))


def is_not_found(exc: Exception) -> bool:
    """True for the several ways SageMaker says "no such resource" (codes differ per Describe* call)."""
    code, message = _error_code(exc)
    return code in NOT_FOUND_CODES or (code == "ValidationException"
                                       and any(w in message.lower() for w in _NOT_FOUND_WORDS))


def translate_error(operation: str, exc: Exception) -> AirsageError:
    """botocore errors -> Airsage errors: throttling and outages are transient, the rest permanent."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return TransientError(f"SageMaker {operation}: {type(exc).__name__}: {exc}",
                              fix="A network problem; the task's retries will try again. Check AWS_ENDPOINT_URL "
                                  "and connectivity if it persists.")
    if not isinstance(exc, ClientError):  # no credentials / region, client-side validation
        return SageMakerApiError(operation, type(exc).__name__, str(exc))
    code, message = _error_code(exc)
    if code in TRANSIENT_CODES:
        err = TransientError(f"SageMaker {operation} was throttled or unavailable ({code}): {message}",
                             fix="Retried by the task's retries; if it persists, check the account's SageMaker quotas.")
        err.code = code  # type: ignore[attr-defined]
        return err
    return SageMakerApiError(operation, code, message)


class SageMakerBackend(ComputeBackend):
    """Runs ``JobSpec``s as SageMaker jobs. Arguments are stored as given; clients are created on first use."""

    name = "sagemaker"

    def __init__(self, settings: SageMakerSpec, compute: JobCompute | None = None, *, client: Any = None,
                 s3_client: Any = None, usecase: str | None = None):
        self.settings = settings
        self.compute = compute
        self.client = client
        self.s3_client = s3_client
        self.usecase = usecase
        self._sourcedir_uri: str | None = None

    @classmethod
    def from_usecase(cls, uc, job: str, *, clients: Callable[[str], Any] | None = None, client: Any = None,
                     s3_client: Any = None) -> "SageMakerBackend":
        """The backend for one of the use case's jobs (``train``, ``tune``, ``transform``, ``clarify``, ``monitor``).
        ``clients(service)`` makes the SageMaker and S3 clients (e.g. from an Airflow AWS connection); explicit
        ``client`` / ``s3_client`` win; without either, boto3's default chain is used on first call."""
        if job not in ComputeSpec.model_fields:
            raise ConfigError(f"unknown job {job!r}", key="compute", source=uc.source,
                              fix=f"Use one of {sorted(ComputeSpec.model_fields)}.")
        sm = uc.sagemaker
        for key in ("role_arn", "s3_prefix"):
            if not getattr(sm, key):
                raise ConfigError(f"sagemaker.{key} is not set", key=f"sagemaker.{key}", source=uc.source,
                                  fix="Fill in the sagemaker: section (README: Running on SageMaker).")
        if clients is not None:
            client = client if client is not None else clients("sagemaker")
            s3_client = s3_client if s3_client is not None else clients("s3")
        return cls(sm, getattr(uc.compute, job), client=client, s3_client=s3_client, usecase=uc.name)

    # ------------------------------------------------------------------ clients
    def _sm(self):
        if self.client is None:
            import boto3

            self.client = boto3.client("sagemaker", region_name=self.settings.region)
        return self.client

    def _s3(self):
        if self.s3_client is None:
            import boto3

            self.s3_client = boto3.client("s3", region_name=self.settings.region)
        return self.s3_client

    def _call(self, method: str, **kwargs) -> dict[str, Any]:
        try:
            return getattr(self._sm(), method)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - translated into the Airsage hierarchy
            if _is_botocore(exc):
                raise translate_error(method, exc) from exc
            raise

    # ------------------------------------------------------------------ requests (no AWS calls)
    def upload_code(self) -> str:
        """Upload the sourcedir once per backend (content-addressed, so once per code version anyway)."""
        if self._sourcedir_uri is None:
            try:
                self._sourcedir_uri = upload_sourcedir(self._s3(), str(self.settings.s3_prefix),
                                                       requirements=self.settings.requirements)
            except AirsageError:
                raise
            except Exception as exc:  # noqa: BLE001
                if _is_botocore(exc):
                    raise translate_error("PutObject (sourcedir upload)", exc) from exc
                raise
        return self._sourcedir_uri

    def requests(self, spec: JobSpec, *, sourcedir_uri: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """The validated (operation, request) pairs ``submit`` would send: a dry run."""
        return build_requests(spec, self.settings, self.compute or JobCompute(backend="sagemaker"),
                              sourcedir_uri=sourcedir_uri, usecase=self.usecase)

    def handle_for(self, spec: JobSpec, arn: str | None = None) -> JobHandle:
        """The handle under the name SageMaker knows (tuning jobs have a shorter physical name)."""
        name = physical_name(spec)
        return JobHandle(backend=self.name, name=name, kind=spec.kind, arn=arn,
                         console_url=console_url(self.settings.region, spec.kind, name))

    # ------------------------------------------------------------------ interface
    def describe(self, handle: JobHandle) -> dict[str, Any] | None:
        """The raw Describe* response (without ResponseMetadata), or None if there is no such job."""
        return self._describe(handle.kind, handle.name)

    def _describe(self, kind: str, name: str) -> dict[str, Any] | None:
        method, key = DESCRIBE[kind]
        try:
            resp = getattr(self._sm(), method)(**{key: name})
        except Exception as exc:  # noqa: BLE001
            if is_not_found(exc):
                return None
            if _is_botocore(exc):
                raise translate_error(method, exc) from exc
            raise
        return {k: v for k, v in resp.items() if k != "ResponseMetadata"}

    def submit(self, spec: JobSpec) -> JobHandle:
        handle = self.handle_for(spec)
        existing = self._describe(spec.kind, handle.name)
        if existing is not None:
            return self._reattach(spec, handle, existing)
        if spec.kind == "transform":
            self._check_whole_file_payload(spec)
        sourcedir = self.upload_code() if needs_sourcedir(spec, self.settings) else None
        arn = None
        for op, req in self.requests(spec, sourcedir_uri=sourcedir):
            if op == "CreateModel":
                self._ensure_model(req)
                continue
            try:
                resp = self._call(_snake(op), **req)
            except SageMakerApiError as exc:
                if exc.code != "ResourceInUse":
                    raise
                existing = self._describe(spec.kind, handle.name)  # another attempt created it first
                if existing is None:
                    raise
                return self._reattach(spec, handle, existing)
            arn = next((v for k, v in resp.items() if k.endswith("Arn")), None)
        log.info("submitted SageMaker %s job %s: %s", spec.kind, handle.name, handle.console_url)
        return dataclasses.replace(handle, arn=arn)

    def _check_whole_file_payload(self, spec: JobSpec) -> None:
        """Parquet is sent one whole file per request (SplitType None): a file above ``max_payload_mb``
        would fail inside SageMaker after the instances started. Refuse it before the job exists, naming
        the files (S3 ``ListObjectsV2`` sizes of the input prefix)."""
        p = spec.parameters
        if str(p.get("content_type")) != PARQUET:
            return
        limit_mb = int(p.get("max_payload_mb", 6))
        bucket, _, prefix = spec.inputs["data"].removeprefix("s3://").partition("/")
        too_big: list[str] = []
        try:
            for page in self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                too_big += [f"s3://{bucket}/{o['Key']} ({o['Size'] / 2**20:.1f} MB)" for o in page.get("Contents", [])
                            if o["Size"] > limit_mb * 2**20 and not o["Key"].rsplit("/", 1)[-1].startswith((".", "_"))]
        except Exception as exc:  # noqa: BLE001
            if _is_botocore(exc):
                raise translate_error("ListObjectsV2 (transform input sizes)", exc) from exc
            raise
        if too_big:
            shown = ", ".join(too_big[:5]) + (f" and {len(too_big) - 5} more" if len(too_big) > 5 else "")
            raise ConfigError(f"{len(too_big)} Parquet input file(s) exceed transform.max_payload_mb={limit_mb}: "
                              f"{shown}", key="transform.max_payload_mb",
                              fix="SageMaker sends each Parquet file as one request: raise transform.max_payload_mb "
                                  "(at most 100) or write the partition as smaller files.")

    def _reattach(self, spec: JobSpec, handle: JobHandle, d: dict[str, Any]) -> JobHandle:
        stored = describe_digest(spec.kind, d)
        if stored and stored != spec_digest(spec):
            raise ConfigError(
                f"SageMaker already has a {spec.kind} job named {handle.name} that was made from a different JobSpec",
                key="JobSpec.name",
                fix="SageMaker job names are unique per account and region forever: derive the name from everything "
                    "that makes the job unique (use case, run id, dataset version) or choose a new one.")
        st = status_from_describe(spec.kind, d)
        if st.state in ("InProgress", "Completed"):
            log.info("reattached to SageMaker %s job %s (%s)", spec.kind, handle.name, st.state)
            return dataclasses.replace(handle, arn=st.details.get("arn"))
        raise JobFailedError(self.name, handle.name,
                             f"an earlier attempt of this job ended {st.state}: {st.failure_reason or 'no reason given'}. "
                             "SageMaker never reuses a job name, so it is not re-run automatically; re-run it under "
                             f"a new name (a new DAG run). Console: {handle.console_url}")

    def _ensure_model(self, req: dict[str, Any]) -> None:
        """CreateModel unless a model of that name exists with the same artifact and image."""
        try:
            existing = self._sm().describe_model(ModelName=req["ModelName"])
        except Exception as exc:  # noqa: BLE001
            if not is_not_found(exc):
                if _is_botocore(exc):
                    raise translate_error("describe_model", exc) from exc
                raise
            existing = None
        if existing is None:
            self._call("create_model", **req)
            return
        have = existing.get("PrimaryContainer") or {}
        want = req["PrimaryContainer"]
        if (have.get("ModelDataUrl"), have.get("Image")) != (want["ModelDataUrl"], want["Image"]):
            raise ConfigError(f"SageMaker model {req['ModelName']} exists with another artifact or image "
                              f"({have.get('ModelDataUrl')}, {have.get('Image')})", key="JobSpec.name",
                              fix="Give the transform job a new name, or delete the stale model (aws sagemaker delete-model).")

    def status(self, handle: JobHandle) -> JobStatus:
        d = self._describe(handle.kind, handle.name)
        if d is None:
            return JobStatus(state="Failed", failure_reason=f"no SageMaker {handle.kind} job named {handle.name} "
                                                            f"in {self.settings.region}")
        st = status_from_describe(handle.kind, d)
        if st.state == "Completed" and (handle.kind in PROCESSING_KINDS or handle.kind == "transform"):
            self._mark_complete(st.outputs.get("output"), kind=handle.kind)
        return dataclasses.replace(st, details={**st.details, "console_url": handle.console_url})

    def _mark_complete(self, uri: str | None, *, kind: str | None = None) -> None:
        """The job's output prefix gets Airsage's ownership/completeness marker (``storage.mark_complete``,
        of the job's kind), once: a rerun of the same target may then replace it, and readers see it complete."""
        from airsage import storage

        if not uri:
            return
        try:
            storage.mark_complete(uri, kind=kind, client=self._s3())
        except Exception as exc:  # noqa: BLE001 - the job succeeded; a missing marker must not fail the status
            log.warning("could not write %s/%s: %s", uri, storage.SUCCESS_MARKER, exc)

    def stop(self, handle: JobHandle) -> None:
        d = self._describe(handle.kind, handle.name)
        if d is None or status_from_describe(handle.kind, d).state != "InProgress":
            return  # nothing to stop: absent, already stopping or ended
        _, key = DESCRIBE[handle.kind]
        self._call(STOP[handle.kind], **{key: handle.name})

    # ------------------------------------------------------------------ for the Airflow operator
    def deferral(self, handle: JobHandle, spec: JobSpec) -> dict[str, Any]:
        """``SageMakerTrigger`` arguments: polled every ``sagemaker.poll_interval_s``, for at most the job's
        ``max_runtime_s`` (default one day) plus a few polls."""
        delay = int(self.settings.poll_interval_s)
        max_runtime = int(spec.resources.get("max_runtime_s") or 86400)
        return {**self.trigger_kwargs(handle), "waiter_delay": delay, "waiter_max_attempts": max_runtime // delay + 10}

    def trigger_kwargs(self, handle: JobHandle) -> dict[str, Any]:
        """Keyword arguments for ``airflow.providers.amazon.aws.triggers.sagemaker.SageMakerTrigger``."""
        return {"job_name": handle.name, "job_type": TRIGGER_JOB_TYPES[handle.kind],
                "aws_conn_id": self.settings.aws_conn_id, "region_name": self.settings.region}


def _is_botocore(exc: Exception) -> bool:
    """A botocore error worth translating (not a Stubber assertion, which tests must see as is)."""
    return type(exc).__module__.startswith("botocore") and not isinstance(exc, AssertionError)


def _snake(operation: str) -> str:
    from botocore import xform_name

    return xform_name(operation)
