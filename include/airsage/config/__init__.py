"""Typed, frozen settings and use-case specs.

* ``Settings``: where Airsage keeps its state (home, data root, MLflow). Defaults are the embedded
  laptop setup; every key can be overridden by an environment variable ``AIRSAGE__<KEY>`` (nested
  keys with ``__``: ``AIRSAGE__MLFLOW__TRACKING_URI``). ``MLFLOW_TRACKING_URI`` is honoured too.
* ``UseCase``: one YAML file in ``include/usecases/``. Unknown keys are errors (``extra="forbid"``),
  and every error names the file, the key and the fix.

Only stdlib, pydantic and PyYAML are imported here: DAG files import this module at parse time.

The modules: ``base`` (``Frozen``, ``REPO_ROOT``, the ConfigError of a validation error), ``settings``,
``build_specs`` (schema, data, generator, labeling, training, gates), ``operate_specs`` (transform, shadow,
review, governance, clarify, monitor, compute, sagemaker, model card), ``safe_yaml`` (the YAML loader) and
``usecase`` (``UseCase`` and its loading). Import from ``airsage.config``: every name is re-exported here.
"""
from __future__ import annotations

from airsage.config.base import REPO_ROOT, Frozen, _config_error
from airsage.config.build_specs import (Action, DataSpec, FacetSpec, FeatureSpec, GatesSpec, GeneratorSpec,
                                        LabelingSpec, SchemaSpec, TrainingSpec, TuningSpec)
from airsage.config.operate_specs import (ACCESS_ENTRY, Backend, ClarifySpec, ComputeSpec, GovernanceSpec,
                                          InferenceField, JobCompute, ModelCardSpec, MonitorSpec, NotifierName,
                                          ReviewReason, ReviewRule, ReviewSpec, SageMakerSpec, ShadowGateSpec,
                                          ShadowSpec, TransformContentType, TransformSpec, TransformTriggerSpec,
                                          WaitForDataSpec)
from airsage.config.safe_yaml import (MAX_YAML_BYTES, MAX_YAML_DEPTH, _node_line, _node_path, _yaml_loader,
                                      load_yaml_text)
from airsage.config.settings import AwsSettings, MlflowSettings, Settings, _env_overrides, load_settings
from airsage.config.usecase import (UseCase, _load_dir, get_usecase, load_usecase_file, load_usecases,
                                    parse_usecase)

__all__ = [
    "ACCESS_ENTRY", "MAX_YAML_BYTES", "MAX_YAML_DEPTH", "REPO_ROOT", "Action", "AwsSettings", "Backend",
    "ClarifySpec", "ComputeSpec", "DataSpec", "FacetSpec", "FeatureSpec", "Frozen", "GatesSpec", "GeneratorSpec",
    "GovernanceSpec", "InferenceField", "JobCompute", "LabelingSpec", "MlflowSettings", "ModelCardSpec",
    "MonitorSpec", "NotifierName", "ReviewReason", "ReviewRule", "ReviewSpec", "SageMakerSpec", "SchemaSpec",
    "Settings", "ShadowGateSpec", "ShadowSpec", "TrainingSpec", "TransformContentType", "TransformSpec",
    "TransformTriggerSpec", "TuningSpec", "UseCase", "WaitForDataSpec", "get_usecase", "load_settings",
    "load_usecase_file", "load_usecases", "load_yaml_text", "parse_usecase",
]
