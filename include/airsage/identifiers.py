"""Strict patterns for every user-given value that becomes part of a path, a job name or a query
(stdlib only, so the DAG forms, the tasks and the CLI share one definition).

A value that does not match is refused with a ``ConfigError`` naming the field and the fix, before it
reaches a path: ``../x`` can never become a dataset version, a partition or a model version.
"""
from __future__ import annotations

import datetime as dt
import re

from airsage.errors import ConfigError

#: JSON-Schema-compatible patterns (also used verbatim in the Airflow form Params).
USECASE = r"^[a-z][a-z0-9_]{1,40}$"
PARTITION = r"^\d{4}-\d{2}-\d{2}$"
DATASET_VERSION = r"^ds-[0-9a-f]{12}$"
DATASET_REF = r"^(latest|ds-[0-9a-f]{12})$"
MODEL_VERSION = r"^[1-9][0-9]{0,8}$"
ALIAS = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
RUN_KEY = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
#: ids that end up in a file name (inference ids, record ids, labeling job names)
FILE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

_EXAMPLES = {USECASE: "credit_risk", PARTITION: "2026-11-21", DATASET_VERSION: "ds-0123456789ab",
             DATASET_REF: "latest or ds-0123456789ab", MODEL_VERSION: "3", ALIAS: "champion",
             RUN_KEY: "manual-2026-11-21", FILE_ID: "app-000123"}


def check(value: object, pattern: str, *, field: str) -> str:
    """``value`` as a string if it matches ``pattern``; else a ConfigError naming ``field`` and an example."""
    text = "" if value is None else str(value)
    if not re.fullmatch(pattern, text) or ".." in text:
        raise ConfigError(f"{field} {text!r} is not valid (expected {pattern})", key=field,
                          fix=f"Use a value like {_EXAMPLES.get(pattern, pattern)!r}.")
    return text


def partition(value: object, *, field: str = "partition") -> dt.date:
    """A ``YYYY-MM-DD`` string (or a date) as a real calendar date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = check(value, PARTITION, field=field)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{field} {text!r} is not a calendar date", key=field,
                          fix="Use the YYYY-MM-DD form of a real date, e.g. 2026-11-21.") from None


def model_version(value: object, *, field: str = "model_version") -> str:
    return check(value, MODEL_VERSION, field=field)


def dataset_ref(value: object, *, field: str = "dataset_version") -> str:
    return check(value, DATASET_REF, field=field)


def file_id(value: object, *, field: str = "id") -> str:
    """An id that becomes (part of) a file name: letters, digits, ``.``, ``_``, ``-``; never ``..``."""
    return check(value, FILE_ID, field=field)
