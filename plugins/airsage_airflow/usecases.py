"""Use cases for DAG factories, and the house defaults every Airsage DAG shares (light: YAML + pydantic)."""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pendulum

from airsage.config import UseCase, get_usecase, load_usecases  # noqa: F401 - re-exported for DAG files
from airsage.errors import AirsageError

log = logging.getLogger(__name__)


def usecases_or_none() -> list[UseCase]:
    """All use cases. A broken file raises, so the DAG file shows an import error naming file, key and fix."""
    return load_usecases()


def start_date(uc: UseCase) -> dt.datetime:
    return pendulum.datetime(uc.start_date.year, uc.start_date.month, uc.start_date.day, tz=uc.transform.timezone)


def default_args(uc: UseCase, **extra: Any) -> dict[str, Any]:
    args = {"owner": uc.owner, "retries": 2, "retry_delay": dt.timedelta(minutes=2),
            "retry_exponential_backoff": True, "on_failure_callback": None}
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def tags(uc: UseCase, *more: str) -> list[str]:
    return ["airsage", uc.name, *more, *uc.tags]


__all__ = ["UseCase", "AirsageError", "default_args", "get_usecase", "load_usecases", "start_date", "tags",
           "usecases_or_none"]
