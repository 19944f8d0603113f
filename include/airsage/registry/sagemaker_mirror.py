"""Optional mirror of registered model versions into SageMaker Model Registry.

MLflow stays the record (aliases + version tags). When ``sagemaker.mirror_model_registry`` is on,
each registered version is also a *model package* in a group named after the use case's model, with
the serving image, the ``model.tar.gz``, the approval status and, per reference b.5, the evaluation
reports (``ModelMetrics``) and the baselines drift checks compare against (``DriftCheckBaselines``).
An approval decided in Airsage is copied over with ``sync_approval`` (``UpdateModelPackage``), the
call the amazon provider has no operator for.

Pure builders (``group_request``, ``model_package_request``, ``approval_request``) plus a small
class around an injected boto3 SageMaker client.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from airsage.errors import AirsageError, ConfigError

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
_APPROVAL_ALIASES = {"approved": "Approved", "approve": "Approved", "rejected": "Rejected", "reject": "Rejected",
                     "pending": "PendingManualApproval", "pending_manual_approval": "PendingManualApproval",
                     "pendingmanualapproval": "PendingManualApproval", "none": "PendingManualApproval"}
CONTENT_TYPES = ("text/csv", "application/jsonlines", "application/json")
JSON = "application/json"

# report key -> where it goes in ModelMetrics / DriftCheckBaselines (BOTO CreateModelPackage)
MODEL_METRICS = {
    "model_quality_statistics": ("ModelQuality", "Statistics"),
    "model_quality_constraints": ("ModelQuality", "Constraints"),
    "data_quality_statistics": ("ModelDataQuality", "Statistics"),
    "data_quality_constraints": ("ModelDataQuality", "Constraints"),
    "bias_report": ("Bias", "Report"),
    "bias_pre_training_report": ("Bias", "PreTrainingReport"),
    "bias_post_training_report": ("Bias", "PostTrainingReport"),
    "explainability_report": ("Explainability", "Report"),
}
DRIFT_CHECK_BASELINES = {
    "bias_config_file": ("Bias", "ConfigFile"),
    "bias_pre_training_constraints": ("Bias", "PreTrainingConstraints"),
    "bias_post_training_constraints": ("Bias", "PostTrainingConstraints"),
    "explainability_constraints": ("Explainability", "Constraints"),
    "explainability_config_file": ("Explainability", "ConfigFile"),
    "model_quality_statistics": ("ModelQuality", "Statistics"),
    "model_quality_constraints": ("ModelQuality", "Constraints"),
    "data_quality_statistics": ("ModelDataQuality", "Statistics"),
    "data_quality_constraints": ("ModelDataQuality", "Constraints"),
}


def group_name(name: str) -> str:
    """A valid ModelPackageGroupName (``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``): ``credit_risk`` -> ``credit-risk``."""
    clean = re.sub(r"[^a-zA-Z0-9]+", "-", name).strip("-")
    if not clean:
        raise ConfigError(f"cannot derive a model package group name from {name!r}", key="sagemaker.model_package_group",
                          fix="Set sagemaker.model_package_group explicitly.")
    if len(clean) > 63:
        clean = f"{clean[:54].rstrip('-')}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return clean


def approval_status(status: str) -> str:
    """SageMaker's ModelApprovalStatus for an Airsage/MLflow approval value (case-insensitive)."""
    if status in APPROVAL_STATUSES:
        return status
    norm = _APPROVAL_ALIASES.get(str(status).strip().lower())
    if norm is None:
        raise ConfigError(f"unknown approval status {status!r}", key="approval_status",
                          fix=f"Use one of {list(APPROVAL_STATUSES)} (or approved / rejected / pending).")
    return norm


def _source(value: str | Mapping[str, str], *, content_type: str | None = JSON) -> dict[str, str]:
    if isinstance(value, Mapping):
        out = {"S3Uri": value["uri"] if "uri" in value else value["S3Uri"]}
        ctype = value.get("content_type", value.get("ContentType", content_type))
        digest = value.get("digest", value.get("ContentDigest"))
    else:
        out, ctype, digest = {"S3Uri": str(value)}, content_type, None
    if not out["S3Uri"].startswith("s3://"):
        raise ConfigError(f"report {out['S3Uri']!r} is not on S3; SageMaker Model Registry links S3 objects only",
                          key="sagemaker.mirror_model_registry",
                          fix="Keep reports under an s3:// data root, or turn the mirror off.")
    if ctype:
        out["ContentType"] = ctype
    if digest:
        out["ContentDigest"] = digest if digest.lower().startswith("sha256:") else f"sha256:{digest}"
    return out


def _nest(table: Mapping[str, tuple[str, str]], values: Mapping[str, Any], what: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in values.items():
        if key not in table:
            raise ConfigError(f"unknown {what} {key!r}", key=what, fix=f"Use keys from {sorted(table)}.")
        section, field = table[key]
        out.setdefault(section, {})[field] = _source(value)
    return out


def client_token(group: str, version: str | int) -> str:
    """Deterministic idempotency token: a retried registration returns the same package."""
    return hashlib.sha256(f"{group}/{version}".encode()).hexdigest()[:32]


def group_request(group: str, description: str = "", tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    req: dict[str, Any] = {"ModelPackageGroupName": group,
                           "ModelPackageGroupDescription": description or f"Airsage model {group}"}
    if tags:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return req


def model_package_request(*, group: str, version: str | int, image_uri: str, model_data_url: str,
                          approval: str = "PendingManualApproval", description: str = "",
                          reports: Mapping[str, Any] | None = None, baselines: Mapping[str, Any] | None = None,
                          metadata: Mapping[str, str] | None = None, environment: Mapping[str, str] | None = None,
                          content_types: tuple[str, ...] = CONTENT_TYPES,
                          tags: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``CreateModelPackage`` for one registered version.

    ``reports`` keys are ``MODEL_METRICS`` names, ``baselines`` keys ``DRIFT_CHECK_BASELINES`` names;
    each value is an ``s3://`` URI or ``{"uri", "content_type", "digest"}``. ``metadata`` becomes
    ``CustomerMetadataProperties`` (the MLflow model name, version and run id belong there).
    """
    if not str(model_data_url).startswith("s3://"):
        raise ConfigError(f"model artifact {model_data_url!r} is not on S3", key="mlflow.artifact_root",
                          fix="Mirror versions whose model.tar.gz is in S3 (an s3:// MLflow artifact root).")
    container: dict[str, Any] = {"Image": image_uri, "ModelDataUrl": model_data_url}
    if environment:
        container["Environment"] = dict(environment)
    req: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": description or f"{group} version {version}",
        "InferenceSpecification": {"Containers": [container], "SupportedContentTypes": list(content_types),
                                   "SupportedResponseMIMETypes": list(content_types)},
        "ModelApprovalStatus": approval_status(approval),
        "ClientToken": client_token(group, version),
        "CustomerMetadataProperties": {"airsage:version": str(version), **{str(k): str(v) for k, v in (metadata or {}).items()}},
    }
    if reports:
        req["ModelMetrics"] = _nest(MODEL_METRICS, reports, "reports")
    if baselines:
        req["DriftCheckBaselines"] = _nest(DRIFT_CHECK_BASELINES, baselines, "baselines")
    if tags:
        req["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    return req


def approval_request(arn: str, status: str, description: str = "") -> dict[str, Any]:
    req = {"ModelPackageArn": arn, "ModelApprovalStatus": approval_status(status)}
    if description:
        req["ApprovalDescription"] = description[:1024]
    return req


class SageMakerRegistryMirror:
    """Copies Airsage registrations and approvals into one SageMaker model package group."""

    def __init__(self, client: Any, *, group: str, image_uri: str, environment: Mapping[str, str] | None = None,
                 tags: Mapping[str, str] | None = None, description: str = ""):
        self.client = client
        self.group = group
        self.image_uri = image_uri
        self.environment = environment
        self.tags = tags
        self.description = description

    @classmethod
    def from_usecase(cls, uc, *, client: Any = None) -> "SageMakerRegistryMirror":
        """The mirror for a use case: its group, the serving image and the serving environment."""
        from airsage.compute.packaging import INFERENCE_PROGRAM, MODEL_CODE_DIR
        from airsage.compute.sagemaker_images import xgboost_image_uri

        sm = uc.sagemaker
        if client is None:
            import boto3

            client = boto3.client("sagemaker", region_name=sm.region)
        env = {"SAGEMAKER_PROGRAM": INFERENCE_PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": f"/opt/ml/model/{MODEL_CODE_DIR}",
               "SAGEMAKER_REGION": sm.region}
        return cls(client, group=sm.model_package_group or group_name(uc.registered_model_name),
                   image_uri=sm.image_uri or xgboost_image_uri(sm.region, sm.framework_version), environment=env,
                   tags={**sm.tags, "airsage:usecase": uc.name}, description=uc.description)

    def _call(self, method: str, **kwargs) -> dict[str, Any]:
        from airsage.compute.sagemaker_requests import validate_request

        validate_request(method, kwargs)
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:  # noqa: BLE001
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
            if code is None:
                raise
            raise AirsageError(f"SageMaker {method} failed ({code}): {exc}",
                               fix="Check the IAM permissions for SageMaker Model Registry (README: Running on "
                                   "SageMaker) or turn sagemaker.mirror_model_registry off.") from exc

    def ensure_group(self) -> str:
        """Create the model package group if it does not exist; return its ARN."""
        try:
            return self.client.describe_model_package_group(ModelPackageGroupName=self.group)["ModelPackageGroupArn"]
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).lower()
            if not any(w in msg for w in ("does not exist", "not found", "could not find")):
                raise
        return self._call("create_model_package_group",
                          **group_request(self.group, self.description, self.tags))["ModelPackageGroupArn"]

    def register(self, *, version: str | int, model_data_url: str, approval: str = "PendingManualApproval",
                 description: str = "", reports: Mapping[str, Any] | None = None,
                 baselines: Mapping[str, Any] | None = None, metadata: Mapping[str, str] | None = None) -> str:
        """Mirror one version (idempotent through its ClientToken); return the ModelPackageArn."""
        self.ensure_group()
        req = model_package_request(group=self.group, version=version, image_uri=self.image_uri,
                                    model_data_url=model_data_url, approval=approval, description=description,
                                    reports=reports, baselines=baselines, metadata=metadata,
                                    environment=self.environment, tags=self.tags)
        return self._call("create_model_package", **req)["ModelPackageArn"]

    def sync_approval(self, arn: str, status: str, description: str = "") -> None:
        """Copy an approval decision (Approved / Rejected / PendingManualApproval) onto the package."""
        self._call("update_model_package", **approval_request(arn, status, description))
