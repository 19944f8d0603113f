"""Render a model card (``build_model_card``) as one self-contained HTML page.

No scripts, no external stylesheets, fonts or images: inline CSS and inline SVG charts, every value
HTML-escaped, so the page can be attached to a model version, mailed or archived as it is.
"""
from __future__ import annotations

import html
import json
from typing import Any

from airsage.cards.shadow import SHADOW_EVALUATION, count, fnum, group_label, pct, pvalue, signed

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:60rem;
color:#1d2330;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #dde3ee;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}th,td{border:1px solid #dde3ee;padding:.3rem .5rem;
text-align:left;vertical-align:top;font-size:.92rem}th{background:#f3f6fb;width:28%}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;font-weight:600;font-size:.9rem}
.Approved{background:#d8f3dc;color:#1b4332}.PendingManualApproval{background:#fff3bf;color:#5c4400}
.Rejected{background:#ffd6d6;color:#7a1010}.pass{color:#1b7a3a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.muted{color:#5d6678;font-size:.88rem}svg{background:#fbfcfe;border:1px solid #dde3ee;margin:.3rem 0}
code{background:#f3f6fb;padding:0 .2rem}
"""


def _e(v: Any) -> str:
    if isinstance(v, (dict, list)):
        v = json.dumps(v, default=str)
    return html.escape("" if v is None else str(v))


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return '<span class="pass">pass</span>' if v else '<span class="fail">fail</span>'
    if isinstance(v, float):
        return _e(f"{v:.4g}")
    return _e(v)


def _kv_table(d: dict[str, Any]) -> str:
    rows = []
    for k, v in d.items():
        if isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v):
            v = ", ".join(str(x) for x in v)
        if isinstance(v, list) and v and all(isinstance(x, dict) and "name" in x for x in v):
            cell = _kv_table({str(x["name"]): x.get("value") for x in v})
        elif isinstance(v, dict) and k != "function":
            cell = _kv_table(v)
        elif isinstance(v, dict):
            cell = _e(", ".join(f"{a}: {b}" for a, b in v.items()))
        else:
            cell = _fmt(v) if not isinstance(v, list) else _e(v)
        rows.append(f"<tr><th>{_e(k.replace('_', ' '))}</th><td>{cell}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _tick_label(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:.3g}"


def _line_svg(points: list[list[float]], x_name: str, y_name: str, w: int = 340, h: int = 260) -> str:
    """A line chart with both axes ticked and labelled. Curves such as ROC and precision-recall live in
    [0, 1] x [0, 1]; other ranges are scaled to their min/max."""
    pts = [(float(x), float(y)) for x, y in points if x is not None and y is not None]
    xs, ys = [p[0] for p in pts] or [0.0], [p[1] for p in pts] or [0.0]
    x_lo, x_hi = (0.0, 1.0) if min(xs) >= 0 and max(xs) <= 1 else (min(xs), max(xs))
    y_lo, y_hi = (0.0, 1.0) if min(ys) >= 0 and max(ys) <= 1 else (min(ys), max(ys))
    left, right, top, bottom = 46, 12, 12, 40
    pw, ph = w - left - right, h - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_lo) / ((x_hi - x_lo) or 1) * pw

    def sy(y: float) -> float:
        return top + ph - (y - y_lo) / ((y_hi - y_lo) or 1) * ph

    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="{_e(y_name)} against {_e(x_name)}">']
    for t in _ticks(x_lo, x_hi):
        parts.append(f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" y2="{top + ph}" stroke="#eef1f6"/>'
                     f'<line x1="{sx(t):.1f}" y1="{top + ph}" x2="{sx(t):.1f}" y2="{top + ph + 4}" stroke="#888"/>'
                     f'<text x="{sx(t):.1f}" y="{top + ph + 15}" font-size="10" text-anchor="middle">'
                     f'{_tick_label(t)}</text>')
    for t in _ticks(y_lo, y_hi):
        parts.append(f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + pw}" y2="{sy(t):.1f}" stroke="#eef1f6"/>'
                     f'<line x1="{left - 4}" y1="{sy(t):.1f}" x2="{left}" y2="{sy(t):.1f}" stroke="#888"/>'
                     f'<text x="{left - 6}" y="{sy(t) + 3:.1f}" font-size="10" text-anchor="end">{_tick_label(t)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#888"/>')
    if pts:
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="#2f6fdf" stroke-width="2" points="{coords}"/>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{h - 6}" font-size="11" text-anchor="middle">{_e(x_name)}</text>'
                 f'<text x="12" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})">{_e(y_name)}</text></svg>')
    return "".join(parts)


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "\u2026"


def _bar_svg(values: list[float], labels: list[str], w: int = 600, value_name: str = "") -> str:
    """Horizontal bars: full labels (long ones shortened, the full text as a tooltip), the value at each
    bar's end, and a ticked value axis named ``value_name``."""
    bar_h, gap, left, top = 16, 4, 210, 4
    n = len(values)
    plot_w = w - left - 60
    h = top + n * (bar_h + gap) + 34
    peak = max((abs(v) for v in values if v is not None), default=1.0) or 1.0
    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="{_e(value_name or "values")} by feature">']
    axis_y = top + n * (bar_h + gap)
    for t in _ticks(0.0, peak):
        x = left + plot_w * t / peak
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#eef1f6"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 15}" font-size="10" text-anchor="middle">{_tick_label(t)}</text>')
    for i, (v, label) in enumerate(zip(values, labels)):
        y = top + i * (bar_h + gap)
        length = plot_w * abs(v or 0) / peak
        parts.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end"><title>{_e(label)}</title>'
                     f'{_e(_short(str(label)))}</text>'
                     f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="#2f6fdf"/>'
                     f'<text x="{left + length + 4:.1f}" y="{y + 12}" font-size="11">{_e(f"{v or 0:.4g}")}</text>')
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#888"/>'
                 f'<text x="{left + plot_w / 2:.1f}" y="{h - 4}" font-size="11" text-anchor="middle">'
                 f'{_e(value_name)}</text></svg>')
    return "".join(parts)


def _metric_group(g: dict[str, Any]) -> str:
    out = [f"<h4>{_e(g.get('name'))}</h4>"]
    simple = [m for m in g.get("metric_data", []) if m.get("type") in ("number", "boolean", "string")]
    if simple:
        out.append("<table><tr><th>metric</th><th>value</th><th>notes</th></tr>" + "".join(
            f"<tr><td>{_e(m['name'])}</td><td>{_fmt(m.get('value'))}</td><td class=\"muted\">{_e(m.get('notes'))}</td></tr>"
            for m in simple) + "</table>")
    for m in g.get("metric_data", []):
        kind = m.get("type")
        if kind == "matrix":
            xs, ys = m.get("x_axis_name") or [], m.get("y_axis_name") or []
            head = "<tr><th></th>" + "".join(f"<th>{_e(x)}</th>" for x in xs) + "</tr>"
            body = "".join(f"<tr><th>{_e(ys[i] if i < len(ys) else i)}</th>" + "".join(f"<td>{_fmt(c)}</td>" for c in row)
                           + "</tr>" for i, row in enumerate(m.get("value") or []))
            out.append(f"<table>{head}{body}</table>")
        elif kind == "linear_graph":
            out.append(_line_svg(m.get("value") or [], (m.get("x_axis_name") or ["x"])[0],
                                 (m.get("y_axis_name") or ["y"])[0]))
        elif kind == "bar_chart":
            out.append(_bar_svg(m.get("value") or [], m.get("x_axis_name") or [],
                                value_name=(m.get("y_axis_name") or [""])[0]))
    return "".join(out)


def shadow_rates_svg(history: list[dict[str, Any]], w: int = 600, h: int = 220) -> str:
    """Flip rate and worst facet-group flip rate per shadow partition: x = partitions (dates ticked),
    y = rate (0 to the largest, ticked in %), a legend naming both lines."""
    series = (("flip rate", "flip_rate", "#2f6fdf"), ("worst group flip rate", "max_group_flip_rate", "#ef6c00"))
    vals = [float(x[k]) for x in history for _, k, _c in series if isinstance(x.get(k), (int, float))]
    step = next((x for x in (0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25)
                 if x * 4 >= max(vals + [0.004])), 0.25)
    peak = step * 4  # a round top: ticks at whole steps
    left, right, top, bottom = 52, 40, 24, 44
    pw, ph, n = w - left - right, h - top - bottom, len(history)

    def sx(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def sy(y: float) -> float:
        return top + ph - y / peak * ph

    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="flip rates by shadow partition">']
    for t in _ticks(0.0, peak):
        parts.append(f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + pw}" y2="{sy(t):.1f}" stroke="#eef1f6"/>'
                     f'<text x="{left - 6}" y="{sy(t) + 3:.1f}" font-size="10" text-anchor="end">{_e(pct(t))}</text>')
    step = max(1, -(-n // 6))
    for i, x in enumerate(history):
        if i % step == 0 or i == n - 1:
            parts.append(f'<line x1="{sx(i):.1f}" y1="{top + ph}" x2="{sx(i):.1f}" y2="{top + ph + 4}" stroke="#888"/>'
                         f'<text x="{sx(i):.1f}" y="{top + ph + 15}" font-size="10" text-anchor="middle">'
                         f'{_e(x.get("partition"))}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#888"/>')
    for j, (name, key, color) in enumerate(series):
        pts = [(sx(i), sy(float(x[key]))) for i, x in enumerate(history) if isinstance(x.get(key), (int, float))]
        if len(pts) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                         + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>' for a, b in pts]
        parts.append(f'<rect x="{left + 10 + 170 * j}" y="6" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + 24 + 170 * j}" y="15" font-size="11">{_e(name)}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{h - 6}" font-size="11" text-anchor="middle">partition</text>'
                 f'<text x="12" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})">share of rows</text></svg>')
    return "".join(parts)


def _table(head: list[str], rows: list[list[str]], table_id: str | None = None) -> str:
    """Rows of already escaped cells."""
    attr = f' id="{table_id}"' if table_id else ""
    return (f"<table{attr}><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>")


def _shadow(s: dict[str, Any] | None) -> str:
    """The "Shadow evidence" section: the version scored beside the champion on production partitions."""
    if not s:
        return '<p class="muted">No shadow evidence recorded with this card.</p>'
    if not s.get("exists"):
        return f'<p class="muted">{_e(s.get("message"))}</p>'
    f, sc, pos, neg = s["flips"], s["scores"], s.get("positive_name"), s.get("negative_name")
    status = s["status"] + (f" ({s.get('stopped_reason')})" if s["status"] != "active" and s.get("stopped_reason")
                            else "")
    w, gate, pr = s.get("worst_group"), s.get("gate") or {}, s["positive_rate"]
    verdict = ("not enabled" if not gate.get("enabled") else "passed" if gate.get("passed")
               else "not passed: " + "; ".join(gate.get("reasons") or ["no reason recorded"]))
    facts = {
        "status": status, "champion version(s)": ", ".join(s["champion_versions"]) or None,
        "partitions": f"{s['partitions']} ({s['first_partition']} to {s['last_partition']})",
        "rows": count(s["rows"]), "agreement": f"{pct(s['agreement_rate'])} ({count(s['agree'])} rows)",
        "flips": f"{count(f['total'])} ({pct(f['rate'])}): {count(f['to_positive'])} to {pos} "
                 f"({pct(f['to_positive_rate'])}), {count(f['to_negative'])} to {neg} ({pct(f['to_negative_rate'])})",
        f"{pos} rate": f"{pct(pr['champion'])} (champion) vs {pct(pr['challenger'])} (challenger)",
        "worst facet group": (f"{group_label(w)}: flip rate {pct(w['flip_rate'])} ({count(w['rows'])} rows)"
                              if w else None),
        "score shift": (f"mean {fnum(sc['mean_champion'])} (champion) vs {fnum(sc['mean_challenger'])} "
                        f"(challenger); PSI {fnum(sc['psi'])}, KS {fnum(sc['ks'])}"),
        "gate": verdict}
    out = [_kv_table({k: v for k, v in facts.items() if v is not None})]
    q = s.get("quality") or {}
    if q.get("status") == "ok":
        lo, hi = (q.get("ci95") or [None, None])[:2]
        out.append(f"<p>Paired quality on {_e(count(q.get('labelled_rows')))} labelled rows: AUC champion "
                   f"{_e(fnum(q.get('champion_auc')))} vs challenger {_e(fnum(q.get('challenger_auc')))}, delta "
                   f"<strong>{_e(signed(q.get('auc_delta')))}</strong> (DeLong p {_e(pvalue(q.get('p_value')))}, "
                   f"95% CI {_e(signed(lo))} to {_e(signed(hi))}).</p>")
    else:
        out.append('<p class="muted">Outcomes not labelled yet: no paired quality comparison.</p>')
    hist = s.get("history") or []
    if hist:
        out.append("<h3>Per partition</h3>")
        if len(hist) > 1:
            out.append(shadow_rates_svg(hist))
        out.append(_table(["partition", "champion", "rows", "agreement", f"flips to {pos}", f"flips to {neg}",
                           "max group flip rate", "PSI", "max |bias change|", "AUC delta", "labelled rows"],
                          [[_e(h["partition"]), _e(h["champion_version"]), _e(count(h["rows"])),
                            _e(pct(h["agreement_rate"])), _e(count(h["to_positive"])), _e(count(h["to_negative"])),
                            _e(pct(h["max_group_flip_rate"])), _e(fnum(h["psi"])), _e(fnum(h["max_abs_bias_change"])),
                            _e(signed(h["auc_delta"])), _e(count(h["labelled_rows"]))] for h in hist]))
    if s.get("groups"):
        out.append("<h3>Facet groups</h3>")
        rated = [g for g in s["groups"] if isinstance(g["flip_rate"], (int, float))]
        if len(rated) > 1:
            out.append(_bar_svg([g["flip_rate"] for g in rated], [group_label(g) for g in rated],
                                value_name="flip rate (share of the group's rows)"))
        out.append(_table(["facet group", "rows", "flip rate", f"flips to {pos}", f"flips to {neg}",
                           f"{pos} rate champion", f"{pos} rate challenger"],
                          [[_e(group_label(g)), _e(count(g["rows"])), _e(pct(g["flip_rate"])),
                            _e(count(g["to_positive"])), _e(count(g["to_negative"])),
                            _e(pct(g["champion_positive_rate"])), _e(pct(g["challenger_positive_rate"]))]
                           for g in s["groups"]]))
    if s.get("bias"):
        out.append("<h3>Bias of the decisions</h3><p class=\"muted\">Clarify post-training metrics on the predicted "
                   "labels, facet group d against the rest; change = challenger minus champion.</p>")
        out.append(_table(["facet (d)", "DPPL champion", "DPPL challenger", "DPPL change", "DI champion",
                           "DI challenger", "DI change"],
                          [[_e(f"{b['facet']} ({', '.join(b['facet_values']) or 'each value'})"),
                            *[_e(fnum(b[side][m], 4 if m == "DPPL" else 3)) if side != "change" else
                              _e(signed(b[side][m], 4 if m == "DPPL" else 3))
                              for m in ("DPPL", "DI") for side in ("champion", "challenger", "change")]]
                           for b in s["bias"]]))
    return "".join(out)


def _history(events: list[dict[str, Any]]) -> str:
    if not events:
        return "<p class=\"muted\">No events.</p>"
    head = "<tr>" + "".join(f"<th>{h}</th>" for h in ("#", "when (UTC)", "action", "who", "version", "champion",
                                                      "status", "why")) + "</tr>"
    rows = "".join(
        f"<tr><td>{_e(e.get('seq'))}</td><td>{_e(e.get('ts'))}</td><td>{_e(e.get('action'))}</td>"
        f"<td>{_e(e.get('actor'))}</td><td>{_e(e.get('version'))}</td>"
        f"<td>{_e(e.get('from_version') or '-')} &rarr; {_e(e.get('to_version') or '-')}</td>"
        f"<td>{_e(e.get('from_status') or '-')} &rarr; {_e(e.get('to_status'))}</td><td>{_e(e.get('reason'))}</td></tr>"
        for e in events)
    return f"<table>{head}{rows}</table>"


def _identity(card: dict[str, Any], usecase: str | None) -> str:
    """Which use case, model version, dataset, run and date the card belongs to (one line, first)."""
    air = card.get("airsage", {})
    reg, lin = air.get("registry") or {}, air.get("lineage") or {}
    rows = {"use case": usecase or air.get("usecase"), "model version": f"{reg.get('name')} v{reg.get('version')}"
            if reg.get("name") else None, "dataset": f"{lin.get('dataset_version')} (hash {lin.get('dataset_hash')})"
            if lin.get("dataset_version") else None, "training run": f"MLflow run {reg.get('run_id')}"
            if reg.get("run_id") else None, "code version": lin.get("code_version"),
            "generated": air.get("generated_at")}
    return ('<table class="identity">' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                                 for k, v in rows.items() if v) + "</table>")


def render_model_card_html(card: dict[str, Any], *, usecase: str | None = None) -> str:
    """A self-contained HTML page for a model card (``usecase`` defaults to the card's own record)."""
    ov = card.get("model_overview", {})
    air = card.get("airsage", {})
    status = (air.get("registry") or {}).get("approval_status") or "unknown"
    title = f"Model card: {ov.get('model_name', '')} version {ov.get('model_version', '')}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<h1>{_e(title)}</h1>",
        f'<p><span class="badge {_e(status)}">{_e(status)}</span> '
        f'<span class="muted">aliases: {_e(", ".join((air.get("registry") or {}).get("aliases") or []) or "none")} '
        f'&middot; card status {_e(air.get("model_card_status"))} '
        f'&middot; generated {_e(air.get("generated_at"))}</span></p>',
        _identity(card, usecase),
        "<h2>Model overview</h2>", _kv_table(ov),
        "<h2>Intended uses</h2>", _kv_table(card.get("intended_uses", {})),
        "<h2>Business details</h2>", _kv_table(card.get("business_details", {})),
        "<h2>Training details</h2>", _kv_table(card.get("training_details", {})),
        "<h2>Evaluation</h2>",
    ]
    for ev in card.get("evaluation_details", []):
        if ev.get("name") == SHADOW_EVALUATION:  # shown in full in its own section below
            continue
        parts.append(f"<h3>{_e(ev.get('name'))}</h3><p>{_e(ev.get('evaluation_observation'))}</p>")
        if ev.get("datasets"):
            parts.append(f'<p class="muted">datasets: {_e(", ".join(ev["datasets"]))}</p>')
        parts += [_metric_group(g) for g in ev.get("metric_groups", [])]
    parts += ["<h2>Quality gates</h2>"]
    gates = air.get("gate_results") or []
    parts.append("<table><tr><th>gate</th><th>result</th><th>value</th><th>threshold</th><th>detail</th></tr>" + "".join(
        f"<tr><td>{_e(g.get('name'))}</td><td>{_fmt(bool(g.get('passed')))}</td><td>{_fmt(g.get('value'))}</td>"
        f"<td>{_fmt(g.get('threshold'))}</td><td class=\"muted\">{_e(g.get('detail'))}</td></tr>" for g in gates)
        + "</table>" if gates else '<p class="muted">No gates recorded.</p>')
    if "shadow" in air:
        parts += ["<h2>Shadow evidence</h2>", _shadow(air.get("shadow"))]
    parts += ["<h2>Approval history (audit log)</h2>", _history(air.get("approval_history") or []),
              "<h2>Lineage</h2>", _kv_table(air.get("lineage") or {}),
              "<h2>Additional information</h2>", _kv_table(card.get("additional_information", {})),
              '<p class="muted">Generated by Airsage from the model registry; not hand-written. The JSON form '
              "follows the SageMaker model card content layout.</p>",
              "</body>", "</html>"]
    return "\n".join(parts) + "\n"
