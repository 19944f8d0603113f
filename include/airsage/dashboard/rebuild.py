"""Backfill the dashboard's summaries from what already exists, so the dashboard works on an installation
that ran before it (and repairs a summary a crashed writer missed):

* versions: the registry (MLflow versions, their tags and aliases) and the audit log;
* scored partitions: transform reports (``reports/transform/dt=<day>/*.json``, and the local compute
  jobs' ``report.json``), else the capture files (row counts and model version from Parquet metadata);
* monitoring: ``monitor/runs/dt=<day>/<run>/run.json`` (the newest run of each day);
* review: the partitions' ``_review/review_status.parquet`` sidecars.

Everything is rewritten in one pass and the index is published once, under the index lease.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from airsage import layout, storage
from airsage.dashboard import record, store
from airsage.errors import StorageError

log = logging.getLogger("airsage.dashboard")
_DT = re.compile(r"dt=(\d{4}-\d{2}-\d{2})")


def _day_of(uri: str) -> str | None:
    m = _DT.search(uri)
    return m.group(1) if m else None


def _registry(reg):
    if reg is not None:
        return reg
    from airsage.registry import ModelRegistry

    return ModelRegistry.from_settings()


def _versions(uc, reg) -> tuple[list[dict[str, Any]], str | None, str | None]:
    name = uc.registered_model_name
    versions = reg.list_versions(name)
    events = reg.audit_events(name)
    docs, champion, previous = [], None, None
    for v in versions:
        d = v.to_dict()
        doc = record.version_doc(d)
        mine = [e for e in events if str(e.get("version")) == doc["version"]
                or (e.get("from_version") != e.get("to_version") and doc["version"] in
                    (str(e.get("from_version")), str(e.get("to_version"))))]
        doc["events"] = [record.event_doc(e) for e in mine]
        decision = next((e for e in reversed(mine) if e.get("action") in ("approve", "reject")
                         and str(e.get("version")) == doc["version"]), None)
        if decision is not None:
            doc["decided_by"] = doc["decided_by"] or decision.get("actor")
            doc["decided_at"] = doc["decided_at"] or decision.get("ts")
            doc["decision"] = doc["decision"] or decision.get("action")
            doc["comment"] = doc["comment"] or decision.get("reason")
        if "champion" in doc["aliases"]:
            champion = doc["version"]
        if "previous" in doc["aliases"]:
            previous = doc["version"]
        docs.append(doc)
    return docs, champion, previous


def _transform_reports(uc, settings=None) -> dict[str, tuple[dict[str, Any], str]]:
    """{day: (report, uri)} — the newest report per partition."""
    found: dict[str, tuple[str, dict[str, Any], str]] = {}

    def consider(day: str | None, rep: dict[str, Any], uri: str) -> None:
        if not day or not isinstance(rep, dict) or "records_out" not in rep:
            return
        key = str(rep.get("started_at") or "")
        if day not in found or key >= found[day][0]:
            found[day] = (key, rep, uri)

    for uri in storage.list_files(layout.transform_reports(uc), suffixes=(".json",)):
        try:
            consider(_day_of(uri), storage.read_json(uri), uri)
        except (ValueError, OSError, StorageError):
            log.warning("rebuild: unreadable transform report %s", uri)
    jobs_dir = _jobs_dir(settings)
    if jobs_dir is not None and jobs_dir.is_dir():  # the local backend keeps report.json with the job
        for spec_file in jobs_dir.glob("*/spec.json"):
            try:
                spec = json.loads(spec_file.read_text())
            except (OSError, ValueError):
                continue
            tags = spec.get("tags") or {}
            rep = spec_file.parent / "opt_ml" / "output" / "data" / "report.json"
            if spec.get("kind") != "transform" or tags.get("usecase") != uc.name or not rep.exists():
                continue
            try:
                doc = json.loads(rep.read_text())
            except (OSError, ValueError):
                continue
            doc.setdefault("job_name", spec.get("name"))
            consider(tags.get("partition"), doc, str(rep))
    return {d: (rep, uri) for d, (_, rep, uri) in found.items()}


def _jobs_dir(settings) -> Path | None:
    try:
        from airsage.config import load_settings

        return (settings or load_settings()).jobs_dir
    except Exception:  # noqa: BLE001 - no settings: no local jobs to read
        return None


def _capture_reports(uc) -> dict[str, dict[str, Any]]:
    """A minimal transform report per partition from its capture files (rows, model version)."""
    import pyarrow.parquet as pq

    out: dict[str, dict[str, Any]] = {}
    for uri in storage.list_files(layout.captures(uc), suffixes=(".parquet",)):
        day = _day_of(uri)
        if not day:
            continue
        try:
            with storage.local_copy(uri) as local:
                pf = pq.ParquetFile(local)
                rows = pf.metadata.num_rows
                version = None
                if rows and "model_version" in pf.schema_arrow.names:
                    col = pf.read_row_group(0, columns=["model_version"]).column(0)
                    version = str(col[0].as_py()) if len(col) else None
        except Exception:  # noqa: BLE001 - a broken file is skipped, not fatal
            log.warning("rebuild: unreadable capture file %s", uri)
            continue
        rep = out.setdefault(day, {"status": "Completed", "records_out": 0, "model_version": version,
                                   "capture_file": uri, "output_uri": layout.predictions(uc, day)})
        rep["records_out"] += rows
    return out


def _monitor_runs(uc) -> dict[str, dict[str, Any]]:
    runs: dict[str, dict[str, Any]] = {}
    for uri in storage.list_files(layout.monitor_runs(uc), suffixes=("run.json",)):
        day = _day_of(uri)
        try:
            doc = storage.read_json(uri)
        except (ValueError, OSError, StorageError):
            continue
        if day and (day not in runs or str(doc.get("finished_at") or "") >= str(runs[day].get("finished_at") or "")):
            runs[day] = doc
    return runs


def _history_metrics(uc) -> dict[tuple[str, str], dict[str, Any]]:
    """Model-quality headline metrics per (partition, run key) from the monitoring history points."""
    out = {}
    for uri in storage.list_files(layout.monitor_history(uc), suffixes=(".json",)):
        try:
            doc = storage.read_json(uri)
        except (ValueError, OSError, StorageError):
            continue
        if isinstance(doc, dict):
            out[(str(doc.get("partition") or doc.get("run_key")), str(doc.get("monitor_run_key")))] = \
                doc.get("model_quality_metrics") or {}
    return out


def _reviews(uc, days: set[str]) -> dict[str, dict[str, Any]]:
    """Review counts per partition from the sidecars (``_review/`` is skipped by listings: probe each day)."""
    import pyarrow.parquet as pq

    preds = layout.predictions(uc)
    days = set(days) | {d for d in map(_day_of, storage.list_files(preds)) if d}
    out = {}
    for day in sorted(days):
        uri = storage.join(preds, f"dt={day}", "_review", "review_status.parquet")
        if not storage.exists(uri):
            continue
        try:
            with storage.local_copy(uri) as local:
                status = pq.read_table(local, columns=["status"]).column(0).to_pylist()
        except Exception:  # noqa: BLE001 - a broken sidecar is skipped, not fatal
            log.warning("rebuild: unreadable review sidecar %s", uri)
            continue
        out[day] = {"routed": len(status), "pending_review": status.count("pending_review"),
                    "reviewed": status.count("reviewed"), "timed_out": status.count("timed_out"), "uri": uri}
    return out


def rebuild(uc, *, reg=None, settings=None) -> dict[str, Any]:
    """Recreate the use case's dashboard summaries from the registry, the audit log and the reports on
    storage. Returns counts (versions, partitions, monitored, reviewed)."""
    uc = store.usecase(uc)
    versions, champion, previous = _versions(uc, _registry(reg))
    transforms = _transform_reports(uc, settings)
    captured = _capture_reports(uc)
    monitors = _monitor_runs(uc)
    history = _history_metrics(uc)
    reviews = _reviews(uc, set(transforms) | set(captured) | set(monitors))
    for doc in versions:
        store.write_json(store.version_uri(uc, doc["version"]), doc)
    days = sorted(set(transforms) | set(captured) | set(monitors) | set(reviews))
    partitions = {}
    for day in days:
        t = m = r = None
        if day in transforms:
            rep, uri = transforms[day]
            t = record.transform_doc(rep, day=day, report_uri=uri)
        elif day in captured:
            t = record.transform_doc(captured[day], day=day)
        if day in monitors:
            run = monitors[day]
            run = {**run, "model_quality_metrics": run.get("model_quality_metrics")
                   or history.get((day, str(run.get("run_key"))), {})}
            m = record.monitor_doc(run, day=day)
        if day in reviews:
            r = record.review_doc(reviews[day], day=day)
        for part, doc in (("transform", t), ("monitor", m), ("review", r)):
            if doc is not None:
                store.write_json(store.partition_uri(uc, day, part), doc)
        partitions[day] = record.compact_partition(t, m, r)

    def change(idx: dict[str, Any]) -> None:
        idx["versions"] = {d["version"]: record.compact_version(d) for d in versions}
        idx["partitions"] = partitions
        idx["champion"], idx["previous"] = champion, previous
        idx["rebuilt_at"] = store.now()

    store.update_index(uc, change)
    return {"usecase": uc.name, "versions": len(versions), "partitions": len(partitions),
            "monitored": len(monitors), "reviewed": len(reviews), "index": store.index_uri(uc)}
