"""The review task a human sees: one routed record as a small JSON-serialisable dict.

It is the A2I ``InputContent`` (so ``output.json``'s ``inputContent`` echoes it) and small enough for an
Airflow HITL form: numbers are rounded for display, text is cut at ``MAX_TEXT`` characters, and only
the ``top_k`` feature contributions are shown when contributions are given (else the raw features).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_TEXT = 200
MAX_PAYLOAD_BYTES = 8192  # a form, not a data dump; A2I itself allows 3 MiB


def _plain(v: Any) -> Any:
    """A JSON-safe, display-sized value: numpy -> Python, NaN -> None, floats to 6 significant digits."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool) or isinstance(v, int):
        return v
    if isinstance(v, float):
        return float(f"{v:.6g}")
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if hasattr(v, "isoformat"):  # pandas Timestamp
        return v.isoformat()
    text = str(v)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def build_task_payload(
    record: Mapping[str, Any],
    *,
    feature_names: list[str],
    reasons: list[str],
    inference_id: str | None = None,
    record_id: str | None = None,
    score: float | None = None,
    model_label: int | None = None,
    threshold: float | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    contributions: Mapping[str, float] | None = None,
    top_k: int = 5,
    usecase: str | None = None,
) -> dict[str, Any]:
    """One review task. ``record`` is a routed row (its ``inference_id``, ``score``, ``predicted_label``,
    ``model_name``/``model_version`` are used when the keyword is not given); ``contributions`` maps
    feature -> contribution to the score (e.g. SHAP), of which the ``top_k`` largest by magnitude are shown."""
    get = record.get
    payload: dict[str, Any] = {
        "inference_id": str(inference_id if inference_id is not None else get("inference_id")),
        "record_id": str(record_id if record_id is not None else get("inference_id")),
        "score": _plain(float(score if score is not None else get("score"))),
        "model_label": int(model_label if model_label is not None else get("predicted_label")),
        "reasons": [_plain(r) for r in reasons],
    }
    if threshold is not None:
        payload["threshold"] = _plain(float(threshold))
    name = model_name if model_name is not None else get("model_name")
    version = model_version if model_version is not None else get("model_version")
    if name is not None or version is not None:
        payload["model"] = {"name": _plain(name), "version": _plain(version)}
    if usecase:
        payload["usecase"] = usecase
    if contributions:
        top = sorted(contributions.items(), key=lambda kv: (-abs(float(kv[1])), kv[0]))[:top_k]
        payload["top_contributions"] = [
            {"feature": f, "value": _plain(get(f)), "contribution": _plain(float(c))} for f, c in top]
    else:
        payload["features"] = {f: _plain(get(f)) for f in feature_names}
    return _fit(payload)


def _fit(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop trailing features until the serialised task fits ``MAX_PAYLOAD_BYTES`` (marked ``truncated``)."""
    if payload_size(payload) <= MAX_PAYLOAD_BYTES:
        return payload
    key = "features" if "features" in payload else "top_contributions"
    items = list(payload[key].items()) if key == "features" else list(payload[key])
    payload["truncated"] = True
    while items and payload_size(payload) > MAX_PAYLOAD_BYTES:
        items.pop()
        payload[key] = dict(items) if key == "features" else items
    return payload


def payload_size(payload: Mapping[str, Any]) -> int:
    return len(json.dumps(payload, separators=(",", ":")).encode())


def feature_contributions(model: Any, records) -> list[dict[str, float]] | None:
    """Per-record SHAP contributions (log-odds) from an XGBoost bundle, for the few routed records.

    Uses XGBoost's exact TreeSHAP (``pred_contribs``); ~500 rows/s on this model size, which is fine for
    a nightly cap of tens of records. Returns None for models without a booster."""
    if getattr(model, "booster", None) is None:
        return None
    import xgboost as xgb

    x = model.encode(records)
    contribs = model.booster.predict(xgb.DMatrix(x), pred_contribs=True, validate_features=False)
    names = list(model.feature_names)
    return [{n: float(v) for n, v in zip(names, row[: len(names)])} for row in contribs]
