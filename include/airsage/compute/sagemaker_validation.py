"""Validation of SageMaker requests against botocore's own SageMaker service model: required members
and types via botocore's ``ParamValidator``; enums, maximum lengths and patterns by walking the same shapes.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from airsage.errors import ConfigError

class InvalidRequestError(ConfigError):
    """A SageMaker request does not match botocore's service model."""


@functools.lru_cache(maxsize=1)
def _service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@functools.lru_cache(maxsize=512)
def _pattern(pattern: str):
    try:
        import regex as re_engine  # understands the Java-style \p{L} classes some shapes use
    except ImportError:  # pragma: no cover - regex is optional
        import re as re_engine
    try:
        return re_engine.compile(pattern)
    except Exception:  # noqa: BLE001 - an untranslatable pattern is skipped, not guessed
        return None


def _operation_name(operation: str) -> str:
    model = _service_model()
    if operation in model.operation_names:
        return operation
    from botocore import xform_name

    by_snake = {xform_name(op): op for op in model.operation_names}
    if operation in by_snake:
        return by_snake[operation]
    raise ValueError(f"unknown SageMaker operation {operation!r}")


def _constraint_errors(value: Any, shape, path: str) -> list[str]:
    """Enum, maximum-length/-value and pattern checks, which botocore's ParamValidator leaves out."""
    errors: list[str] = []
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                errors += _constraint_errors(value[name], member, f"{path}.{name}")
    elif kind == "list" and isinstance(value, (list, tuple)):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            errors += _constraint_errors(item, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} entries, at most {meta['max']} allowed")
        for k, v in value.items():
            errors += _constraint_errors(k, shape.key, f"{path} key {k!r}")
            errors += _constraint_errors(v, shape.value, f"{path}[{k!r}]")
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
        compiled = _pattern(meta["pattern"]) if meta.get("pattern") else None
        if compiled is not None and compiled.fullmatch(value) is None:
            errors.append(f"{path}: {value!r} does not match the pattern {meta['pattern']!r}")
    elif kind in ("integer", "long") and isinstance(value, int) and "max" in meta and value > meta["max"]:
        errors.append(f"{path}: {value} is above the maximum {meta['max']}")
    return errors


def validate_request(operation: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check a request against botocore's SageMaker model; return it unchanged or raise ``InvalidRequestError``.

    ``operation`` is the API name (``CreateTrainingJob``) or the boto3 method (``create_training_job``).
    """
    from botocore.validate import ParamValidator

    op = _operation_name(operation)
    shape = _service_model().operation_model(op).input_shape
    problems: list[str] = []
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems.append(report.generate_report())
    problems += _constraint_errors(params, shape, op)
    if problems:
        raise InvalidRequestError(f"invalid {op} request:\n  " + "\n  ".join(problems), key=op,
                                  fix="Correct the setting that produced the value named above (sagemaker.* or "
                                      "compute.<job>.* in the use case, or the JobSpec).")
    return params
