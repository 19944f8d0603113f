"""Batch transform with SageMaker Batch Transform semantics (the CreateTransformJob API), run locally or on S3 data.

Public API (imported lazily, so ``import airsage.transform`` stays cheap)::

    from airsage.transform import TransformConfig, run_batch_transform
    report = run_batch_transform(bundle, "s3://b/in/dt=2026-11-20", "s3://b/predictions/dt=2026-11-20",
                                 TransformConfig.from_spec(uc.transform), model_name="credit_risk",
                                 model_version="3", run_key=run_id, record_id_col="application_id",
                                 capture_uri="s3://b/capture", partition_date="2026-11-20")

Modules: ``settings`` (TransformConfig), ``jsonpath`` (the filter subset), ``records`` (CSV/JSON
Lines semantics), ``encoding`` (Arrow -> model matrix), ``capture`` (monitoring capture), ``engine``
(with ``pipeline``, ``results``, ``rows``), ``shadow`` (challengers scored in the champion's shadow),
``sagemaker_capture`` (a SageMaker transform's data capture -> the same capture table and report).
"""
from __future__ import annotations

from airsage._lazy import lazy_exports

_EXPORTS = {
    "TransformConfig": "airsage.transform.settings",
    "run_batch_transform": "airsage.transform.engine",
    "TransformReport": "airsage.transform.engine",
    "TransformProgress": "airsage.transform.engine",
    "TransformFailedError": "airsage.transform.engine",
    "FileFailure": "airsage.transform.engine",
    "FileResult": "airsage.transform.engine",
    "ArrowEncoder": "airsage.transform.encoding",
    "capture_schema": "airsage.transform.capture",
    "capture_file_uri": "airsage.transform.capture",
    "score_parquet_file": "airsage.transform.engine",
    "ShadowTarget": "airsage.transform.shadow",
    "ShadowResult": "airsage.transform.results",
    "shadow_from_outputs": "airsage.transform.shadow",
    "import_sagemaker_capture": "airsage.transform.sagemaker_capture",
    "report_from_outputs": "airsage.transform.sagemaker_capture",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports("airsage.transform", _EXPORTS)
