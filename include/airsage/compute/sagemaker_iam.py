"""Least-privilege IAM for running Airsage jobs on SageMaker, as data (and the README section).

Two identities are involved:

* the **caller**: whatever the Airflow AWS connection resolves to (workers and the triggerer). It
  creates, describes and stops jobs, uploads the code, writes ``_SUCCESS`` markers, and passes the
  execution role to SageMaker;
* the **execution role** (``sagemaker.role_arn``), which SageMaker assumes inside the job: it reads
  inputs and code, writes outputs, pulls images, writes logs and metrics.

``caller_policy`` / ``execution_role_policy`` build IAM policy documents from a ``SageMakerSpec``;
a unit test checks that every SageMaker API the backend calls is in the caller's list.
"""
from __future__ import annotations

import re
from typing import Any

from airsage.config import SageMakerSpec

CALLER_ACTIONS: dict[str, tuple[str, ...]] = {
    "train": ("sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"),
    "tune": ("sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob",
             "sagemaker:StopHyperParameterTuningJob"),
    "transform": ("sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:CreateTransformJob",
                  "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"),
    "clarify": ("sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"),
    "monitor": ("sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob"),
    "mirror": ("sagemaker:CreateModelPackageGroup", "sagemaker:DescribeModelPackageGroup",
               "sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"),
}
CALLER_COMMON = ("sagemaker:AddTags",)  # Create* with Tags needs it
EXECUTION_LOGS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
                  "cloudwatch:PutMetricData")
EXECUTION_ECR = ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                 "ecr:BatchCheckLayerAvailability")  # only needed for your own image (sagemaker.image_uri)
EXECUTION_VPC = ("ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                 "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                 "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups")
# Managed Clarify computing post-training bias or SHAP starts a shadow endpoint with the job's role.
EXECUTION_MANAGED_CLARIFY = ("sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                             "sagemaker:InvokeEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig",
                             "sagemaker:DescribeModel")
KMS_CALLER = ("kms:CreateGrant", "kms:DescribeKey", "kms:GenerateDataKey")
KMS_ROLE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key.rstrip("/")


def _s3_statements(sid: str, prefixes: list[str], actions: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for i, uri in enumerate(sorted(set(prefixes))):
        bucket, key = _s3_parts(uri)
        objects = f"arn:aws:s3:::{bucket}/{key + '/' if key else ''}*"
        out.append({"Sid": f"{sid}Objects{i}", "Effect": "Allow", "Action": list(actions), "Resource": objects})
        listing: dict[str, Any] = {"Sid": f"{sid}List{i}", "Effect": "Allow", "Action": ["s3:ListBucket"],
                                   "Resource": f"arn:aws:s3:::{bucket}"}
        if key:
            listing["Condition"] = {"StringLike": {"s3:prefix": [f"{key}/*", key]}}
        out.append(listing)
    return out


def _account(sm: SageMakerSpec) -> str:
    m = re.match(r"arn:aws[a-z\-]*:iam::(\d{12}):", sm.role_arn or "")
    return m.group(1) if m else "*"


def caller_policy(sm: SageMakerSpec, jobs: list[str], *, mirror: bool = False, output_prefixes: list[str] = (),
                  name_prefix: str = "") -> dict[str, Any]:
    """The policy for the Airflow AWS connection: the jobs' SageMaker calls, PassRole, code upload, markers.

    ``output_prefixes``: where processing/transform outputs go (the ``_SUCCESS`` markers);
    ``name_prefix``: restrict SageMaker resources to job/model names starting with it.
    """
    actions = sorted({a for j in jobs for a in CALLER_ACTIONS[j]} | set(CALLER_COMMON)
                     | (set(CALLER_ACTIONS["mirror"]) if mirror else set()))
    arn = f"arn:aws:sagemaker:{sm.region}:{_account(sm)}"
    kinds = ("training-job", "hyper-parameter-tuning-job", "transform-job", "processing-job", "model",
             "model-package-group", "model-package")
    statements: list[dict[str, Any]] = [
        {"Sid": "SageMakerJobs", "Effect": "Allow", "Action": actions,
         "Resource": [f"{arn}:{k}/{name_prefix}*" for k in kinds]},
        {"Sid": "PassExecutionRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": sm.role_arn or "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}},
    ]
    code = [f"{sm.s3_prefix.rstrip('/')}/code"] if sm.s3_prefix else []
    statements += _s3_statements("Code", code, ("s3:GetObject", "s3:PutObject"))
    statements += _s3_statements("Markers", list(output_prefixes), ("s3:GetObject", "s3:PutObject"))
    if sm.kms_key_id:
        statements.append({"Sid": "Kms", "Effect": "Allow", "Action": list(KMS_CALLER), "Resource": sm.kms_key_id})
    return {"Version": "2012-10-17", "Statement": statements}


def execution_role_policy(sm: SageMakerSpec, *, read_prefixes: list[str], write_prefixes: list[str],
                          managed_clarify: bool = False) -> dict[str, Any]:
    """The policy for ``sagemaker.role_arn`` (trust ``sagemaker.amazonaws.com``)."""
    reads = list(read_prefixes) + ([f"{sm.s3_prefix.rstrip('/')}/code"] if sm.s3_prefix else [])
    statements: list[dict[str, Any]] = []
    statements += _s3_statements("Read", reads, ("s3:GetObject",))
    statements += _s3_statements("Write", list(write_prefixes), ("s3:GetObject", "s3:PutObject",
                                                                 "s3:AbortMultipartUpload"))
    statements.append({"Sid": "LogsAndMetrics", "Effect": "Allow", "Action": list(EXECUTION_LOGS), "Resource": "*"})
    if sm.image_uri:
        statements.append({"Sid": "OwnImage", "Effect": "Allow", "Action": list(EXECUTION_ECR), "Resource": "*"})
    if sm.subnets:
        statements.append({"Sid": "Vpc", "Effect": "Allow", "Action": list(EXECUTION_VPC), "Resource": "*"})
    if sm.kms_key_id:
        statements.append({"Sid": "Kms", "Effect": "Allow", "Action": list(KMS_ROLE), "Resource": sm.kms_key_id})
    if managed_clarify:
        statements.append({"Sid": "ClarifyShadowEndpoint", "Effect": "Allow",
                           "Action": list(EXECUTION_MANAGED_CLARIFY), "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


README_SNIPPET = """\
## Running on SageMaker

Any job can leave the laptop with one line per job in the use case, plus a `sagemaker:` section:

```yaml
compute:
  train: {backend: sagemaker, instance_type: ml.m5.xlarge, max_runtime_s: 3600}
  transform: {backend: sagemaker, instance_type: ml.m5.xlarge, instance_count: 2}
sagemaker:
  role_arn: arn:aws:iam::123456789012:role/airsage-sagemaker   # the execution role
  s3_prefix: s3://my-bucket/airsage                             # code, captures
  region: eu-west-1
  # kms_key_id, subnets + security_group_ids, enable_network_isolation, image_uri,
  # framework_version (3.2-0), processing_engine (airsage | managed), requirements, tags,
  # mirror_model_registry, model_package_group
```

The use case's data root must be on S3 (`data.root: s3://...`): SageMaker reads and writes S3 only.
Nothing else changes: the DAGs, the JobSpecs and the entrypoints are the ones that run locally.

* **train**: a training job in *script mode* on the SageMaker XGBoost framework image
  (`sagemaker-xgboost:3.2-0`: Python 3.12 and XGBoost 3.2; older framework versions have a Python
  older than 3.11 and are refused); Airsage's code is uploaded once per version to
  `<s3_prefix>/code/<hash>/sourcedir.tar.gz`. The model lands at
  `<output>/<job>/output/model.tar.gz`, exactly where the local backend puts it.
* **tune**: a hyperparameter tuning job; each trial is the local tuner run on SageMaker's candidate
  (validation-split objective `validation:<objective>`), so the best trial's model is what the local
  tuner would have refit.
* **transform**: a model + batch transform job with the same transform settings; the model serves
  `airsage.entrypoints.inference`. Outputs are `<file>.out` per input file, as locally.
  SageMaker splits only CSV / JSON Lines: set `transform.content_type: text/csv` (header-less) or
  `application/jsonlines`, or `split_type: None` for whole Parquet files without `join_source: Input`.
* **clarify / monitor**: processing jobs. `processing_engine: airsage` (default) runs Airsage's own
  entrypoint in the framework image; `managed` runs AWS's Clarify / Model Monitor containers.
  **AWS has closed SageMaker Clarify, Model Monitor and Augmented AI (A2I) to new customers**, so the
  managed engine (and A2I human review) stays opt-in; Airsage's own implementations are the default.

A retried task never starts a second job: the backend describes the job first and reattaches to it.
A job that already *failed* is not re-run under the same name (SageMaker never reuses a name): the
task fails with SageMaker's FailureReason; start a new run to try again.

### IAM (least privilege)

The Airflow AWS connection (the caller) needs, per job kind:

| job | SageMaker actions |
|---|---|
| train | CreateTrainingJob, DescribeTrainingJob, StopTrainingJob |
| tune | CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob, StopHyperParameterTuningJob |
| transform | CreateModel, DescribeModel, CreateTransformJob, DescribeTransformJob, StopTransformJob |
| clarify, monitor | CreateProcessingJob, DescribeProcessingJob, StopProcessingJob |
| registry mirror | CreateModelPackageGroup, DescribeModelPackageGroup, CreateModelPackage, DescribeModelPackage, UpdateModelPackage |

plus `sagemaker:AddTags` (jobs are tagged), `iam:PassRole` on the execution role (condition
`iam:PassedToService = sagemaker.amazonaws.com`), `s3:GetObject`/`s3:PutObject` on `<s3_prefix>/code/*`
and on the output prefixes (`_SUCCESS` markers), `s3:ListBucket` on those prefixes (so a missing object
is a 404, not a 403), and with `kms_key_id`: `kms:CreateGrant`, `kms:DescribeKey`, `kms:GenerateDataKey`.

The execution role (trusting `sagemaker.amazonaws.com`) needs `s3:GetObject` on the inputs and the code,
`s3:PutObject` on the outputs, `s3:ListBucket`, CloudWatch Logs (`logs:CreateLogGroup`,
`logs:CreateLogStream`, `logs:PutLogEvents`, `logs:DescribeLogStreams`) and `cloudwatch:PutMetricData`;
ECR pull actions only for your own `image_uri`; the EC2 network-interface actions with `subnets`;
KMS use of `kms_key_id`; and, for managed Clarify with post-training bias or SHAP, the endpoint
actions (`CreateEndpointConfig`, `CreateEndpoint`, `DescribeEndpoint`, `InvokeEndpoint`,
`DeleteEndpoint`, `DeleteEndpointConfig`). `airsage.compute.sagemaker_iam.caller_policy(...)` and
`execution_role_policy(...)` print these as policy documents.

### What is tested without an AWS account, and what is not

Tested: every request against botocore's SageMaker service model; exact requests with botocore's
Stubber; submit / reattach / status / S3 layout against a moto server; the container contract (the
entrypoints under a bare `/opt/ml` layout, the generated `airsage_train.py`, the serving functions).
Not tested (needs an account): the real framework image (its pandas / pyarrow / scikit-learn
versions; add pins with `sagemaker.requirements` or build `image_uri` FROM it), IAM policies,
KMS/VPC/network isolation, quotas, the managed Clarify/Model Monitor containers reading Airsage's
configs, CloudWatch metric extraction from the logs, and real job timings.
"""
