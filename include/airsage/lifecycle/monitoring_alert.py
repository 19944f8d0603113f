"""The text of a monitoring alert (subject, plain text, HTML) for the notifiers: which monitors alerted,
their reasons, the Clarify-based monitors' outcome, the report, the retraining decision."""
from __future__ import annotations

from typing import Any

from airsage.config import UseCase

def alert_kinds(run: dict[str, Any]) -> list[str]:
    """Which monitors of a run summary alerted (for subjects and notifier text)."""
    kinds = []
    if run.get("data_quality_violations"):
        kinds.append("data quality")
    if run.get("dataset_drift"):
        kinds.append("data drift")
    if run.get("prediction_drift"):
        kinds.append("prediction drift")
    if run.get("model_quality") == "violations":
        kinds.append("model quality")
    if (run.get("bias_drift") or {}).get("alert"):
        kinds.append("bias drift")
    if (run.get("feature_attribution_drift") or {}).get("alert"):
        kinds.append("feature attribution drift")
    return kinds


def _clarify_lines(run: dict[str, Any]) -> list[str]:
    """One line per Clarify-based monitor of a run summary: its outcome, or why it did not run."""
    lines = []
    for key, name in (("bias_drift", "bias drift"), ("feature_attribution_drift", "feature attribution drift")):
        r = run.get(key)
        if not r:
            continue
        if r.get("status") == "not_run":
            lines.append(f"{name}: not run ({r.get('reason')})")
        elif key == "bias_drift":
            lines.append(f"{name}: {r.get('n_violations')} violation(s) of {r.get('compared')} compared metric(s), "
                         f"{r.get('rows')} rows ({r.get('labelled_rows')} labelled)")
        else:
            ndcg = r.get("ndcg")
            lines.append(f"{name}: NDCG {'-' if ndcg is None else f'{ndcg:.3f}'} (alert below {r.get('threshold')}); "
                         f"top features now {', '.join(r.get('top_features') or [])}, at baseline "
                         f"{', '.join(r.get('baseline_top_features') or [])}")
    return lines


def format_alert(uc: UseCase, runs: list[dict[str, Any]], *, retrain: bool | None = None) -> dict[str, str]:
    """Subject, plain text and HTML of an alert about one or more monitoring runs (their summaries)."""
    import html

    alerting = [r for r in runs if r.get("alert")] or runs
    retrain = uc.monitor.retrain_on_alert if retrain is None else retrain
    parts = ", ".join(f"{r.get('partition')} (v{r.get('model_version')})" for r in alerting)
    kinds = list(dict.fromkeys(k for r in alerting for k in alert_kinds(r)))
    subject = f"[airsage] {uc.name}: monitoring alert for {parts}" + (f": {', '.join(kinds)}" if kinds else "")
    lines = [f"Monitoring of {uc.name} ({uc.registered_model_name}) raised an alert."]
    for r in alerting:
        lines.append(f"\nPartition {r.get('partition')}, model version {r.get('model_version')}, "
                     f"{r.get('item_count')} rows:")
        lines += [f"  - {reason}" for reason in r.get("reasons", [])]
        lines += [f"  ({line})" for line in _clarify_lines(r)]
        lines.append(f"  report: {r.get('report_uri')}")
    lines.append(f"\nRetraining: the {uc.name}__train DAG is triggered (monitor.retrain_on_alert)." if retrain
                 else "\nRetraining is not automatic (monitor.retrain_on_alert is off): decide whether to retrain.")
    text = "\n".join(lines)
    body = [f"<p>{html.escape(lines[0])}</p>"]
    for r in alerting:
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in r.get("reasons", []))
        notes = "".join(f"<li>{html.escape(line)}</li>" for line in _clarify_lines(r))
        body.append(f"<h3>Partition {html.escape(str(r.get('partition')))}, model version "
                    f"{html.escape(str(r.get('model_version')))}, {html.escape(str(r.get('item_count')))} rows</h3>"
                    f"<ul>{items}</ul>" + (f"<p>Clarify-based monitors:</p><ul>{notes}</ul>" if notes else "")
                    + f"<p>Report: {html.escape(str(r.get('report_uri')))}</p>")
    body.append(f"<p>{html.escape(lines[-1].strip())}</p>")
    return {"subject": subject[:240], "text": text, "html": "<html><body>" + "".join(body) + "</body></html>"}
