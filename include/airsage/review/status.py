"""Where a record's review status lives: a sidecar beside the scored partition.

The ``.out`` files stay exactly SageMaker-shaped; the review state of a partition is
``<predictions partition>/_review/review_status.parquet`` with one row per routed record:

    inference_id, status (pending_review | reviewed | timed_out), final_label, model_label, reviewer,
    decided_at (UTC), decision (confirm | override | timeout_default), score, tier, reasons (text),
    human_loop_name, routed_at (UTC)

A record absent from the sidecar was not routed: the model's label is final. A routed record is
``pending_review`` until its decision is recorded, so the final label and the reviewer sit beside the
model's. Every write replaces the file atomically, and the writers are idempotent.

Decisions arrive one by one, from concurrent tasks: each is kept in its own small file
``_review/decisions/<human-loop-name>.json`` (``write_decision_row``; one record, one file, so two
records decided at the same moment never overwrite each other), and ``read_review_status`` lays those
rows over the Parquet file. ``airsage.review.record.summarise`` folds them into the Parquet file at the
end of the run (a materialised view: the per-record files stay the record). ``apply_decisions`` (A2I
outputs read back in bulk) still writes the Parquet file directly.
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
DECISION_ROWS = ("_review", "decisions")
ROW_FIELDS = ("inference_id", "human_loop_name", "status", "decision", "final_label", "model_label", "reviewer",
              "comment", "decided_at", "created_at", "output_uri")
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


def read_review_status(predictions_uri: str, *, overlay: bool = True) -> pd.DataFrame:
    """The sidecar as a DataFrame (empty, with the columns, when nothing was routed yet), with the
    per-record decision rows laid over it (``overlay=False``: the Parquet file alone)."""
    uri = review_status_uri(predictions_uri)
    if not storage.exists(uri):
        return SCHEMA.empty_table().to_pandas()
    with storage.local_copy(uri) as local:
        frame = pq.read_table(local, schema=SCHEMA).to_pandas()
    return _overlay(frame, read_decision_rows(predictions_uri))[0] if overlay else frame


# ------------------------------------------------------------------------------ per-record decision rows
def decision_row_uri(predictions_uri: str, loop_name: str) -> str:
    return storage.join(predictions_uri, *DECISION_ROWS, f"{loop_name}.json")


def read_decision_rows(predictions_uri: str) -> pd.DataFrame:
    """Every per-record decision row of the partition (one per decided record)."""
    base = storage.join(predictions_uri, *DECISION_ROWS)
    rows = [storage.read_json(u) for u in storage.list_files(base, suffixes=(".json",))] if storage.exists(base) else []
    frame = pd.DataFrame(rows, columns=list(ROW_FIELDS))
    for col in ("decided_at", "created_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    return frame


def write_decision_row(predictions_uri: str, row: dict[str, Any]) -> tuple[str, bool]:
    """Record one decision's row (atomically, in the record's own file). Against a row already there,
    a human answer beats a timeout and a later answer an earlier one; an equal row is not rewritten.
    Returns the file and whether it changed."""
    new = {k: row.get(k) for k in ROW_FIELDS}
    new["human_loop_name"] = new["human_loop_name"] or human_loop_name(str(new["inference_id"]))
    for k in ("decided_at", "created_at"):
        new[k] = None if _ts(new[k]) is None else _ts(new[k]).isoformat()
    for k in ("final_label", "model_label"):
        new[k] = _int(new[k])
    uri = decision_row_uri(predictions_uri, new["human_loop_name"])
    if storage.exists(uri):
        old = storage.read_json(uri)
        if old == new or _rank(old) >= _rank(new):
            return uri, False
    storage.write_json(uri, new)
    return uri, True


def _rank(row: dict[str, Any]) -> tuple:
    """Order of precedence: a human answer beats a timeout, then the later decision (then the output)."""
    return (row.get("status") == "reviewed", _ts(row.get("decided_at")) or pd.Timestamp(0, tz="UTC"),
            str(row.get("output_uri") or ""))


def _overlay(status: pd.DataFrame, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``status`` with the decisions of ``rows`` applied (precedence as in ``resolve_decisions``) and the
    number of rows changed; rows of records that are not in ``status`` are ignored."""
    if rows.empty or status.empty:
        return status, 0
    ids = set(status["inference_id"])
    incoming = rows[rows["inference_id"].isin(ids)]
    if incoming.empty:
        return status, 0
    cols = ["inference_id", "status", "decision", "final_label", "reviewer", "decided_at", "output_uri"]
    current = status[status["status"].isin(DECIDED)].assign(output_uri="")[cols]
    best = resolve_decisions(pd.concat([current, incoming[cols]], ignore_index=True))
    return _set(status, best)


def _set(status: pd.DataFrame, best: pd.DataFrame) -> tuple[pd.DataFrame, int]:
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
    return status.reset_index(), updated


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
    status, updated = _set(status, best)
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
    if v is None or (isinstance(v, str) and not v) or (not isinstance(v, str) and pd.isna(v)):
        return None
    ts = pd.Timestamp(v)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
