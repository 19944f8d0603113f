"""Write the dashboard's summaries when something happens. Called by the lifecycle (registration, an
approval decision, a transform, a monitoring run, a review) with plain dicts — what those steps return
already — and by ``rebuild`` with the same shapes read back from the real state.

Each function writes its item file and updates the use case's ``index.json``; both are small. A
failure here must never fail the step that called it: callers wrap the call (``safe_record``).
"""
from __future__ import annotations

import json
import logging
from typing import Any

from airsage.dashboard import store

log = logging.getLogger("airsage.dashboard")

DECISIONS = ("approve", "reject", "promote", "rollback")
METRIC_KEYS = ("auc", "pr_auc", "recall", "precision", "f1", "accuracy", "log_loss", "brier", "ece", "n",
               "baseline_auc", "baseline_pr_auc", "baseline_recall", "baseline_precision", "baseline_f1")
MAX_FILES = 200  # per-file rows kept from a transform report
MAX_REASONS = 20


# ---------------------------------------------------------------------- compact forms (shared with rebuild)
def _json_tag(tags: dict[str, Any], key: str, default: Any) -> Any:
    raw = tags.get(key)
    if raw in (None, ""):
        return default
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return default


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def version_doc(version: dict[str, Any]) -> dict[str, Any]:
    """The summary of a registered version from ``RegisteredVersion.to_dict()`` (its tags hold the rest)."""
    tags = {str(k): v for k, v in (version.get("tags") or {}).items()}
    metrics = {**_json_tag(tags, "metrics", {}), **(version.get("metrics") or {})}
    gates = version.get("gates") or _json_tag(tags, "gate_results", [])
    failed = [g.get("name") for g in gates if isinstance(g, dict) and not g.get("passed")]
    if not failed and tags.get("failed_checks"):
        failed = [c for c in str(tags["failed_checks"]).split(",") if c]
    status = version.get("status")
    decided_by = tags.get("approved_by") or tags.get("rejected_by")
    decided_at = tags.get("approval_ts") or tags.get("rejection_ts")
    return {
        "version": store.check_version(version.get("version")),
        "status": None if status is None else str(status),
        "aliases": sorted(version.get("aliases") or []),
        "created_at": version.get("created_at"),
        "run_id": version.get("run_id"),
        "run_key": tags.get("run_key"),
        "dataset_version": tags.get("dataset_version"),
        "dataset_hash": tags.get("dataset_hash"),
        "dataset_uri": tags.get("dataset_uri"),
        "dataset_rows": tags.get("dataset_rows"),
        "code_version": tags.get("code_version"),
        "model_artifact_uri": tags.get("model_artifact_uri"),
        "model_artifact_sha256": tags.get("model_artifact_sha256"),
        "registered_by": tags.get("registered_by"),
        "registered_at": tags.get("registered_at") or version.get("created_at"),
        "decided_by": decided_by,
        "decided_at": decided_at,
        "decision": "approve" if tags.get("approved_by") else ("reject" if tags.get("rejected_by") else None),
        "comment": tags.get("approval_comment") or tags.get("rejection_comment"),
        "metrics": {k: _num(metrics[k]) for k in METRIC_KEYS if k in metrics},
        "gates": [{k: g.get(k) for k in ("name", "passed", "value", "threshold", "detail")}
                  for g in gates if isinstance(g, dict)],
        "failed_checks": failed,
        "model_card_uri": tags.get("model_card_uri"),
        "sagemaker_model_package_arn": tags.get("sagemaker_model_package_arn"),
        "events": [],
    }


def compact_version(doc: dict[str, Any]) -> dict[str, Any]:
    """What the index keeps of a version (the overview's row)."""
    gates = doc.get("gates") or []
    return {"version": doc["version"], "status": doc.get("status"), "created_at": doc.get("created_at"),
            "decided_by": doc.get("decided_by"), "decided_at": doc.get("decided_at"), "decision": doc.get("decision"),
            "registered_by": doc.get("registered_by"), "run_key": doc.get("run_key"),
            "dataset_version": doc.get("dataset_version"),
            "gates_passed": sum(1 for g in gates if g.get("passed")), "gates_total": len(gates),
            "failed_checks": doc.get("failed_checks") or [],
            "auc": (doc.get("metrics") or {}).get("auc"), "baseline_auc": (doc.get("metrics") or {}).get("baseline_auc")}


def event_doc(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("seq", "ts", "action", "actor", "version", "from_version", "to_version", "from_status", "to_status",
            "reason")
    return {k: (None if event.get(k) is None else (str(event[k]) if k not in ("seq",) else event[k])) for k in keys}


def transform_doc(report: dict[str, Any], *, day: str, report_uri: str | None = None) -> dict[str, Any]:
    files = list(report.get("files") or [])
    return {
        "partition": day, "status": report.get("status"), "model_name": report.get("model_name"),
        "model_version": None if report.get("model_version") in (None, "") else str(report.get("model_version")),
        "run_key": report.get("run_key"), "job_name": report.get("job_name"),
        "input_uri": report.get("input_uri"), "output_uri": report.get("output_uri"),
        "capture_file": report.get("capture_file"), "report_uri": report_uri or report.get("report_uri"),
        "files_in": report.get("files_in"), "files_out": report.get("files_out"),
        "files_failed": report.get("files_failed"), "records_in": report.get("records_in"),
        "records_out": report.get("records_out"), "records_failed": report.get("records_failed"),
        "started_at": report.get("started_at"), "seconds": report.get("seconds"),
        "records_per_s": report.get("records_per_s"),
        "failures": list(report.get("failures") or [])[:MAX_FILES],
        "files": files[:MAX_FILES], "files_truncated": max(0, len(files) - MAX_FILES),
        "recorded_at": store.now(),
    }


def monitor_doc(summary: dict[str, Any], *, day: str) -> dict[str, Any]:
    mq = summary.get("model_quality_metrics") or {}
    return {
        "partition": day, "model_version": None if summary.get("model_version") is None
        else str(summary.get("model_version")),
        "run_key": summary.get("run_key"), "alert": bool(summary.get("alert")),
        "reasons": [str(r) for r in (summary.get("reasons") or [])][:MAX_REASONS],
        "violations": summary.get("violations"), "data_quality_violations": summary.get("data_quality_violations"),
        "model_quality_violations": summary.get("model_quality_violations"),
        "drifted_features": list(summary.get("drifted_features") or [])[:50],
        "dataset_drift": summary.get("dataset_drift"), "drifted_share": _num(summary.get("drifted_share")),
        "prediction_drift": summary.get("prediction_drift"), "model_quality": summary.get("model_quality"),
        "model_quality_metrics": {k: _num(v) for k, v in mq.items()},
        "ground_truth_rows": summary.get("ground_truth_rows"), "item_count": summary.get("item_count"),
        "bias_drift": summary.get("bias_drift"), "attribution_drift": summary.get("attribution_drift"),
        "report_uri": summary.get("report_uri"), "output_uri": summary.get("output_uri"),
        "finished_at": summary.get("finished_at") or store.now(),
    }


def review_doc(status: dict[str, Any], *, day: str) -> dict[str, Any]:
    return {"partition": day, "routed": int(status.get("routed") or 0),
            "pending_review": int(status.get("pending_review") or 0), "reviewed": int(status.get("reviewed") or 0),
            "timed_out": int(status.get("timed_out") or 0), "over_cap": status.get("over_cap"),
            "uri": status.get("uri"), "recorded_at": store.now()}


def compact_partition(transform: dict | None, monitor: dict | None, review: dict | None) -> dict[str, Any]:
    t, m, r = transform or {}, monitor or {}, review or {}
    return {
        "model_version": t.get("model_version") or m.get("model_version"),
        "rows": t.get("records_out"), "status": t.get("status"), "files_failed": t.get("files_failed"),
        "scored_at": t.get("started_at"),
        "monitored": bool(monitor), "alert": m.get("alert"), "drifted_share": m.get("drifted_share"),
        "prediction_drift": m.get("prediction_drift"), "model_quality": m.get("model_quality"),
        "quality_auc": (m.get("model_quality_metrics") or {}).get("auc"),
        "bias_drift": m.get("bias_drift"), "attribution_drift": m.get("attribution_drift"),
        "reasons": (m.get("reasons") or [])[:3], "monitor_report": m.get("report_uri"),
        "routed": r.get("routed"), "pending_review": r.get("pending_review"),
        "reviewed": r.get("reviewed"), "timed_out": r.get("timed_out"),
    }


def _set_aliases(idx: dict[str, Any], champion: str | None, previous: str | None) -> None:
    idx["champion"], idx["previous"] = champion, previous


# ---------------------------------------------------------------------- the record_* API
def record_version(uc, version: dict[str, Any], *, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A version was registered (or re-read): ``version`` is ``RegisteredVersion.to_dict()`` (optionally
    with ``gates``). ``events``: its audit events when known. Returns the version summary."""
    uc = store.usecase(uc)
    doc = version_doc(version)
    old = store.read_json(store.version_uri(uc, doc["version"])) or {}
    doc["events"] = [event_doc(e) for e in events] if events is not None else old.get("events", [])
    store.write_json(store.version_uri(uc, doc["version"]), doc)

    def change(idx: dict[str, Any]) -> None:
        idx["versions"][doc["version"]] = compact_version(doc)
        if "champion" in doc["aliases"]:
            idx["champion"] = doc["version"]
        if "previous" in doc["aliases"]:
            idx["previous"] = doc["version"]

    store.update_index(uc, change)
    return doc


def record_decision(uc, version: dict[str, Any], *, action: str, actor: str, comment: str = "",
                    ts: str | None = None, champion: str | None = None, previous: str | None = None) -> dict[str, Any]:
    """A person decided: ``action`` is approve, reject, promote or rollback; ``version`` the version's
    ``to_dict()`` after the decision. ``champion`` / ``previous``: the aliases after it (default: derived —
    approve / promote / rollback make ``version`` the champion, approve / promote make the old champion
    ``previous``; a rollback without ``previous`` leaves it unknown until the next rebuild)."""
    uc = store.usecase(uc)
    if action not in DECISIONS:
        from airsage.errors import ConfigError

        raise ConfigError(f"unknown decision {action!r}", key="action", fix=f"Use one of {', '.join(DECISIONS)}.")
    doc = version_doc(version)
    old = store.read_json(store.version_uri(uc, doc["version"])) or {}
    event = {"ts": ts or store.now(), "action": action, "actor": actor, "version": doc["version"], "reason": comment}
    doc["events"] = [*old.get("events", []), event_doc(event)]
    if action in ("approve", "reject"):
        doc["decided_by"] = doc["decided_by"] or actor
        doc["decided_at"] = doc["decided_at"] or event["ts"]
        doc["decision"] = doc["decision"] or action
        doc["comment"] = doc["comment"] or comment
    store.write_json(store.version_uri(uc, doc["version"]), doc)

    def change(idx: dict[str, Any]) -> None:
        idx["versions"][doc["version"]] = compact_version(doc)
        if action == "reject":
            return
        new_champion = champion or doc["version"]
        old_champion = idx.get("champion")
        if previous is not None:
            new_previous = previous
        elif action in ("approve", "promote") and old_champion and old_champion != new_champion:
            new_previous = old_champion
        elif action == "rollback":
            new_previous = None
        else:
            new_previous = idx.get("previous")
        _set_aliases(idx, new_champion, new_previous)

    store.update_index(uc, change)
    return doc


def record_partition(uc, report: dict[str, Any], *, partition: Any, report_uri: str | None = None) -> dict[str, Any]:
    """A partition was scored: ``report`` is the transform report (``TransformReport.to_dict()`` or what
    ``finish_transform`` returned)."""
    uc = store.usecase(uc)
    day = store.check_day(partition)
    doc = transform_doc(report, day=day, report_uri=report_uri)
    store.write_json(store.partition_uri(uc, day, "transform"), doc)
    _refresh_partition(uc, day, transform=doc)
    return doc


def record_monitor_run(uc, summary: dict[str, Any], *, partition: Any = None) -> dict[str, Any]:
    """A monitoring run finished: ``summary`` is what ``finish_partition`` returned (alert, reasons,
    drifted_share, prediction_drift, model_quality, report_uri, …; optionally ``model_quality_metrics``,
    ``bias_drift``, ``attribution_drift``)."""
    uc = store.usecase(uc)
    day = store.check_day(partition or summary.get("partition"))
    doc = monitor_doc(summary, day=day)
    store.write_json(store.partition_uri(uc, day, "monitor"), doc)
    _refresh_partition(uc, day, monitor=doc)
    return doc


def record_review(uc, status: dict[str, Any], *, partition: Any) -> dict[str, Any]:
    """Review tasks were queued or decided for a partition: ``status`` holds the counts ``routed``,
    ``pending_review``, ``reviewed``, ``timed_out`` (``ReviewStatusReport.to_dict()``)."""
    uc = store.usecase(uc)
    day = store.check_day(partition)
    doc = review_doc(status, day=day)
    store.write_json(store.partition_uri(uc, day, "review"), doc)
    _refresh_partition(uc, day, review=doc)
    return doc


def _refresh_partition(uc, day: str, **known: dict[str, Any]) -> None:
    parts = {p: known.get(p) if p in known else store.read_json(store.partition_uri(uc, day, p))
             for p in ("transform", "monitor", "review")}

    def change(idx: dict[str, Any]) -> None:
        idx["partitions"][day] = compact_partition(parts["transform"], parts["monitor"], parts["review"])

    store.update_index(uc, change)


def safe_record(fn, *args, **kwargs) -> Any:
    """Call a ``record_*`` function; log (never raise) when it fails — the dashboard must never fail a
    lifecycle step. ``rebuild`` repairs what was missed."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the summaries are a convenience, the step is the record
        log.warning("dashboard summary not updated (%s): %s; run `airsage dashboard rebuild` to repair",
                    getattr(fn, "__name__", fn), exc)
        return None
