"""CSV and JSON Lines records through SageMaker's DataProcessing: InputFilter -> model -> JoinSource -> OutputFilter.

* A record is one non-empty line (SplitType Line; with SplitType None the whole file is one request,
  so the whole file must fit in MaxPayloadInMB). Empty lines are not records.
* CSV rows are JSON arrays of strings: only index paths apply. JSON Lines records are any JSON value.
* The model input is the InputFilter result: an object gives features by name, an array (or a CSV
  row) gives them by position in ``feature_columns`` (default: the model's feature order).
* JoinSource=Input joins the *original* record: CSV -> input row followed by the inference columns;
  JSON -> the input object plus ``SageMakerOutput``, a non-object -> ``{"SageMakerInput", "SageMakerOutput"}``.
* AssembleWith Line ends every output record with a newline. AssembleWith None concatenates the
  responses: records inside one request (mini-batch) are newline-separated, requests are glued
  together with nothing in between (as SageMaker does, so SingleRecord + None runs records together).
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airsage.transform.jsonpath import RecordError
from airsage.transform.settings import CSV, JSONLINES, TransformConfig


@dataclass
class Record:
    line: int  # 1-based physical line in the file
    index: int  # 0-based record number (empty lines skipped)
    raw: Any  # list[str] for CSV, the parsed JSON value for JSON Lines
    group: int  # the request (mini-batch) it was sent in


def iter_records(fh: io.BufferedIOBase, config: TransformConfig, file_size: int) -> Iterator[Record]:
    """Parse the records of one file in order, checking MaxPayloadInMB as SageMaker does."""
    limit = config.max_payload_bytes
    if config.split_type == "None" and limit is not None and file_size > limit:
        raise RecordError(f"the file is {file_size / 2**20:.1f} MB, larger than max_payload_mb={config.max_payload_mb} "
                          "(SplitType None sends each file as one request)")
    group, group_bytes, index = 0, 0, 0
    for line_no, line in enumerate(fh, start=1):
        body = line.rstrip(b"\r\n")
        if not body.strip():
            continue
        size = len(body)
        if limit is not None and size > limit:
            raise _at(line_no, f"the record is {size} bytes, larger than max_payload_mb={config.max_payload_mb}")
        if config.split_type == "Line" and index:
            if config.batch_strategy == "SingleRecord" or (limit is not None and group_bytes + size > limit):
                group, group_bytes = group + 1, 0
        group_bytes += size
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _at(line_no, f"not UTF-8 text: {exc}") from None
        yield Record(line_no, index, _parse(text, config.content_type, line_no), group)
        index += 1


def _parse(text: str, content_type: str, line_no: int) -> Any:
    if content_type == CSV:
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise _at(line_no, f"not a valid CSV row: {exc}") from None
        return rows[0] if rows else []
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _at(line_no, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise _at(line_no, "not valid JSON: nested too deeply") from None


def _at(line_no: int, reason: str) -> RecordError:
    err = RecordError(reason)
    err.line = line_no  # type: ignore[attr-defined]
    return err


# --------------------------------------------------------------------------- model input
def feature_values(filtered: Any, feature_columns: list[str], needed: list[str]) -> dict[str, Any]:
    """The model's features from one InputFilter result (object: by name; array/scalar: by position)."""
    if isinstance(filtered, dict):
        missing = [f for f in needed if f not in filtered]
        if missing:
            raise RecordError(f"the filtered record has no field(s) {missing}")
        return {f: filtered[f] for f in needed}
    values = filtered if isinstance(filtered, list) else [filtered]
    if len(values) != len(feature_columns):
        raise RecordError(f"the filtered record has {len(values)} value(s); the model expects {len(feature_columns)} "
                          f"({', '.join(feature_columns[:4])}{', ...' if len(feature_columns) > 4 else ''}) "
                          "- check input_filter")
    named = dict(zip(feature_columns, values))
    return {f: named[f] for f in needed}


def to_number(value: Any, name: str) -> float:
    """A numeric feature value: numbers, numeric text; null/empty text -> NaN; anything else is an error."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise RecordError(f"feature {name!r}: {value!r} is a boolean, not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise RecordError(f"feature {name!r}: {value!r} is not a number") from None
    raise RecordError(f"feature {name!r}: {type(value).__name__} value {str(value)[:40]!r} is not a number")


def to_category(value: Any, name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (dict, list)):
        raise RecordError(f"feature {name!r}: a nested {type(value).__name__} is not a category")
    return value if isinstance(value, str) else str(value)


def record_id(raw: Any, record_id_col: str | int, content_type: str) -> str:
    """The record id from the *original* record (CSV: a column index; JSON: a key)."""
    try:
        if content_type == CSV or isinstance(raw, list):
            value = raw[int(record_id_col)]
        elif isinstance(raw, dict):
            value = raw[str(record_id_col)]
        else:
            raise RecordError(f"record_id_col {record_id_col!r} needs an object or an array record")
    except (IndexError, KeyError, ValueError):
        raise RecordError(f"the record has no id column {record_id_col!r}") from None
    if value is None or value == "":
        raise RecordError(f"the record id ({record_id_col!r}) is empty")
    return str(value)


# --------------------------------------------------------------------------- model output
def inference(fields: tuple[str, ...], values: dict[str, Any], accept: str) -> Any:
    """One record's inference: a list (CSV) or an object (JSON) of the configured fields."""
    if accept == CSV:
        return [values[f] for f in fields]
    return {f: values[f] for f in fields}


def join(raw: Any, result: Any, content_type: str) -> Any:
    if content_type == CSV:
        return list(raw) + list(result)
    if isinstance(raw, dict):
        return {**raw, "SageMakerOutput": result}
    return {"SageMakerInput": raw, "SageMakerOutput": result}


def serialize(value: Any, accept: str) -> str:
    if accept == JSONLINES:
        return json.dumps(value, separators=(",", ":"), default=_json_default)
    cells = value if isinstance(value, list) else [value]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([_cell(c) for c in cells])
    return buf.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


class Assembler:
    """Turns output records into bytes per AssembleWith (see the module docstring)."""

    def __init__(self, assemble_with: str):
        self.line = assemble_with == "Line"
        self._last_group: int | None = None

    def piece(self, text: str, group: int) -> str:
        if self.line:
            return text + "\n"
        sep = "\n" if self._last_group == group else ""
        self._last_group = group
        return sep + text
