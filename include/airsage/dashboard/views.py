"""What the dashboard pages and its JSON API show, computed from the summaries (no Airflow here).

* ``overview(ucs, usecase=None, status=None)`` reads one ``index.json`` per use case — never a report.
* ``version_view(uc, version)`` adds the version's full summary, its audit trail checked against the
  audit log, metrics against the champion and the logistic baseline, lineage, the partitions it scored
  and its shadow history (``shadow``: ``airsage.cards.shadow.shadow_section``, scored beside the champion).
* ``partition_view(uc, day)`` the transform report, the monitoring run and the review decisions.
* ``report_uri(uc, rel)`` maps a path below the use case's root to a report it may serve (no traversal).
"""
from __future__ import annotations

import html
import logging
import os
from typing import Any

from airsage import layout, storage
from airsage.cards.shadow import shadow_section
from airsage.dashboard import store
from airsage.errors import ConfigError

log = logging.getLogger("airsage.dashboard")
STATUSES = ("PendingManualApproval", "Approved", "Rejected")
TREND_N = 30
MAX_ALERTS = 10
MAX_REVIEW_ROWS = 500
# what the report route may serve: top-level folders below the use case's root and file kinds
REPORT_PREFIXES = ("reports", "monitor", "datasets", "dashboard", "labeling")
REPORT_SUFFIXES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".csv": "text/csv; charset=utf-8",
                   ".txt": "text/plain; charset=utf-8", ".jsonl": "application/json"}
COMPARED_METRICS = ("auc", "pr_auc", "recall", "precision", "f1", "log_loss", "brier")


def _vkey(v: str) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


# ---------------------------------------------------------------------- overview
def usecase_summary(uc, *, status: str | None = None, trend_n: int = TREND_N) -> dict[str, Any]:
    idx = store.read_index(uc)
    versions = sorted(idx.get("versions", {}).values(), key=lambda v: -_vkey(v.get("version")))
    counts = {s: sum(1 for v in versions if v.get("status") == s) for s in STATUSES}
    shown = [v for v in versions if not status or v.get("status") == status]
    by_v = {v["version"]: v for v in versions}
    days = sorted(idx.get("partitions", {}))
    parts = idx.get("partitions", {})
    scored = [d for d in days if parts[d].get("rows") is not None or parts[d].get("status")]
    last_day = scored[-1] if scored else None
    trend = [{"day": d, **{k: parts[d].get(k) for k in ("alert", "drifted_share", "prediction_drift", "model_quality",
                                                          "quality_auc", "bias_drift", "attribution_drift",
                                                          "model_version", "rows", "monitored")}}
             for d in days[-trend_n:]]
    monitored = [d for d in days if parts[d].get("monitored")]
    latest = monitored[-1] if monitored else None
    alerts = []
    for d in reversed(days):
        p = parts[d]
        if p.get("alert"):
            alerts.append({"kind": "monitoring", "day": d, "model_version": p.get("model_version"),
                           "text": "; ".join(p.get("reasons") or []) or "monitoring alert"})
        if p.get("files_failed"):
            alerts.append({"kind": "transform", "day": d, "model_version": p.get("model_version"),
                           "text": f"{p['files_failed']} input file(s) failed to score"})
        if len(alerts) >= MAX_ALERTS:
            break
    open_reviews = sum(int(parts[d].get("pending_review") or 0) for d in days)
    decided = sum(int(parts[d].get("reviewed") or 0) + int(parts[d].get("timed_out") or 0) for d in days)
    return {
        "usecase": uc.name, "model": idx.get("model") or uc.registered_model_name, "owner": uc.owner,
        "empty": not versions and not days, "updated_at": idx.get("updated_at"),
        "champion": by_v.get(idx.get("champion")), "previous": by_v.get(idx.get("previous")),
        "counts": counts, "versions": shown,
        "pending_approvals": [v["version"] for v in versions if v.get("status") == "PendingManualApproval"],
        "last_partition": ({"day": last_day, **{k: parts[last_day].get(k) for k in
                                                ("rows", "scored_at", "model_version", "status")}}
                           if last_day else None),
        "latest_verdict": ({"day": latest, **{k: parts[latest].get(k) for k in
                                              ("alert", "reasons", "drifted_share", "prediction_drift", "model_quality",
                                               "model_version", "monitor_report")}} if latest else None),
        "trend": trend,
        "partitions": len(days),
        "review": {"open": open_reviews, "decided": decided},
        "alerts": alerts,
    }


def overview(ucs: list, *, usecase: str | None = None, status: str | None = None) -> dict[str, Any]:
    """Every (visible) use case with its registered model; ``usecase`` / ``status`` filter."""
    if status and status not in STATUSES:
        raise ConfigError(f"unknown status {status!r}", key="status", fix=f"Use one of {', '.join(STATUSES)}.")
    chosen = [u for u in ucs if not usecase or u.name == usecase]
    if usecase and not chosen:
        raise ConfigError(f"unknown use case {usecase!r}", key="usecase",
                          fix=f"Use one of {', '.join(u.name for u in ucs) or '(none)'}.")
    return {"generated_at": store.now(), "filters": {"usecase": usecase, "status": status},
            "usecases": [usecase_summary(u, status=status) for u in chosen]}


# ---------------------------------------------------------------------- inline SVG trend
def trend_svg(trend: list[dict[str, Any]], *, width: int = 240, height: int = 64) -> str:
    """A small chart of the last partitions: drifted share (line, 0–100 %), a red dot per alert, a
    diamond per prediction drift; x = partitions (first and last day labelled), y ticks 0 / 50 / 100 %."""
    pad_l, pad_r, pad_t, pad_b = 30, 6, 6, 16
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = len(trend)
    e = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" width="{width}" height="{height}" role="img" '
             f'aria-label="monitoring verdicts of the last {n} partitions">']
    for frac, label in ((0.0, "0%"), (0.5, "50%"), (1.0, "100%")):
        y = pad_t + h - frac * h
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{pad_l + w}" y2="{y:.1f}" stroke="#e3e7ef"/>'
                     f'<text x="{pad_l - 3}" y="{y + 3:.1f}" font-size="8" text-anchor="end">{label}</text>')
    if not n:
        parts.append(f'<text x="{pad_l + w / 2}" y="{pad_t + h / 2}" font-size="9" text-anchor="middle">'
                     'no monitoring runs yet</text></svg>')
        return "".join(parts)

    def x(i: int) -> float:
        return pad_l + (w * i / (n - 1) if n > 1 else w / 2)

    pts = []
    for i, p in enumerate(trend):
        share = p.get("drifted_share")
        if share is not None:
            pts.append(f"{x(i):.1f},{pad_t + h - max(0.0, min(1.0, float(share))) * h:.1f}")
    if pts:
        parts.append(f'<polyline fill="none" stroke="#2f6fdf" stroke-width="1.5" points="{" ".join(pts)}"/>')
    for i, p in enumerate(trend):
        title = (f"{p.get('day')}: v{p.get('model_version')}, drifted share "
                 f"{'-' if p.get('drifted_share') is None else format(float(p['drifted_share']), '.0%')}"
                 f"{', ALERT' if p.get('alert') else ''}{', prediction drift' if p.get('prediction_drift') else ''}"
                 f"{', model quality ' + str(p['model_quality']) if p.get('model_quality') else ''}")
        color = "#c62828" if p.get("alert") else ("#2e7d32" if p.get("monitored") else "#b0b7c3")
        y = pad_t + h - max(0.0, min(1.0, float(p.get("drifted_share") or 0))) * h
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{e(title)}</title></circle>')
        if p.get("prediction_drift"):
            parts.append(f'<rect x="{x(i) - 2:.1f}" y="{pad_t - 4}" width="4" height="4" fill="#ef6c00" '
                         f'transform="rotate(45 {x(i):.1f} {pad_t - 2})"/>')
    parts.append(f'<text x="{pad_l}" y="{height - 3}" font-size="8">{e(str(trend[0].get("day")))}</text>')
    if n > 1:
        parts.append(f'<text x="{pad_l + w}" y="{height - 3}" font-size="8" text-anchor="end">'
                     f'{e(str(trend[-1].get("day")))}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------- report paths
def relative_report(uc, uri: str | None) -> str | None:
    """``uri`` as a path below the use case's root when the report route may serve it, else None."""
    if not uri:
        return None
    base = uc.data_root()
    uri = str(uri)
    if storage.is_s3(base):
        if not uri.startswith(base.rstrip("/") + "/"):
            return None
        rel = uri[len(base.rstrip("/")) + 1:]
    else:
        try:
            rel = os.path.relpath(os.path.abspath(uri), os.path.abspath(base))
        except ValueError:
            return None
        rel = rel.replace(os.sep, "/")
    try:
        return check_report_path(rel)
    except ConfigError:
        return None


def check_report_path(rel: str) -> str:
    """A safe relative report path (raises ``ConfigError``): no absolute paths, no ``..``, no hidden or
    backslashed segments, only report folders and report file kinds."""
    text = str(rel or "")
    parts = text.split("/")
    bad = (not text or text.startswith("/") or "\\" in text or "\x00" in text or ":" in parts[0]
           or any(p in ("", ".", "..") or p.startswith(".") for p in parts))
    if bad or parts[0] not in REPORT_PREFIXES or os.path.splitext(parts[-1])[1].lower() not in REPORT_SUFFIXES:
        raise ConfigError(f"{text[:200]!r} is not a report this dashboard serves", key="path",
                          fix=f"Open reports from the dashboard's links (folders {', '.join(REPORT_PREFIXES)}; "
                              f"files {', '.join(sorted(REPORT_SUFFIXES))}).")
    return text


def report_uri(uc, rel: str) -> tuple[str, str]:
    """(URI, media type) of a report below the use case's root; raises ``ConfigError`` when the path is
    not allowed or (locally) resolves outside the root through a link."""
    rel = check_report_path(rel)
    base = uc.data_root()
    uri = storage.join(base, *rel.split("/"))
    if not storage.is_s3(base):
        real_base, real = os.path.realpath(base), os.path.realpath(uri)
        if os.path.commonpath([real_base, real]) != real_base:
            raise ConfigError(f"{rel!r} leaves the use case's data root", key="path",
                              fix="Open reports from the dashboard's links.")
    return uri, REPORT_SUFFIXES[os.path.splitext(rel)[1].lower()]


# ---------------------------------------------------------------------- version page
def _clarify_reports(uc, run_key: str | None) -> list[dict[str, str]]:
    if not run_key:
        return []
    out = []
    for stage in ("pre_training", "post_training", "analysis"):
        uri = storage.join(layout.clarify_output(uc, run_key, stage), "report.html")
        if storage.exists(uri):
            out.append({"stage": stage.replace("_", "-"), "path": relative_report(uc, uri)})
    return out


def _verify_trail(summary_events: list[dict[str, Any]], log_events: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the summary's events with the audit log's: every summary event must be in the log (by
    action, actor, version); the log is what the page shows."""
    in_log = {(e.get("action"), e.get("actor"), str(e.get("version"))) for e in log_events}
    missing = [e for e in summary_events if (e.get("action"), e.get("actor"), str(e.get("version"))) not in in_log]
    return {"verified": not missing, "log_events": len(log_events), "summary_events": len(summary_events),
            "not_in_log": missing}


def version_view(uc, version: str, *, reg=None) -> dict[str, Any]:
    """One version: summary, audit trail (from the log, checked against the summary), metrics vs the
    champion and the baseline, lineage, partitions it scored, reports."""
    from airsage.dashboard.lineage import _labeling_jobs

    version = store.check_version(version)
    idx = store.read_index(uc)
    doc = store.read_json(store.version_uri(uc, version))
    if doc is None and version not in idx.get("versions", {}):
        raise ConfigError(f"{uc.name} has no version {version} in the dashboard", key="version",
                          fix="Pick a version from the overview, or run `airsage dashboard rebuild` if it was "
                              "registered before the dashboard existed.")
    doc = doc or {**idx["versions"][version], "events": []}
    log_events, log_error = [], None
    try:
        if reg is None:
            from airsage.registry import ModelRegistry

            reg = ModelRegistry.from_settings()
        from airsage.cards.model_card import version_events

        log_events = version_events(reg.audit_events(uc.registered_model_name), version)
    except Exception as exc:  # noqa: BLE001 - the page still shows the summary
        log_error = f"{type(exc).__name__}: {exc}"
    champion_v = idx.get("champion")
    champion = store.read_json(store.version_uri(uc, champion_v)) if champion_v else None
    metrics = doc.get("metrics") or {}
    cmetrics = (champion or {}).get("metrics") or {}
    comparison = [{"metric": m, "version": metrics.get(m), "champion": cmetrics.get(m) if champion_v != version else None,
                   "baseline": metrics.get(f"baseline_{m}")} for m in COMPARED_METRICS
                  if any(x is not None for x in (metrics.get(m), cmetrics.get(m), metrics.get(f"baseline_{m}")))]
    parts = idx.get("partitions", {})
    scored = [{"day": d, **{k: parts[d].get(k) for k in ("rows", "alert", "drifted_share", "model_quality")}}
              for d in sorted(parts, reverse=True) if str(parts[d].get("model_version")) == version]
    trail = _verify_trail(doc.get("events") or [], log_events) if log_error is None else \
        {"verified": None, "error": log_error}
    return {
        "usecase": uc.name, "model": uc.registered_model_name, "version": version, "summary": doc,
        "is_champion": champion_v == version, "is_previous": idx.get("previous") == version,
        "champion": champion_v, "comparison": comparison, "gates": doc.get("gates") or [],
        "audit_trail": log_events if log_error is None else doc.get("events") or [], "audit_check": trail,
        "lineage": {"dataset_version": doc.get("dataset_version"), "dataset_hash": doc.get("dataset_hash"),
                    "dataset_uri": doc.get("dataset_uri"), "dataset_rows": doc.get("dataset_rows"),
                    "labeling_jobs": _labeling_jobs(uc, doc.get("dataset_version")),
                    "code_version": doc.get("code_version"), "training_run_id": doc.get("run_id"),
                    "run_key": doc.get("run_key"), "model_artifact_uri": doc.get("model_artifact_uri"),
                    "model_artifact_sha256": doc.get("model_artifact_sha256"),
                    "approval_events": [e for e in (log_events or doc.get("events") or [])
                                        if e.get("action") in ("approve", "reject", "promote", "rollback")]},
        "partitions_scored": scored,
        "shadow": shadow_section(uc, version, pending=doc.get("status") in (None, "PendingManualApproval")),
        "clarify_reports": _clarify_reports(uc, doc.get("run_key")),
        "dataset_validation": relative_report(uc, layout.dataset_file(uc, doc["dataset_version"], "validation.html"))
        if doc.get("dataset_version") else None,
        "pending_approval": doc.get("status") == "PendingManualApproval",
        "approval_dag_id": f"{uc.name}__train", "approve_dag_id": f"{uc.name}__approve_model",
    }


# ---------------------------------------------------------------------- partition page
def review_rows(uc, day: str, limit: int = MAX_REVIEW_ROWS) -> list[dict[str, Any]]:
    uri = storage.join(layout.predictions(uc, day), "_review", "review_status.parquet")
    if not storage.exists(uri):
        return []
    import pyarrow.parquet as pq

    with storage.local_copy(uri) as local:
        table = pq.read_table(local)
    rows = table.slice(0, limit).to_pylist()
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]


def partition_view(uc, day: str) -> dict[str, Any]:
    day = store.check_day(day)
    transform = store.read_json(store.partition_uri(uc, day, "transform"))
    monitor = store.read_json(store.partition_uri(uc, day, "monitor"))
    review = store.read_json(store.partition_uri(uc, day, "review"))
    if transform is None and monitor is None and review is None:
        raise ConfigError(f"{uc.name} has no partition {day} in the dashboard", key="partition",
                          fix="Pick a partition from the overview or a version page, or run `airsage dashboard "
                              "rebuild`.")
    try:
        decisions = review_rows(uc, day)
    except Exception as exc:  # noqa: BLE001 - the page still shows the counts
        log.warning("review sidecar of %s %s unreadable: %s", uc.name, day, exc)
        decisions = []
    return {"usecase": uc.name, "partition": day, "transform": transform, "monitor": monitor, "review": review,
            "review_decisions": decisions,
            "monitor_report": relative_report(uc, (monitor or {}).get("report_uri")),
            "monitor_run": relative_report(uc, storage.join((monitor or {}).get("output_uri") or "", "run.json"))
            if (monitor or {}).get("output_uri") else None,
            "transform_report": relative_report(uc, (transform or {}).get("report_uri"))}
