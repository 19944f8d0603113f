"""Per-record helpers shared by the engine, the SageMaker serving module and the capture import: the
model features and inference id of text records, and the inference ids of Parquet row groups."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airsage.transform import records as rec
from airsage.transform.jsonpath import RecordError
from airsage.transform.settings import TransformConfig

OUT_SUFFIX = ".out"


def file_digest(run_key: str, relative_path: str) -> str:
    """The per-file prefix of generated inference ids."""
    return hashlib.sha1(f"{run_key}\0{relative_path}".encode()).hexdigest()[:16]


def parse_text_records(batch: list[rec.Record], config: TransformConfig, features: list[str],
                       categorical: dict[str, list[str]], feature_columns: list[str],
                       record_id_col: str | int | None, digest: str) -> tuple[dict[str, list], list[str]]:
    """The model features (InputFilter applied; numeric -> float, categorical -> str/None) and the
    inference id of CSV / JSON Lines records, as the engine computes them. A bad record raises
    ``RecordError`` carrying its ``line`` and ``record``."""
    in_path = config.input_path
    values: dict[str, list] = {f: [] for f in features}
    ids: list[str] = []
    for r in batch:
        try:
            row = rec.feature_values(in_path.apply(r.raw), feature_columns, features)
            for f in features:
                v = row[f]
                values[f].append(rec.to_category(v, f) if f in categorical else rec.to_number(v, f))
            ids.append(rec.record_id(r.raw, record_id_col, config.content_type)
                       if record_id_col is not None else f"{digest}-{r.index}")
        except RecordError as exc:
            exc.line, exc.record = r.line, r.index  # type: ignore[attr-defined]
            raise
    return values, ids


def generated_ids(digest: str, start: int, n: int) -> pa.Array:
    """``<digest>-<record number>`` for records ``start .. start+n-1`` (no record id column)."""
    idx = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(pa.scalar(f"{digest}-"), idx, "")


def parquet_id_column(names: list[str], record_id_col: str | int | None) -> str | None:
    """The Parquet column holding the record id (a name, or a position given as an int / digit string)."""
    col = record_id_col
    if col is None:
        return None
    if isinstance(col, int) or (isinstance(col, str) and col.lstrip("-").isdigit() and col not in names):
        try:
            return names[int(col)]
        except IndexError:
            raise RecordError(f"record_id_col {col} is outside the file's {len(names)} columns") from None
    if col not in names:
        raise RecordError(f"record_id_col {col!r} is not a column of the file")
    return col


def parquet_ids(table: pa.Table, id_col: str | None, digest: str, start: int) -> pa.Array:
    """The inference ids of a row group starting at row ``start``: the record id as text, else generated."""
    if id_col is None:
        return generated_ids(digest, start, table.num_rows)
    ids = table.column(id_col)
    if pa.types.is_dictionary(ids.type):
        ids = ids.cast(ids.type.value_type)
    if not pa.types.is_string(ids.type):
        ids = pc.cast(ids, pa.string())
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if ids.null_count:
        first = int(np.flatnonzero(np.asarray(ids.is_null()))[0])
        err = RecordError(f"the record id column {id_col!r} is null")
        err.record = start + first  # type: ignore[attr-defined]
        raise err
    return ids


def is_text(typ: pa.DataType) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


def dictionary_stored_text(local: Path, schema: pa.Schema) -> list[str]:
    """Text columns whose first row group is dictionary-encoded in the file (cheap: footer only)."""
    md = pq.ParquetFile(local).metadata
    if md.num_row_groups == 0:
        return []
    rg = md.row_group(0)
    out = []
    for i in range(rg.num_columns):
        col = rg.column(i)
        name = col.path_in_schema
        if name in schema.names and is_text(schema.field(name).type) and (
                "RLE_DICTIONARY" in col.encodings or "PLAIN_DICTIONARY" in col.encodings):
            out.append(name)
    return out
