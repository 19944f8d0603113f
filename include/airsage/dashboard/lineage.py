"""Lineage in one step: from one prediction (its inference id) to everything behind it.

``lineage(uc, inference_id)`` finds the id in the partitions' data capture (``capture/dt=<day>/*.parquet``;
without capture, in the Parquet ``.out`` files), newest partition first, reading only the id column with
row-group statistics (record ids that embed a date skip most row groups), then joins:

    partition + output file -> model version (the capture's model_version) -> its approval event(s)
    (audit log) -> its MLflow training run -> dataset version and hash (version tags) -> the dataset's
    labeling jobs (``datasets/<version>/manifest.json``) -> code version; plus the record's human-review
    decision when it was routed.
"""
from __future__ import annotations

import logging
from typing import Any

from airsage import layout, storage
from airsage.dashboard import store
from airsage.errors import ConfigError, StorageError

log = logging.getLogger("airsage.dashboard")
MAX_ID_LEN = 256
CAPTURE_COLUMNS = ("inference_id", "captured_at", "score", "predicted_label", "model_name", "model_version")
DECISION_ACTIONS = ("register", "approve", "reject", "promote", "rollback")


def _check_id(inference_id: Any) -> str:
    text = str(inference_id or "").strip()
    if not text or len(text) > MAX_ID_LEN or any(ord(c) < 32 for c in text):
        raise ConfigError(f"{str(inference_id)[:80]!r} is not an inference id", key="inference_id",
                          fix="Pass the inference_id column of a prediction (.out) or capture file, e.g. the "
                              "record id such as app-20261121-00000042.")
    return text


def _days(uc, partition: Any) -> list[str]:
    if partition:
        return [store.check_day(partition)]
    days = set(store.read_index(uc).get("partitions") or {})
    for prefix in (layout.captures(uc), layout.predictions(uc)):
        for uri in storage.list_files(prefix):
            for part in uri.replace("\\", "/").split("/"):
                if part.startswith("dt="):
                    days.add(part[3:13])
    return sorted((d for d in days if len(d) == 10), reverse=True)


def _find_in_parquet(uri: str, inference_id: str, columns: tuple[str, ...]) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    try:
        with storage.local_copy(uri) as local:
            pf = pq.ParquetFile(local)
            names = pf.schema_arrow.names
            if "inference_id" not in names:
                return None
            table = pq.read_table(local, columns=[c for c in columns if c in names],
                                  filters=[("inference_id", "=", inference_id)])
    except (OSError, StorageError, ValueError) as exc:
        log.warning("lineage: cannot read %s: %s", uri, exc)
        return None
    if table.num_rows == 0:
        return None
    row = table.slice(0, 1).to_pylist()[0]
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def _find_in_text(uri: str, inference_id: str) -> bool:
    try:
        with storage.local_copy(uri) as local, open(local, "rb") as fh:
            needle = inference_id.encode()
            return any(needle in line for line in fh)
    except (OSError, StorageError):
        return False


def _output_file(uc, day: str, inference_id: str, transform: dict[str, Any] | None) -> str | None:
    outs = [f.get("output_uri") for f in (transform or {}).get("files") or [] if f.get("output_uri")]
    if len(outs) == 1 and not (transform or {}).get("files_truncated"):
        return outs[0]
    prefix = (transform or {}).get("output_uri") or layout.predictions(uc, day)
    for uri in storage.list_files(prefix, suffixes=(".out",)):
        try:
            with storage.local_copy(uri) as local, open(local, "rb") as fh:
                is_parquet = fh.read(4) == b"PAR1"
        except (OSError, StorageError):
            continue
        hit = _find_in_parquet(uri, inference_id, ("inference_id",)) if is_parquet else _find_in_text(uri, inference_id)
        if hit:
            return uri
    return None


def _review(uc, day: str, inference_id: str) -> dict[str, Any] | None:
    uri = storage.join(layout.predictions(uc, day), "_review", "review_status.parquet")
    if not storage.exists(uri):
        return None
    return _find_in_parquet(uri, inference_id, ("inference_id", "status", "final_label", "model_label", "reviewer",
                                                "decided_at", "decision", "score", "tier", "reasons",
                                                "human_loop_name"))


def _labeling_jobs(uc, dataset_version: str | None) -> list[str] | None:
    if not dataset_version:
        return None
    uri = layout.dataset_file(uc, dataset_version, "manifest.json")
    try:
        return list(storage.read_json(uri).get("labeling_jobs") or []) if storage.exists(uri) else None
    except (ValueError, OSError, StorageError):
        return None


def _version(uc, version: str, reg) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The version's summary and its audit events (the registry is the record; the summary a fallback)."""
    from airsage.dashboard import record

    doc = store.read_json(store.version_uri(uc, version)) or {}
    events: list[dict[str, Any]] = []
    try:
        if reg is None:
            from airsage.registry import ModelRegistry

            reg = ModelRegistry.from_settings()
        doc = {**doc, **{k: v for k, v in record.version_doc(
            reg.get_version(uc.registered_model_name, version).to_dict()).items() if v not in (None, [], {})}}
        events = [record.event_doc(e) for e in reg.audit_events(uc.registered_model_name)
                  if str(e.get("version")) == version and e.get("action") in DECISION_ACTIONS]
    except Exception as exc:  # noqa: BLE001 - show what the summaries know when the registry is down
        log.warning("lineage: registry unavailable (%s); using the dashboard summary", exc)
        events = [e for e in doc.get("events", []) if e.get("action") in DECISION_ACTIONS]
    return doc, events


def lineage(uc, inference_id: str, *, partition: Any = None, reg=None) -> dict[str, Any]:
    """Everything behind one prediction: partition, output file, model version, approval event(s),
    training run, dataset version and hash, labeling jobs, code version (and its review decision).
    Raises ``ConfigError`` (with a Fix) when the id is in no scored partition."""
    uc = store.usecase(uc)
    inference_id = _check_id(inference_id)
    days = _days(uc, partition)
    hit, day, source = None, None, None
    for d in days:
        # the capture first (one file per run), then the prediction files themselves
        for prefix, suffix in ((layout.captures(uc, d), ".parquet"), (layout.predictions(uc, d), ".out")):
            for uri in storage.list_files(prefix, suffixes=(suffix,)):
                hit = _find_in_parquet(uri, inference_id, CAPTURE_COLUMNS)
                if hit:
                    day, source = d, uri
                    break
            if hit:
                break
        if hit:
            break
    if not hit:
        where = f"partition {days[0]}" if partition else f"{len(days)} scored partition(s)"
        raise ConfigError(f"inference id {inference_id!r} was not found in the capture or prediction files of "
                          f"{uc.name} ({where})", key="inference_id",
                          fix="Check the id (the inference_id column of a .out file) and the use case; name the "
                              "partition if the id is older than the data kept.")
    transform = store.read_json(store.partition_uri(uc, day, "transform"))
    version = str(hit.get("model_version") or (transform or {}).get("model_version") or "")
    output = source if source and source.endswith(".out") else _output_file(uc, day, inference_id, transform)
    vdoc, events = _version(uc, version, reg) if version else ({}, [])
    approvals = [e for e in events if e.get("action") in ("approve", "promote", "rollback")]
    return {
        "usecase": uc.name, "inference_id": inference_id,
        "prediction": {k: hit.get(k) for k in ("score", "predicted_label", "captured_at") if k in hit},
        "partition": {"day": day, "output_file": output, "capture_file": source if source != output else None,
                      "output_uri": (transform or {}).get("output_uri") or layout.predictions(uc, day),
                      "transform_run": (transform or {}).get("run_key"), "job_name": (transform or {}).get("job_name")},
        "model": {"name": hit.get("model_name") or uc.registered_model_name, "version": version or None,
                  "status": vdoc.get("status"), "uri": f"models:/{uc.registered_model_name}/{version}" if version else None},
        "approval_events": approvals,
        "events": events,
        "training_run": {"run_id": vdoc.get("run_id"), "run_key": vdoc.get("run_key"),
                         "registered_by": vdoc.get("registered_by"), "registered_at": vdoc.get("registered_at")},
        "dataset": {"version": vdoc.get("dataset_version"), "hash": vdoc.get("dataset_hash"),
                    "uri": vdoc.get("dataset_uri"), "rows": vdoc.get("dataset_rows"),
                    "labeling_jobs": _labeling_jobs(uc, vdoc.get("dataset_version"))},
        "code_version": vdoc.get("code_version"),
        "model_artifact": {"uri": vdoc.get("model_artifact_uri"), "sha256": vdoc.get("model_artifact_sha256")},
        "review": _review(uc, day, inference_id),
    }
