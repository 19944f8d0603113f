"""The short Markdown an approver reads before deciding (the body of the Airflow approval form)."""
from __future__ import annotations

import json
import math
from typing import Any

ROWS = (("AUC", "auc"), ("PR AUC", "pr_auc"), ("recall", "recall"), ("precision", "precision"), ("F1", "f1"),
        ("log loss", "log_loss"), ("calibration error (ECE)", "ece"))


def _f(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "–"
    return f"{x:.4f}" if math.isfinite(x) else "–"


def _md(text: Any) -> str:
    """Table-safe text (no pipes or newlines)."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def approval_summary_markdown(uc, version: str | int, reg) -> str:
    """What a version is, how it compares with the baseline and the champion, and its gate results.

    ``reg`` is an ``airsage.registry.ModelRegistry`` (passed in: domain modules do not import the registry).
    """
    name = uc.registered_model_name
    v = reg.get_version(name, version)
    champion = reg.champion(name)
    tags, m = v.tags, v.metrics
    try:
        gates = json.loads(tags.get("gate_results") or "[]")
    except ValueError:
        gates = []
    champ = champion.metrics if champion and champion.version != v.version else None
    head = ["| metric | this version | baseline |" + (f" champion v{champion.version} |" if champ else ""),
            "|---|---|---|" + ("---|" if champ else "")]
    rows = [f"| {label} | {_f(m.get(key))} | {_f(m.get('baseline_' + key))} |" + (f" {_f(champ.get(key))} |" if champ else "")
            for label, key in ROWS if key in m]
    failed = [g for g in gates if not g.get("passed")]
    gate_lines = ["| gate | result | value | threshold |", "|---|---|---|---|"] + [
        f"| {_md(g.get('name'))} | {'PASS' if g.get('passed') else '**FAIL**'} | {_f(g.get('value'))} "
        f"| {_f(g.get('threshold'))} |"
        for g in gates]
    out = [
        f"### {name} version {v.version}: {v.status}",
        f"Registered {tags.get('registered_at', v.created_at)} by {tags.get('registered_by', 'unknown')}; "
        f"dataset **{tags.get('dataset_version', '?')}** ({tags.get('dataset_rows', '?')} rows, hash "
        f"`{(tags.get('dataset_hash') or '?')[:12]}`); code {tags.get('code_version', '?')}; MLflow run `{v.run_id}`.",
        "",
        *head, *rows,
        "",
        ("**Quality gates failed: " + ", ".join(_md(g["name"]) for g in failed) + "**") if failed
        else "All quality gates passed." if gates else "No quality gates were recorded.",
        "",
        *(gate_lines if gates else []),
        "",
        f"Intended use: {_md(uc.model_card.intended_use) or '(not stated)'} — risk rating **{uc.model_card.risk_rating}**.",
        ("Approving makes this version the `champion` (batch scoring serves it); "
         + (f"v{champion.version} becomes `previous`." if champion and champion.version != v.version
            else "there is no champion yet.")),
    ]
    if tags.get("model_card_html_uri"):
        out.append(f"Model card: `{tags['model_card_html_uri']}`")
    return "\n".join(out) + "\n"
