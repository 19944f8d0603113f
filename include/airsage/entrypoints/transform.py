"""Batch transform job: ``python -m airsage.entrypoints.transform`` under the local job contract.

* model: unpacked at ``<opt_ml>/model`` (``SM_MODEL_DIR`` wins), loaded with ``airsage.registry.flavors.load_model_dir`` (an Airsage bundle, or an MLflow model by flavor);
* input: the URI in ``AIRSAGE_INPUT_DATA`` (a file or a prefix, local or s3://), streamed, not copied;
* output: ``AIRSAGE_OUTPUT_URI`` (SageMaker's S3OutputPath), one ``.out`` per input file;
* settings: ``AIRSAGE_JOB_PARAMETERS`` (JSON): the ``TransformConfig`` fields, ``model_name``,
  ``model_version``, ``run_key`` (default: the job name), and optionally ``capture_uri``,
  ``partition_date``, ``record_id_col``, ``feature_columns``, ``fail_on_file_error`` (default true).
  Keys meant for SageMaker only (``capture``, ``max_concurrent_transforms``, ...) are ignored.
* shadow: ``shadow`` (list of ``{"model_version", "output_uri", "input", "model_tags"}``) and
  ``shadow_columns`` (facet column names): challengers scored on the same rows in the same pass
  (``airsage.transform.shadow``). Each challenger's model artifact is a job input (default name
  ``shadow_<model_version>``, overridable by ``input``), whose URI the contract gives as
  ``AIRSAGE_INPUT_<NAME>`` (the local backend sets one for every input); it is unpacked into a scratch
  directory (a ``model.tar.gz`` or a model directory) and loaded like the champion. A challenger that
  cannot be loaded is reported as failed in ``report.json`` (``shadow``); the champion's run goes on.

Writes ``<opt_ml>/output/data/report.json`` (the ``TransformReport``) in every case where the run got
that far, and exits non-zero through ``contract.job_main`` when the run failed.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from airsage.entrypoints import contract
from airsage.errors import ConfigError, DataValidationError

RUN_KEYS = {"model_name", "model_version", "run_key", "capture_uri", "partition_date", "record_id_col",
            "feature_columns", "fail_on_file_error", "model_tags", "shadow", "shadow_columns"}
IGNORED_KEYS = {"capture", "schedule", "timezone", "model_alias", "max_concurrent_transforms",
                "invocations_timeout_s", "invocations_max_retries"}


def split_parameters(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(TransformConfig fields, run settings); an unknown key is a ``ConfigError`` naming it."""
    from airsage.transform.settings import TransformConfig

    config_keys = set(TransformConfig.__dataclass_fields__)
    unknown = sorted(set(params) - config_keys - RUN_KEYS - IGNORED_KEYS)
    if unknown:
        raise ConfigError(f"unknown transform job parameter(s) {unknown}", key="AIRSAGE_JOB_PARAMETERS",
                          fix=f"Use TransformConfig fields {sorted(config_keys)} and {sorted(RUN_KEYS)}.")
    config = {k: v for k, v in params.items() if k in config_keys and v is not None}
    run = {k: v for k, v in params.items() if k in RUN_KEYS}
    return config, run


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"{name} is not set", key=name, fix="Run the job through a ComputeBackend (it sets the contract).")
    return value


def shadow_channel(spec: dict[str, Any]) -> str:
    """The job input holding a challenger's model artifact: ``input``, default ``shadow_<model_version>``."""
    return str(spec.get("input") or f"shadow_{spec['model_version']}")


def _shadow_specs(raw: Any) -> list[dict[str, Any]]:
    specs = list(raw or ())
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict) or not spec.get("model_version") or not spec.get("output_uri"):
            raise ConfigError(f"job parameter shadow[{i}] must be an object with model_version and output_uri, got {spec!r}",
                              key="shadow", fix='Pass shadow as [{"model_version": "2", "output_uri": "...", '
                                                '"input": "shadow_2", "model_tags": {...}}, ...].')
    return specs


def _load(model_dir: Path, tags: dict[str, str], name: str, version: str):
    """An Airsage bundle as it is; a model registered from outside Airsage by its MLflow flavor (with the
    version's threshold / category tags), its files checked against the digest recorded at registration."""
    from airsage.registry import flavors

    if tags.get(flavors.DIGEST_TAG) and (model_dir / "MLmodel").exists():
        found = flavors.dir_digest(model_dir)
        if found != tags[flavors.DIGEST_TAG]:
            raise DataValidationError(f"models:/{name}/{version}",
                                      [f"model files changed since registration (sha256 {found[:12]}… != "
                                       f"{tags[flavors.DIGEST_TAG][:12]}…)"],
                                      fix="Register the changed model as a new version and have it approved.")
    return flavors.load_model_dir(model_dir, tags=tags, uri=f"models:/{name}/{version}")


def _challenger(spec: dict[str, Any], model_name: str, scratch: Path):
    """A ``ShadowTarget``: the challenger loaded from its job input, or the reason it could not be."""
    from airsage import storage
    from airsage.transform.shadow import ShadowTarget, reason

    version, channel = str(spec["model_version"]), shadow_channel(spec)
    try:
        uri = os.environ.get(f"AIRSAGE_INPUT_{channel.upper()}")
        if not uri:
            raise ConfigError(f"the job has no input {channel!r} (AIRSAGE_INPUT_{channel.upper()} is not set)",
                              key="shadow", fix=f"Add the challenger's model artifact to the job's inputs as {channel!r}.")
        model_dir = storage.unpack_tar(uri, scratch / f"model-{len(list(scratch.iterdir()))}")
        model = _load(model_dir, dict(spec.get("model_tags") or {}), model_name, version)
        return ShadowTarget(model, version, str(spec["output_uri"]))
    except Exception as exc:  # noqa: BLE001 - a challenger that cannot be loaded fails alone
        logging.getLogger("airsage.transform").warning("shadow model version %s not loaded: %s", version, reason(exc))
        return ShadowTarget(None, version, str(spec["output_uri"]), error=f"not loaded: {reason(exc)}")


@contract.job_main
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from airsage import storage
    from airsage.transform.engine import TransformFailedError, run_batch_transform
    from airsage.transform.settings import TransformConfig

    params = json.loads(os.environ.get("AIRSAGE_JOB_PARAMETERS") or "{}")
    config_fields, run = split_parameters(params)
    config = TransformConfig.from_dict(config_fields)
    for key in ("model_name", "model_version"):
        if run.get(key) in (None, ""):
            raise ConfigError(f"job parameter {key} is missing", key=key, fix="Pass the registered model name and version.")
    shadow_specs = _shadow_specs(run.get("shadow"))
    tags = dict(run.get("model_tags") or {})
    model = _load(contract.model_dir(), tags, str(run["model_name"]), str(run["model_version"]))
    report_uri = str(contract.output_data_dir() / "report.json")
    fail = bool(run.get("fail_on_file_error", True))
    with tempfile.TemporaryDirectory(prefix="airsage-shadow-") as scratch:
        shadow = [_challenger(spec, str(run["model_name"]), Path(scratch)) for spec in shadow_specs]
        report = run_batch_transform(
            model, _env("AIRSAGE_INPUT_DATA"), _env("AIRSAGE_OUTPUT_URI"), config,
            model_name=str(run["model_name"]), model_version=str(run["model_version"]),
            run_key=str(run.get("run_key") or os.environ.get("AIRSAGE_JOB_NAME") or "transform"),
            capture_uri=run.get("capture_uri"), record_id_col=run.get("record_id_col"),
            feature_columns=run.get("feature_columns"), partition_date=run.get("partition_date"),
            fail_on_file_error=False, shadow=shadow, shadow_columns=list(run.get("shadow_columns") or ()))
    storage.write_json(report_uri, report.to_dict())
    if report.failed and fail:
        raise TransformFailedError(report)


if __name__ == "__main__":
    main()
