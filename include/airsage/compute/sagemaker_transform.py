"""Request builders for the ``transform`` kind: ``CreateModel`` (the framework image serving
``inference.py``) and ``CreateTransformJob`` from the transform settings in ``JobSpec.parameters``.

Pure: nothing here calls AWS (``sagemaker_requests`` assembles the builders and validates the requests).
"""
from __future__ import annotations

from typing import Any

from airsage.compute.base import JobSpec
from airsage.compute.packaging import INFERENCE_PROGRAM
from airsage.compute.sagemaker_common import (
    DIGEST_ENV,
    MODEL_CODE_SUBMIT_DIR,
    _kms,
    _require_s3,
    _require_settings,
    _tags,
    _vpc,
    contract_environment,
    image_uri,
    resources,
)
from airsage.config import JobCompute, SageMakerSpec
from airsage.errors import ConfigError

CONTENT_TYPES = ("text/csv", "application/jsonlines", "application/json", "application/x-parquet")
# airsage.transform.settings.INFERENCE_FIELDS (repeated: compute must not import a domain room; a test
# keeps them equal)
LOCAL_INFERENCE_FIELDS = ("inference_id", "model_name", "model_version", "predicted_label", "score")
JOINABLE = ("text/csv", "application/json", "application/jsonlines")
PARQUET = "application/x-parquet"
# What the serving container applies itself for Parquet (airsage.entrypoints.inference reads these)
CONTAINER_DATA_PROCESSING = {"input_filter": "AIRSAGE_INPUT_FILTER", "join_source": "AIRSAGE_JOIN_SOURCE",
                             "output_filter": "AIRSAGE_OUTPUT_FILTER"}
SAGEMAKER_DATA_PROCESSING_OFF = {"InputFilter": "$", "JoinSource": "None", "OutputFilter": "$"}


def model_request(spec: JobSpec, sm: SageMakerSpec, *, sourcedir_uri: str | None,
                  usecase: str | None = None) -> dict[str, Any]:
    """``CreateModel`` for a transform: the framework image serving ``inference.py``.

    The serving code comes from the S3 sourcedir; under network isolation the container cannot
    download it, so it must be inside ``model.tar.gz`` (``packaging.add_inference_code``). For
    Parquet the environment also carries ``input_filter`` / ``join_source`` / ``output_filter``
    (``CONTAINER_DATA_PROCESSING``): the container applies them, SageMaker cannot.
    """
    _require_settings(sm)
    model_uri = spec.inputs.get("model")
    if not model_uri:
        raise ConfigError("a transform JobSpec needs inputs['model'] (a model.tar.gz)", key="JobSpec.inputs",
                          fix="Pass the registered version's model.tar.gz URI as inputs['model'].")
    _require_s3(model_uri, "the model artifact", key="mlflow.artifact_root")
    submit = MODEL_CODE_SUBMIT_DIR if (sm.enable_network_isolation or not sourcedir_uri) else sourcedir_uri
    env = {"SAGEMAKER_PROGRAM": INFERENCE_PROGRAM, "SAGEMAKER_SUBMIT_DIRECTORY": submit,
           "SAGEMAKER_REGION": sm.region, "SAGEMAKER_CONTAINER_LOG_LEVEL": "20"}
    p = spec.parameters
    fields = p.get("inference_fields") or LOCAL_INFERENCE_FIELDS  # what the local engine returns per record
    env["AIRSAGE_INFERENCE_FIELDS"] = fields if isinstance(fields, str) else ",".join(fields)
    for key, var in (("model_name", "AIRSAGE_MODEL_NAME"), ("model_version", "AIRSAGE_MODEL_VERSION"),
                     ("record_id_col", "AIRSAGE_RECORD_ID_COL")):
        if p.get(key) is not None:
            env[var] = str(p[key])
    if str(p.get("content_type", "text/csv")) == PARQUET:
        defaults = {"input_filter": "$", "join_source": "None", "output_filter": "$"}
        for key, var in CONTAINER_DATA_PROCESSING.items():
            env[var] = str(p.get(key) or defaults[key])
    container = {"Image": image_uri(sm), "ModelDataUrl": model_uri, "Environment": env}
    req: dict[str, Any] = {"ModelName": spec.name, "PrimaryContainer": container, "ExecutionRoleArn": sm.role_arn,
                           "EnableNetworkIsolation": bool(sm.enable_network_isolation),
                           "Tags": _tags(spec, sm, usecase)}
    if vpc := _vpc(sm):
        req["VpcConfig"] = vpc
    return req


def transform_request(spec: JobSpec, sm: SageMakerSpec, compute: JobCompute,
                      usecase: str | None = None) -> dict[str, Any]:
    """``CreateTransformJob`` from the transform settings in ``spec.parameters``.

    Keys (``TransformSpec`` names): ``content_type``, ``split_type``, ``batch_strategy``,
    ``max_payload_mb``, ``input_filter``, ``join_source``, ``output_filter``, ``assemble_with``,
    ``capture``; optional ``accept``, ``capture_uri``, ``max_concurrent_transforms``,
    ``invocations_timeout_s``, ``invocations_max_retries``. SageMaker's own rules for these settings (CreateTransformJob API reference: the
    SplitType / BatchStrategy / AssembleWith combinations, MaxPayloadInMB 0..100, JSONPath filters of at
    most 63 characters) are checked here so a bad combination is a ``ConfigError`` before anything is created.

    ``application/x-parquet``: whole files. ``SplitType None`` (no BatchStrategy), ``AssembleWith
    None``, ``Accept application/x-parquet``, DataProcessing ``$`` / ``None`` / ``$`` (the container
    applies the filters and the join, see ``model_request``); ``split_type``, ``batch_strategy`` and
    ``assemble_with`` do not apply. Each file is one request, so every file must be at most
    ``max_payload_mb`` (1..100). Capture: ``GenerateInferenceId`` is off, since SageMaker documents
    it for CSV / JSON output only and the Parquet ``.out`` already carries ``inference_id``.
    """
    _require_settings(sm)
    p = spec.parameters
    key = "transform"
    data_uri = spec.inputs.get("data")
    if not data_uri:
        raise ConfigError("a transform JobSpec needs inputs['data']", key="JobSpec.inputs",
                          fix="Pass the S3 prefix of the records to score as inputs['data'].")
    _require_s3(data_uri, "the transform input")
    _require_s3(spec.output_uri, "the transform output")
    content_type = str(p.get("content_type", "text/csv"))
    split = str(p.get("split_type", "Line"))
    strategy = str(p.get("batch_strategy", "MultiRecord"))
    max_payload = int(p.get("max_payload_mb", 6))
    join = str(p.get("join_source", "None"))
    assemble = str(p.get("assemble_with", "Line" if split == "Line" else "None"))
    default_accept = content_type if content_type in JOINABLE else "text/csv"
    accept = str(p.get("accept") or default_accept)
    concurrent = p.get("max_concurrent_transforms")
    if content_type not in CONTENT_TYPES:
        raise ConfigError(f"unsupported content type {content_type!r}", key=f"{key}.content_type",
                          fix=f"Use one of {list(CONTENT_TYPES)}.")
    parquet = content_type == PARQUET
    if parquet:
        if p.get("accept") and str(p["accept"]) != PARQUET:
            raise ConfigError(f"Parquet input writes Parquet output; accept {p['accept']!r} is not supported",
                              key=f"{key}.accept", fix=f"Drop 'accept' or set it to {PARQUET} (as for the local engine).")
        if max_payload == 0:
            raise ConfigError("max_payload_mb 0 (unbounded) cannot hold whole Parquet files: SageMaker sends each "
                              "Parquet file as one request", key=f"{key}.max_payload_mb",
                              fix="Set max_payload_mb to at least the size of the largest input file in MB "
                                  "(at most 100; split larger partitions into smaller files).")
        # SageMaker cannot split Parquet and its DataProcessing handles CSV / JSON only: whole files,
        # the filters and the join are applied in the container (model_request's environment)
        split, assemble, accept = "None", "None", PARQUET
    if join == "Input" and not parquet:  # SageMaker joins CSV and JSON itself
        if accept != content_type:
            raise ConfigError(f"JoinSource=Input needs Accept ({accept}) == ContentType ({content_type})",
                              key=f"{key}.accept", fix="Drop 'accept' or set it to the content type.")
        if assemble != split:
            raise ConfigError(f"JoinSource=Input needs AssembleWith ({assemble}) == SplitType ({split})",
                              key=f"{key}.assemble_with", fix="Set assemble_with: Line and split_type: Line.")
    if not 0 <= max_payload <= 100:
        raise ConfigError(f"max_payload_mb {max_payload} is outside 0..100", key=f"{key}.max_payload_mb",
                          fix="Use at most 100 (SageMaker's limit), and at least the size of one record "
                              "(for Parquet: of the largest file, as each file is one request).")
    if concurrent and int(concurrent) * max_payload > 100:
        raise ConfigError(f"max_concurrent_transforms x max_payload_mb = {int(concurrent) * max_payload} > 100",
                          key=f"{key}.max_payload_mb", fix="Lower either value so that their product is <= 100.")
    r = resources(spec, compute)
    env = {k: v for k, v in contract_environment(spec).items() if k in (DIGEST_ENV, "AIRSAGE_JOB_NAME")}
    env.update({str(k): str(v) for k, v in spec.environment.items()})
    req: dict[str, Any] = {
        "TransformJobName": spec.name,
        "ModelName": spec.name,
        "MaxPayloadInMB": max_payload,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_uri}},
                           "ContentType": content_type, "SplitType": split, "CompressionType": "None"},
        "TransformOutput": {"S3OutputPath": spec.output_uri, "Accept": accept, "AssembleWith": assemble, **_kms(sm)},
        "TransformResources": {"InstanceType": r["instance_type"], "InstanceCount": r["instance_count"],
                               **_kms(sm, "VolumeKmsKeyId")},
        "DataProcessing": dict(SAGEMAKER_DATA_PROCESSING_OFF) if parquet else
        {"InputFilter": str(p.get("input_filter", "$")), "JoinSource": join, "OutputFilter": str(p.get("output_filter", "$"))},
        "Environment": env,
        "Tags": _tags(spec, sm, usecase),
    }
    if split != "None":  # BatchStrategy only applies to split records
        req["BatchStrategy"] = strategy
    if concurrent:
        req["MaxConcurrentTransforms"] = int(concurrent)
    client_cfg = {}
    if p.get("invocations_timeout_s"):
        client_cfg["InvocationsTimeoutInSeconds"] = int(p["invocations_timeout_s"])
    if p.get("invocations_max_retries") is not None:
        client_cfg["InvocationsMaxRetries"] = int(p["invocations_max_retries"])
    if client_cfg:
        req["ModelClientConfig"] = client_cfg
    if p.get("capture") or p.get("capture_uri"):
        # SageMaker's own capture format, kept apart from Airsage's capture tables under capture_uri
        dest = (f"{str(p['capture_uri']).rstrip('/')}/sagemaker/{spec.name}" if p.get("capture_uri")
                else f"{sm.s3_prefix.rstrip('/')}/capture/{spec.name}")
        req["DataCaptureConfig"] = {"DestinationS3Uri": _require_s3(dest, "the capture URI"),
                                    "GenerateInferenceId": not parquet, **_kms(sm)}
    return req
