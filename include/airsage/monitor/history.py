"""A per-use-case, per-model-version time series of monitoring runs.

One immutable JSON object per run: ``<root>/monitor/history/<model_version>/<run_key>.json``
(``root`` = the use case's data root). Writing the same ``run_key`` again replaces that object
(atomically), so a re-run never duplicates a point. ``read_history`` returns a DataFrame sorted by
``run_time`` (the time the run's data stands for, e.g. the data interval start, not wall clock).
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd

from airsage import storage
from airsage.errors import ConfigError

_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_key(value: str) -> str:
    """A path-safe form of a run key / model version (Airflow run ids hold ':' and '+')."""
    key = _SAFE.sub("_", str(value)).strip("._")
    if not key:
        raise ConfigError(f"{value!r} cannot be used as a history key", key="run_key",
                          fix="Use the Airflow run_id or a date-based key such as 2026-11-01.")
    return key


def history_root(root: str) -> str:
    return storage.join(root, "monitor", "history")


def run_uri(root: str, model_version: str | int, run_key: str) -> str:
    return storage.join(history_root(root), safe_key(str(model_version)), f"{safe_key(run_key)}.json")


def append_run(root: str, model_version: str | int, run_key: str, summary: dict[str, Any], *,
               run_time: dt.datetime | str | None = None, use_case: str | None = None) -> str:
    """Record one run's summary; returns its URI. Re-running the same ``run_key`` replaces it."""
    ts = pd.Timestamp(run_time if run_time is not None else dt.datetime.now(dt.timezone.utc))
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    record = {"run_key": str(run_key), "model_version": str(model_version), "run_time": ts.isoformat(),
              "use_case": use_case, **summary}
    return storage.write_json(run_uri(root, model_version, run_key), record)


def read_history(root: str, model_version: str | int | None = None) -> pd.DataFrame:
    """Every recorded run (of one model version, or all), sorted by ``run_time``."""
    prefix = history_root(root) if model_version is None else storage.join(history_root(root), safe_key(str(model_version)))
    if not storage.exists(prefix):
        return pd.DataFrame(columns=["run_key", "model_version", "run_time"])
    rows = [storage.read_json(u) for u in storage.list_files(prefix, suffixes=(".json",))]
    if not rows:
        return pd.DataFrame(columns=["run_key", "model_version", "run_time"])
    df = pd.DataFrame(rows)
    df["run_time"] = pd.to_datetime(df["run_time"], utc=True)
    return df.sort_values(["run_time", "run_key"], kind="stable").reset_index(drop=True)
