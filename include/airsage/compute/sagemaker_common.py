"""What every SageMaker request builder shares: the job-kind tables, the container paths, and the
helpers for names, tags, VPC / KMS settings, instance resources and the ``AIRSAGE_*`` environment.

Pure: nothing here calls AWS (``sagemaker_requests`` assembles the builders).
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from airsage.compute.base import JOB_KINDS, JobSpec, job_name
from airsage.compute.packaging import MODEL_CODE_DIR, SOURCEDIR_NAME
from airsage.compute.sagemaker_images import xgboost_image_uri
from airsage.config import JobCompute, SageMakerSpec
from airsage.errors import ConfigError

# ----------------------------------------------------------------------------- vocabulary
TRIGGER_JOB_TYPES = {"train": "training", "tune": "tuning", "transform": "transform",
                     "clarify": "processing", "monitor": "processing"}
CREATE_OPERATION = {"train": "CreateTrainingJob", "tune": "CreateHyperParameterTuningJob",
                    "transform": "CreateTransformJob", "clarify": "CreateProcessingJob",
                    "monitor": "CreateProcessingJob"}
if set(TRIGGER_JOB_TYPES) != set(JOB_KINDS) or set(CREATE_OPERATION) != set(JOB_KINDS):  # pragma: no cover
    raise ImportError(f"the SageMaker tables must name every job kind {JOB_KINDS}")
MAX_TUNING_NAME = 32  # HyperParameterTuningJobName is at most 32 characters
DIGEST_ENV = "AIRSAGE_SPEC_DIGEST"

OPT_ML = "/opt/ml"
PROCESSING_INPUT = "/opt/ml/processing/input"
PROCESSING_OUTPUT = "/opt/ml/processing/output"
CODE_CHANNEL = "code"
CODE_CHANNEL_SOURCEDIR = f"/opt/ml/input/data/{CODE_CHANNEL}/{SOURCEDIR_NAME}"  # SDK's path under network isolation
CODE_DIR = "/opt/ml/code"
MODEL_CODE_SUBMIT_DIR = f"/opt/ml/model/{MODEL_CODE_DIR}"
# ``sh -c CMD <module>``: unpack the sourcedir, install requirements if any, run the module ($0).
PROCESSING_RUNNER = (f"mkdir -p {CODE_DIR} && tar -xzf {PROCESSING_INPUT}/{CODE_CHANNEL}/{SOURCEDIR_NAME} -C {CODE_DIR}"
                     f" && cd {CODE_DIR} && {{ [ ! -f requirements.txt ] || python3 -m pip install -q -r requirements.txt; }}"
                     ' && exec python3 -m "$0"')

CONSOLE_ROUTES = {"train": "jobs", "tune": "hyper-tuning-jobs", "transform": "transform-jobs",
                  "clarify": "processing-jobs", "monitor": "processing-jobs"}


# ----------------------------------------------------------------------------- small helpers
def tuning_job_name(name: str) -> str:
    """The deterministic <= 32-character name of a tuning job (SageMaker's limit)."""
    return job_name(name, max_len=MAX_TUNING_NAME)


def physical_name(spec: JobSpec) -> str:
    """The name the job has in SageMaker (the spec's own, shortened for tuning jobs)."""
    return tuning_job_name(spec.name) if spec.kind == "tune" else spec.name


def console_url(region: str, kind: str, name: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
            f"#/{CONSOLE_ROUTES[kind]}/{name}")


def spec_digest(spec: JobSpec) -> str:
    """A short hash of the whole spec, stored on the job so a resubmit can tell "same job" from "name clash"."""
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _require_s3(uri: str, what: str, key: str = "data.root") -> str:
    if not str(uri).startswith("s3://"):
        raise ConfigError(f"{what} {uri!r} is not an s3:// URI; SageMaker jobs read and write S3 only", key=key,
                          fix="Point the use case's data.root (or Settings.data_root) at s3://bucket/prefix, "
                              "or run this job with compute.<job>.backend: local.")
    return str(uri)


def _require_settings(sm: SageMakerSpec) -> None:
    if not sm.role_arn:
        raise ConfigError("sagemaker.role_arn is not set", key="sagemaker.role_arn",
                          fix="Set sagemaker.role_arn to the SageMaker execution role (README: Running on SageMaker).")
    if not sm.s3_prefix:
        raise ConfigError("sagemaker.s3_prefix is not set", key="sagemaker.s3_prefix",
                          fix="Set sagemaker.s3_prefix to s3://bucket/prefix for code and job outputs.")


def resources(spec: JobSpec, compute: JobCompute) -> dict[str, Any]:
    """Instance settings: the spec's ``resources`` win over the use case's ``compute.<job>``."""
    r = spec.resources
    return {"instance_type": str(r.get("instance_type") or compute.instance_type),
            "instance_count": int(r.get("instance_count") or compute.instance_count),
            "volume_size_gb": int(r.get("volume_size_gb") or compute.volume_size_gb),
            "max_runtime_s": int(r.get("max_runtime_s") or compute.max_runtime_s)}


def image_uri(sm: SageMakerSpec) -> str:
    """The script-mode image: ``sagemaker.image_uri`` or the SageMaker XGBoost framework image."""
    return sm.image_uri or xgboost_image_uri(sm.region, sm.framework_version)


def _tags(spec: JobSpec, sm: SageMakerSpec, usecase: str | None) -> list[dict[str, str]]:
    tags = {**sm.tags, **{str(k): str(v) for k, v in spec.tags.items()}, "airsage:kind": spec.kind}
    if usecase:
        tags["airsage:usecase"] = usecase
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _vpc(sm: SageMakerSpec) -> dict[str, Any] | None:
    if sm.subnets and sm.security_group_ids:
        return {"SecurityGroupIds": list(sm.security_group_ids), "Subnets": list(sm.subnets)}
    return None


def _kms(sm: SageMakerSpec, key: str = "KmsKeyId") -> dict[str, str]:
    return {key: sm.kms_key_id} if sm.kms_key_id else {}


def contract_environment(spec: JobSpec) -> dict[str, str]:
    """The ``AIRSAGE_*`` variables the local backend sets, so an entrypoint sees the same on SageMaker."""
    env = {str(k): str(v) for k, v in spec.environment.items()}
    env.update({"AIRSAGE_JOB_NAME": spec.name, "AIRSAGE_OUTPUT_URI": spec.output_uri, DIGEST_ENV: spec_digest(spec)})
    if spec.parameters:
        env["AIRSAGE_JOB_PARAMETERS"] = json.dumps(dict(spec.parameters), sort_keys=True, default=str)
    for ch, uri in spec.inputs.items():
        env["AIRSAGE_INPUT_" + re.sub(r"[^A-Za-z0-9_]", "_", ch).upper()] = uri
    return env
