"""Translate Airsage errors into Airflow's vocabulary: permanent ones fail without retries."""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from airflow.sdk.exceptions import AirflowFailException

from airsage.errors import AirsageError


@contextlib.contextmanager
def airsage_errors() -> Iterator[None]:
    """Around every task's Airsage call: S3 through the Airflow AWS connection, and Airsage errors
    translated (permanent ones fail without retries)."""
    from airsage_airflow.aws import use_connection_for_storage
    from airsage_airflow.mlflow_auth import use_mlflow_connection

    use_connection_for_storage()
    use_mlflow_connection()  # the production MLflow server needs a login (connection mlflow_default)
    try:
        yield
    except AirsageError as exc:
        if exc.permanent:
            raise AirflowFailException(str(exc)) from exc
        raise


def fail_fast(fn):
    """Decorator for task callables: permanent ``AirsageError`` -> ``AirflowFailException`` (no retry)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with airsage_errors():
            return fn(*args, **kwargs)

    return wrapper
