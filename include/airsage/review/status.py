"""Where a record's review status lives: a sidecar beside the scored partition.

The ``.out`` files stay exactly SageMaker-shaped; the review state of a partition is
``<predictions partition>/_review/review_status.parquet`` with one row per routed record:

    inference_id, status (pending_review | reviewed | timed_out), final_label, model_label, reviewer,
    decided_at (UTC), decision (confirm | override | timeout_default), score, tier, reasons (text),
    human_loop_name, routed_at (UTC)

A record absent from the sidecar was not routed: the model's label is final. A routed record is
``pending_review`` until ``apply_decisions`` records its decision, so the final label and the reviewer
sit beside the model's. Every write replaces the file atomically, and both writers are idempotent.
Note: the transform replaces its whole output directory on a rerun, sidecar included; re-route and
re-apply the stored decisions (the A2I ``output.json`` files are the record) after a rerun.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from airsage import storage
from airsage.review.a2i import human_loop_name, resolve_decisions

SIDECAR = ("_review", "review_status.parquet")
TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    ("inference_id", pa.string()), ("status", pa.string()), ("final_label", pa.int64()), ("model_label", pa.int64()),
    ("reviewer", pa.string()), ("decided_at", TS), ("decision", pa.string()), ("score", pa.float64()),
    ("tier", pa.string()), ("reasons", pa.string()), ("human_loop_name", pa.string()), ("routed_at", TS),
])
DECIDED = ("reviewed", "timed_out")


@dataclass(frozen=True)
class ReviewStatusReport:
    uri: str
    routed: int
    pending_review: int
    reviewed: int
    timed_out: int
    updated: int  # rows whose decision changed in this call
    unknown: int  # decisions for records that are not in the sidecar (ignored)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def review_status_uri(predictions_uri: str) -> str:
    return storage.join(predictions_uri, *SIDECAR)


def read_review_status(predictions_uri: str) -> pd.DataFrame:
    """The sidecar as a DataFrame (empty, with the columns, when nothing was routed yet)."""
    uri = review_status_uri(predictions_uri)
    if not storage.exists(uri):
        return SCHEMA.empty_table().to_pandas()
    with storage.local_copy(uri) as local:
        return pq.read_table(local, schema=SCHEMA).to_pandas()


def _write(predictions_uri: str, frame: pd.DataFrame) -> str:
    frame = frame.sort_values("inference_id", kind="mergesort").reset_index(drop=True)
    table = pa.Table.from_pandas(frame[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    uri = review_status_uri(predictions_uri)
    with storage.atomic_path(uri) as tmp:
        pq.write_table(table, str(tmp), compression="snappy")
    return uri


def write_pending(predictions_uri: str, routed: pd.DataFrame, *, routed_at: dt.datetime | None = None,
                  id_col: str = "inference_id", score_col: str = "score", label_col: str = "predicted_label") -> str:
    """Mark the routed records ``pending_review`` (rows already in the sidecar keep their state)."""
    existing = read_review_status(predictions_uri)
    known = set(existing["inference_id"])
    now = pd.Timestamp(routed_at or dt.datetime.now(dt.timezone.utc))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    new = routed[~routed[id_col].astype(str).isin(known)]
    rows = pd.DataFrame({
        "inference_id": new[id_col].astype(str).to_numpy(),
        "status": "pending_review",
        "final_label": pd.array([None] * len(new), dtype="Int64"),
        "model_label": pd.array(new[label_col].astype("int64").to_numpy(), dtype="Int64"),
        "reviewer": pd.array([None] * len(new), dtype=object),
        "decided_at": pd.Series([pd.NaT] * len(new), dtype="datetime64[us, UTC]"),
        "decision": pd.array([None] * len(new), dtype=object),
        "score": new[score_col].astype(float).to_numpy(),
        "tier": new["tier"].astype(str).to_numpy() if "tier" in new else None,
        "reasons": [("; ".join(r) if isinstance(r, (list, tuple)) else str(r)) for r in new["reasons"]]
        if "reasons" in new else None,
        "human_loop_name": [human_loop_name(i) for i in new[id_col].astype(str)],
        "routed_at": pd.Series([now] * len(new), dtype="datetime64[us, UTC]"),
    })
    frame = rows if existing.empty else pd.concat([existing, rows], ignore_index=True) if len(rows) else existing
    return _write(predictions_uri, frame)


def apply_decisions(predictions_uri: str, decisions: pd.DataFrame) -> ReviewStatusReport:
    """Record decisions (``read_decisions`` rows) in the partition's sidecar and rewrite it atomically.

    Per record a human answer beats a timeout and a later answer beats an earlier one, also against
    what the sidecar already holds; applying the same decisions again changes nothing."""
    status = read_review_status(predictions_uri)
    uri = review_status_uri(predictions_uri)
    ids = set(status["inference_id"])
    unknown = int((~decisions["inference_id"].isin(ids)).sum()) if len(decisions) else 0
    current = status[status["status"].isin(DECIDED)].assign(output_uri="")
    current = current[["inference_id", "status", "decision", "final_label", "reviewer",
                                          "decided_at", "output_uri"]]
    incoming = decisions[decisions["inference_id"].isin(ids)][list(current.columns)] if len(decisions) else current.iloc[:0]
    best = resolve_decisions(pd.concat([current, incoming], ignore_index=True)) if len(incoming) else current
    updated = 0
    status = status.set_index("inference_id")
    for row in best.itertuples(index=False):
        new = (row.status, _str(row.decision), _int(row.final_label), _str(row.reviewer), _ts(row.decided_at))
        old = status.loc[row.inference_id]
        if (old["status"], _str(old["decision"]), _int(old["final_label"]), _str(old["reviewer"]),
                _ts(old["decided_at"])) != new:
            updated += 1
            status.loc[row.inference_id, ["status", "decision", "reviewer"]] = [row.status, row.decision, row.reviewer]
            status.loc[row.inference_id, "final_label"] = _int(row.final_label)
            status.loc[row.inference_id, "decided_at"] = pd.Timestamp(row.decided_at)
    status = status.reset_index()
    if updated:
        _write(predictions_uri, status)
    counts = status["status"].value_counts()
    return ReviewStatusReport(uri, len(status), int(counts.get("pending_review", 0)), int(counts.get("reviewed", 0)),
                              int(counts.get("timed_out", 0)), updated, unknown)


def due_for_timeout(status: pd.DataFrame, timeout_hours: float, now: dt.datetime | None = None) -> pd.DataFrame:
    """Pending rows whose ``routed_at + timeout_hours`` has passed (their default decision is due)."""
    now_ts = pd.Timestamp(now or dt.datetime.now(dt.timezone.utc))
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    pending = status[status["status"] == "pending_review"]
    return pending[pending["routed_at"] + pd.Timedelta(hours=float(timeout_hours)) <= now_ts]


def _int(v: Any) -> int | None:
    return None if v is None or pd.isna(v) else int(v)


def _str(v: Any) -> str | None:
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _ts(v: Any) -> pd.Timestamp | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v).tz_convert("UTC")
