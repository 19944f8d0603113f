"""Human review of a scored partition (A2I-style): the steps the ``<usecase>__human_review`` DAG and tests call.

route -> mark ``pending_review`` in the partition's sidecar -> one task per routed record (payload with
the record, the score, the reasons and the top SHAP contributions) -> each answer, or the use case's
default on timeout, is written as an A2I ``output.json`` under ``<root>/review/a2i/`` -> the sidecar gets
the final label and the reviewer beside the model's. Reviewed labels flow back through the label import
(the A2I outputs are a label source) and into monitoring as ground truth.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from airsage import layout, storage
from airsage.config import UseCase

FLOW = "review"


def flow_definition_name(uc: UseCase) -> str:
    return f"{uc.name.replace('_', '-')}-{FLOW}"


def a2i_root(uc: UseCase) -> str:
    return layout.a2i_outputs(uc)


def predictions_uri(uc: UseCase, partition: str, output_uri: str | None = None) -> str:
    return output_uri or layout.predictions(uc, partition)


def queue_reviews(uc: UseCase, *, partition: str, output_uri: str | None = None) -> dict[str, Any]:
    """Route the partition's scored records and build one review task per routed record: its payload (the
    A2I ``inputContent``: the whole record, the score, the label names, the reasons, the top contributions),
    its ``subject`` (record id, score, predicted label name, reasons: what Airflow's list of Required
    actions shows) and its ``body`` (the whole record with the top contributions highlighted)."""
    from airsage.review import build_task_payload, label_names_for, route_parquet, task_body, task_subject, write_pending

    preds = predictions_uri(uc, partition, output_uri)
    files = storage.list_files(preds, suffixes=(".out",))
    routed, report = route_parquet(files, uc.review)
    now = dt.datetime.now(dt.UTC)
    if len(routed):
        write_pending(preds, routed, routed_at=now)
    contributions = _contributions(uc, routed) if len(routed) else None
    s = uc.schema_
    names = label_names_for(uc)
    tasks = []
    for i, (_, row) in enumerate(routed.iterrows()):
        record = row.to_dict()
        payload = build_task_payload(
            record, feature_names=s.feature_names, reasons=list(row["reasons"]),
            reason_codes=[str(c) for c in (record.get("reason_codes") or [])] or None,
            record_id=str(row[s.record_id]) if s.record_id in row else None, record_key=s.record_id,
            passthrough=list(s.passthrough), label_names=names,
            contributions=contributions[i] if contributions else None, top_k=uc.review.top_contributions,
            usecase=uc.name, threshold=uc.training.decision_threshold)
        tasks.append({"payload": payload, "created_at": now.isoformat(), "subject": task_subject(payload),
                      "body": task_body(payload, usecase=uc.name)})
    queued = {"partition": partition, "predictions_uri": preds, "routing": report.to_dict()
              if hasattr(report, "to_dict") else dict(report.__dict__), "tasks": tasks}
    _record_review(uc, preds, partition)
    return queued


def queue_partitions(uc: UseCase, targets: list[tuple[str, str | None]]) -> dict[str, Any]:
    """``queue_reviews`` of one or several scored partitions (``(partition, predictions URI or None)``) as one
    set of review tasks: each task names its partition's predictions; the first partition's ``partition``,
    ``predictions_uri`` and ``routing`` stay at the top (``partitions`` lists them all)."""
    queued = [queue_reviews(uc, partition=p, output_uri=o) for p, o in targets]
    first = queued[0]
    return {**first, "tasks": [{**t, "predictions_uri": q["predictions_uri"]} for q in queued for t in q["tasks"]],
            "partitions": [{k: q[k] for k in ("partition", "predictions_uri", "routing")} for q in queued]}


def _contributions(uc: UseCase, routed) -> list[dict[str, float]] | None:
    """Top contributions from the model version that scored the records (exact TreeSHAP, few rows)."""
    from airsage.registry import ModelRegistry
    from airsage.review import feature_contributions

    versions = {str(v) for v in routed.get("model_version", [])}
    if len(versions) != 1:
        return None
    resolved = ModelRegistry.from_settings().resolve(f"models:/{uc.registered_model_name}/{versions.pop()}",
                                                     require_approved=False)
    return feature_contributions(resolved.load_bundle(), routed)


def review_markdown(uc: UseCase, payload: dict[str, Any]) -> str:
    """What the reviewer sees in the Airflow form (``airsage.review.task_body``)."""
    from airsage.review import task_body

    return task_body(payload, usecase=uc.name)


def _answer(answer: Mapping[str, Any] | None):
    """A review answer (``airsage.review.ReviewAnswer``) from an Airflow human-in-the-loop answer (raw or
    parsed by ``airsage.contracts.parse_hitl_answer``); None when nobody answered."""
    from airsage.contracts import parse_hitl_answer
    from airsage.review.record import ReviewAnswer

    if not answer:
        return None
    if "decision" in answer and "reviewer" in answer:  # ReviewAnswer.to_dict()
        return ReviewAnswer.from_dict(answer)
    parsed = parse_hitl_answer(answer, options=REVIEW_OPTIONS)
    return ReviewAnswer(decision=parsed.option, reviewer=parsed.user,
                        responded_at=parsed.responded_at or dt.datetime.now(dt.UTC), comment=parsed.text("comment"))


def record_answer(uc: UseCase, task: Mapping[str, Any], answer: Mapping[str, Any] | None, *,
                  predictions_uri: str, expired: bool = False) -> dict[str, Any]:
    """Record ONE review task's decision the moment it is known: its A2I ``output.json`` and its sidecar row
    (atomically; a retry rewrites nothing). ``answer``: the reviewer's answer; None = nobody answered —
    the use case's default is recorded once the task has expired (``expired=True``: the run knows the task
    ended unanswered, e.g. its human-in-the-loop timeout passed). An override without a comment is refused
    (``DataValidationError``, nothing recorded)."""
    from airsage.review.record import record_one_decision

    created = _ts(task["created_at"])
    now = None
    if answer is None and expired:
        now = max(dt.datetime.now(dt.UTC), created + dt.timedelta(hours=uc.review.timeout_hours))
    result = record_one_decision(
        task["payload"], created_at=created, answer=_answer(answer), spec=uc.review,
        predictions_uri=task.get("predictions_uri") or predictions_uri, a2i_root=a2i_root(uc),
        flow_definition_name=flow_definition_name(uc), positive_label=_positive_label(uc), now=now)
    return result.to_dict()


def record_decisions(uc: UseCase, *, queued: dict[str, Any], answers: list[dict[str, Any] | None]) -> dict[str, Any]:
    """The end of a review run: every task's decision is recorded (answers already recorded when they
    arrived are left as they are; an unanswered task gets the use case's default), then each partition's
    sidecar is summarised and published (``airsage.review.summarise``: it writes no decision)."""
    from airsage.review.record import summarise

    written = []
    for task, answer in zip(queued["tasks"], answers):
        rec = record_answer(uc, task, answer, predictions_uri=queued["predictions_uri"], expired=True)
        if rec.get("output_uri"):
            written.append(rec["output_uri"])
    uris = list(dict.fromkeys([queued["predictions_uri"], *(t.get("predictions_uri") or queued["predictions_uri"]
                                                            for t in queued["tasks"])]))
    summaries = []
    for uri in uris:
        tasks = [t for t in queued["tasks"] if (t.get("predictions_uri") or queued["predictions_uri"]) == uri]
        summaries.append(summarise(uri, a2i_root=a2i_root(uc), flow_definition_name=flow_definition_name(uc),
                                   tasks=tasks).to_dict())
    for q in queued.get("partitions") or [{"partition": queued["partition"], "predictions_uri": queued["predictions_uri"]}]:
        _record_review(uc, q["predictions_uri"], q["partition"])
    statuses = [_status(uri) for uri in uris]
    return {"a2i_outputs": written, "status": statuses[0] if statuses else None, "summaries": summaries,
            **({"statuses": statuses} if len(statuses) > 1 else {})}


def progress(predictions_uri: str) -> dict[str, Any]:
    """How many of a partition's routed records are decided and how many wait (at any time)."""
    from airsage.review.record import review_progress

    return review_progress(predictions_uri).to_dict()


REVIEW_OPTIONS = ("Confirm", "Override")


def _status(uri: str) -> dict[str, Any]:
    return progress(uri)


def _positive_label(uc: UseCase) -> int:
    try:
        return int(uc.schema_.positive_labels[0])
    except (AttributeError, IndexError, TypeError, ValueError):
        return 1


def _record_review(uc: UseCase, preds: str, partition: str) -> None:
    from airsage import dashboard

    dashboard.safe_record(dashboard.record_review, uc, progress(preds), partition=str(partition))


def _ts(v: Any) -> dt.datetime | None:
    if v in (None, ""):
        return None
    t = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
