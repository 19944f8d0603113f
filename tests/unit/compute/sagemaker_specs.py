"""Shared JobSpecs and settings for the SageMaker tests (imported by test modules, not collected)."""
from __future__ import annotations

from airsage.compute.base import JobSpec
from airsage.config import JobCompute, SageMakerSpec

ROLE = "arn:aws:iam::123456789012:role/airsage-sagemaker"
BUCKET = "airsage-test"
PREFIX = f"s3://{BUCKET}/airsage"
SOURCEDIR = f"{PREFIX}/code/0123456789abcdef/sourcedir.tar.gz"
HPS = {"airsage_config": '{"features": ["a", "b"], "label": "y"}'}


def settings(**kw) -> SageMakerSpec:
    return SageMakerSpec(**{"role_arn": ROLE, "s3_prefix": PREFIX, **kw})


def compute(**kw) -> JobCompute:
    return JobCompute(**{"backend": "sagemaker", **kw})


def train_spec(name: str = "credit-risk-train-r1", **kw) -> JobSpec:
    return JobSpec(**{"kind": "train", "name": name, "entrypoint": "airsage.entrypoints.train",
                      "inputs": {"train": f"s3://{BUCKET}/data/train/v1"}, "output_uri": f"s3://{BUCKET}/models",
                      "hyperparameters": HPS, **kw})


def tune_spec(name: str = "credit-risk-tune-r1", **kw) -> JobSpec:
    params = {"search_space": {"max_depth": [3, 8], "eta": [0.03, 0.3]}, "objective": "auc", "max_trials": 4,
              "max_parallel": 2}
    return JobSpec(**{"kind": "tune", "name": name, "entrypoint": "airsage.entrypoints.tune",
                      "inputs": {"train": f"s3://{BUCKET}/data/train/v1"}, "output_uri": f"s3://{BUCKET}/tuning",
                      "hyperparameters": HPS, "parameters": params, **kw})


TRANSFORM_PARAMS = {"content_type": "text/csv", "split_type": "Line", "batch_strategy": "MultiRecord",
                    "max_payload_mb": 6, "input_filter": "$[1:]", "join_source": "Input", "output_filter": "$",
                    "assemble_with": "Line", "capture": True}


def transform_spec(name: str = "credit-risk-transform-r1", **kw) -> JobSpec:
    return JobSpec(**{"kind": "transform", "name": name, "entrypoint": "airsage.entrypoints.transform",
                      "inputs": {"model": f"s3://{BUCKET}/models/m1/output/model.tar.gz",
                                 "data": f"s3://{BUCKET}/data/score/dt=2026-11-20"},
                      "output_uri": f"s3://{BUCKET}/predictions/dt=2026-11-20", "parameters": dict(TRANSFORM_PARAMS),
                      **kw})


def clarify_spec(name: str = "credit-risk-clarify-r1", engine: str | None = None, **kw) -> JobSpec:
    inputs = {"dataset": f"s3://{BUCKET}/eval/v1/", "analysis_config": f"s3://{BUCKET}/eval/v1/analysis_config.json"}
    params = {"engine": engine} if engine else {}
    return JobSpec(**{"kind": "clarify", "name": name, "entrypoint": "airsage.entrypoints.clarify", "inputs": inputs,
                      "output_uri": f"s3://{BUCKET}/clarify/r1", "parameters": params, **kw})


def monitor_spec(name: str = "credit-risk-monitor-r1", baseline: bool = True, **kw) -> JobSpec:
    inputs = {"dataset": f"s3://{BUCKET}/predictions/dt=2026-11-20/"}
    if baseline:
        inputs.update({"baseline_constraints": f"s3://{BUCKET}/baseline/constraints.json",
                       "baseline_statistics": f"s3://{BUCKET}/baseline/statistics.json"})
    return JobSpec(**{"kind": "monitor", "name": name, "entrypoint": "airsage.entrypoints.monitor", "inputs": inputs,
                      "output_uri": f"s3://{BUCKET}/monitor/r1",
                      "parameters": {"engine": "managed", "content_type": "text/csv"}, **kw})
