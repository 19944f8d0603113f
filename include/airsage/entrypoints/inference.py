"""The serving module of an Airsage model on SageMaker (batch transform, or an endpoint).

SageMaker's framework containers call four functions: ``model_fn(model_dir)`` once, then per request
``input_fn(body, content_type)`` -> ``predict_fn(data, model)`` -> ``output_fn(prediction, accept)``.

How it gets there: ``airsage.compute.packaging`` ships a two-line ``inference.py`` re-exporting these
functions, either at the root of the S3 sourcedir (``SAGEMAKER_SUBMIT_DIRECTORY=s3://.../sourcedir.tar.gz``)
or inside the model artifact as ``code/inference.py`` (``packaging.add_inference_code(model_dir)``;
``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``), with ``SAGEMAKER_PROGRAM=inference.py``.

Requests (SageMaker has already applied the transform's ``InputFilter``):

* ``text/csv``: header-less rows, one record per line, the features in the model's feature order
  (drop id columns with ``InputFilter``, e.g. ``$[1:]``).
* ``application/jsonlines``: one JSON value per line: an object keyed by feature name (extra keys
  ignored) or an array in feature order.
* ``application/json``: one object, a list of objects/arrays, or ``{"instances": [...]}``.
* ``application/x-parquet``: a whole Parquet file (``SplitType=None``; SageMaker cannot split Parquet,
  and its DataProcessing handles CSV and JSON only, so the transform sends ``InputFilter=$``,
  ``JoinSource=None``, ``OutputFilter=$`` and the container applies the use case's filters and join).

Values are parsed exactly as the local batch transform parses them (``airsage.transform.records``:
empty or null -> missing; non-numeric text in a numeric feature is an error), so both score alike.

Parquet in, ``Accept: application/x-parquet`` out: the response is the very ``<file>.out`` the local
batch transform writes for that file with the same settings (``airsage.transform.engine.score_parquet_file``:
same columns, order, types, row groups and bytes). The settings come from the model's environment,
set by the SageMaker backend from the use case's ``transform`` section: ``AIRSAGE_INPUT_FILTER``,
``AIRSAGE_JOIN_SOURCE`` (``Input`` = the input columns followed by the inference columns),
``AIRSAGE_OUTPUT_FILTER`` (defaults ``$``, ``None``, ``$``), ``AIRSAGE_INFERENCE_FIELDS``,
``AIRSAGE_MODEL_NAME`` / ``AIRSAGE_MODEL_VERSION`` and ``AIRSAGE_RECORD_ID_COL``. Generated inference
ids (no record id column) are ``<sha1(file)[:16]>-<row>``: the container never sees the file's name,
from which the local engine derives them. The container writes no capture table: Airsage imports
SageMaker's capture after the job (``airsage.transform.sagemaker_capture``).

Other responses: one record per input record, in input order (what ``JoinSource=Input`` needs), made of the
fields in ``AIRSAGE_INFERENCE_FIELDS`` (comma-separated; default ``score,predicted_label``). The
SageMaker backend sets it, with ``AIRSAGE_MODEL_NAME`` / ``AIRSAGE_MODEL_VERSION``, from the
transform's ``inference_fields`` so the output matches the local engine's:

* ``text/csv``: the fields as CSV columns;
* ``application/jsonlines``: one object per line, e.g. ``{"score": 0.31, "predicted_label": 0}``;
* ``application/json``: ``{"predictions": [{...}, ...]}``.

``score`` is the probability of the positive class; ``predicted_label`` is 1 when ``score`` is above
the bundle's threshold. ``inference_id`` is the record's id when ``AIRSAGE_RECORD_ID_COL`` names a
field the (filtered) JSON record or Parquet file still has, as the local engine does; else
``<sha1(request)[:16]>-<n>`` (the container sees neither the original CSV row nor the file name and
record number the local engine falls back to).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from typing import Any

from airsage.errors import DataValidationError

CSV = "text/csv"
JSONLINES = "application/jsonlines"
JSON = "application/json"
PARQUET = "application/x-parquet"
SUPPORTED_INPUT = (CSV, JSONLINES, JSON, PARQUET)
SUPPORTED_OUTPUT = (CSV, JSONLINES, JSON, PARQUET)
DEFAULT_FIELDS = ("score", "predicted_label")
FIELDS_ENV, MODEL_NAME_ENV, MODEL_VERSION_ENV = "AIRSAGE_INFERENCE_FIELDS", "AIRSAGE_MODEL_NAME", "AIRSAGE_MODEL_VERSION"
RECORD_ID_ENV = "AIRSAGE_RECORD_ID_COL"
INPUT_FILTER_ENV, JOIN_SOURCE_ENV, OUTPUT_FILTER_ENV = "AIRSAGE_INPUT_FILTER", "AIRSAGE_JOIN_SOURCE", "AIRSAGE_OUTPUT_FILTER"
_ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES, "text/x-csv": CSV,
            "application/parquet": PARQUET}


@dataclass(frozen=True)
class Records:
    """A parsed request: the records in input order (CSV rows as lists of strings, JSON values as is)."""

    content_type: str
    rows: list[Any]
    request_id: str  # sha1 of the body, the prefix of generated inference ids
    body: bytes | None = None  # the whole Parquet file (Parquet input)


@dataclass(frozen=True)
class Prediction:
    content_type: str  # of the request: the default response format
    scores: list[float]
    labels: list[int]
    inference_ids: list[str]
    parquet: bytes | None = None  # Parquet input: the scored file (the local engine's .out)
    columns: dict[str, list] | None = None  # Parquet input: the response's columns, for CSV / JSON answers


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    base = value.split(";")[0].strip().lower()
    return _ALIASES.get(base, base)


def _bytes(body: bytes | bytearray | str) -> bytes:
    return bytes(body) if isinstance(body, (bytes, bytearray)) else str(body).encode("utf-8")


def _bad(reason: str, fix: str) -> DataValidationError:
    return DataValidationError("inference request", [reason], fix=fix)


# ---------------------------------------------------------------------------- the four functions
def model_fn(model_dir):
    """Load the model bundle that SageMaker unpacked from model.tar.gz."""
    from airsage.model import ModelBundle

    return ModelBundle.load(model_dir)


def input_fn(body: bytes | str, content_type: str | None = CSV) -> Records:
    """Parse a request body; feature order and value parsing happen in ``predict_fn`` (it has the model)."""
    import csv

    raw = _bytes(body)
    rid = hashlib.sha1(raw).hexdigest()[:16]
    ctype = _media_type(content_type) or CSV
    if ctype == PARQUET:
        return Records(PARQUET, [], rid, body=raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"body is not UTF-8 text: {exc}", "Send UTF-8 CSV or JSON.") from None
    if ctype == CSV:
        try:
            rows = [r for r in csv.reader(io.StringIO(text), strict=True) if r and any(c.strip() for c in r)]
        except csv.Error as exc:
            raise _bad(f"not valid CSV: {exc}", "Send header-less CSV rows, one record per line.") from None
        return Records(CSV, rows, rid)
    if ctype == JSONLINES:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise _bad(f"line {n} is not JSON: {exc}", "Send one JSON value per line.") from None
        return Records(JSONLINES, rows, rid)
    if ctype == JSON:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise _bad(f"body is not JSON: {exc}", "Send an object, a list of records or {\"instances\": [...]}.") from None
        if isinstance(obj, dict) and "instances" in obj:
            obj = obj["instances"]
        rows = obj if isinstance(obj, list) and (not obj or isinstance(obj[0], (list, dict))) else [obj]
        return Records(JSON, rows, rid)
    raise _bad(f"unsupported content type {content_type!r}",
               f"Send one of {list(SUPPORTED_INPUT)} (the transform's ContentType).")


def _frame(data: Records, model):
    """The model-input frame, built the way the local batch transform builds it."""
    import numpy as np
    import pandas as pd

    from airsage.transform import records as rec
    from airsage.transform.jsonpath import RecordError

    features = list(model.feature_names)
    categorical = dict(model.categorical)
    values: dict[str, list] = {f: [] for f in features}
    for i, raw in enumerate(data.rows):
        try:
            row = rec.feature_values(raw, features, features)
            for f in features:
                v = row[f]
                values[f].append(rec.to_category(v, f) if f in categorical else rec.to_number(v, f))
        except RecordError as exc:
            raise _bad(f"record {i + 1}: {exc}", "Send the model's features in its order (CSV/arrays) or by name "
                                                 "(objects); drop other columns with the transform's InputFilter.") from None
    return pd.DataFrame({f: (pd.Series(values[f], dtype=object) if f in categorical
                             else np.asarray(values[f], dtype=np.float64)) for f in features})


def predict_fn(data: Records, model) -> Prediction:
    """Score the records with the bundle (the same encoding as every other Airsage scorer)."""
    import numpy as np

    if data.body is not None:
        return _predict_parquet(data, model)
    if not data.rows:
        return Prediction(data.content_type, [], [], [])
    frame = _frame(data, model)
    scores = np.asarray(model.predict_proba_encoded(model.encode(frame)), dtype=np.float64)
    labels = (scores > float(model.threshold)).astype(np.int64)
    return Prediction(data.content_type, scores.tolist(), labels.tolist(), _inference_ids(data, len(scores)))


def _inference_ids(data: Records, n: int) -> list[str]:
    from airsage.transform import records as rec
    from airsage.transform.jsonpath import RecordError

    generated = [f"{data.request_id}-{i}" for i in range(n)]
    col = os.environ.get(RECORD_ID_ENV)
    if not col:
        return generated
    out = []
    for raw, fallback in zip(data.rows, generated):
        # by name only: a position in a filtered CSV row is not the position in the original record
        if not isinstance(raw, dict) or col not in raw:
            out.append(fallback)
            continue
        try:
            out.append(rec.record_id(raw, col, JSONLINES))
        except RecordError:  # an empty id
            out.append(fallback)
    return out


def parquet_settings() -> dict[str, Any]:
    """The local engine's settings for a whole Parquet file, from the model's environment."""
    return {"content_type": PARQUET, "accept": PARQUET, "input_filter": os.environ.get(INPUT_FILTER_ENV) or "$",
            "join_source": os.environ.get(JOIN_SOURCE_ENV) or "None",
            "output_filter": os.environ.get(OUTPUT_FILTER_ENV) or "$", "inference_fields": inference_fields()}


def _predict_parquet(data: Records, model) -> Prediction:
    """Score a whole Parquet file with the local engine's per-file function (byte-identical ``.out``)."""
    import tempfile
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from airsage.errors import ConfigError
    from airsage.transform.engine import score_parquet_file
    from airsage.transform.jsonpath import RecordError
    from airsage.transform.settings import TransformConfig

    try:
        config = TransformConfig.from_dict(parquet_settings())
    except ConfigError as exc:
        raise DataValidationError("inference settings", [exc.message], fix=exc.fix) from None
    col = os.environ.get(RECORD_ID_ENV) or None
    with tempfile.TemporaryDirectory(prefix="airsage-serve-") as tmp:
        src, dest = Path(tmp) / "request.parquet", Path(tmp) / "response.parquet"
        src.write_bytes(data.body or b"")
        try:
            if col is not None and col not in pq.read_schema(src).names and not col.lstrip("-").isdigit():
                col = None  # as for JSON records: an id column the request lacks -> generated ids
            score_parquet_file(model, src, dest, config, model_name=os.environ.get(MODEL_NAME_ENV, ""),
                               model_version=os.environ.get(MODEL_VERSION_ENV, ""), digest=data.request_id,
                               record_id_col=col)
        except RecordError as exc:
            row = getattr(exc, "record", None)
            where = f"row {row}: " if row is not None else ""
            raise _bad(f"{where}{exc}", "Send a Parquet file with every model feature (numeric features as numbers) "
                                        "and check the transform's input_filter / output_filter.") from None
        except (pa.ArrowException, OSError) as exc:
            raise _bad(f"not a readable Parquet file: {exc}", "Send the whole Parquet file (SplitType None).") from None
        except ConfigError as exc:  # a filter that does not fit the file's columns
            raise _bad(exc.message, exc.fix or "Check the transform's filters.") from None
        body = dest.read_bytes()
        table = pq.read_table(dest)
    columns = {c: table.column(c).to_pylist() for c in table.column_names}
    return Prediction(PARQUET, columns.get("score", []), columns.get("predicted_label", []),
                      columns.get("inference_id", []), parquet=body, columns=columns)


def inference_fields() -> tuple[str, ...]:
    raw = os.environ.get(FIELDS_ENV, "")
    fields = tuple(f.strip() for f in raw.split(",") if f.strip()) or DEFAULT_FIELDS
    allowed = ("inference_id", "model_name", "model_version", "predicted_label", "score")
    bad = [f for f in fields if f not in allowed]
    if bad:
        raise DataValidationError("inference settings", [f"{FIELDS_ENV} names unknown field(s) {bad}"],
                                  fix=f"Use names from {list(allowed)}.")
    return fields


def output_fn(prediction: Prediction, accept: str | None = None) -> str | bytes:
    """One response record per input record, in order (CSV for Parquet input unless asked otherwise);
    ``application/x-parquet`` (Parquet input only) returns the scored file's bytes."""
    from airsage.transform import records as rec

    atype = _media_type(accept)
    if atype in (None, "*/*"):
        atype = prediction.content_type if prediction.content_type in (CSV, JSONLINES, JSON) else CSV
    if atype not in SUPPORTED_OUTPUT:
        raise DataValidationError("inference response", [f"unsupported accept type {accept!r}"],
                                  fix=f"Ask for one of {list(SUPPORTED_OUTPUT)} (the transform's Accept).")
    if atype == PARQUET:
        if prediction.parquet is None:
            raise DataValidationError("inference response", ["a Parquet response needs a Parquet request"],
                                      fix=f"Send {PARQUET} or ask for {CSV!r} / {JSONLINES!r}.")
        return prediction.parquet
    fields = inference_fields()
    if prediction.columns is not None:  # Parquet in, text out: the response table's rows
        names = list(prediction.columns)
        if names != list(fields):
            raise DataValidationError("inference response", [
                f"the scored Parquet has columns {names[:8]}, not the inference fields {list(fields)} "
                f"({JOIN_SOURCE_ENV} / {OUTPUT_FILTER_ENV} reshape it)"],
                fix=f"Ask for {PARQUET} (the transform's Accept for Parquet), or unset the join and filters.")
        rows = [dict(zip(names, values)) for values in zip(*prediction.columns.values())]
        if atype == JSON:
            return json.dumps({"predictions": rows})
        return "".join(rec.serialize(rec.inference(fields, r, atype), atype) + "\n" for r in rows)
    name, version = os.environ.get(MODEL_NAME_ENV, ""), os.environ.get(MODEL_VERSION_ENV, "")
    records = [{"inference_id": i, "model_name": name, "model_version": version, "predicted_label": lab, "score": s}
               for i, s, lab in zip(prediction.inference_ids, prediction.scores, prediction.labels)]
    if atype == JSON:
        return json.dumps({"predictions": [rec.inference(fields, r, JSONLINES) for r in records]})
    return "".join(rec.serialize(rec.inference(fields, r, atype), atype) + "\n" for r in records)
