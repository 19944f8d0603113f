"""A self-contained HTML report of one monitoring run (inline SVG, no external asset, no script).

Sections: a header (use case, model version, baseline dataset, run, partition, date), the verdict,
Model Monitor violations, the drift table, per-feature baseline-vs-current distributions (the drift
bins), optional model quality, bias drift (per-facet metrics vs the baseline, with the allowed band)
and feature-attribution drift (the mean |SHAP| ranking, baseline vs current, and NDCG), and the trend
of the last 30 runs from the run history. The markup is well-formed XML (XHTML-style) so that it can be
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


def _svg_open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="{_e(title)}"><title>{_e(title)}</title>')


def _pct(v: float) -> str:
    return f"{v:.0%}" if v >= 0.1 or v == 0 else f"{v:.1%}"


def bar_chart_svg(labels: list[str], baseline: list[float], current: list[float], *, title: str = "",
                  width: int = 340, height: int = 190, x_name: str = "value", y_name: str = "share of rows") -> str:
    """Grouped bars (baseline grey, current blue) of two share vectors. The y axis runs from 0 to the
    largest share, with ticks at 0, 50 % and 100 % of it (labelled with the share they stand for); each
    bar and each x label carries the full label as its tooltip (labels are shortened on the axis)."""
    n = max(len(labels), 1)
    top = max([*baseline, *current, 1e-9])
    pad_l, pad_b, pad_t, pad_r = 44, 30, 18, 6
    plot_w, plot_h = width - pad_l - pad_r, height - pad_b - pad_t
    slot = plot_w / n
    bw = max(slot * 0.38, 1.0)
    y0 = pad_t + plot_h
    parts = [_svg_open(width, height, title),
             f'<text x="{pad_l}" y="12" font-size="11" font-weight="bold">{_e(title)}</text>',
             f'<line x1="{pad_l}" y1="{y0}" x2="{width - pad_r}" y2="{y0}" stroke="#999"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{y0}" stroke="#999"/>']
    for frac in (0.0, 0.5, 1.0):  # y ticks: 0, 50 % and 100 % of the axis
        y = y0 - plot_h * frac
        parts.append(f'<line x1="{pad_l - 3}" y1="{y:.1f}" x2="{width - pad_r}" y2="{y:.1f}" '
                     f'stroke="{"#999" if frac == 0 else "#eee"}"/>')
        parts.append(f'<text x="{pad_l - 5}" y="{y + 3:.1f}" font-size="8" text-anchor="end">{_pct(top * frac)}</text>')
    parts.append(f'<text x="9" y="{pad_t + plot_h / 2:.1f}" font-size="9" text-anchor="middle" '
                 f'transform="rotate(-90 9 {pad_t + plot_h / 2:.1f})">{_e(y_name)}</text>')
    parts.append(f'<text x="{pad_l + plot_w / 2:.1f}" y="{height - 2}" font-size="9" text-anchor="middle">'
                 f'{_e(x_name)}</text>')
    for i, label in enumerate(labels):
        x0 = pad_l + i * slot + slot * 0.1
        for j, (vals, color) in enumerate(((baseline, BASE_COLOR), (current, CUR_COLOR))):
            v = vals[i] if i < len(vals) else 0.0
            h = plot_h * v / top
            parts.append(f'<rect x="{x0 + j * bw:.1f}" y="{y0 - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                         f'fill="{color}"><title>{_e(label)}: {"baseline" if j == 0 else "current"} {v:.2%}</title></rect>')
        short = label if len(label) <= 8 else label[:7] + "…"
        parts.append(f'<text x="{x0 + bw:.1f}" y="{y0 + 10}" font-size="8" text-anchor="middle">{_e(short)}'
                     f'<title>{_e(label)}</title></text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_ticks(lo: float, hi: float, k: int = 4) -> list[float]:
    """About ``k`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / k
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks, t = [], first
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 12))
        t += step
    return ticks


def line_chart_svg(times: list[str], series: dict[str, list[float]], *, title: str = "", width: int = 700,
                   height: int = 220, alerts: list[bool] | None = None, x_name: str = "partition (run)",
                   y_name: str = "value", reference: tuple[str, float] | None = None,
                   y_range: tuple[float, float] | None = None) -> str:
    """One polyline per series over equally spaced runs; alert runs marked red. Y ticks at round values,
    x ticks at up to 6 runs (first and last included), both axes named; ``reference`` draws a dashed
    horizontal line (e.g. a threshold); ``y_range`` fixes the axis (default: 0 to the largest value)."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    n = len(times)
    pad_l, pad_r, pad_t, pad_b = 52, 10, 20, 44
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    if reference is not None:
        values.append(reference[1])
    lo, top = y_range if y_range else (min(values + [0.0]), max(values + [1e-9]))
    ticks = _nice_ticks(lo, top)
    lo, top = min(lo, ticks[0]), max(top, ticks[-1])
    span = (top - lo) or 1.0
    y0 = pad_t + plot_h

    def y(v: float) -> float:
        return y0 - plot_h * (v - lo) / span

    def x(i: int) -> float:
        return pad_l + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    parts = [_svg_open(width, height, title),
             f'<text x="{pad_l}" y="13" font-size="12" font-weight="bold">{_e(title)}</text>',
             f'<line x1="{pad_l}" y1="{y0}" x2="{width - pad_r}" y2="{y0}" stroke="#999"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{y0}" stroke="#999"/>',
             f'<text x="10" y="{pad_t + plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
             f'transform="rotate(-90 10 {pad_t + plot_h / 2:.1f})">{_e(y_name)}</text>',
             f'<text x="{pad_l + plot_w / 2:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">{_e(x_name)}</text>']
    for t in ticks:
        parts.append(f'<line x1="{pad_l - 3}" y1="{y(t):.1f}" x2="{width - pad_r}" y2="{y(t):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{pad_l - 5}" y="{y(t) + 3:.1f}" font-size="9" text-anchor="end">{t:.3g}</text>')
    if reference is not None:
        parts.append(f'<line x1="{pad_l}" y1="{y(reference[1]):.1f}" x2="{width - pad_r}" y2="{y(reference[1]):.1f}" '
                     f'stroke="#b00020" stroke-dasharray="4 3"><title>{_e(reference[0])}: {reference[1]:.3g}</title></line>')
    for k, (name, vals) in enumerate(series.items()):
        color = colors[k % len(colors)]
        pts = [(x(i), y(v)) for i, v in enumerate(vals) if v is not None and math.isfinite(v)]
        if pts:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                         + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        parts.append(f'<text x="{pad_l + 10 + 150 * k}" y="{height - 18}" font-size="10" fill="{color}">{_e(name)}</text>')
    for i, flag in enumerate(alerts or []):
        if flag:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y0}" r="4" fill="#b00020"><title>alert: {_e(times[i])}</title></circle>')
    if n:
        shown = sorted({round(i * (n - 1) / 5) for i in range(6)}) if n > 1 else [0]
        for i in shown:
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<line x1="{x(i):.1f}" y1="{y0}" x2="{x(i):.1f}" y2="{y0 + 3}" stroke="#999"/>')
            parts.append(f'<text x="{x(i):.1f}" y="{y0 + 12}" font-size="9" text-anchor="{anchor}">{_e(times[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def metric_bars_svg(rows: list[dict[str, Any]], *, title: str = "", width: int = 700, bar_h: int = 14) -> str:
    """Horizontal bars of bias metrics around their ideal: per row (facet value, metric) the baseline
    (grey) and the partition's value (blue, red when it violates), the allowed band dashed."""
    rows = [r for r in rows if r.get("value") is not None and math.isfinite(r["value"])]
    pad_l, pad_r, pad_t, row_h = 190, 20, 30, 2 * bar_h + 8
    height = pad_t + row_h * max(len(rows), 1) + 34
    plot_w = width - pad_l - pad_r
    ext = [abs(r["value"] - r["ideal"]) for r in rows] + [abs(r["baseline"] - r["ideal"]) for r in rows
                                                         if r.get("baseline") is not None and math.isfinite(r["baseline"])]
    ext += [r["limit"] for r in rows if r.get("limit") is not None and math.isfinite(r["limit"])]
    half = max(ext + [1e-9]) * 1.1
    mid = pad_l + plot_w / 2

    def x(dev: float) -> float:
        return mid + plot_w / 2 * max(-1.0, min(1.0, dev / half))

    parts = [_svg_open(width, height, title),
             f'<text x="4" y="14" font-size="12" font-weight="bold">{_e(title)}</text>',
             f'<line x1="{mid:.1f}" y1="{pad_t - 4}" x2="{mid:.1f}" y2="{height - 30}" stroke="#999"/>']
    for t in (-half, -half / 2, 0.0, half / 2, half):
        parts.append(f'<text x="{x(t):.1f}" y="{height - 18}" font-size="9" text-anchor="middle">{t:+.2g}</text>')
    parts.append(f'<text x="{mid:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">value - ideal '
                 f'(0 = parity; DI: value - 1)</text>')
    for i, r in enumerate(rows):
        top = pad_t + i * row_h
        label = f"{r['metric']} {r['facet']}={r['facet_value']}"
        parts.append(f'<text x="{pad_l - 6}" y="{top + bar_h + 3}" font-size="10" text-anchor="end">{_e(label[:30])}'
                     f'<title>{_e(label)}</title></text>')
        if r.get("limit") is not None and math.isfinite(r["limit"]):
            for side in (-1, 1):
                lx = x(side * r["limit"])
                parts.append(f'<line x1="{lx:.1f}" y1="{top}" x2="{lx:.1f}" y2="{top + 2 * bar_h}" stroke="#b00020" '
                             f'stroke-dasharray="3 2"><title>allowed: |value - ideal| &lt;= {r["limit"]:.3g}</title></line>')
        for j, (v, color) in enumerate(((r.get("baseline"), BASE_COLOR),
                                        (r["value"], "#b00020" if r.get("violation") else CUR_COLOR))):
            if v is None or not math.isfinite(v):
                continue
            a, b = sorted((mid, x(v - r["ideal"])))
            parts.append(f'<rect x="{a:.1f}" y="{top + j * bar_h:.1f}" width="{max(b - a, 1):.1f}" height="{bar_h - 2}" '
                         f'fill="{color}"><title>{_e(label)}: {"baseline" if j == 0 else "partition"} {v:.4g}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def ranking_bars_svg(current: dict[str, float], baseline: dict[str, float], *, title: str = "", top: int = 12,
                     width: int = 700, bar_h: int = 9) -> str:
    """Mean |SHAP| per feature, baseline (grey) and partition (blue), for the features ranked highest
    in either, in the partition's order; each label shows both ranks."""
    cur_rank = {f: i + 1 for i, f in enumerate(sorted(current, key=lambda f: (-abs(current[f]), f)))}
    base_rank = {f: i + 1 for i, f in enumerate(sorted(baseline, key=lambda f: (-abs(baseline[f]), f)))}
    feats = sorted({*list(cur_rank)[:top], *list(base_rank)[:top]}, key=lambda f: (cur_rank.get(f, 1e9), f))
    pad_l, pad_r, pad_t, row_h = 220, 20, 24, 2 * bar_h + 6
    height = pad_t + row_h * max(len(feats), 1) + 30
    plot_w = width - pad_l - pad_r
    vmax = max([abs(v) for v in (*current.values(), *baseline.values())] + [1e-12])
    parts = [_svg_open(width, height, title),
             f'<text x="4" y="14" font-size="12" font-weight="bold">{_e(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t - 2}" x2="{pad_l}" y2="{height - 28}" stroke="#999"/>']
    for frac in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{pad_l + plot_w * frac:.1f}" y="{height - 16}" font-size="9" '
                     f'text-anchor="middle">{vmax * frac:.3g}</text>')
    parts.append(f'<text x="{pad_l + plot_w / 2:.1f}" y="{height - 3}" font-size="10" text-anchor="middle">'
                 f'mean |SHAP| (log-odds)</text>')
    for i, f in enumerate(feats):
        y0 = pad_t + i * row_h
        label = f"#{cur_rank.get(f, '-')} {f} (was #{base_rank.get(f, '-')})"
        parts.append(f'<text x="{pad_l - 6}" y="{y0 + bar_h + 2}" font-size="10" text-anchor="end">{_e(label[:36])}'
                     f'<title>{_e(label)}</title></text>')
        for j, (vals, color) in enumerate(((baseline, BASE_COLOR), (current, CUR_COLOR))):
            v = abs(vals.get(f, 0.0))
            parts.append(f'<rect x="{pad_l}" y="{y0 + j * bar_h}" width="{plot_w * v / vmax:.1f}" height="{bar_h - 1}" '
                         f'fill="{color}"><title>{_e(f)}: {"baseline" if j == 0 else "partition"} {v:.4g}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _as_dict(value: Any) -> dict[str, Any]:
    """A monitor result as a dict: a dict as is, else its ``to_dict()`` / ``summary()``."""
    if value is None or isinstance(value, dict):
        return value or {}
    for name in ("to_dict", "summary"):
        if callable(getattr(value, name, None)):
            return dict(getattr(value, name)())
    return {k: getattr(value, k) for k in ("violations", "ndcg", "threshold") if hasattr(value, k)}


TREND_RUNS = 30


def render_report(
    report: Any,
    *,
    title: str = "Airsage monitoring report",
    subtitle: str = "",
    header: dict[str, Any] | None = None,
    history: pd.DataFrame | None = None,
    model_quality: dict[str, Any] | None = None,
    model_quality_violations: list[dict[str, str]] | None = None,
    bias_drift: Any = None,
    attribution_drift: Any = None,
    clarify_skipped: dict[str, str] | None = None,
) -> str:
    """The HTML page for one ``DataMonitorReport`` (and optional extras).

    ``header``: what the run is about (use case, model version, baseline dataset, monitor run key,
    partition, date), shown first. ``bias_drift`` / ``attribution_drift``: the Clarify-based monitors'
    results (``clarify_monitors.load_results`` entries, or a ``bias_drift`` report object); with their
    metric rows / SHAP values they get charts. ``clarify_skipped``: monitor -> why it did not run.
    The trend covers the last ``TREND_RUNS`` runs of ``history``."""
    q, d = report.quality, report.drift
    verdict = '<span class="alert">ALERT</span>' if report.alert else '<span class="ok">OK</span>'
    out = ['<!DOCTYPE html>', '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>',
           f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1>"]
    if header:
        out.append('<table class="header"><tbody>' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                                              for k, v in header.items()) + "</tbody></table>")
    out += [f'<p class="small">{_e(subtitle)}</p>' if subtitle else "",
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
            kind = getattr(f, "kind", "numeric")
            x_name = "category" if kind == "categorical" else f"{f.name} (bin)"
            chart = bar_chart_svg(list(f.bins), list(f.baseline_shares), list(f.current_shares), title=f.name,
                                  x_name=x_name)
            out.append(f'<div class="card">{chart}</div>')
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
    out += _bias_section(_as_dict(bias_drift) if bias_drift is not None else None, (clarify_skipped or {}).get("bias"))
    out += _attribution_section(_as_dict(attribution_drift) if attribution_drift is not None else None,
                                (clarify_skipped or {}).get("attribution"))
    out += _trend_section(history)
    out.append("</body></html>")
    return "\n".join(s for s in out if s)


def _bias_section(res: dict[str, Any] | None, skipped: str | None) -> list[str]:
    if res is None and not skipped:
        return []
    out = ["<h2>Bias drift (Clarify post-training metrics per facet vs the version's baseline)</h2>"]
    if res is None:
        return out + [f"<p>Not run: {_e(skipped)}.</p>"]
    vs = list(res.get("violations") or [])
    flag = '<span class="alert">violations</span>' if vs else '<span class="ok">no violation</span>'
    out.append(f"<p>{flag}: {len(vs)} bias_drift_check violation(s) of {_num(res.get('compared'))} compared metric(s); "
               f"{_num(res.get('rows'))} rows, {_num(res.get('labelled_rows'))} with ground truth (the label-based "
               f"metrics use those). A metric violates when it is farther from its ideal than its bound "
               f"({_e(res.get('bounds') or 'none')}) or, unbounded, than the baseline's value.</p>")
    metrics = res.get("metrics") or []
    if metrics:
        chart = metric_bars_svg(metrics, title="Bias metrics: baseline (grey) vs partition (blue; red = violation)")
        out.append(f'<div class="card">{chart}</div>')
        out.append(_table(["facet", "value", "metric", "partition", "baseline", "ideal", "allowed |value - ideal|", "violation"],
                          [[m["facet"], m["facet_value"], m["metric"], m["value"], m["baseline"], m["ideal"], m["limit"],
                            m["violation"]] for m in metrics], ["drifted" if m["violation"] else "" for m in metrics]))
    elif vs:
        out.append(_table(["facet", "value", "metric", "description"],
                          [[v["facet"], v["facet_value"], v["metric_name"], v["description"]] for v in vs]))
    return out


def _attribution_section(res: dict[str, Any] | None, skipped: str | None) -> list[str]:
    if res is None and not skipped:
        return []
    out = ["<h2>Feature attribution drift (NDCG of the mean |SHAP| ranking)</h2>"]
    if res is None:
        return out + [f"<p>Not run: {_e(skipped)}.</p>"]
    threshold = res.get("threshold", 0.9)
    ndcg = res.get("ndcg")
    by_label = ndcg if isinstance(ndcg, dict) else (res.get("ndcg_by_label") or {})
    if by_label:
        out.append(_table(["label", "NDCG", f"violation (< {threshold})"],
                          [[k, v, v < threshold] for k, v in by_label.items()]))
    current, baseline = res.get("current") or {}, res.get("baseline") or {}
    if current and baseline:
        n = res.get("shap_records")
        chart_title = "Mean |SHAP| per feature: baseline (grey) vs partition (blue)" + (f"; {n} sampled rows" if n else "")
        out.append(f'<div class="card">{ranking_bars_svg(current, baseline, title=chart_title)}</div>')
    return out


def _trend_section(history: pd.DataFrame | None) -> list[str]:
    out = [f"<h2>Trend (last {TREND_RUNS} runs)</h2>"]
    if history is None or not len(history):
        return out + ["<p>No history yet.</p>"]
    h = history.tail(TREND_RUNS)
    times = [pd.Timestamp(t).strftime("%Y-%m-%d") for t in h["run_time"]]
    alerts = [bool(a) for a in h["alert"].tolist()] if "alert" in h.columns else None

    def col(name: str) -> list[float | None] | None:
        if name not in h.columns:
            return None
        vals = [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in h[name].tolist()]
        return vals if any(v is not None for v in vals) else None

    charts = [("Data drift", {"drifted share": col("drifted_share"), "prediction PSI": col("prediction_psi")},
               "share / PSI", None, None),
              ("Violations", {"Model Monitor": col("n_violations"), "bias drift": col("bias_drift_violations")},
               "violations", None, None),
              ("Feature attribution drift", {"NDCG": col("attribution_ndcg")}, "NDCG",
               ("alert below", 0.9), (0.0, 1.0))]
    for title, series, y_name, ref, y_range in charts:
        series = {k: v for k, v in series.items() if v is not None}
        if series:
            out.append(line_chart_svg(times, series, title=title, alerts=alerts, y_name=y_name, reference=ref,
                                      y_range=y_range))
    cols = [c for c in ("run_time", "run_key", "model_version", "alert", "n_violations", "drifted_share",
                        "bias_drift_violations", "attribution_ndcg") if c in h.columns]
    out.append(_table(cols, [[str(r[c]) if c == "run_time" else r[c] for c in cols] for _, r in h.iterrows()]))
    return out


def write_report(uri: str, page: str) -> str:
    """Publish the page atomically."""
    return storage.write_text(uri, page)
