"""A self-contained ``report.html`` for a Clarify analysis: inline SVG charts, no external assets.

Sections: bias metrics per facet (value, meaning, the range that counts as balanced, a bar chart),
global SHAP importance (bar chart), a beeswarm-style summary of the local values, and the top
contributions of a few flagged records (the highest model outputs).
"""
from __future__ import annotations

import datetime as _dt

import html
import math
from typing import Any

import numpy as np

from airsage import jsonsafe
from airsage.clarify.vocabulary import METRIC_INFO  # noqa: F401 (re-exported: the report's table)

CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}.flag{background:#fde2e1}
.err{color:#999}.note{color:#555;font-size:.9em}svg{display:block;margin:.5em 0}"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float | None:
    v = jsonsafe.number(value)  # Clarify's "Infinity" strings -> inf; null / NaN -> not available
    return None if v is None or math.isnan(v) else v


def _fmt(value: Any) -> str:
    v = _num(value)
    if v is None:
        return "n/a"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:.4g}"


def is_notable(name: str, value: Any) -> bool:
    """True when a metric is outside its 'notable' band around the ideal value (highlighted, not a gate)."""
    v = _num(value)
    if v is None or name not in METRIC_INFO:
        return False
    _, _, ideal, band = METRIC_INFO[name]
    return math.isinf(v) or abs(v - ideal) > band


# =========================================================================== SVG helpers
def bar_chart(labels: list[str], values: list[float], *, width: int = 640, title: str = "",
              centre: float = 0.0) -> str:
    """Horizontal bars (positive right, negative left of ``centre``); infinities are clipped and marked."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    span = max([abs(v - centre) for v in finite] + [1e-12])
    row, left, right = 22, 190, 70
    height = row * len(labels) + 30
    has_neg = any(v is not None and v < centre for v in values)
    pad = 60 if has_neg else 6  # room for the value printed left of a negative bar
    plot = width - left - pad - right
    zero_x = left + pad + (plot / 2 if has_neg else 0)
    scale = (plot / 2 if has_neg else plot) / span
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_esc(title)}"><title>{_esc(title)}</title>',
             f'<line x1="{zero_x:.1f}" y1="18" x2="{zero_x:.1f}" y2="{height - 8}" stroke="#888"/>']
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = 20 + i * row
        parts.append(f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{_esc(lab)}</text>')
        if v is None:
            parts.append(f'<text x="{zero_x + 4:.1f}" y="{y + 13}" font-size="11" fill="#999">n/a</text>')
            continue
        clipped = max(min(v - centre, span), -span) if math.isinf(v) else v - centre
        w = abs(clipped) * scale
        x = zero_x if clipped >= 0 else zero_x - w
        colour = "#d9534f" if clipped > 0 else "#337ab7"
        parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{row - 8}" fill="{colour}"/>')
        tx = x + w + 4 if clipped >= 0 else x - 4
        anchor = "start" if clipped >= 0 else "end"
        parts.append(f'<text x="{tx:.1f}" y="{y + 13}" font-size="11" text-anchor="{anchor}">{_fmt(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def beeswarm(names: list[str], local: np.ndarray, values: np.ndarray, *, width: int = 680,
             max_points: int = 300, seed: int = 0) -> str:
    """One row per feature: a dot per record at its SHAP value, jittered, coloured low (blue) to high (red)."""
    rng = np.random.default_rng(seed)
    n = local.shape[0]
    rows = rng.choice(n, size=min(n, max_points), replace=False) if n else np.zeros(0, dtype=int)
    lo, hi = (float(np.min(local[rows])), float(np.max(local[rows]))) if len(rows) else (-1.0, 1.0)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = (hi - lo) or 1.0
    row, left, right = 26, 190, 20
    height = row * len(names) + 40
    plot = width - left - right

    def xpos(v: float) -> float:
        return left + (v - lo) / span * plot

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="SHAP summary"><title>SHAP summary (beeswarm)</title>',
             f'<line x1="{xpos(0):.1f}" y1="10" x2="{xpos(0):.1f}" y2="{height - 28}" stroke="#888"/>',
             f'<text x="{left}" y="{height - 8}" font-size="11">{lo:.3g}</text>',
             f'<text x="{width - right}" y="{height - 8}" font-size="11" text-anchor="end">{hi:.3g}</text>',
             f'<text x="{xpos(0):.1f}" y="{height - 8}" font-size="11" text-anchor="middle">SHAP value</text>']
    for i, name in enumerate(names):
        y = 20 + i * row
        parts.append(f'<text x="{left - 6}" y="{y + 4}" font-size="12" text-anchor="end">{_esc(name)}</text>')
        col = values[rows, i].astype(np.float64) if len(rows) else np.zeros(0)
        finite = np.isfinite(col)
        if finite.any():
            ranks = np.argsort(np.argsort(np.where(finite, col, np.inf)))
            frac = ranks / max(finite.sum() - 1, 1)
        else:
            frac = np.full(len(col), 0.5)
        jitter = rng.uniform(-row * 0.35, row * 0.35, size=len(rows))
        parts.append('<g fill-opacity="0.6">')
        for v, f, j, ok in zip(local[rows, i], frac, jitter, finite):
            colour = f"rgb({int(40 + 200 * f)},60,{int(240 - 200 * f)})" if ok else "#bbb"
            parts.append(f'<circle cx="{xpos(float(v)):.1f}" cy="{y + j:.1f}" r="2" fill="{colour}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


# =========================================================================== sections
def _bias_section(title: str, block: dict | None) -> str:
    if not block:
        return ""
    out = [f"<h2>{_esc(title)}</h2>",
           f'<p class="note">Label <b>{_esc(block["label"])}</b>, positive value or threshold '
           f'<b>{_esc(block["label_value_or_threshold"])}</b>. Group <i>d</i> is the facet value(s) listed; '
           f"group <i>a</i> is everyone else. Highlighted values lie outside a common rule-of-thumb band; "
           f"they are findings to review, not verdicts.</p>"]
    for facet, entries in block["facets"].items():
        for entry in entries:
            out.append(f"<h3>Facet {_esc(facet)} = {_esc(entry['value_or_threshold'])}</h3>")
            rows = []
            for m in entry["metrics"]:
                meaning, rng, _, _ = METRIC_INFO.get(m["name"], (m.get("description", ""), "", 0.0, 0.0))
                cls = "flag" if is_notable(m["name"], m["value"]) else ""
                value = _fmt(m["value"]) if "error" not in m else f'<span class="err">{_esc(m["error"])}</span>'
                rows.append(f'<tr class="{cls}"><td>{_esc(m["name"])}</td><td class="num">{value}</td>'
                            f"<td>{_esc(meaning)}</td><td>{_esc(rng)}</td></tr>")
            out.append("<table><tr><th>metric</th><th>value</th><th>meaning</th><th>range (ideal)</th></tr>"
                       + "".join(rows) + "</table>")
            charted = [m for m in entry["metrics"] if "error" not in m and m["name"] != "DI"]
            if charted:
                out.append(bar_chart([m["name"] for m in charted], [_num(m["value"]) for m in charted],
                                     title=f"{facet} = {entry['value_or_threshold']}"))
    return "".join(out)


def _shap_section(analysis: dict, local: np.ndarray | None, feature_values: np.ndarray | None,
                  names: list[str] | None, flagged: list[dict] | None, max_features: int = 15) -> str:
    expl = analysis.get("explanations", {}).get("kernel_shap")
    if not expl:
        return ""
    meta = analysis.get("airsage", {})
    label_key, body = next(iter(expl.items()))
    glob = body["global_shap_values"]
    order = sorted(glob, key=lambda k: -abs(glob[k]))[:max_features]
    out = ["<h2>Feature attributions (SHAP)</h2>",
           f'<p class="note">Method <b>{_esc(meta.get("shap_method", "kernel_shap"))}</b>, output space '
           f'<b>{_esc(meta.get("shap_output_space", "probability"))}</b>, aggregation '
           f'<b>{_esc(meta.get("shap_agg_method", "mean_abs"))}</b>, expected value {_fmt(body["expected_value"])}, '
           f'{_esc(meta.get("shap_records", "?"))} records explained ({_esc(label_key)}).</p>',
           "<h3>Global importance</h3>", bar_chart(order, [glob[k] for k in order], title="Global SHAP importance")]
    if local is not None and names is not None and len(local):
        idx = [names.index(k) for k in order if k in names]
        out += ["<h3>Summary of local values</h3>",
                '<p class="note">One dot per record (a sample of at most 300); colour shows the feature value, '
                "from low (blue) to high (red).</p>",
                beeswarm([names[i] for i in idx], local[:, idx],
                         feature_values[:, idx] if feature_values is not None else np.zeros((len(local), len(idx))))]
    for rec in flagged or []:
        contrib = sorted(rec["contributions"].items(), key=lambda kv: -abs(kv[1]))[:8]
        out += [f"<h3>Record {_esc(rec['id'])}: model output {_fmt(rec['output'])}</h3>",
                bar_chart([k for k, _ in contrib], [v for _, v in contrib], title=f"Top contributions {rec['id']}")]
    return "".join(out)


def render_html(analysis: dict, *, title: str = "Analysis Report", local: np.ndarray | None = None,
                feature_values: np.ndarray | None = None, feature_names: list[str] | None = None,
                flagged: list[dict] | None = None) -> str:
    """The whole report as one HTML string (inline CSS and SVG only)."""
    body = [_bias_section("Pre-training bias", analysis.get("pre_training_bias_metrics")),
            _bias_section("Post-training bias", analysis.get("post_training_bias_metrics")),
            _shap_section(analysis, local, feature_values, feature_names, flagged)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{_esc(title)}</h1>"
            '<p class="note">SageMaker Clarify-compatible analysis produced by Airsage on '
            f"{_esc(_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC'))}. "
            "The machine-readable results are in analysis.json.</p>"
            + "".join(body) + "</body></html>\n")
