"""The text of a monitoring alert (subject, plain text, HTML) for the notifiers: which monitors alerted,
their reasons, the Clarify-based monitors' outcome, the report, the retraining decision. Each run is a
``MonitorRunSummary`` (or its ``to_dict()``, as the monitor DAG's XCom carries it)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airsage.config import UseCase
from airsage.contracts import MonitorRunSummary

RunSummary = MonitorRunSummary | Mapping[str, Any]


def _summary(run: RunSummary) -> MonitorRunSummary:
    return run if isinstance(run, MonitorRunSummary) else MonitorRunSummary.from_dict(run)


def alert_kinds(run: RunSummary) -> list[str]:
    """Which monitors of a run summary alerted (for subjects and notifier text)."""
    r = _summary(run)
    kinds = []
    if r.data_quality_violations:
        kinds.append("data quality")
    if r.dataset_drift:
        kinds.append("data drift")
    if r.prediction_drift:
        kinds.append("prediction drift")
    if r.model_quality == "violations":
        kinds.append("model quality")
    if r.alerted("bias_drift"):
        kinds.append("bias drift")
    if r.alerted("feature_attribution_drift"):
        kinds.append("feature attribution drift")
    return kinds


def _clarify_lines(run: MonitorRunSummary) -> list[str]:
    """One line per Clarify-based monitor of a run summary: its outcome, or why it did not run."""
    lines = []
    for key, name in (("bias_drift", "bias drift"), ("feature_attribution_drift", "feature attribution drift")):
        r = getattr(run, key)
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


def format_alert(uc: UseCase, runs: list[RunSummary], *, retrain: bool | None = None) -> dict[str, str]:
    """Subject, plain text and HTML of an alert about one or more monitoring runs (their summaries)."""
    import html

    summaries = [_summary(r) for r in runs]
    alerting = [r for r in summaries if r.alert] or summaries
    retrain = uc.monitor.retrain_on_alert if retrain is None else retrain
    parts = ", ".join(f"{r.partition} (v{r.model_version})" for r in alerting)
    kinds = list(dict.fromkeys(k for r in alerting for k in alert_kinds(r)))
    subject = f"[airsage] {uc.name}: monitoring alert for {parts}" + (f": {', '.join(kinds)}" if kinds else "")
    lines = [f"Monitoring of {uc.name} ({uc.registered_model_name}) raised an alert."]
    for r in alerting:
        lines.append(f"\nPartition {r.partition}, model version {r.model_version}, {r.item_count} rows:")
        lines += [f"  - {reason}" for reason in r.reasons]
        lines += [f"  ({line})" for line in _clarify_lines(r)]
        lines.append(f"  report: {r.report_uri}")
    lines.append(f"\nRetraining: the {uc.name}__train DAG is triggered (monitor.retrain_on_alert)." if retrain
                 else "\nRetraining is not automatic (monitor.retrain_on_alert is off): decide whether to retrain.")
    text = "\n".join(lines)
    body = [f"<p>{html.escape(lines[0])}</p>"]
    for r in alerting:
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in r.reasons)
        notes = "".join(f"<li>{html.escape(line)}</li>" for line in _clarify_lines(r))
        body.append(f"<h3>Partition {html.escape(str(r.partition))}, model version "
                    f"{html.escape(str(r.model_version))}, {html.escape(str(r.item_count))} rows</h3>"
                    f"<ul>{items}</ul>" + (f"<p>Clarify-based monitors:</p><ul>{notes}</ul>" if notes else "")
                    + f"<p>Report: {html.escape(str(r.report_uri))}</p>")
    body.append(f"<p>{html.escape(lines[-1].strip())}</p>")
    return {"subject": subject[:240], "text": text, "html": "<html><body>" + "".join(body) + "</body></html>"}
