"""Captured scoring data, read by time window.

Layout (written by the batch-transform room): ``<capture_root>/dt=YYYY-MM-DD/<run_key>.parquet``
with ``inference_id`` (str), ``captured_at`` (UTC timestamp), the use case's feature columns,
``score`` (P(positive)), ``predicted_label`` (int), ``model_name``, ``model_version``.

Only the day partitions overlapping ``[start, end)`` are listed, and files are read one row group at
a time with the time filter applied in Arrow, so memory follows the rows kept, not the files read.
``iter_capture`` streams the kept rows as Arrow tables (feed it to ``monitor_data`` directly).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airsage import storage
from airsage.errors import DataValidationError

CAPTURED_AT = "captured_at"
INFERENCE_ID = "inference_id"
SCORE = "score"
PREDICTED_LABEL = "predicted_label"
MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
META_COLUMNS = (INFERENCE_ID, CAPTURED_AT, SCORE, PREDICTED_LABEL, MODEL_NAME, MODEL_VERSION)


def _ts(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def partition_days(start: Any, end: Any) -> list[dt.date]:
    """The ``dt=`` partitions that can hold rows with ``start <= captured_at < end``."""
    s, e = _ts(start), _ts(end)
    if e <= s:
        return []
    last = (e - pd.Timedelta(microseconds=1)).date()
    days, d = [], s.date()
    while d <= last:
        days.append(d)
        d += dt.timedelta(days=1)
    return days


def capture_files(capture_root: str, start: Any, end: Any) -> list[str]:
    files: list[str] = []
    for day in partition_days(start, end):
        prefix = storage.join(capture_root, f"dt={day:%Y-%m-%d}")
        if storage.exists(prefix):
            files += storage.list_files(prefix, suffixes=(".parquet",))
    return files


def iter_capture(capture_root: str, start: Any, end: Any, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """Arrow tables of the captured rows with ``start <= captured_at < end``, row group by row group."""
    s, e = _ts(start), _ts(end)
    read_cols = None if columns is None else list(dict.fromkeys([*columns, CAPTURED_AT]))
    for f in capture_files(capture_root, s, e):
        with storage.local_copy(f) as local:
            pf = pq.ParquetFile(local)
            names = pf.schema_arrow.names
            if CAPTURED_AT not in names:
                raise DataValidationError(f, [f"no {CAPTURED_AT!r} column"],
                                          fix="Capture files must carry captured_at (UTC timestamp).")
            cols = None if read_cols is None else [c for c in read_cols if c in names]
            for i in range(pf.num_row_groups):
                table = pf.read_row_group(i, columns=cols)
                ts = table.column(CAPTURED_AT)
                unit = ts.type.unit if pa.types.is_timestamp(ts.type) else "us"
                tz = getattr(ts.type, "tz", None)
                lo = pa.scalar(s.to_pydatetime() if tz else s.tz_convert(None).to_pydatetime(), pa.timestamp(unit, tz))
                hi = pa.scalar(e.to_pydatetime() if tz else e.tz_convert(None).to_pydatetime(), pa.timestamp(unit, tz))
                mask = pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi))
                table = table.filter(mask)
                if columns is not None and CAPTURED_AT not in columns:
                    table = table.drop_columns([CAPTURED_AT])
                if table.num_rows:
                    yield table


def load_capture(capture_root: str, start: Any, end: Any, columns: list[str] | None = None) -> pd.DataFrame:
    """Captured rows with ``start <= captured_at < end`` (naive times are UTC) as one DataFrame,
    sorted by ``captured_at`` when it is read. Empty (with no columns) when nothing was captured."""
    tables = list(iter_capture(capture_root, start, end, columns=columns))
    if not tables:
        return pd.DataFrame(columns=columns or [])
    df = pa.concat_tables(tables, promote_options="default").to_pandas()
    if CAPTURED_AT in df.columns:
        df = df.sort_values(CAPTURED_AT, kind="stable").reset_index(drop=True)
    return df
