"""The error hierarchy. Every error says what went wrong *and what to do*.

Permanent errors (``permanent = True``) fail an Airflow task without retries; the
Airflow layer translates them to ``AirflowFailException``. Transient ones use retries.
"""
from __future__ import annotations


class AirsageError(Exception):
    """Root of every Airsage error. ``exit_code`` is what the command line exits with (2: permanent,
    1: transient, 3: partial failure, 4: a registry integrity finding). An error that carries a
    ``report`` (anything with ``to_dict()``, e.g. a transform's) has it printed as JSON by the CLI."""

    permanent: bool = True
    exit_code: int = 2

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
            fix=f"Approve it (airsage registry approve {self.version} --usecase <usecase> --comment WHY, "
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
    exit_code = 1


class PartialFailureError(AirsageError):
    """Some inputs failed while the others were processed and published (e.g. a batch transform where
    some input files produced no output). ``failures`` lists what failed (file, line, reason); the
    command line exits 3, so a partial run never looks like a success."""

    exit_code = 3

    def __init__(self, message: str, *, failures: list[str] | None = None, fix: str | None = None):
        self.failures = list(failures or [])
        super().__init__(message, fix=fix)


class OutputRefusedError(StorageError):
    """An output location was refused before anything was written: it overlaps an input, or it holds
    data that Airsage did not publish (``force`` overrides only the latter)."""


class IntegrityError(AirsageError):
    """``airsage registry verify`` found registry state not backed by the audit log (or a broken hash
    chain); ``verify_report`` is the ``VerifyReport`` (the command prints it itself). The command line
    exits 4."""

    exit_code = 4

    def __init__(self, report, *, fix: str | None = None):
        self.verify_report = report
        findings = list(getattr(report, "findings", None) or [])
        shown = "; ".join(findings[:3]) + (f" (+{len(findings) - 3} more)" if len(findings) > 3 else "")
        super().__init__(f"registry integrity check failed: {shown or 'the audit log hash chain is broken'}",
                         fix=fix or "Find who changed the registry outside Airsage (MLflow UI / API), then restore the "
                                    "state the audit log records (airsage registry rollback / approve), or re-decide "
                                    "through Airsage so the decision is logged.")
