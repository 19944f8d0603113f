"""The fields of the DAGs' trigger forms, and their re-validation when a task starts (light: stdlib + Airflow SDK).

Airflow 3's trigger form treats a field as required when its schema ``type`` is set and does not include
``"null"`` (``isParamRequired`` in the UI): an optional field is therefore ``type: ["null", "string"]`` with
default ``None``, and the form sends ``null`` for an emptied field. The server validates the whole ``conf``
with JSON Schema when the run is created (``POST /api/v2/dags/{id}/dagRuns`` answers 400, the form shows the
message and no run starts): ``pattern`` and ``minLength`` apply to strings only, so ``null`` passes and
``"not-a-date"`` is refused. The patterns are the ones of :mod:`airsage.identifiers`, shared with the CLI.

A task re-validates its run's params with the same patterns (:func:`validated`): a run created another way
(``airflow dags trigger -c``, a ``TriggerDagRunOperator``, an old serialized form) or a value the pattern
cannot judge (``2026-02-30``) fails permanently, naming the field and the fix.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from airsage import identifiers as ids
from airsage.errors import ConfigError

#: minimum length of a decision comment (approval, rejection, promotion, rollback, override)
MIN_COMMENT = 3


def _optional(pattern: str, *, title: str, description: str, **schema: Any) -> Param:
    return Param(None, type=["null", "string"], pattern=pattern, title=title, description=description, **schema)


def partition(description: str = "Empty = the run's data interval.") -> Param:
    return _optional(ids.PARTITION, title="Partition (YYYY-MM-DD)", description=description)


def dataset_version(description: str = "latest or ds- plus 12 hex digits (e.g. ds-1a2b3c4d5e6f); "
                                       "empty = the latest published version.") -> Param:
    return _optional(ids.DATASET_REF, title="Dataset version", description=description)


def model_version(description: str, title: str = "Model version") -> Param:
    return _optional(ids.MODEL_VERSION, title=title, description=f"A positive integer. {description}")


def model_alias(default: str, description: str = "An MLflow alias, e.g. champion.") -> Param:
    return Param(default, type="string", pattern=ids.ALIAS, title="Model alias", description=description)


def uri(title: str, description: str) -> Param:
    """An optional local path or ``s3://`` URI: empty = the default; given = not blank."""
    return _optional(r"\S", title=title, description=description, minLength=1)


def comment(title: str = "Comment", description: str = "Why (recorded in the audit log and the model card).",
            *, required: bool = True) -> Param:
    """A decision comment of at least ``MIN_COMMENT`` characters.

    ``required``: for a human-in-the-loop request, shown as required by ``hitl.DecisionOperator``
    (``required_fields``): the form keeps its buttons disabled while the field is empty. The Param itself stays
    nullable because Airflow validates a task's params with their defaults when the task starts, before anyone
    answered. Not required: null, "" (what older REST clients send) or at least ``MIN_COMMENT`` characters.
    """
    if required:
        return Param(None, type=["null", "string"], minLength=MIN_COMMENT, title=title, description=description)
    return Param(None, type=["null", "string"], anyOf=[{"maxLength": 0}, {"minLength": MIN_COMMENT}], title=title,
                 description=description)


# ---------------------------------------------------------------------------------------- re-validation
_SEMANTIC = {ids.PARTITION: ids.partition}  # what a pattern cannot judge (a real calendar date)


def validated(params: Mapping[str, Any], names: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
    """The run's form values, re-checked against the form's own schema; blank optional values become None.

    ``params`` is the task's ``params`` (a ``ParamsDict``: each field's schema is read from it). Raises
    ``AirflowFailException`` (no retries) naming the field, the value and the fix.
    """
    out: dict[str, Any] = {}
    for name in names or list(params):
        value, schema = _raw(params, name)
        out[name] = _check(name, value, schema)
    return out


def _raw(params: Mapping[str, Any], name: str) -> tuple[Any, dict[str, Any]]:
    """The value as given (a ``ParamsDict`` lookup would resolve an invalid value to None) and its schema."""
    get_param = getattr(params, "get_param", None)
    if get_param is not None:
        try:
            param = get_param(name)
        except KeyError:
            pass
        else:
            value = param.value
            return (None if type(value).__name__ == "ArgNotSet" else value), dict(param.schema or {})
    return params.get(name), {}


def _check(name: str, value: Any, schema: dict[str, Any]) -> Any:
    types = schema.get("type")
    nullable = isinstance(types, list) and "null" in types
    if value is None or (isinstance(value, str) and not value.strip() and types):
        if nullable or not types:
            return None
        raise _fail(name, "is empty", "Fill it in: this field is required.")
    if not isinstance(value, str) or not ("string" in (types if isinstance(types, list) else [types])):
        return value
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        raise _fail(name, f"{value!r} does not match {pattern}",
                    _example(pattern) + (" Or leave it empty for the default." if nullable else ""))
    if len(value) < int(schema.get("minLength") or 0):
        raise _fail(name, f"needs at least {schema['minLength']} characters", "Write a longer value.")
    if pattern in _SEMANTIC:
        try:
            _SEMANTIC[pattern](value, field=name)
        except ConfigError as exc:
            raise _fail(name, f"{value!r} is not valid", exc.fix or "") from None
    return value


def _example(pattern: str) -> str:
    try:
        ids.check("", pattern, field="x")
    except ConfigError as exc:
        return exc.fix or f"Use a value matching {pattern}."
    return f"Use a value matching {pattern}."


def _fail(name: str, problem: str, fix: str) -> AirflowFailException:
    return AirflowFailException(f"Form field '{name}' {problem}.\nFix: {fix} (Trigger the DAG again with the "
                                f"corrected form.)")


__all__ = ["MIN_COMMENT", "comment", "dataset_version", "model_alias", "model_version", "partition", "uri",
           "validated"]
