"""Each review decision is recorded the moment it is made; the end of the run only summarises.

Per answered (or expired) task, ``record_one_decision`` writes

1. the decision's A2I ``output.json`` (``airsage.review.a2i``; the record of the decision), then
2. the record's sidecar row ``<predictions>/_review/decisions/<human-loop-name>.json``
   (``airsage.review.status``; one file per record, so concurrent tasks never lose each other's rows).

Both writes are atomic and idempotent: a retry with the same answer finds its ``output.json`` and keeps
it (times included), and rewrites nothing. If a task dies between the two writes, ``summarise`` finds
the ``output.json`` and adds the missing row (``reconciled``). ``summarise`` never writes a decision:
it counts, folds the rows into ``review_status.parquet`` and publishes ``_review/summary.json``.
``review_progress`` tells at any moment how many routed records are decided and how many wait.

**An override needs a comment** (``validate_answer``): an override without one is refused with an
error that names the fix, and nothing is recorded for it.

**Times** (A2I ``acceptanceTime`` / ``timeSpentInSeconds``). Airflow records when a review task was
put before reviewers (``HITLDetail.created_at``) and when it was answered (``responded_at``), not when
a reviewer opened it. ``estimate_acceptance`` therefore takes, as the moment the reviewer turned to
this task, the latest of the task's creation and the same reviewer's previous answer in the partition
(someone working through a night's tasks one after another starts the next when they submit the last)
— basis ``previous_answer`` or ``task_created``. When that moment lies more than ``max_gap_s``
(30 min) before the answer, the reviewer was not demonstrably at work on it (the task waited in the
queue): acceptance is then the answer itself, time spent 0, basis ``unknown``. The basis is stored
in the ``output.json`` (``airsageTiming``), so consumers can leave the estimate out.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from airsage import storage
from airsage.errors import DataValidationError
from airsage.review.a2i import (_row, _utc, a2i_output, a2i_output_uri, human_decision, make_flow_definition_arn,
                                timeout_decision, write_a2i_output)
from airsage.review.payload import label_name, other_label
from airsage.review.status import (_overlay, _write, read_decision_rows, read_review_status,
                                   review_status_uri, write_decision_row)

MAX_GAP_S = 1800.0
SUMMARY = ("_review", "summary.json")


# ------------------------------------------------------------------------------------ the answer
@dataclass(frozen=True)
class ReviewAnswer:
    """A reviewer's answer to one task, as Airflow records it (parsed from the HITL detail).

    ``decision``: ``confirm`` | ``override`` (the form's options ``Confirm`` / ``Override`` are accepted);
    ``responded_at``: ``HITLDetail.responded_at``; ``task_created_at``: ``HITLDetail.created_at``."""

    decision: str
    reviewer: str
    responded_at: dt.datetime
    comment: str = ""
    task_created_at: dt.datetime | None = None

    def __post_init__(self) -> None:  # ISO strings (as XCom carries them) become UTC datetimes
        for name in ("responded_at", "task_created_at"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value in (None, "") else _utc(value))
        object.__setattr__(self, "comment", "" if self.comment is None else str(self.comment))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReviewAnswer:
        return cls(decision=str(d.get("decision") or ""), reviewer=str(d.get("reviewer") or ""),
                   responded_at=d.get("responded_at"), comment=str(d.get("comment") or ""),
                   task_created_at=d.get("task_created_at"))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("responded_at", "task_created_at"):
            out[k] = out[k].isoformat() if out[k] is not None else None
        return out


def answer_error(decision: str | None, comment: str | None, *, reviewer: str | None = "?",
                 payload: Mapping[str, Any] | None = None) -> DataValidationError | None:
    """Why an answer cannot be recorded (``None``: it can). An override needs a comment; a confirm does not."""
    payload = payload or {}
    rid = payload.get("record_id") or payload.get("inference_id") or "?"
    d = (decision or "").strip().lower()
    names = payload.get("label_names")
    if d not in ("confirm", "override"):
        return DataValidationError(f"review answer for record {rid}", [f"unknown decision {decision!r}"],
                                   fix="Choose Confirm (keep the model's label) or Override (set the other label).")
    if not (reviewer or "").strip():
        return DataValidationError(f"review answer for record {rid}", ["the answer names no reviewer"],
                                   fix="Answer the task as a signed-in Airflow user.")
    if d == "override" and not (comment or "").strip():
        model = payload.get("model_label")
        what = ""
        if model is not None:
            try:
                what = (f" why the label is '{label_name(other_label(int(model), names), names)}' "
                        f"and not the model's '{label_name(model, names)}'")
            except Exception:  # noqa: BLE001 - the generic text below still names the fix
                what = ""
        return DataValidationError(
            f"review answer for record {rid}", ["Override without a comment: an override must say why"],
            fix=f"Write in the Comment field{what or ' why the model is wrong'}, then choose Override. If the "
                "answer was already submitted, nothing was recorded: clear this review task in Airflow to ask again.")
    return None


def validate_answer(decision: str | None, comment: str | None, *, reviewer: str | None = "?",
                    payload: Mapping[str, Any] | None = None) -> None:
    """Raise ``answer_error``'s error, if any (for the DAG task that receives the answer)."""
    err = answer_error(decision, comment, reviewer=reviewer, payload=payload)
    if err is not None:
        raise err


# ------------------------------------------------------------------------------------ times
def estimate_acceptance(task_created_at: dt.datetime, submitted_at: dt.datetime,
                        earlier_submissions: Iterable[dt.datetime] = (), *,
                        max_gap_s: float = MAX_GAP_S) -> tuple[dt.datetime, str]:
    """(acceptance time, basis) for an answer submitted at ``submitted_at`` (see the module docstring).
    ``earlier_submissions``: the same reviewer's other answers; only those in
    ``[task_created_at, submitted_at)`` count."""
    created, submitted = _utc(task_created_at), _utc(submitted_at)
    previous = [t for t in (_utc(x) for x in earlier_submissions) if created <= t < submitted]
    start, basis = (max(previous), "previous_answer") if previous else (created, "task_created")
    if start > submitted:  # clocks disagree: never a negative time
        return submitted, "unknown"
    if (submitted - start).total_seconds() > max_gap_s:
        return submitted, "unknown"
    return start, basis


# ------------------------------------------------------------------------------------ recording
@dataclass(frozen=True)
class ReviewProgress:
    routed: int
    decided: int
    reviewed: int
    timed_out: int
    waiting: int  # still pending_review
    overridden: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.decided} of {self.routed} decided ({self.reviewed} reviewed, {self.timed_out} timed out), "
                f"{self.waiting} waiting")


@dataclass(frozen=True)
class RecordedDecision:
    inference_id: str
    human_loop_name: str
    status: str  # reviewed | timed_out | pending_review (nothing recorded: the timeout is not due yet)
    decision: str | None
    final_label: int | None
    final_label_name: str | None
    reviewer: str | None
    output_uri: str | None
    row_uri: str | None
    written: bool  # False when a retry found the decision already recorded
    acceptance_basis: str | None
    progress: ReviewProgress

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_one_decision(payload: Mapping[str, Any], *, created_at: dt.datetime | str,
                        answer: ReviewAnswer | Mapping[str, Any] | None, spec: Any, predictions_uri: str,
                        a2i_root: str, flow_definition_name: str, positive_label: int = 1,
                        now: dt.datetime | None = None, region: str = "us-east-1",
                        flow_definition_arn: str | None = None, max_gap_s: float = MAX_GAP_S) -> RecordedDecision:
    """Record ONE task's decision: its A2I ``output.json``, then its sidecar row (module docstring).

    ``payload``/``created_at``: the task as queued (``created_at`` = routing time, the loop's creation);
    ``answer``: the reviewer's answer, or ``None`` when nobody answered — then the use case's default is
    recorded once ``created_at + spec.timeout_hours`` has passed (before that nothing is written and the
    status stays ``pending_review``). ``spec``: the use case's ``ReviewSpec``. Raises the
    ``validate_answer`` error for an override without a comment (nothing is recorded)."""
    payload = dict(payload)
    created = _utc(created_at)
    now_utc = _utc(now or dt.datetime.now(dt.timezone.utc))
    if isinstance(answer, Mapping):
        answer = ReviewAnswer.from_dict(answer)
    if answer is None:
        decision = timeout_decision(payload, spec, created_at=created, positive_label=positive_label)
        if now_utc < decision.decided_at:
            return _result(decision.inference_id, decision.human_loop_name, None, None, False, None, predictions_uri,
                           payload)
    else:
        validate_answer(answer.decision, answer.comment, reviewer=answer.reviewer, payload=payload)
        if answer.responded_at is None:
            raise DataValidationError(f"review answer for record {payload.get('record_id')}", ["no responded_at"],
                                      fix="Pass HITLDetail.responded_at as the answer's responded_at.")
        kind = answer.decision.strip().lower()
        label = other_label(int(payload["model_label"]), payload.get("label_names")) if kind == "override" else None
        task_created = answer.task_created_at or created
        earlier = _earlier_answers(predictions_uri, answer.reviewer)
        accepted, basis = estimate_acceptance(task_created, answer.responded_at, earlier, max_gap_s=max_gap_s)
        decision = human_decision(payload, decision=kind, reviewer=answer.reviewer, created_at=created,
                                  submitted_at=answer.responded_at, label=label, comment=answer.comment.strip(),
                                  accepted_at=accepted)
        decision = dataclasses.replace(decision, acceptance_basis=basis, task_created_at=_utc(task_created))
    uri = a2i_output_uri(a2i_root, flow_definition_name, decision.created_at, decision.human_loop_name)
    arn = flow_definition_arn or make_flow_definition_arn(flow_definition_name, region)
    existing = storage.read_json(uri) if storage.exists(uri) else None
    written = False
    if existing is None or _replaces(a2i_output(decision, arn), existing):
        uri = write_a2i_output(decision, a2i_root, flow_definition_name, flow_definition_arn=arn, region=region)
        written = True
    doc = storage.read_json(uri) if not written else a2i_output(decision, arn)
    row = _row(uri, doc)
    row_uri, row_written = write_decision_row(predictions_uri, row)
    basis = (doc.get("airsageTiming") or {}).get("acceptanceBasis")
    return _result(str(row["inference_id"]), row["human_loop_name"], row, row_uri, written or row_written, basis,
                   predictions_uri, payload, uri)


def _replaces(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Does the new document replace the stored one? A human answer beats a timeout; between answers the
    later submission wins; a retry of the same answer (same worker, time and content) keeps the stored one."""
    new_a, old_a = new.get("humanAnswers") or [], old.get("humanAnswers") or []
    if not old_a:  # a timeout (or an unfinished file) gives way to an answer; a timeout stays
        return bool(new_a) or "airsageTimeout" not in old
    if not new_a:
        return False
    n, o = new_a[-1], old_a[-1]
    if (n.get("workerId"), n.get("submissionTime"), n.get("answerContent")) == \
            (o.get("workerId"), o.get("submissionTime"), o.get("answerContent")):
        return False
    return str(n.get("submissionTime")) > str(o.get("submissionTime"))


def _earlier_answers(predictions_uri: str, reviewer: str) -> list[pd.Timestamp]:
    rows = read_decision_rows(predictions_uri)
    mine = rows[(rows["status"] == "reviewed") & (rows["reviewer"] == reviewer)]
    return [t for t in mine["decided_at"] if not pd.isna(t)]


def _result(inference_id: str, loop: str, row: dict[str, Any] | None, row_uri: str | None, written: bool,
            basis: str | None, predictions_uri: str, payload: Mapping[str, Any],
            output_uri: str | None = None) -> RecordedDecision:
    names = payload.get("label_names")
    final = None if row is None or row.get("final_label") is None else int(row["final_label"])
    return RecordedDecision(
        inference_id=inference_id, human_loop_name=loop, status=row["status"] if row else "pending_review",
        decision=row.get("decision") if row else None, final_label=final,
        final_label_name=label_name(final, names) if final is not None else None,
        reviewer=row.get("reviewer") if row else None, output_uri=output_uri if row else None, row_uri=row_uri,
        written=written, acceptance_basis=basis, progress=review_progress(predictions_uri))


# ------------------------------------------------------------------------------------ progress and summary
def review_progress(predictions_uri: str) -> ReviewProgress:
    """How many routed records of the partition are decided and how many still wait."""
    return _progress(read_review_status(predictions_uri))


def _progress(status: pd.DataFrame) -> ReviewProgress:
    counts = status["status"].value_counts()
    reviewed, timed_out = int(counts.get("reviewed", 0)), int(counts.get("timed_out", 0))
    return ReviewProgress(routed=len(status), decided=reviewed + timed_out, reviewed=reviewed, timed_out=timed_out,
                          waiting=int(counts.get("pending_review", 0)),
                          overridden=int((status["decision"] == "override").sum()))


@dataclass(frozen=True)
class ReviewSummary:
    predictions_uri: str
    routed: int
    decided: int
    reviewed: int
    confirmed: int
    overridden: int
    timed_out: int
    waiting: int
    reconciled: list[str]  # records whose output.json existed without a sidecar row (the row was added)
    sidecar_uri: str
    summary_uri: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(predictions_uri: str, *, a2i_root: str, flow_definition_name: str,
              tasks: Iterable[Mapping[str, Any]] | None = None) -> ReviewSummary:
    """The end of a review run: reconcile, count, publish. Writes no decision.

    A routed record still pending whose ``output.json`` exists (its task died between the two writes)
    gets its sidecar row from that file. The rows are then folded into ``review_status.parquet`` and
    the counts written to ``_review/summary.json``. ``tasks``: the queued tasks (``{"payload",
    "created_at"}``), to find outputs of loops created at another time than the sidecar's ``routed_at``."""
    status = read_review_status(predictions_uri)
    created = {str(t["payload"]["inference_id"]): _utc(t["created_at"]) for t in (tasks or [])}
    reconciled = []
    for row in status[status["status"] == "pending_review"].itertuples(index=False):
        times = [t for t in (created.get(row.inference_id), None if pd.isna(row.routed_at) else _utc(row.routed_at))
                 if t is not None]
        for t in dict.fromkeys(times):
            uri = a2i_output_uri(a2i_root, flow_definition_name, t, row.human_loop_name)
            if storage.exists(uri):
                write_decision_row(predictions_uri, _row(uri, storage.read_json(uri)))
                reconciled.append(str(row.inference_id))
                break
    on_disk = read_review_status(predictions_uri, overlay=False)
    folded, changed = _overlay(on_disk, read_decision_rows(predictions_uri))
    sidecar = review_status_uri(predictions_uri)
    if changed:
        _write(predictions_uri, folded)
    p = _progress(folded)
    summary = ReviewSummary(
        predictions_uri=predictions_uri, routed=p.routed, decided=p.decided, reviewed=p.reviewed,
        confirmed=int((folded["decision"] == "confirm").sum()), overridden=p.overridden, timed_out=p.timed_out,
        waiting=p.waiting, reconciled=reconciled, sidecar_uri=sidecar,
        summary_uri=storage.join(predictions_uri, *SUMMARY))
    if p.routed:
        storage.write_json(summary.summary_uri, summary.to_dict())
    return summary


__all__ = ["MAX_GAP_S", "RecordedDecision", "ReviewAnswer", "ReviewProgress", "ReviewSummary",
           "answer_error", "estimate_acceptance", "record_one_decision", "review_progress", "summarise",
           "validate_answer"]
