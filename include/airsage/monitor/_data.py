"""Uniform, bounded-memory access to tabular input: DataFrames, Arrow tables, Parquet files.

Monitoring reads large datasets (millions of captured rows), so everything here works chunk by
chunk: a Parquet file is read one row group at a time (``ParquetFile.read_row_group`` keeps peak
RSS flat, unlike ``iter_batches``, which decodes ahead), an iterable of frames is consumed one
frame at a time. CSV files are read by ``csv_chunks`` with Model Monitor's ``header`` setting: a
headerless file gets the baseline's column names, and a header that does not name the expected
columns is refused (a data row is never taken for a header, nor a header for data). Column values are handed out as numpy arrays (numeric) or value counts
(categorical), without converting whole Arrow tables to pandas.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airsage import storage
from airsage.errors import DataValidationError

Chunk = Any  # pandas.DataFrame | pyarrow.Table | pyarrow.RecordBatch

NUMERIC_KINDS = ("int", "float", "bool")


def is_path(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike))


def iter_chunks(data: Any, columns: list[str] | None = None, exclude: Iterable[str] = ()) -> Iterator[Chunk]:
    """Yield ``data`` as chunks: a DataFrame/Table as one chunk, a Parquet path row group by row
    group, an iterable of frames one by one. ``columns`` / ``exclude`` limit what is read from Parquet."""
    if isinstance(data, (pd.DataFrame, pa.Table, pa.RecordBatch)):
        yield data
    elif is_path(data):
        yield from iter_parquet(str(data), columns=columns, exclude=exclude)
    elif isinstance(data, Iterable):
        it = iter(data)
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except (ValueError, UnicodeDecodeError, OSError) as exc:  # a reader failing mid-stream
                if isinstance(exc, DataValidationError):
                    raise
                raise DataValidationError("monitoring input", [f"the input could not be read: {type(exc).__name__}: "
                                                               f"{str(exc)[:200]}"],
                                          fix="Check that every file is a complete, well-formed CSV / JSON Lines / "
                                              "Parquet file (same columns on every row, UTF-8) and re-run.") from None
            yield from iter_chunks(item, columns=columns, exclude=exclude)
    else:
        raise DataValidationError("monitoring input", [f"unsupported input type {type(data).__name__}"],
                                  fix="Pass a pandas DataFrame, a pyarrow Table, an iterable of those, "
                                      "or the URI of a Parquet file or directory.")


def parquet_files(uri: str) -> list[str]:
    files = storage.list_files(uri, suffixes=(".parquet", ".pq"))
    if not files and storage.exists(uri) and not storage.is_s3(uri) and os.path.isfile(uri):
        files = [uri]
    return files


def iter_parquet(uri: str, columns: list[str] | None = None, exclude: Iterable[str] = ()) -> Iterator[pa.Table]:
    """Row groups of every Parquet file under ``uri`` (a file or a directory/prefix); excluded
    columns are never decoded."""
    exclude = set(exclude)
    files = parquet_files(uri)
    if not files:
        raise DataValidationError(uri, ["no Parquet files found"],
                                  fix="Point the monitor at a Parquet file or a directory holding *.parquet files.")
    for f in files:
        with storage.local_copy(f) as local:
            try:
                schema = pq.read_schema(local)
            except (pa.ArrowException, OSError) as exc:
                raise DataValidationError(f, [f"not a readable Parquet file ({str(exc)[:160]})"],
                                          fix="Replace the file with a complete Parquet file (a 0-byte or truncated "
                                              "file is what an interrupted upload leaves) and re-run.") from None
            wanted = [c for c in (schema.names if columns is None else columns)
                      if c in schema.names and c not in exclude]
            pf = pq.ParquetFile(local, read_dictionary=_string_columns(schema, wanted))
            for i in range(pf.num_row_groups):
                yield pf.read_row_group(i, columns=wanted)


def _string_columns(schema: pa.Schema, columns: list[str]) -> list[str]:
    """String columns are read dictionary-encoded: counting categories is then a bincount."""
    return [f.name for f in schema if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
            and f.name in columns]


def column_names(chunk: Chunk) -> list[str]:
    return list(chunk.columns) if isinstance(chunk, pd.DataFrame) else list(chunk.schema.names)


def num_rows(chunk: Chunk) -> int:
    return len(chunk) if isinstance(chunk, pd.DataFrame) else chunk.num_rows


# --------------------------------------------------------------------------- column kinds
def column_kind(chunk: Chunk, name: str) -> str:
    """``int`` | ``float`` | ``bool`` | ``string`` | ``datetime`` | ``other`` for one column."""
    if isinstance(chunk, pd.DataFrame):
        dtype = chunk[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            return "bool"
        if pd.api.types.is_integer_dtype(dtype):
            return "int"
        if pd.api.types.is_float_dtype(dtype):
            return "float"
        if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
            return "datetime"
        return "string"
    t = chunk.schema.field(name).type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_temporal(t):
        return "datetime"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return "other"


# --------------------------------------------------------------------------- numeric values
@dataclass(frozen=True)
class NumericColumn:
    """The non-null values of one column as float64, plus what the type check needs."""

    values: np.ndarray      # finite-or-inf float64 values, nulls removed (not sorted)
    n_missing: int          # nulls / NaN
    n_unparsable: int       # non-null values that are not numbers (strings in a numeric column)
    kind: str               # column_kind() of the source


def numeric_column(chunk: Chunk, name: str) -> NumericColumn:
    kind = column_kind(chunk, name)
    if isinstance(chunk, pd.DataFrame):
        s = chunk[name]
        if kind in NUMERIC_KINDS:
            x = s.to_numpy(dtype=np.float64, na_value=np.nan)
            n_unparsable = 0
        else:
            present = s.notna().to_numpy()
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            n_unparsable = int(np.count_nonzero(present & np.isnan(x)))
    else:
        col = chunk.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if kind in NUMERIC_KINDS:
            x = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            n_unparsable = 0
        else:
            present = col.is_valid().to_numpy(zero_copy_only=False)
            x = pd.to_numeric(pd.Series(col.to_pandas()), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            n_unparsable = int(np.count_nonzero(present & np.isnan(x)))
    nan = np.isnan(x)
    n_nan = int(np.count_nonzero(nan))
    values = x[~nan] if n_nan else x
    return NumericColumn(values=values, n_missing=n_nan - n_unparsable, n_unparsable=n_unparsable, kind=kind)


# --------------------------------------------------------------------------- categorical values
def category_counts(chunk: Chunk, name: str) -> tuple[dict[str, int], int]:
    """(value -> count over non-null values, number of nulls). Values are compared as strings."""
    if isinstance(chunk, pd.DataFrame):
        s = chunk[name]
        codes, uniques = pd.factorize(s, use_na_sentinel=True)  # ~3x faster than value_counts on objects
        counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
        return {_as_text(k): int(c) for k, c in zip(uniques, counts[1:].tolist()) if c}, int(counts[0])
    col = chunk.column(name)
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out: dict[str, int] = {}
    n_missing = 0
    for arr in chunks:
        n_missing += arr.null_count
        if pa.types.is_dictionary(arr.type):
            idx = arr.indices.to_numpy(zero_copy_only=False)
            if arr.null_count:
                idx = idx[arr.is_valid().to_numpy(zero_copy_only=False)]
            counts = np.bincount(idx.astype(np.int64, copy=False), minlength=len(arr.dictionary))
            for value, c in zip(arr.dictionary.to_pylist(), counts.tolist()):
                if c:
                    key = _as_text(value)
                    out[key] = out.get(key, 0) + c
        else:
            vc = pc.value_counts(arr)
            for value, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
                if value is None:
                    continue
                key = _as_text(value)
                out[key] = out.get(key, 0) + c
    return out, n_missing


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- CSV
def csv_chunks(files: list[str], *, header: bool = True, columns: list[str] | None = None,
               chunk_rows: int = 250_000) -> Iterator[pd.DataFrame]:
    """The rows of CSV ``files`` as frames, with Model Monitor's ``{"csv": {"header": ...}}`` meaning.

    ``header=True``: the first row names the columns; when ``columns`` (the names the baseline expects)
    is given, a first row that names none of them, or that looks like data (mostly numbers), is refused
    instead of being read as column names. ``header=False``: every row is data and the columns get
    ``columns`` (the baseline's names, in order) or ``_c0, _c1, ...`` (Model Monitor's names for a
    headerless file); a file whose column count differs, or whose first row *is* the expected header,
    is refused. A 0-byte, ragged or non-UTF-8 file is a ``DataValidationError`` with a fix.
    """
    for f in files:
        with storage.local_copy(f) as local:
            if os.path.getsize(local) == 0:
                raise DataValidationError(f, ["the file is empty (0 bytes: no header row and no data)"],
                                          fix="Remove the empty file, or re-export it; a partition without rows "
                                              "must still have its header row.")
            try:
                first = pd.read_csv(local, header=None, nrows=1, dtype=str, keep_default_na=False)
            except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise _unreadable(f, exc) from None
            cells = [str(v).strip() for v in first.iloc[0].tolist()] if len(first) else []
            if header:
                _check_header(f, cells, columns)
                kwargs: dict[str, Any] = {}
            else:
                names = list(columns) if columns else [f"_c{i}" for i in range(len(cells))]
                if len(cells) != len(names):
                    raise DataValidationError(f, [f"the headerless file has {len(cells)} columns, the baseline "
                                                  f"{len(names)} ({names[:8]}...)"],
                                              fix="Columns of a headerless CSV are matched by position: write the "
                                                  "baseline's columns in its order, or write a header row and use "
                                                  '{"csv": {"header": true}}.')
                if columns and cells == [str(c) for c in columns]:
                    raise DataValidationError(f, ["the first row is the header, but dataset_format says header: false"],
                                              fix='Use {"csv": {"header": true}} for files with a header row.')
                kwargs = {"header": None, "names": names}
            try:
                with pd.read_csv(local, chunksize=chunk_rows, **kwargs) as reader:
                    yield from reader
            except (pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise _unreadable(f, exc) from None


def _check_header(uri: str, cells: list[str], expected: list[str] | None) -> None:
    if not expected or not cells:
        return
    known = set(map(str, expected))
    overlap = [c for c in cells if c in known]
    numeric = [c for c in cells if c not in known and _is_number(c)]
    if not overlap or len(numeric) * 2 > len(cells):
        raise DataValidationError(uri, [f"its first row {cells[:6]} does not name the baseline's columns "
                                        f"({sorted(known)[:6]}...)"],
                                  fix='If the file has no header row, set dataset_format to {"csv": {"header": '
                                      'false}} (columns are then taken in the baseline\'s order); otherwise fix '
                                      "the header row.")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _unreadable(uri: str, exc: Exception) -> DataValidationError:
    return DataValidationError(uri, [f"not a readable CSV file ({type(exc).__name__}: {str(exc)[:160]})"],
                               fix="Every row must have the header's number of fields and the file must be UTF-8; "
                                   "fix or remove the file and re-run.")


# --------------------------------------------------------------------------- JSON
def json_lines_chunks(files: list[str], *, chunk_rows: int = 250_000) -> Iterator[pd.DataFrame]:
    """The rows of JSON Lines ``files`` as frames; an empty or malformed file is a ``DataValidationError``."""
    for f in files:
        with storage.local_copy(f) as local:
            if os.path.getsize(local) == 0:
                raise DataValidationError(f, ["the file is empty (0 bytes)"], fix="Remove or re-export the file.")
            try:
                with pd.read_json(local, lines=True, chunksize=chunk_rows) as reader:
                    yield from reader
            except (ValueError, UnicodeDecodeError) as exc:
                raise DataValidationError(f, [f"not valid JSON Lines ({str(exc)[:160]})"],
                                          fix="Write one JSON object per line (UTF-8) and re-run.") from None


def read_json_file(path: Any, what: str, fix: str) -> Any:
    """A JSON input (a baseline, an analysis); a missing, empty or truncated one is a
    ``DataValidationError`` naming the fix."""
    import json

    uri = str(path)
    if not storage.exists(uri):
        raise DataValidationError(uri, [f"the {what} does not exist"], fix=fix)
    try:
        return json.loads(storage.read_bytes(uri).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataValidationError(uri, [f"the {what} is not valid JSON ({str(exc)[:120]}): truncated or corrupt"],
                                  fix=fix) from None
