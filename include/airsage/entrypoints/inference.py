"""The serving module of an Airsage model on SageMaker (batch transform or an endpoint).

SageMaker's framework containers call four functions: ``model_fn(model_dir)`` once, then per request
``input_fn(body, content_type)`` -> ``predict_fn(data, model)`` -> ``output_fn(prediction, accept)``.

How it gets there: ``airsage.compute.packaging`` ships a two-line ``inference.py`` that re-exports
these functions, either at the root of the S3 sourcedir (``SAGEMAKER_SUBMIT_DIRECTORY=s3://...``) or
inside the model artifact as ``code/inference.py`` (``packaging.add_inference_code(model_dir)``,
``SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code``), with ``SAGEMAKER_PROGRAM=inference.py``.

Requests:

* ``text/csv``: header-less rows, one record per line, the model's features **in the model's
  feature order** (drop id columns with the transform's ``InputFilter``, e.g. ``$[1:]``).
* ``application/jsonlines``: one JSON object per line keyed by feature name (extra keys are
  ignored), or one JSON array per line in feature order.
* ``application/json``: one object, a list of objects/arrays, or ``{"instances": [...]}``.
* ``application/x-parquet``: a whole Parquet file (``SplitType=None`` only).

Responses, one per input record and in input order (what ``JoinSource=Input`` needs):

* ``text/csv``: ``score,predicted_label`` per line.
* ``application/jsonlines``: ``{"score": s, "predicted_label": l}`` per line.
* ``application/json``: ``{"predictions": [{"score": s, "predicted_label": l}, ...]}``.

``score`` is the probability of the positive class; ``predicted_label`` is 1 when
``score > threshold`` (the bundle's decision threshold), else 0, as everywhere else in Airsage.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from airsage.errors import DataValidationError

CSV = "text/csv"
JSONLINES = "application/jsonlines"
JSON = "application/json"
PARQUET = "application/x-parquet"
SUPPORTED_INPUT = (CSV, JSONLINES, JSON, PARQUET)
SUPPORTED_OUTPUT = (CSV, JSONLINES, JSON)
_ALIASES = {"application/x-jsonlines": JSONLINES, "application/jsonl": JSONLINES, "text/x-csv": CSV,
            "application/parquet": PARQUET}


@dataclass(frozen=True)
class Records:
    """Parsed request: positional rows (feature order) and/or keyed records, in input order."""

    content_type: str
    rows: list[Any]  # each a list (positional) or a dict (by feature name)
    frame: Any = None  # a pandas DataFrame (Parquet input)


@dataclass(frozen=True)
class Prediction:
    content_type: str  # of the request: the default response format
    scores: list[float]
    labels: list[int]


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    base = value.split(";")[0].strip().lower()
    return _ALIASES.get(base, base)


def _text(body: bytes | str | bytearray) -> str:
    return body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)


# ---------------------------------------------------------------------------- the four functions
def model_fn(model_dir):
    """Load the model bundle unpacked from model.tar.gz."""
    from airsage.model import ModelBundle

    return ModelBundle.load(model_dir)


def input_fn(body: bytes | str, content_type: str | None = CSV) -> Records:
    """Parse a request body; the feature order is applied in ``predict_fn`` (it needs the model)."""
    ctype = _media_type(content_type) or CSV
    if ctype == CSV:
        text = _text(body)
        rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
        return Records(CSV, rows)
    if ctype == JSONLINES:
        rows = []
        for n, line in enumerate(_text(body).splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise DataValidationError("inference request", [f"line {n} is not JSON: {exc}"],
                                              fix="Send one JSON object per line (application/jsonlines).") from None
        return Records(JSONLINES, rows)
    if ctype == JSON:
        try:
            obj = json.loads(_text(body))
        except ValueError as exc:
            raise DataValidationError("inference request", [f"body is not JSON: {exc}"],
                                      fix="Send a JSON object, a list of objects, or {\"instances\": [...]}.") from None
        if isinstance(obj, dict) and "instances" in obj:
            obj = obj["instances"]
        rows = obj if isinstance(obj, list) and (not obj or isinstance(obj[0], (list, dict))) else [obj]
        return Records(JSON, rows)
    if ctype == PARQUET:
        import pandas as pd

        data = body if isinstance(body, (bytes, bytearray)) else str(body).encode("latin-1")
        return Records(PARQUET, [], frame=pd.read_parquet(io.BytesIO(bytes(data))))
    raise DataValidationError("inference request", [f"unsupported content type {content_type!r}"],
                              fix=f"Send one of {list(SUPPORTED_INPUT)} (the transform's ContentType).")


def _frame(data: Records, feature_names: list[str]):
    import pandas as pd

    if data.frame is not None:
        return data.frame
    positional = [r for r in data.rows if isinstance(r, list)]
    keyed = [r for r in data.rows if isinstance(r, dict)]
    if positional and keyed:
        raise DataValidationError("inference request", ["mixes JSON arrays and objects"],
                                  fix="Send either arrays in feature order or objects keyed by feature name.")
    if keyed:
        missing = sorted({f for r in keyed for f in feature_names if f not in r})
        if missing:
            raise DataValidationError("inference request", [f"record(s) lack feature(s) {missing[:10]}"],
                                      fix="Send every model feature (null for a missing value).")
        return pd.DataFrame([{f: r[f] for f in feature_names} for r in keyed], columns=feature_names)
    bad = [i for i, r in enumerate(positional) if len(r) != len(feature_names)]
    if bad:
        raise DataValidationError(
            "inference request",
            [f"record {bad[0] + 1} has {len(positional[bad[0]])} values, the model takes {len(feature_names)}"],
            fix="Send header-less rows with exactly the model's features in its order; drop id or label "
                "columns with the transform's DataProcessing.InputFilter (e.g. \"$[1:]\").")
    values = [[None if (isinstance(v, str) and v == "") else v for v in r] for r in positional]
    return pd.DataFrame(values, columns=feature_names, dtype=object)


def predict_fn(data: Records, model) -> Prediction:
    """Score the records with the bundle (same encoding as every other Airsage scorer)."""
    if data.frame is None and not data.rows:
        return Prediction(data.content_type, [], [])
    frame = _frame(data, list(model.feature_names))
    proba = model.predict_proba(frame)
    labels = model.predict_label(proba)
    return Prediction(data.content_type, [float(p) for p in proba], [int(v) for v in labels])


def output_fn(prediction: Prediction, accept: str | None = None) -> str:
    """Serialise one response record per input record (CSV by default for Parquet input)."""
    atype = _media_type(accept)
    if atype in (None, "*/*"):
        atype = prediction.content_type if prediction.content_type in SUPPORTED_OUTPUT else CSV
    pairs = list(zip(prediction.scores, prediction.labels))
    if atype == CSV:
        return "".join(f"{s!r},{lab}\n" for s, lab in pairs)
    if atype == JSONLINES:
        return "".join(json.dumps({"score": s, "predicted_label": lab}) + "\n" for s, lab in pairs)
    if atype == JSON:
        return json.dumps({"predictions": [{"score": s, "predicted_label": lab} for s, lab in pairs]})
    raise DataValidationError("inference response", [f"unsupported accept type {accept!r}"],
                              fix=f"Ask for one of {list(SUPPORTED_OUTPUT)} (the transform's Accept).")
