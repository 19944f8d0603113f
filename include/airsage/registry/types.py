"""The registry's vocabulary: approval states, a registered version, a model resolved for serving.

Light on purpose (stdlib + ``airsage.errors``): Airflow operators and the CLI import these at module level.
The tag names live in ``registry.tags`` (re-exported here).
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from airsage.errors import AirsageError, ModelNotApprovedError

from airsage.registry.tags import (CHAMPION, PREVIOUS, TAG_CLARIFY_REPORT, TAG_CODE_VERSION,  # noqa: F401
                                   TAG_DATASET_HASH, TAG_DATASET_VERSION, TAG_FAILED_CHECKS, TAG_GATES,
                                   TAG_IMPORTED_FROM, TAG_METRICS, TAG_MODEL_ARTIFACT, TAG_MODEL_CARD,
                                   TAG_MODEL_SHA256, TAG_MODEL_SOURCE, TAG_RUN_KEY, TAG_STATUS, TAG_TRAINED_BY)


class ApprovalStatus(str, enum.Enum):
    """SageMaker's ``ModelApprovalStatus`` values, kept in the ``approval_status`` version tag."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | None) -> "ApprovalStatus | None":
        try:
            return cls(value)
        except ValueError:
            return None


class RegistryTransitionError(AirsageError):
    """An approval-state change that the workflow does not allow (e.g. approving a Rejected version)."""

    def __init__(self, model: str, version: str | None, status: str | None, action: str, fix: str):
        self.model, self.version, self.status, self.action = model, version, status, action
        super().__init__(f"Cannot {action} model {model} version {version}: its approval_status is {status!r}.",
                         fix=fix)


class FourEyesError(AirsageError):
    """The person approving a version started the training run that produced it."""

    def __init__(self, model: str, version: str, approver: str):
        self.model, self.version, self.approver = model, version, approver
        super().__init__(
            f"{approver!r} started the training run of model {model} version {version} and may not approve it "
            "(four eyes).",
            fix="Ask another approver to review and approve it; only where the use case's governance allows "
                "self-approval, call approve(..., four_eyes=False).")


class ApprovalNotBackedError(ModelNotApprovedError):
    """A version is Approved (or an alias points at it) in MLflow, but the audit log does not back it:
    the registry was changed outside Airsage."""

    def __init__(self, model: str, version: str | int | None, status: str | None, problem: str,
                 usecase: str | None = None):
        self.model, self.version, self.status, self.problem = model, None if version is None else str(version), \
            status, problem
        AirsageError.__init__(
            self, f"Refusing to serve model {model} version {self.version}: {problem}.",
            fix=f"Run `airsage registry verify --usecase {usecase or '<usecase>'}` to list every mismatch; undo the "
                "change in MLflow (approval_status tag / alias back to what the audit log says), or record the "
                "decision through Airsage (registry approve / promote / rollback, or the governance DAGs), which "
                "writes the audit event.")


def status_of(tags: dict[str, str]) -> ApprovalStatus | str | None:
    """The version's approval status (an ``ApprovalStatus``; the raw tag value if it is foreign)."""
    raw = tags.get(TAG_STATUS)
    return ApprovalStatus.parse(raw) or raw


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    status: ApprovalStatus | str | None
    aliases: list[str]
    run_id: str | None
    tags: dict[str, str]
    metrics: dict[str, float]
    created_at: str  # ISO 8601, UTC
    source: str | None = field(default=None, repr=False, compare=False)  # MLflow's model location


    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def is_champion(self) -> bool:
        return CHAMPION in self.aliases

    @property
    def failed_checks(self) -> list[str]:
        raw = self.tags.get(TAG_FAILED_CHECKS, "")
        return [c for c in raw.split(",") if c]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        d["status"] = str(self.status) if self.status is not None else None
        d["uri"] = self.uri
        return d


@dataclass(frozen=True)
class ResolvedModel:
    """A version picked for serving (always Approved when resolved with ``require_approved``)."""

    name: str
    version: str
    status: ApprovalStatus | str | None
    alias: str | None
    run_id: str | None
    model_artifact_uri: str | None
    tags: dict[str, str]
    tracking_uri: str | None = field(default=None, repr=False, compare=False)
    source: str | None = field(default=None, repr=False, compare=False)  # MLflow's model location

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("tracking_uri")
        d.pop("source")
        d["status"] = str(self.status) if self.status is not None else None
        d["uri"] = self.uri
        return d

    def load_bundle(self):
        """The model to score with (a ``ModelBundle``): an Airsage version from the job's model.tar.gz (fast
        path, checksum-verified), else from the copy logged with the MLflow run; any other MLflow model by
        its flavor (``registry.flavors``)."""
        from airsage.registry.artifacts import load_bundle

        return load_bundle(self)
