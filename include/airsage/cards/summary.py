"""The short Markdown an approver reads before deciding (the body of the Airflow approval form).

It links to the evidence (the version's MLflow page, the model card, the Clarify report), compares the
version with the logistic-regression baseline trained beside it and with the champion, and says so
plainly when the candidate does not beat the baseline on the primary metric, or when its metrics are
identical to the champion's (usually the same data and settings trained twice). When the version has been
scored in shadow on production partitions, the evidence follows (``airsage.cards.shadow``).
"""
from __future__ import annotations

import json
import math
from typing import Any

from airsage.cards.shadow import shadow_markdown, shadow_section

ROWS = (("AUC", "auc"), ("PR AUC", "pr_auc"), ("recall", "recall"), ("precision", "precision"), ("F1", "f1"),
        ("log loss", "log_loss"), ("calibration error (ECE)", "ece"))


def _f(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "–"
    return f"{x:.4f}" if math.isfinite(x) else "–"


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _link(label: str, url: str | None) -> str | None:
    if not url:
        return None
    if url.startswith(("http://", "https://")):
        return f"[{label}]({url})"
    return f"{label}: `{url}`"


def _baseline_label(tags: dict[str, str]) -> str:
    algo = (tags.get("baseline_algorithm") or "logistic_regression").replace("_", "-")
    return f"{algo} baseline"


def _md(text: Any) -> str:
    """Table-safe text (no pipes or newlines)."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def approval_summary_markdown(uc, version: str | int, reg, *, mlflow_url: str | None = None,
                              model_card_url: str | None = None, clarify_report_url: str | None = None,
                              primary_metric: str = "auc", shadow: dict[str, Any] | None = ...) -> str:
    """What a version is, how it compares with the baseline and the champion, its gate results, and
    links to the evidence.

    ``reg`` is an ``airsage.registry.ModelRegistry`` (passed in: domain modules do not import the registry).
    Links: ``mlflow_url`` (default: ``reg.mlflow_version_url``, from ``AIRSAGE__MLFLOW_UI_URL`` or an
    http(s) MLflow tracking URI), ``model_card_url`` (default: the version's ``model_card_html_uri`` tag),
    ``clarify_report_url`` (default: its ``clarify_report_uri`` tag). ``primary_metric``: the metric the
    candidate must beat the baseline on (higher is better). ``shadow``: the version's ShadowSummary
    (default: read from ``layout.shadow_summary``; None: no summary).
    """
    name = uc.registered_model_name
    v = reg.get_version(name, version)
    champion = reg.champion(name)
    tags, m = v.tags, v.metrics
    try:
        gates = json.loads(tags.get("gate_results") or "[]")
    except ValueError:
        gates = []
    baseline = _baseline_label(tags)
    champ = champion.metrics if champion and champion.version != v.version else None
    head = [f"| metric | this version | {baseline} |" + (f" champion v{champion.version} |" if champ else ""),
            "|---|---|---|" + ("---|" if champ else "")]
    rows = [f"| {label} | {_f(m.get(key))} | {_f(m.get('baseline_' + key))} |" + (f" {_f(champ.get(key))} |" if champ else "")
            for label, key in ROWS if key in m]
    warnings = []
    mine, base = _num(m.get(primary_metric)), _num(m.get("baseline_" + primary_metric))
    label = dict((k, lbl) for lbl, k in ROWS).get(primary_metric, primary_metric)
    if mine is not None and base is not None and mine <= base:
        warnings.append(f"**Warning: this version does not beat the {baseline} on {label}** "
                        f"({_f(mine)} vs {_f(base)}): the simpler model is at least as good.")
    if champ is not None:
        shared = [k for _, k in ROWS if k in m and k in champ]
        if shared and all(_num(m[k]) == _num(champ[k]) for k in shared):
            warnings.append(f"**Note: every metric equals champion v{champion.version}'s**: probably the same "
                            "dataset and settings trained again; approving changes nothing for scoring.")
    failed = [g for g in gates if not g.get("passed")]
    gate_lines = ["| gate | result | value | threshold |", "|---|---|---|---|"] + [
        f"| {_md(g.get('name'))} | {'PASS' if g.get('passed') else '**FAIL**'} | {_f(g.get('value'))} "
        f"| {_f(g.get('threshold'))} |"
        for g in gates]
    if mlflow_url is None and hasattr(reg, "mlflow_version_url"):
        mlflow_url = reg.mlflow_version_url(name, v.version)
    links = [x for x in (_link(f"MLflow version {v.version}", mlflow_url),
                         _link("model card", model_card_url or tags.get("model_card_html_uri")),
                         _link("Clarify report", clarify_report_url or tags.get("clarify_report_uri")))
             if x]
    out = [
        f"### {name} version {v.version}: {v.status}",
        f"Registered {tags.get('registered_at', v.created_at)} by {tags.get('registered_by', 'unknown')}"
        + (f" (training started by {_md(tags['airsage.trained_by'])})" if tags.get("airsage.trained_by") else "")
        + f"; dataset **{tags.get('dataset_version', '?')}** ({tags.get('dataset_rows', '?')} rows, hash "
        f"`{(tags.get('dataset_hash') or '?')[:12]}`); code {tags.get('code_version', '?')}; MLflow run `{v.run_id}`.",
        "",
        "Evidence: " + (" · ".join(links) if links else "no links recorded (MLflow UI URL unknown: set "
                                                         "AIRSAGE__MLFLOW_UI_URL)."),
        "",
        *head, *rows,
        "",
        *[w for w in warnings for w in (w, "")],
        ("**Quality gates failed: " + ", ".join(_md(g["name"]) for g in failed) + "**") if failed
        else "All quality gates passed." if gates else "No quality gates were recorded.",
        "",
        *(gate_lines if gates else []),
        "",
        *shadow_markdown(shadow_section(uc, v.version) if shadow is ...
                         else shadow_section(uc, v.version, shadow)),
        f"Intended use: {_md(uc.model_card.intended_use) or '(not stated)'} — risk rating **{uc.model_card.risk_rating}**.",
        ("Approving makes this version the `champion` (batch scoring serves it); "
         + (f"v{champion.version} becomes `previous`." if champion and champion.version != v.version
            else "there is no champion yet.")),
    ]
    return "\n".join(out) + "\n"
