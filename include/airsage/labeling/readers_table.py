"""The reader of a CSV or Parquet label table (``airsage.labeling.readers`` describes its columns)."""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airsage import storage
from airsage.errors import DataValidationError
from airsage.labeling import records as R
from airsage.labeling.readers_common import Item, _confidence, _record_id
from airsage.labeling.records import Annotation, ReaderOptions, Rejection

_COLUMNS = {
    "confidence": ("confidence", "label_confidence"),
    "annotator": ("annotator", "worker_id", "workerId"),
    "human": ("human_annotated", "human-annotated"),
    "job": ("labeling_job", "job_name", "job-name", "job"),
    "created": ("creation_date", "creation-date", "created_at"),
}
_TRUE, _FALSE = {"yes", "true", "1", "y", "t"}, {"no", "false", "0", "n", "f"}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def read_label_table(uri: str, options: ReaderOptions, *, source_name: str | None = None) -> Iterator[Item]:
    """Annotations of a CSV or Parquet label file (one per row).

    A file that cannot be read as a whole (not UTF-8, not Parquet) becomes one ``unreadable_file``
    rejection (line 0), so the other files still import; a CSV row with the wrong number of fields
    becomes a ``malformed_row`` rejection. An empty file yields nothing. Without a record id or label
    column: ``DataValidationError`` (the import quarantines that file as a whole)."""
    name = source_name or uri
    with storage.local_copy(uri) as path:
        if name.lower().endswith(".csv"):
            yield from _csv_items(Path(path), options, name)
        else:
            yield from _parquet_items(Path(path), options, name)


def _file_rejection(name: str, detail: str) -> Rejection:
    return Rejection(name, 0, R.UNREADABLE_FILE, detail)


def _table_columns(cols: list[str], options: ReaderOptions, name: str) -> tuple[str, str]:
    """The record id and label columns; a DataValidationError (the import quarantines the file) without."""
    id_col = next((c for c in (options.record_key, "record_id") if c in cols), None)
    label_col = next((c for c in ("label", options.label_column) if c and c in cols), None)
    if id_col is None or label_col is None:
        raise DataValidationError(name, [f"label file needs a record id column ({options.record_key!r} or "
                                         f"'record_id') and a 'label' column; it has {cols[:20]}"],
                                  fix="Rename the columns (record id, label, optional confidence/annotator).")
    return id_col, label_col


def _csv_items(path: Path, options: ReaderOptions, name: str) -> Iterator[Item]:
    import csv
    import io

    data = path.read_bytes()
    if not data.strip():
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        yield _file_rejection(name, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8")
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    start = 1
    try:
        for fields in reader:
            row_line, start = start, reader.line_num + 1
            if not fields or not any(f.strip() for f in fields):
                continue
            if header is None:
                header = fields
                id_col, label_col = _table_columns(header, options, name)
                opt_cols = {k: next((c for c in names if c in header), None) for k, names in _COLUMNS.items()}
                continue
            if len(fields) != len(header):
                yield Rejection(name, row_line, R.MALFORMED_ROW, f"{len(fields)} field(s), the header has {len(header)}",
                                raw=R.clip_raw(",".join(fields)))
                continue
            yield _table_item(dict(zip(header, fields)), id_col, label_col, opt_cols, options, source=name,
                              line=row_line)
    except csv.Error as exc:
        yield Rejection(name, reader.line_num, R.MALFORMED_ROW, f"not valid CSV from here on: {exc}")


def _parquet_items(path: Path, options: ReaderOptions, name: str) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        return
    try:
        df = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        yield _file_rejection(name, f"not a readable Parquet file: {str(exc)[:300]}")
        return
    id_col, label_col = _table_columns([str(c) for c in df.columns], options, name)
    opt_cols = {k: next((c for c in names if c in df.columns), None) for k, names in _COLUMNS.items()}
    for i, row in enumerate(df.to_dict("records")):
        yield _table_item(row, id_col, label_col, opt_cols, options, source=name, line=i + 1)


def _table_id(value: Any) -> str | None:
    if _blank(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    return _record_id(value)


def _table_item(row: dict, id_col: str, label_col: str, cols: dict[str, str | None], opt: ReaderOptions, *,
                source: str, line: int) -> Item:
    rid = _table_id(row[id_col])

    def rej(reason: str, detail: str) -> Rejection:
        return Rejection(source, line, reason, detail, record_id=rid,
                         raw=R.clip_raw(json.dumps(row, default=str, ensure_ascii=False)))

    if rid is None:
        return rej(R.MISSING_RECORD_ID, f"empty record id in column {id_col!r}")
    value = row[label_col]
    if _blank(value):
        return rej(R.MISSING_METADATA, f"empty label in column {label_col!r}")
    label, why = opt.map_label(value)
    if why:
        return rej(R.UNKNOWN_CLASS, why)
    conf = 1.0
    if cols["confidence"] and not _blank(row[cols["confidence"]]):
        try:
            conf = _confidence(float(row[cols["confidence"]]))
        except (TypeError, ValueError):
            conf = None
        if conf is None:
            return rej(R.INVALID_METADATA, f"confidence {row[cols['confidence']]!r} is not a number in [0, 1]")
    human = True
    if cols["human"] and not _blank(row[cols["human"]]):
        text = str(row[cols["human"]]).strip().lower()
        if text not in _TRUE | _FALSE:
            return rej(R.INVALID_METADATA, f"human_annotated {row[cols['human']]!r} is not yes/no/true/false")
        human = text in _TRUE
    created = None
    if cols["created"] and not _blank(row[cols["created"]]):
        created = R.parse_timestamp(str(row[cols["created"]]))
        if created is None:
            return rej(R.INVALID_METADATA, f"creation date {row[cols['created']]!r} is not an ISO timestamp")
    job = "" if not cols["job"] or _blank(row[cols["job"]]) else str(row[cols["job"]])
    annotator = None if not cols["annotator"] or _blank(row[cols["annotator"]]) else str(row[cols["annotator"]])
    return Annotation(record_id=rid, label=label, confidence=conf, human_annotated=human, job=job, kind=R.TABLE,
                      source=source, line=line, created=R.iso(created), class_name=str(value), annotator=annotator)
