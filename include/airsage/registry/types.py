"""The registry's vocabulary: approval states, a registered version, a model resolved for serving.

Light on purpose (stdlib only): Airflow operators and the CLI import these at module level.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from airsage.errors import AirsageError

# version tags (the approval state lives in tags + aliases, never in the deprecated stages)
TAG_STATUS = "approval_status"
TAG_RUN_KEY = "run_key"
TAG_DATASET_VERSION = "dataset_version"
TAG_DATASET_HASH = "dataset_hash"
TAG_CODE_VERSION = "code_version"
TAG_METRICS = "metrics"  # JSON: the scalar held-out metrics
TAG_GATES = "gate_results"  # JSON: list of {name, passed, value, threshold, detail}
TAG_FAILED_CHECKS = "failed_checks"  # comma-separated gate names (Rejected by gates)
TAG_MODEL_ARTIFACT = "model_artifact_uri"  # the model.tar.gz the job produced
TAG_MODEL_SHA256 = "model_artifact_sha256"
TAG_MODEL_CARD = "model_card_uri"

CHAMPION = "champion"
PREVIOUS = "previous"


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

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("tracking_uri")
        d["status"] = str(self.status) if self.status is not None else None
        d["uri"] = self.uri
        return d

    def load_bundle(self):
        """The ``ModelBundle``: from the job's model.tar.gz (fast path, checksum-verified), else from
        the copy logged with the MLflow run."""
        from airsage.registry.model_registry import load_bundle

        return load_bundle(self)
