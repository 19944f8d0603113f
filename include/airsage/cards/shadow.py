"""Shadow evidence for people: the cumulative ShadowSummary of a pending version, read and put in words.

A pending version is scored in shadow beside the champion on every nightly partition; the comparison is
written as JSON at ``layout.shadow_summary(uc, version)`` (``airsage.shadow``). This module

* reads it: ``load_shadow(uc, version)`` (None when no partition has been scored yet);
* flattens it: ``shadow_section(uc, version)`` -> the plain facts the approval summary, the model card
  (``airsage.shadow``) and the dashboard (the version page and its API) all show, so the three never
  disagree; numbers stay numbers (an infinite ratio stays Clarify's ``"Infinity"`` string);
* writes the approver's Markdown: ``shadow_markdown(section)``.

Flips are counted per row: ``to_positive`` rows the champion decided negative and the challenger positive,
``to_negative`` the other way. Bias changes are challenger minus champion (Clarify's DPPL and DI on the
predicted labels, facet group d against the rest).
"""
from __future__ import annotations

import logging
import math
from typing import Any

from airsage import jsonsafe, layout, storage
from airsage.errors import StorageError

log = logging.getLogger("airsage.cards")
KIND = "airsage.shadow.summary"
SHADOW_EVALUATION = "shadow scoring (production partitions)"  # its name among a card's evaluation_details
MAX_GROUP_ROWS = 12  # facet groups listed in the approval summary (worst flip rate first)
_UNSET: Any = object()


# ---------------------------------------------------------------------- reading
def load_shadow(uc, version: str | int) -> dict[str, Any] | None:
    """The version's ShadowSummary (a dict), or None when none has been written."""
    uri = layout.shadow_summary(uc, version)
    if not storage.exists(uri):
        return None
    try:
        doc = storage.read_json(uri)
    except ValueError as exc:
        raise StorageError(f"the shadow summary {uri} is not JSON: {exc}",
                           fix="Re-run the shadow comparison of the version's last partition (the batch transform "
                               "DAG's shadow step), which rewrites the summary.") from exc
    if not isinstance(doc, dict) or doc.get("kind", KIND) != KIND:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        raise StorageError(f"{uri} is not a shadow summary (kind {kind!r})",
                           fix="Remove the file; the next shadow comparison writes it again.")
    return doc


# ---------------------------------------------------------------------- numbers and words
def num(v: Any) -> float | str | None:
    """A JSON-safe number: finite floats as they are, infinities/NaN as Clarify's strings, else None."""
    x = jsonsafe.number(v)
    if x is None:
        return None
    return x if math.isfinite(x) else jsonsafe.encode(x)


def _float(v: Any) -> float | None:
    return jsonsafe.finite(v)


def _int(v: Any) -> int | None:
    x = jsonsafe.finite(v)
    return int(x) if x is not None else None


def _ratio(n: Any, d: Any) -> float | None:
    n, d = _float(n), _float(d)
    return n / d if n is not None and d else None


def pct(v: Any) -> str:
    """A rate as a percentage: one decimal, two below 1 %."""
    x = jsonsafe.number(v)
    if x is None:
        return "–"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "–")
    return f"{x:.2%}" if 0 < abs(x) < 0.01 else f"{x:.1%}"


def fnum(v: Any, digits: int = 4) -> str:
    x = jsonsafe.number(v)
    if x is None:
        return "–"
    if not math.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "–")
    return f"{x:.{digits}f}"


def signed(v: Any, digits: int = 4) -> str:
    x = jsonsafe.number(v)
    if x is None or not math.isfinite(x):
        return fnum(v, digits)
    return f"{x:+.{digits}f}"


def pvalue(v: Any) -> str:
    x = _float(v)
    if x is None:
        return "–"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def count(v: Any) -> str:
    n = _int(v)
    return "–" if n is None else f"{n:,}"


def label_names(uc) -> tuple[str, str]:
    """What a positive and a negative decision are called (``review.label_names``, else the inverted
    ``labeling.class_map``, else ``positive`` / ``negative``)."""
    names = {}
    for k, v in ((getattr(getattr(uc, "review", None), "label_names", None) or {}).items()):
        names[str(k)] = str(v)
    for name, value in ((getattr(getattr(uc, "labeling", None), "class_map", None) or {}).items()):
        names.setdefault(str(value), str(name).replace("_", " "))
    positives = [str(p) for p in (getattr(getattr(uc, "schema_", None), "positive_labels", None) or [1])]
    pos = next((names[p] for p in positives if p in names), "positive")
    neg = next((n for k, n in names.items() if k not in positives), "negative")
    return pos, neg


# ---------------------------------------------------------------------- the facts
def _groups(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for facet, groups in (summary.get("groups") or {}).items():
        for g in groups or []:
            rows = _int(g.get("rows"))
            out.append({"facet": str(facet), "value": str(g.get("value")),
                        "in_facet_group": bool(g.get("in_facet_group")), "rows": rows,
                        "flip_rate": num(g.get("flip_rate")), "to_positive": _int(g.get("to_positive")),
                        "to_negative": _int(g.get("to_negative")),
                        "champion_positive_rate": _ratio(g.get("champion_positive"), rows),
                        "challenger_positive_rate": _ratio(g.get("challenger_positive"), rows)})
    return out


def _bias(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for facet, b in (summary.get("bias") or {}).items():
        b = b or {}
        out.append({"facet": str(facet), "facet_values": [str(x) for x in b.get("facet_values") or []],
                    **{side: {m: num((b.get(side) or {}).get(m)) for m in ("DPPL", "DI")}
                       for side in ("champion", "challenger", "change")}})
    return out


def _quality(q: dict[str, Any] | None) -> dict[str, Any] | None:
    if not q:
        return None
    delong = q.get("delong") or {}
    ci = delong.get("ci95") or [None, None]
    champ, chall = q.get("champion") or {}, q.get("challenger") or {}
    return {"status": q.get("status") or "insufficient", "labelled_rows": _int(q.get("labelled_rows")) or 0,
            "positives": _int(q.get("positives")),
            "champion_auc": num(champ.get("auc")), "challenger_auc": num(chall.get("auc")),
            "auc_delta": num(q.get("auc_delta")), "p_value": num(delong.get("p_value")), "z": num(delong.get("z")),
            "ci95": [num(ci[0]), num(ci[1] if len(ci) > 1 else None)],
            "champion": {k: num(v) for k, v in champ.items()}, "challenger": {k: num(v) for k, v in chall.items()}}


def _history(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for h in sorted(summary.get("history") or [], key=lambda h: str(h.get("partition"))):
        out.append({"partition": str(h.get("partition")), "champion_version": h.get("champion_version"),
                    "rows": _int(h.get("rows")), "agreement_rate": num(h.get("agreement_rate")),
                    "flip_rate": num(h.get("flip_rate")), "to_positive": _int(h.get("to_positive")),
                    "to_negative": _int(h.get("to_negative")), "max_group_flip_rate": num(h.get("max_group_flip_rate")),
                    "psi": num(h.get("psi")), "max_abs_bias_change": num(h.get("max_abs_bias_change")),
                    "auc_delta": num(h.get("auc_delta")), "labelled_rows": _int(h.get("labelled_rows")) or 0})
    return out


def shadow_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """The ShadowSummary flattened into what people read (JSON-safe)."""
    rows = _int(summary.get("rows"))
    flips = summary.get("flips") or {}
    agreement = summary.get("agreement") or {}
    groups = _groups(summary)
    rated = [g for g in groups if isinstance(g["flip_rate"], float) and g["rows"]]
    worst = max(rated, key=lambda g: g["flip_rate"], default=None)
    history = _history(summary)
    scores = summary.get("scores") or {}
    gate = summary.get("gate")
    pr = summary.get("positive_rate") or {}
    return {
        "status": summary.get("status") or "active", "stopped_reason": summary.get("stopped_reason"),
        "stopped_at": summary.get("stopped_at"), "challenger_version": summary.get("challenger_version"),
        "champion_versions": sorted({str(h["champion_version"]) for h in history if h["champion_version"] is not None},
                                    key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v)),
        "partitions": _int(summary.get("partitions")) or len(history),
        "first_partition": summary.get("first_partition") or (history[0]["partition"] if history else None),
        "last_partition": summary.get("last_partition") or (history[-1]["partition"] if history else None),
        "rows": rows, "agree": _int(agreement.get("agree")),
        "agreement_rate": num(agreement.get("rate")),
        "flips": {"total": _int(flips.get("total")), "rate": num(flips.get("rate")),
                  "to_positive": _int(flips.get("to_positive")), "to_negative": _int(flips.get("to_negative")),
                  "to_positive_rate": _ratio(flips.get("to_positive"), rows),
                  "to_negative_rate": _ratio(flips.get("to_negative"), rows)},
        "positive_rate": {"champion": num(pr.get("champion")), "challenger": num(pr.get("challenger"))},
        "worst_group": worst and {k: worst[k] for k in ("facet", "value", "flip_rate", "rows", "in_facet_group")},
        "groups": sorted(groups, key=lambda g: (g["facet"], -(g["flip_rate"] if isinstance(g["flip_rate"], float)
                                                               else -1.0), g["value"])),
        "bias": _bias(summary),
        "scores": {k: num(scores.get(k)) for k in ("mean_champion", "mean_challenger", "mean_abs_diff",
                                                   "max_abs_diff", "psi", "ks")},
        "quality": _quality(summary.get("quality")),
        "gate": ({"enabled": bool(gate.get("enabled")), "passed": bool(gate.get("passed")),
                  "reasons": [str(r) for r in gate.get("reasons") or []], "checked_at": gate.get("checked_at")}
                 if isinstance(gate, dict) else None),
        "history": history,
    }


def shadow_section(uc, version: str | int, summary: dict[str, Any] | None = _UNSET, *,
                   pending: bool = True) -> dict[str, Any]:
    """What to show about a version's shadow scoring: ``exists`` False (with a ``message``) when no
    summary has been written, else the facts of ``shadow_facts``. ``summary`` defaults to
    ``load_shadow(uc, version)``; an unreadable summary is reported in ``error``, not raised.
    ``pending``: the version awaits a decision (else "not scored in shadow" rather than "not yet")."""
    spec = getattr(uc, "shadow", None)
    enabled = bool(getattr(spec, "enabled", False))
    gate = getattr(spec, "gate", None)
    pos, neg = label_names(uc)
    base = {"enabled": enabled, "version": str(version), "positive_name": pos, "negative_name": neg,
            "gate_configured": bool(getattr(gate, "enabled", False)),
            "min_partitions": getattr(gate, "min_partitions", None)}
    error, facts = None, None
    try:
        if summary is _UNSET:
            summary = load_shadow(uc, version)
        facts = shadow_facts(summary) if summary else None
    except Exception as exc:  # noqa: BLE001 - the page or card still renders, saying why
        log.warning("shadow summary of %s v%s unreadable: %s", getattr(uc, "name", "?"), version, exc)
        error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
    if facts is None:
        if error:
            message = f"The shadow summary could not be read ({error})."
        elif enabled and not pending:
            message = ("Not scored in shadow: shadow scoring covers pending versions, and none was written for this "
                       "one.")
        elif enabled:
            message = ("No shadow partition scored yet: the nightly batch transform scores pending versions beside "
                       "the champion, and the comparison appears here after the next scored partition.")
        else:
            message = "Shadow scoring is off for this use case (shadow.enabled in the use-case file)."
        return {**base, "exists": False, "error": error, "message": message}
    return {**base, "exists": True, "error": None, "message": None, **facts}


# ---------------------------------------------------------------------- Markdown (the approval page)
def _md(text: Any) -> str:
    """Table-safe Markdown text: no pipes, newlines or raw HTML."""
    return (str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
            .replace(">", "&gt;"))


def group_label(g: dict[str, Any]) -> str:
    return f"{g['facet']}={g['value']}" + (" (d)" if g.get("in_facet_group") else "")


def _quality_line(q: dict[str, Any] | None) -> str:
    if q and q.get("status") == "ok":
        lo, hi = (q.get("ci95") or [None, None])[:2]
        return (f"Quality on {count(q.get('labelled_rows'))} labelled rows ({count(q.get('positives'))} positive): "
                f"AUC champion {fnum(q.get('champion_auc'))} vs challenger {fnum(q.get('challenger_auc'))}, "
                f"delta **{signed(q.get('auc_delta'))}** (paired DeLong p = {pvalue(q.get('p_value'))}, "
                f"95% CI {signed(lo)} … {signed(hi)}).")
    labelled = (q or {}).get("labelled_rows") or 0
    return ("Quality: outcomes not labelled yet" + (f" (only {count(labelled)} labelled rows, too few or one class)"
                                                    if labelled else "")
            + " — the paired AUC comparison appears once ground truth arrives.")


def gate_line(s: dict[str, Any]) -> str | None:
    gate = s.get("gate")
    if not gate or not gate.get("enabled"):
        return None
    if gate.get("passed"):
        return "**Shadow gate: passed**" + (f" (checked {gate['checked_at']})." if gate.get("checked_at") else ".")
    reasons = "; ".join(_md(r) for r in gate.get("reasons") or []) or "no reason recorded"
    return f"**Shadow gate: not passed** — {reasons}. Approval is refused until it passes."


def shadow_markdown(s: dict[str, Any]) -> list[str]:
    """The approval summary's lines about shadow scoring (``s``: ``shadow_section``); [] when there is
    nothing to say (shadow scoring off and no summary)."""
    title = "#### Shadow scoring on production partitions"
    if not s.get("exists"):
        if not s.get("enabled") and not s.get("error"):
            return []
        lines = [title, s["message"]]
        if s.get("enabled") and not s.get("error"):
            lines.append("Approving now means approving without evidence from production traffic"
                         + (f"; the shadow gate needs {s.get('min_partitions')} scored partition(s) first."
                            if s.get("gate_configured") else "."))
        return [*lines, ""]
    pos, neg = s["positive_name"], s["negative_name"]
    f = s["flips"]
    champs = ", ".join(f"v{_md(v)}" for v in s["champion_versions"]) or "the champion"
    status = "active" if s["status"] == "active" else f"stopped ({_md(s.get('stopped_reason') or 'no reason')})"
    lines = [title,
             f"Scored beside {champs} on **{s['partitions']}** partition(s) ({_md(s['first_partition'])} … "
             f"{_md(s['last_partition'])}), {count(s['rows'])} rows; shadow status: {status}.",
             "",
             f"- Agreement: **{pct(s['agreement_rate'])}** of decisions ({count(s['agree'])} of "
             f"{count(s['rows'])} rows).",
             f"- Flips: {count(f['total'])} ({pct(f['rate'])}): {count(f['to_positive'])} to *{_md(pos)}* "
             f"({pct(f['to_positive_rate'])}), {count(f['to_negative'])} to *{_md(neg)}* "
             f"({pct(f['to_negative_rate'])}); "
             f"{_md(pos)} rate {pct(s['positive_rate']['champion'])} → {pct(s['positive_rate']['challenger'])}."]
    w = s.get("worst_group")
    if w:
        lines.append(f"- Worst facet group: {_md(group_label(w))}, flip rate **{pct(w['flip_rate'])}** "
                     f"({count(w['rows'])} rows).")
    sc = s["scores"]
    lines.append(f"- Score shift: mean score {fnum(sc['mean_champion'])} → {fnum(sc['mean_challenger'])}; "
                 f"PSI {fnum(sc['psi'])}.")
    lines.append("")
    if s["groups"]:
        shown = sorted(s["groups"], key=lambda g: -(g["flip_rate"] if isinstance(g["flip_rate"], float) else -1))
        lines += [f"| facet group | rows | flip rate | {_md(pos)} rate champion → challenger |",
                  "|---|---|---|---|"]
        lines += [f"| {_md(group_label(g))} | {count(g['rows'])} | {pct(g['flip_rate'])} | "
                  f"{pct(g['champion_positive_rate'])} → {pct(g['challenger_positive_rate'])} |"
                  for g in shown[:MAX_GROUP_ROWS]]
        if len(shown) > MAX_GROUP_ROWS:
            lines.append(f"\n({len(shown) - MAX_GROUP_ROWS} more group(s) on the dashboard's version page.)")
        lines.append("")
    if s["bias"]:
        lines += ["| bias (facet d) | DPPL champion → challenger | change | DI champion → challenger | change |",
                  "|---|---|---|---|---|"]
        lines += [f"| {_md(b['facet'])} ({_md(', '.join(b['facet_values']) or 'each value')}) | "
                  f"{fnum(b['champion']['DPPL'])} → {fnum(b['challenger']['DPPL'])} | {signed(b['change']['DPPL'])} | "
                  f"{fnum(b['champion']['DI'], 3)} → {fnum(b['challenger']['DI'], 3)} | "
                  f"{signed(b['change']['DI'], 3)} |"
                  for b in s["bias"]]
        lines.append("")
    lines += [_quality_line(s.get("quality")), ""]
    gate = gate_line(s)
    if gate:
        lines += [gate, ""]
    return lines
