"""The review task a human sees: one routed record as a small JSON-serialisable dict.

It is the A2I ``InputContent`` (so ``output.json``'s ``inputContent`` echoes it) and small enough for an
Airflow HITL form: numbers are rounded for display, text is cut at ``MAX_TEXT`` characters. It holds
the whole ``record`` (every model input, then the passthrough fields), the ``top_k`` feature
contributions when contributions are given (else, as before, the inputs again under ``features``),
the model's label and its name, and the routing reasons.

``task_subject`` and ``task_body`` render what the reviewer meets: a one-line subject for Airflow's
list of Required actions (record id, score, predicted label name, reasons) and a Markdown body
(the record with the top contributions highlighted, and what Confirm and Override do, in label names).
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
    passthrough: list[str] | None = None,
    record_key: str | None = None,
    reason_codes: list[str] | None = None,
    label_names: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """One review task. ``record`` is a routed row (its ``inference_id``, ``score``, ``predicted_label``,
    ``model_name``/``model_version`` are used when the keyword is not given); ``contributions`` maps
    feature -> contribution to the score (e.g. SHAP), of which the ``top_k`` largest by magnitude are shown.
    ``passthrough``: the use case's passthrough fields, shown after the inputs; ``record_key``: the
    schema's record-id column, also set at the top level (the label import finds the record id of an
    A2I output there); ``reason_codes``: the routing reason codes; ``label_names``: see ``label_names_for``."""
    get = record.get
    payload: dict[str, Any] = {
        "inference_id": str(inference_id if inference_id is not None else get("inference_id")),
        "record_id": str(record_id if record_id is not None else get("inference_id")),
        "score": _plain(float(score if score is not None else get("score"))),
        "model_label": int(model_label if model_label is not None else get("predicted_label")),
        "reasons": [_plain(r) for r in reasons],
    }
    if record_key and record_key not in payload:
        payload[record_key] = payload["record_id"]
    if reason_codes is not None:
        payload["reason_codes"] = [str(c) for c in reason_codes]
    if label_names:
        payload["model_label_name"] = label_name(payload["model_label"], label_names)
        payload["label_names"] = {str(k): str(v) for k, v in sorted(label_names.items())}
    if threshold is not None:
        payload["threshold"] = _plain(float(threshold))
    name = model_name if model_name is not None else get("model_name")
    version = model_version if model_version is not None else get("model_version")
    if name is not None or version is not None:
        payload["model"] = {"name": _plain(name), "version": _plain(version)}
    if usecase:
        payload["usecase"] = usecase
    whole = {f: _plain(get(f)) for f in feature_names}
    whole.update({f: _plain(get(f)) for f in (passthrough or []) if f not in whole})
    payload["record"] = whole
    if passthrough:
        payload["passthrough"] = [f for f in passthrough if f not in feature_names]
    if contributions:
        top = sorted(contributions.items(), key=lambda kv: (-abs(float(kv[1])), kv[0]))[:top_k]
        payload["top_contributions"] = [
            {"feature": f, "value": _plain(get(f)), "contribution": _plain(float(c))} for f, c in top]
    else:
        payload["features"] = {f: _plain(get(f)) for f in feature_names}
    return _fit(payload)


def _fit(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop trailing fields until the serialised task fits ``MAX_PAYLOAD_BYTES`` (marked ``truncated``):
    the duplicate ``features`` first, then the ``record``'s last fields, then contributions."""
    if payload_size(payload) <= MAX_PAYLOAD_BYTES:
        return payload
    payload["truncated"] = True
    for key in ("features", "record", "top_contributions"):
        if key not in payload:
            continue
        items = list(payload[key].items()) if isinstance(payload[key], dict) else list(payload[key])
        while items and payload_size(payload) > MAX_PAYLOAD_BYTES:
            items.pop()
            payload[key] = dict(items) if isinstance(payload[key], dict) else items
        if payload_size(payload) <= MAX_PAYLOAD_BYTES:
            break
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


# ------------------------------------------------------------------------------------ label names
def label_names_for(uc: Any) -> dict[int, str]:
    """The label names a reviewer reads: ``review.label_names``; else the inverted ``labeling.class_map``
    (``no_default`` -> "no default"); else ``label <value>`` for 0 and the positive labels."""
    names = {int(k): str(v) for k, v in (uc.review.label_names or {}).items()}
    if not names:
        for name, value in (uc.labeling.class_map or {}).items():
            try:
                names.setdefault(int(value), str(name).replace("_", " "))
            except (TypeError, ValueError):
                continue
    for value in [0, *uc.schema_.positive_labels]:
        try:
            names.setdefault(int(value), f"label {value}")
        except (TypeError, ValueError):
            continue
    return dict(sorted(names.items()))


def label_name(value: Any, label_names: Mapping[Any, str] | None) -> str:
    names = {str(k): v for k, v in (label_names or {}).items()}
    return names.get(str(value)) or f"label {value}"


def other_label(model_label: int, label_names: Mapping[Any, str] | None = None) -> int:
    """The label an Override sets: the other one of a binary label (0/1, or the two named labels)."""
    values = sorted({int(k) for k in (label_names or {})})
    values = values if len(values) == 2 else sorted(set(values) | {0, 1})
    others = [v for v in values if v != int(model_label)]
    if len(values) != 2 or len(others) != 1:
        from airsage.errors import ConfigError

        raise ConfigError(f"an override of label {model_label} is ambiguous among labels {values}", key="review.label_names",
                          fix="Human review flips a binary label: name exactly two labels in review.label_names.")
    return others[0]


# ------------------------------------------------------------------------------------ what the reviewer sees
MAX_SUBJECT = 120


def short_reason(text: str) -> str:
    """``rule: large loan (loan_amount=70000)`` -> ``large loan``; ``high risk: score ...`` -> ``high risk``."""
    text = str(text)
    if text.startswith("rule: "):
        return text[len("rule: "):].split(" (", 1)[0]
    return text.split(":", 1)[0]


def task_subject(payload: Mapping[str, Any]) -> str:
    """One line for Airflow's list of Required actions: record id, score, predicted label name, reasons."""
    names = payload.get("label_names")
    label = payload.get("model_label_name") or label_name(payload.get("model_label"), names)
    reasons = ", ".join(dict.fromkeys(short_reason(r) for r in payload.get("reasons") or []))
    text = f"{payload.get('record_id') or payload.get('inference_id')} · score {float(payload.get('score') or 0):.3f}" \
           f" → {label}" + (f" · {reasons}" if reasons else "")
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1] + "…"


def _md(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)  # 512.0 reads as 512
    text = "—" if v is None else str(v)
    return text.replace("|", "\\|").replace("\n", " ")


def task_body(payload: Mapping[str, Any], *, usecase: str | None = None) -> str:
    """The Markdown a reviewer reads: the prediction, why it is here, what Confirm and Override set (in
    label names), the top contributions and the whole record (top contributions highlighted)."""
    names = payload.get("label_names") or {}
    model_label = int(payload["model_label"])
    predicted = payload.get("model_label_name") or label_name(model_label, names)
    try:
        flipped = other_label(model_label, names)
        flipped_text = f"**{label_name(flipped, names)}** (label {flipped})"
    except Exception:  # noqa: BLE001 - more than two labels: the form asks for the label
        flipped_text = "the label you choose"
    rid = payload.get("record_id") or payload["inference_id"]
    model = payload.get("model") or {}
    head = [f"### Record `{_md(rid)}`: the model predicted **{_md(predicted)}** (score {float(payload['score']):.3f})"]
    facts = [usecase or payload.get("usecase")]
    if model:
        facts.append(f"model {model.get('name')} v{model.get('version')}")
    if payload.get("threshold") is not None:
        facts.append(f"decision threshold {payload['threshold']}")
    if payload.get("inference_id") and payload.get("inference_id") != rid:
        facts.append(f"inference `{payload['inference_id']}`")
    lines = head + ["", " · ".join(_md(f) for f in facts if f), "",
                    "**Why it is here:** " + _md("; ".join(payload.get("reasons") or []) or "—"), "",
                    "**Your answer**",
                    f"- **Confirm**: the label stays **{_md(predicted)}** (label {model_label}), as the model predicted. "
                    "A comment is optional.",
                    f"- **Override**: the label becomes {_md(flipped_text)}. An override needs a comment: "
                    "say why the model is wrong."]
    top = payload.get("top_contributions") or []
    if top:
        positive = label_name(max((int(k) for k in names), default=1), names)
        lines += ["", f"**Top contributions** (SHAP, log-odds; + pushes toward **{_md(positive)}**)", "",
                  "| feature | value | contribution |", "|---|---|---|"]
        lines += [f"| {_md(c['feature'])} | {_md(c.get('value'))} | {float(c['contribution']):+.3f} |" for c in top]
    record = payload.get("record") or payload.get("features") or {}
    if record:
        hot = {c["feature"] for c in top}
        extra = set(payload.get("passthrough") or [])
        lines += ["", "**The record**" + (" (★ = a top contribution)" if hot else ""), "", "| field | value |", "|---|---|"]
        for k, v in record.items():
            if k in hot:
                lines.append(f"| ★ **{_md(k)}** | **{_md(v)}** |")
            else:
                lines.append(f"| {_md(k)}{' *(passthrough, not a model input)*' if k in extra else ''} | {_md(v)} |")
    if payload.get("truncated"):
        lines += ["", "*Some fields were cut to keep the task small.*"]
    return "\n".join(lines)
