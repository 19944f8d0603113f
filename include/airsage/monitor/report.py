"""A self-contained HTML report of one monitoring run (inline SVG, no external asset, no script).

Sections: the verdict, Model Monitor violations, the drift table, per-feature baseline-vs-current
distributions (the drift bins), optional model quality / bias / attribution results, and a trend
section from the run history. The markup is well-formed XML (XHTML-style) so that it can be
validated by any XML parser and opened anywhere, e-mail clients included.
"""
from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from airsage import storage

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f4f4} .alert{color:#b00020;font-weight:bold} .ok{color:#1b7f3b;font-weight:bold}
.grid{display:flex;flex-wrap:wrap;gap:12px} .card{border:1px solid #e3e3e3;padding:6px;border-radius:4px}
.small{font-size:12px;color:#666} .drifted{background:#fde8ea}
"""
BASE_COLOR, CUR_COLOR = "#9aa5b1", "#1f77b4"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            return _e(v)
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)
    return _e(v)


def _table(headers: list[str], rows: list[list[Any]], row_classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{_num(c) if not isinstance(c, str) else _e(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bar_chart_svg(labels: list[str], baseline: list[float], current: list[float], *, title: str = "",
                  width: int = 340, height: int = 170) -> str:
    """Grouped bars (baseline grey, current blue) of two share vectors."""
    n = max(len(labels), 1)
    top = max([*baseline, *current, 1e-9])
    pad_l, pad_b, pad_t = 30, 18, 18
    plot_w, plot_h = width - pad_l - 6, height - pad_b - pad_t
    slot = plot_w / n
    bw = max(slot * 0.38, 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(title)}">',
             f'<text x="{pad_l}" y="12" font-size="11" font-weight="bold">{_e(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 6}" y2="{pad_t + plot_h}" stroke="#999"/>',
             f'<text x="2" y="{pad_t + 8}" font-size="9">{top:.0%}</text>']
    for i, label in enumerate(labels):
        x0 = pad_l + i * slot + slot * 0.1
        for j, (vals, color) in enumerate(((baseline, BASE_COLOR), (current, CUR_COLOR))):
            v = vals[i] if i < len(vals) else 0.0
            h = plot_h * v / top
            parts.append(f'<rect x="{x0 + j * bw:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                         f'fill="{color}"><title>{_e(label)}: {"baseline" if j == 0 else "current"} {v:.2%}</title></rect>')
        short = label if len(label) <= 8 else label[:7] + "…"
        parts.append(f'<text x="{x0 + bw:.1f}" y="{height - 4}" font-size="8" text-anchor="middle">{_e(short)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(times: list[str], series: dict[str, list[float]], *, title: str = "", width: int = 700,
                   height: int = 200, alerts: list[bool] | None = None) -> str:
    """One polyline per series over equally spaced runs; alert runs marked red."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    n = len(times)
    pad_l, pad_r, pad_t, pad_b = 40, 10, 20, 30
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    top = max(values + [1e-9])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
             f'<text x="{pad_l}" y="13" font-size="12" font-weight="bold">{_e(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - pad_r}" y2="{pad_t + plot_h}" stroke="#999"/>',
             f'<text x="2" y="{pad_t + 8}" font-size="9">{top:.3g}</text>']

    def x(i: int) -> float:
        return pad_l + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    for k, (name, vals) in enumerate(series.items()):
        color = colors[k % len(colors)]
        pts = [(x(i), pad_t + plot_h - plot_h * (v / top)) for i, v in enumerate(vals) if v is not None and math.isfinite(v)]
        if pts:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                         + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        parts.append(f'<text x="{pad_l + 10 + 150 * k}" y="{height - 4}" font-size="10" fill="{color}">{_e(name)}</text>')
    for i, flag in enumerate(alerts or []):
        if flag:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{pad_t + plot_h}" r="4" fill="#b00020"><title>alert: {_e(times[i])}</title></circle>')
    if n:
        parts.append(f'<text x="{pad_l}" y="{pad_t + plot_h + 12}" font-size="9">{_e(times[0])}</text>')
        if n > 1:
            parts.append(f'<text x="{width - pad_r}" y="{pad_t + plot_h + 12}" font-size="9" text-anchor="end">{_e(times[-1])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_report(
    report: Any,
    *,
    title: str = "Airsage monitoring report",
    subtitle: str = "",
    history: pd.DataFrame | None = None,
    model_quality: dict[str, Any] | None = None,
    model_quality_violations: list[dict[str, str]] | None = None,
    bias_drift: Any = None,
    attribution_drift: Any = None,
) -> str:
    """The HTML page for one ``DataMonitorReport`` (and optional extras)."""
    q, d = report.quality, report.drift
    verdict = '<span class="alert">ALERT</span>' if report.alert else '<span class="ok">OK</span>'
    out = ['<!DOCTYPE html>', '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>',
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1>", f'<p class="small">{_e(subtitle)}</p>' if subtitle else "",
           f"<p>Verdict: {verdict} &#8212; {q.item_count} rows, {len(q.violations)} Model Monitor violation(s), "
           f"importance-weighted drifted share {d.drifted_share:.1%} (alert at {d.thresholds.drifted_share_alert:.0%}, "
           f"weights: {_e(d.weights_source)}).</p>"]
    if d.prediction is not None:
        p = d.prediction
        flag = '<span class="alert">yes</span>' if p.drifted else "no"
        out.append(f"<p>Prediction drift: {flag} "
                   f"(PSI {_num(p.psi)}, normalised Wasserstein {_num(p.wasserstein)}).</p>")

    out.append("<h2>Violations (constraint_violations.json)</h2>")
    if q.violations:
        out.append(_table(["feature", "check", "description"],
                          [[v.feature_name, v.constraint_check_type, v.description] for v in q.violations]))
    else:
        out.append("<p>None.</p>")

    out.append("<h2>Drift per feature</h2>")
    rows, classes = [], []
    for f in sorted(d.features, key=lambda f: (-f.drifted, -(f.weight or 0), f.name)):
        rows.append([f.name, f.kind, f.weight, f.psi, f.js, f.wasserstein, f.linf, f.drifted, f.reason])
        classes.append("drifted" if f.drifted else "")
    out.append(_table(["feature", "kind", "weight", "PSI", "JS", "Wasserstein/std", "L-inf", "drifted", "reason"],
                      rows, classes))

    out.append("<h2>Distributions: baseline (grey) vs current (blue)</h2><div class=\"grid\">")
    charts = ([d.prediction] if d.prediction is not None else []) + sorted(
        d.features, key=lambda f: (-f.drifted, -(f.weight or 0), f.name))
    for f in charts:
        if f.bins:
            out.append(f'<div class="card">{bar_chart_svg(list(f.bins), list(f.baseline_shares), list(f.current_shares), title=f.name)}</div>')
    out.append("</div>")

    if model_quality is not None:
        out.append("<h2>Model quality</h2>")
        block = model_quality.get("binary_classification_metrics", model_quality)
        rows = [[k, v.get("value"), v.get("standard_deviation")] for k, v in block.items()
                if isinstance(v, dict) and "value" in v]
        out.append(_table(["metric", "value", "standard deviation"], rows))
        if model_quality_violations:
            out.append(_table(["metric", "check", "description"],
                              [[v["metric_name"], v["constraint_check_type"], v["description"]] for v in model_quality_violations]))
    if bias_drift is not None:
        out.append("<h2>Bias drift</h2>")
        vs = list(bias_drift.violations)
        out.append(_table(["facet", "value", "metric", "description"],
                          [[v["facet"], v["facet_value"], v["metric_name"], v["description"]] for v in vs]) if vs else "<p>None.</p>")
    if attribution_drift is not None:
        out.append("<h2>Feature attribution drift (NDCG)</h2>")
        out.append(_table(["label", "NDCG", f"violation (< {attribution_drift.threshold})"],
                          [[k, v, v < attribution_drift.threshold] for k, v in attribution_drift.ndcg.items()]))

    out.append("<h2>Trend</h2>")
    if history is not None and len(history):
        times = [pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in history["run_time"]]
        series = {}
        for col, label in (("drifted_share", "drifted share"), ("n_violations", "violations"),
                           ("prediction_psi", "prediction PSI")):
            if col in history.columns:
                series[label] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
                                 for v in history[col].tolist()]
        alerts = [bool(a) for a in history["alert"].tolist()] if "alert" in history.columns else None
        out.append(line_chart_svg(times, series, title="Runs over time", alerts=alerts))
        cols = [c for c in ("run_time", "run_key", "model_version", "alert", "n_violations", "drifted_share")
                if c in history.columns]
        out.append(_table(cols, [[str(r[c]) if c == "run_time" else r[c] for c in cols]
                                 for _, r in history.tail(30).iterrows()]))
    else:
        out.append("<p>No history yet.</p>")
    out.append("</body></html>")
    return "\n".join(s for s in out if s)


def write_report(uri: str, page: str) -> str:
    """Publish the page atomically."""
    return storage.write_text(uri, page)
