"""Data capture for monitoring: what the model saw and said, one Parquet file per run.

Layout (read by the monitor room): ``<capture_uri>/dt=YYYY-MM-DD/<run_key>.parquet`` with columns

    inference_id (string), captured_at (timestamp[us, UTC]), <model features as given in the input:
    numeric -> float64, categorical -> string>, score (float64), predicted_label (int64),
    model_name (string), model_version (string)

Only records of files whose ``.out`` was published are captured: each input file writes its own part,
kept on success and dropped on failure; the parts are joined (row group by row group, bounded memory)
and published atomically under the run's name, so a rerun replaces the file.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airsage import storage

TIMESTAMP = pa.timestamp("us", tz="UTC")
ID_COLUMNS = ("inference_id",)


def capture_file_uri(capture_uri: str, partition_date: dt.date, run_key: str) -> str:
    return storage.join(capture_uri, f"dt={partition_date:%Y-%m-%d}", f"{safe_name(run_key)}.parquet")


def safe_name(run_key: str) -> str:
    """A run key usable as a file name (Airflow run ids contain ':' and '+')."""
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in run_key)


def capture_schema(feature_names: list[str], categorical: dict[str, list[str]]) -> pa.Schema:
    fields = [pa.field("inference_id", pa.string()), pa.field("captured_at", TIMESTAMP)]
    fields += [pa.field(f, pa.string() if f in categorical else pa.float64()) for f in feature_names]
    fields += [pa.field("score", pa.float64()), pa.field("predicted_label", pa.int64()),
               pa.field("model_name", pa.string()), pa.field("model_version", pa.string())]
    return pa.schema(fields)


def constant_strings(value: str, n: int) -> pa.DictionaryArray:
    """``n`` copies of one string without materialising them (written dictionary-encoded)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string()))


def capture_table(inference_ids: pa.Array, captured_at: dt.datetime, features: dict[str, pa.Array | pa.ChunkedArray],
                  scores: np.ndarray, labels: np.ndarray, model_name: str, model_version: str,
                  feature_names: list[str], categorical: dict[str, list[str]]) -> pa.Table:
    """One batch of capture rows. Categorical columns may stay dictionary-encoded (read back as string)."""
    n = len(scores)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {
        "inference_id": inference_ids,
        "captured_at": pa.repeat(pa.scalar(captured_at, TIMESTAMP), n),
    }
    for f in feature_names:
        col = features[f]
        if f in categorical:
            if not (pa.types.is_dictionary(col.type) or pa.types.is_string(col.type)):
                col = col.cast(pa.string())
        elif col.type != pa.float64():
            col = col.cast(pa.float64())
        cols[f] = col
    cols["score"] = pa.array(np.asarray(scores, np.float64))
    cols["predicted_label"] = pa.array(np.asarray(labels, np.int64))
    cols["model_name"] = constant_strings(model_name, n)
    cols["model_version"] = constant_strings(model_version, n)
    return pa.table(cols)


def write_options(schema: pa.Schema, plain: tuple[str, ...] = ()) -> dict:
    """Parquet options: dictionary pages only for text columns that repeat (never floats, never ids).

    ``store_schema=False`` keeps no Arrow schema in the file, so dictionary-encoded text is read back
    as plain ``string`` and every reader sees the same types whatever path wrote the file."""
    dict_cols = [f.name for f in schema if f.name not in plain
                 and (pa.types.is_dictionary(f.type) or pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    return {"use_dictionary": dict_cols, "compression": "snappy", "store_schema": False}


class CaptureWriter:
    """Per-file capture parts in a private scratch dir; ``publish`` joins the kept parts atomically.

    The scratch dir is ``storage.private_workdir("capture", target_uri)``: removed by ``close``, and
    if the run is killed, by the next run writing the same capture file, whatever its age."""

    def __init__(self, target_uri: str, feature_names: list[str], categorical: dict[str, list[str]]):
        self.target_uri = target_uri
        self.feature_names = list(feature_names)
        self.categorical = dict(categorical)
        self.schema = capture_schema(self.feature_names, self.categorical)
        self._scratch = contextlib.ExitStack()
        self._dir = self._scratch.enter_context(storage.private_workdir("capture", target_uri))
        self._parts: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._current: Path | None = None
        self.rows = 0
        self._pending_rows = 0

    # ------------------------------------------------------------------ per file
    def begin_file(self) -> None:
        self._current = self._dir / f"part-{len(self._parts):05d}.parquet"
        self._writer = None
        self._pending_rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(str(self._current), table.schema, **write_options(table.schema, ID_COLUMNS))
        self._writer.write_table(table)
        self._pending_rows += table.num_rows

    def end_file(self, ok: bool) -> None:
        if self._writer is not None:
            self._writer.close()
        if ok and self._writer is not None:
            self._parts.append(self._current)
            self.rows += self._pending_rows
        elif self._current is not None and self._current.exists():
            self._current.unlink()
        self._writer, self._current, self._pending_rows = None, None, 0

    # ------------------------------------------------------------------ the run
    def publish(self) -> str:
        """Publish the kept parts as one file (an empty file with the schema when nothing was kept)."""
        try:
            with storage.atomic_path(self.target_uri) as tmp:
                if len(self._parts) == 1:
                    shutil.move(str(self._parts[0]), tmp)
                else:
                    self._merge(tmp)
        finally:
            self.close()
        return self.target_uri

    def _merge(self, dest: Path) -> None:
        with pq.ParquetWriter(str(dest), self.schema, **write_options(self.schema, ID_COLUMNS)) as writer:
            for part in self._parts:
                pf = pq.ParquetFile(part)
                for rg in range(pf.metadata.num_row_groups):
                    writer.write_table(pf.read_row_group(rg).select(self.schema.names).cast(self.schema))
            if not self._parts:
                writer.write_table(self.schema.empty_table())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._scratch.close()


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def parse_date(value: dt.date | dt.datetime | str | None) -> dt.date:
    """The capture partition: a date, a datetime, an ISO string (``2026-11-20``, ``2026-11-20T02:00+00:00``)."""
    if value is None:
        return today_utc()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        from airsage.errors import ConfigError

        raise ConfigError(f"partition_date {value!r} is not an ISO date", key="partition_date",
                          fix="Pass YYYY-MM-DD (e.g. the run's data interval start).") from None
