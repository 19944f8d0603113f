"""Optional mirror of registered model versions into SageMaker Model Registry.

MLflow stays the record (aliases + version tags). When ``sagemaker.mirror_model_registry`` is on,
each registered version is also a *model package* in a group named after the use case's model, with
the serving image, the ``model.tar.gz``, the approval status, the evaluation reports (``ModelMetrics``)
and the baselines that later drift checks compare against (``DriftCheckBaselines``), the two report
groups SageMaker's ``CreateModelPackage`` API accepts (see the SageMaker API reference for
CreateModelPackage; DriftCheckBaselines cannot be changed after the package is created).
An approval decided in Airsage is copied over with ``sync_approval`` (``UpdateModelPackage``), the
call the amazon provider has no operator for.

Pure builders (``group_request``, ``model_package_request``, ``approval_request``,
``report_candidates``), a small class around an injected boto3 SageMaker client, and ``sync_version``,
the step ``ModelRegistry`` runs after each change (``register_training`` / ``approve`` / ``reject``),
keeping the package ARN and the last mirrored status in version tags (``TAG_PACKAGE_ARN``,
``TAG_PACKAGE_STATUS``).

Errors: a refused call (AccessDenied, ValidationException, ...) is a permanent ``AirsageError`` naming
the IAM action and the way out (``sagemaker.mirror_model_registry: false``); throttling, 5xx and
connection failures are a ``TransientError`` (worth a retry).
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from airsage import storage
from airsage.errors import AirsageError, ConfigError, TransientError

log = logging.getLogger(__name__)

# MLflow version tags written by ModelRegistry when the mirror is on
TAG_PACKAGE_ARN = "sagemaker_model_package_arn"
TAG_PACKAGE_STATUS = "sagemaker_model_package_status"  # the ModelApprovalStatus last copied to SageMaker
TAG_SYNCED_AT = "sagemaker_model_package_synced_at"

_client_factory = None


def set_client_factory(factory) -> None:
    """Where ``from_usecase`` gets its SageMaker client: ``factory(sm: SageMakerSpec) -> client``
    (``None``: ``boto3.client("sagemaker", region_name=sm.region)``, boto3's default chain). The Airflow
    glue can install one using ``sagemaker.aws_conn_id``, as it does for ``storage``."""
    global _client_factory
    _client_factory = factory

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
    """Deterministic idempotency token: a retried registration returns the same package.

    ``version`` may be any key unique within the group (the registry passes ``<mlflow model>/<version>``,
    so two MLflow models sharing one ``model_package_group`` never share a token)."""
    return hashlib.sha256(f"{group}/{version}".encode()).hexdigest()[:32]


_METADATA_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


def metadata_value(value: Any) -> str:
    """A ``CustomerMetadataProperties`` value: the allowed characters only, 1..256 long."""
    return (_METADATA_UNSAFE.sub("_", str(value)) or "-")[:256]


def report_candidates(*, clarify_root: str | None = None, baseline_root: str | None = None,
                      run_artifact_uri: str | None = None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Where a version's evidence may live: ``(reports, baselines)``, each ``{key: [uri, ...]}`` (first
    existing one wins; keys of ``MODEL_METRICS`` / ``DRIFT_CHECK_BASELINES``).

    * ``clarify_root``: the training run's Clarify jobs (``reports/clarify/<run_key>``: ``pre_training/``
      and ``post_training/analysis.json``, ``input/<stage>-config/analysis_config.json``).
    * ``baseline_root``: the version's monitoring baseline (``monitor/baselines/v<N>``: ``statistics.json``,
      ``constraints.json``, ``model_quality.json``, ``model_quality_constraints.json``).
    * ``run_artifact_uri``: the MLflow run's artifact root (``evaluation/model_quality*.json``, the
      merged ``clarify/analysis.json``).
    """
    j = storage.join
    pre = [j(clarify_root, "pre_training", "analysis.json")] if clarify_root else []
    post = [j(clarify_root, "post_training", "analysis.json")] if clarify_root else []
    post_cfg = [j(clarify_root, "input", "post-config", "analysis_config.json")] if clarify_root else []
    base = (lambda f: [j(baseline_root, f)] if baseline_root else [])  # noqa: E731
    run = (lambda *f: [j(run_artifact_uri, *f)] if run_artifact_uri else [])  # noqa: E731
    mq_stats = base("model_quality.json") + run("evaluation", "model_quality.json")
    mq_cons = base("model_quality_constraints.json") + run("evaluation", "model_quality_constraints.json")
    reports = {"model_quality_statistics": mq_stats, "model_quality_constraints": mq_cons,
               "data_quality_statistics": base("statistics.json"), "data_quality_constraints": base("constraints.json"),
               "bias_report": run("clarify", "analysis.json"), "bias_pre_training_report": pre,
               "bias_post_training_report": post, "explainability_report": post}
    # SageMaker Pipelines' ClarifyCheck: the baseline analysis.json is what later checks compare against
    baselines = {"model_quality_statistics": mq_stats, "model_quality_constraints": mq_cons,
                 "data_quality_statistics": base("statistics.json"), "data_quality_constraints": base("constraints.json"),
                 "bias_config_file": post_cfg, "bias_pre_training_constraints": pre,
                 "bias_post_training_constraints": post, "explainability_constraints": post,
                 "explainability_config_file": post_cfg}
    return ({k: v for k, v in reports.items() if v}, {k: v for k, v in baselines.items() if v})


def existing_s3(*candidates: Mapping[str, list[str]]) -> list[dict[str, str]]:
    """Per candidate map, ``{key: first candidate that exists on S3}``. Entries that are not ``s3://`` are
    skipped (SageMaker links S3 objects only) and named in one log line; missing objects are left out."""
    skipped: set[str] = set()
    found: dict[str, bool] = {}
    out = []
    for table in candidates:
        hits: dict[str, str] = {}
        for key, uris in table.items():
            for uri in uris:
                if not storage.is_s3(uri):
                    skipped.add(uri)
                    continue
                if uri not in found:
                    try:
                        found[uri] = storage.exists(uri)
                    except Exception as exc:  # noqa: BLE001 - evidence is optional: an unreadable report is left out
                        log.warning("SageMaker mirror: cannot check %s (%s): left out of the model package", uri, exc)
                        found[uri] = False
                if found[uri]:
                    hits[key] = uri
                    break
        out.append(hits)
    if skipped:
        log.info("SageMaker mirror: %d report location(s) skipped, not on S3 (a model package links s3:// "
                 "objects only): %s", len(skipped), ", ".join(sorted(skipped)))
    return out


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
                          fix="Mirror versions whose model.tar.gz is in S3 (train with compute.train.backend: "
                              "sagemaker and an s3:// data root), or set sagemaker.mirror_model_registry: false.")
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
        """The mirror for a use case: its group, the serving image and the serving environment
        (those of the SageMaker backend's transform model, ``sagemaker_requests.model_request``)."""
        from airsage.compute.packaging import INFERENCE_PROGRAM
        from airsage.compute.sagemaker_requests import MODEL_CODE_SUBMIT_DIR, image_uri

        sm = uc.sagemaker
        if client is None and _client_factory is not None:
            client = _client_factory(sm)
        if client is None:
            import boto3

            client = boto3.client("sagemaker", region_name=sm.region)
        env = {"SAGEMAKER_PROGRAM": INFERENCE_PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": MODEL_CODE_SUBMIT_DIR,
               "SAGEMAKER_REGION": sm.region}
        return cls(client, group=sm.model_package_group or group_name(uc.registered_model_name),
                   image_uri=image_uri(sm), environment=env,
                   tags={**sm.tags, "airsage:usecase": uc.name}, description=uc.description)

    def _call(self, method: str, **kwargs) -> dict[str, Any]:
        from airsage.compute.sagemaker_requests import validate_request

        validate_request(method, kwargs)
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _translate(method, exc) from exc

    def ensure_group(self) -> str:
        """Create the model package group if it does not exist; return its ARN."""
        try:
            return self.client.describe_model_package_group(ModelPackageGroupName=self.group)["ModelPackageGroupArn"]
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).lower()
            if not any(w in msg for w in ("does not exist", "not found", "could not find")):
                raise _translate("describe_model_package_group", exc) from exc
        return self._call("create_model_package_group",
                          **group_request(self.group, self.description, self.tags))["ModelPackageGroupArn"]

    def register(self, *, version: str | int, model_data_url: str, approval: str = "PendingManualApproval",
                 description: str = "", reports: Mapping[str, Any] | None = None,
                 baselines: Mapping[str, Any] | None = None, metadata: Mapping[str, str] | None = None,
                 token_key: str | None = None) -> str:
        """Mirror one version (idempotent through its ClientToken); return the ModelPackageArn.

        ``token_key`` (default: ``version``) keys the ClientToken within the group."""
        req = model_package_request(group=self.group, version=version, image_uri=self.image_uri,
                                    model_data_url=model_data_url, approval=approval, description=description,
                                    reports=reports, baselines=baselines, metadata=metadata,
                                    environment=self.environment, tags=self.tags)
        if token_key is not None:
            req["ClientToken"] = client_token(self.group, token_key)
        self.ensure_group()
        return self._call("create_model_package", **req)["ModelPackageArn"]

    def sync_approval(self, arn: str, status: str, description: str = "") -> None:
        """Copy an approval decision (Approved / Rejected / PendingManualApproval) onto the package."""
        self._call("update_model_package", **approval_request(arn, status, description))


_TRANSIENT = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
              "ServiceUnavailable", "InternalFailure", "InternalServerError", "RequestTimeout")
_IAM = {"describe_model_package_group": "DescribeModelPackageGroup", "create_model_package_group":
        "CreateModelPackageGroup", "create_model_package": "CreateModelPackage",
        "describe_model_package": "DescribeModelPackage", "update_model_package": "UpdateModelPackage"}


def _translate(method: str, exc: Exception) -> Exception:
    """A boto error as an Airsage error with a fix; anything else unchanged."""
    if isinstance(exc, AirsageError):
        return exc
    action = f"sagemaker:{_IAM.get(method, method)}"
    off = "or set sagemaker.mirror_model_registry: false in the use case (MLflow stays the record)"
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code") or "Unknown"
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
        if code in _TRANSIENT or status >= 500:
            return TransientError(f"SageMaker {method} failed ({code}): {exc}",
                                  fix="Retry the task (throttling or a SageMaker outage); the mirror is idempotent.")
        return AirsageError(f"SageMaker {method} failed ({code}): {exc}",
                            fix=f"Allow {action} to the Airflow AWS connection (README: Running on SageMaker, IAM), "
                                f"{off}; then clear the task: the mirror re-syncs without a second version.")
    try:
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - boto3 is installed wherever the mirror runs
        return exc
    if isinstance(exc, BotoCoreError):
        return TransientError(f"SageMaker {method} could not be called: {exc}",
                              fix=f"Check the AWS credentials and endpoint of the Airflow AWS connection, {off}; "
                                  "then retry the task.")
    return exc


# ---------------------------------------------------------------------- the sync step of the registry
def approval_description(v) -> str:
    """SageMaker's ApprovalDescription for the version's status: who decided, and why."""
    from airsage.registry.types import ApprovalStatus

    tags = v.tags
    if v.status == ApprovalStatus.APPROVED:
        return f"Approved by {tags.get('approved_by', 'unknown')}: {tags.get('approval_comment', '')}".strip()
    if v.status == ApprovalStatus.REJECTED:
        if tags.get("rejected_by"):
            return f"Rejected by {tags['rejected_by']}: {tags.get('rejection_comment', '')}".strip()
        return f"Rejected by the quality gates: {', '.join(v.failed_checks)}"
    return ""


def _version_reports(store, uc, v) -> tuple[dict[str, str], dict[str, str]]:
    """(ModelMetrics, DriftCheckBaselines) entries for ``v`` that exist on S3: the training run's Clarify
    outputs, the version's monitoring baseline and the MLflow run's evaluation files."""
    from airsage import layout
    from airsage.registry import types as t

    run_key = v.tags.get(t.TAG_RUN_KEY)
    run_root = store.client.get_run(v.run_id).info.artifact_uri if v.run_id else None
    reports, baselines = report_candidates(
        clarify_root=layout.clarify_run(uc, run_key) if run_key else None,
        baseline_root=layout.monitor_baseline(uc, v.version), run_artifact_uri=run_root)
    found_reports, found_baselines = existing_s3(reports, baselines)
    return found_reports, found_baselines


def sync_version(store, uc, v, mirror_factory=None):
    """Bring the version's SageMaker model package in line with MLflow (the caller holds the registry
    lock); return the version as MLflow has it afterwards.

    No package yet (tag ``sagemaker_model_package_arn``): create it with the version's status and the
    reports found on S3; the ARN tag is written right after, and ``CreateModelPackage``'s ClientToken
    covers a crash in between. Package there and ``sagemaker_model_package_status`` equal to the
    status: nothing to do (no call). Otherwise ``UpdateModelPackage`` (ApprovalDescription: who + why).
    """
    from airsage.registry import types as t
    from airsage.registry.store import now

    if uc is None:
        if v.tags.get(TAG_PACKAGE_ARN) and v.tags.get(TAG_PACKAGE_STATUS) != str(v.status):
            log.warning("%s is mirrored in SageMaker (%s) but no use case was given: its model package keeps "
                        "status %s", v.uri, v.tags[TAG_PACKAGE_ARN], v.tags.get(TAG_PACKAGE_STATUS))
        return v
    if not uc.sagemaker.mirror_model_registry:
        return v
    if uc.registered_model_name != v.name:
        raise ConfigError(f"use case {uc.name} registers {uc.registered_model_name}, not {v.name}",
                          key="model_name", fix="Pass the use case the model belongs to.")
    status = approval_status(str(v.status))
    arn = v.tags.get(TAG_PACKAGE_ARN)
    if arn and v.tags.get(TAG_PACKAGE_STATUS) == status:
        return v
    mirror = (mirror_factory or SageMakerRegistryMirror.from_usecase)(uc)
    why = approval_description(v)
    if not arn:
        reports, baselines = _version_reports(store, uc, v)
        failed = v.failed_checks
        meta = {"mlflow:model_name": v.name, "mlflow:version": v.version, "mlflow:run_id": v.run_id,
                "airsage:usecase": uc.name, "airsage:run_key": v.tags.get(t.TAG_RUN_KEY),
                "airsage:dataset_version": v.tags.get(t.TAG_DATASET_VERSION),
                "airsage:code_version": v.tags.get(t.TAG_CODE_VERSION),
                "airsage:model_sha256": v.tags.get(t.TAG_MODEL_SHA256),
                "airsage:failed_checks": " ".join(failed) if failed else None}
        desc = f"MLflow {v.uri} ({uc.name}, run_key {v.tags.get(t.TAG_RUN_KEY)})"
        if failed:
            desc += f"; quality gates failed: {', '.join(failed)}"
        arn = mirror.register(version=v.version, model_data_url=v.tags.get(t.TAG_MODEL_ARTIFACT) or "",
                              approval=status, description=desc[:1024], reports=reports, baselines=baselines,
                              metadata={k: metadata_value(x) for k, x in meta.items() if x is not None},
                              token_key=f"{v.name}/{v.version}")
        store.set_tags(v.name, v.version, {TAG_PACKAGE_ARN: arn})
        log.info("%s mirrored to SageMaker model package %s (%s; %d report(s), %d baseline(s))", v.uri, arn,
                 status, len(reports), len(baselines))
        if v.tags.get("approved_by") or v.tags.get("rejected_by"):  # a person decided before the mirror ran
            mirror.sync_approval(arn, status, why)
    else:
        mirror.sync_approval(arn, status, why)
        log.info("%s: SageMaker model package %s set to %s", v.uri, arn, status)
    store.set_tags(v.name, v.version, {TAG_PACKAGE_STATUS: status, TAG_SYNCED_AT: now()})
    return store.get_version(v.name, v.version)
