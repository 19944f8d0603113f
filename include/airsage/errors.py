"""The error hierarchy. Every error says what went wrong *and what to do*.

Permanent errors (``permanent = True``) fail an Airflow task without retries; the
Airflow layer translates them to ``AirflowFailException``. Transient ones use retries.
"""
from __future__ import annotations


class AirsageError(Exception):
    """Root of every Airsage error."""

    permanent: bool = True

    def __init__(self, message: str, *, fix: str | None = None):
        self.message = message
        self.fix = fix
        super().__init__(f"{message}\nFix: {fix}" if fix else message)


class ConfigError(AirsageError):
    """A use-case file or setting is invalid. Names the file, the key and the fix."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None, fix: str | None = None):
        self.source = source
        self.key = key
        where = ", ".join(p for p in (f"file {source}" if source else "", f"key {key}" if key else "") if p)
        super().__init__(f"{message}" + (f" ({where})" if where else ""), fix=fix)


class DataValidationError(AirsageError):
    """Input data failed validation. ``failures`` lists the reasons (worst first)."""

    def __init__(self, dataset: str, failures: list[str], *, fix: str | None = None):
        self.dataset = dataset
        self.failures = list(failures)
        shown = "; ".join(self.failures[:5]) + (f" (+{len(self.failures) - 5} more)" if len(self.failures) > 5 else "")
        super().__init__(f"Validation of {dataset} failed: {shown}",
                         fix=fix or "Correct the input (see the quarantine file for rejected records) and re-run.")


class ModelNotApprovedError(AirsageError):
    """A model version that is not ``Approved`` was about to be served."""

    def __init__(self, model: str, version: str | int | None, status: str | None):
        self.model = model
        self.version = None if version is None else str(version)
        self.status = status
        super().__init__(
            f"Model {model} version {self.version} has approval_status={status!r}; only Approved versions can be served.",
            fix=f"Approve it (airsage registry approve {self.version} --usecase <usecase> --approver NAME --comment WHY, "
                f"or the <usecase>__approve_model DAG) or score with an approved version / the 'champion' alias.")


class ModelNotFoundError(AirsageError):
    def __init__(self, uri: str, reason: str = "not found"):
        self.uri = uri
        super().__init__(f"Model {uri}: {reason}.",
                         fix="Check the model name, version or alias (airsage registry list NAME) and the MLflow tracking URI.")


class JobFailedError(AirsageError):
    """A compute job (local or SageMaker) ended Failed or Stopped."""

    def __init__(self, backend: str, job: str, reason: str):
        self.backend = backend
        self.job = job
        self.reason = reason
        super().__init__(f"{backend} job {job} failed: {reason}",
                         fix="Read the job log named above; fix the cause and clear the task to re-run it.")


class StorageError(AirsageError):
    """Reading or writing a URI failed in a way that retrying will not fix."""


class TransientError(AirsageError):
    """Throttling, network blips: worth a retry."""

    permanent = False
