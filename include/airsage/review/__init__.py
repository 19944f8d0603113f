"""Human review of batch predictions, A2I-style (the Amazon Augmented AI human-loop formats).

Flow, per nightly partition: ``route_parquet`` / ``route_records`` pick the records a human should see
(capped, with per-reason quotas, prioritised, with reasons) -> ``write_pending`` marks them
``pending_review`` in the partition's sidecar -> ``build_task_payload`` makes each task (the A2I
InputContent: the whole record, the top contributions, label names), ``task_subject`` / ``task_body``
what the reviewer reads -> each answer (``ReviewAnswer``) or expiry is recorded the moment it arrives by
``record_one_decision`` (its A2I ``output.json`` and its sidecar row; an override needs a comment,
``validate_answer``) -> ``review_progress`` counts decided and waiting records at any time ->
``summarise`` ends the run (reconcile, count, publish; it writes no decision). ``read_decisions`` +
``apply_decisions`` still put stored A2I outputs beside the model's labels in bulk.
Imported lazily: ``import airsage.review`` is cheap.
"""
from __future__ import annotations

from airsage._lazy import lazy_exports

_EXPORTS = {
    "route_records": "airsage.review.routing",
    "route_parquet": "airsage.review.routing",
    "RoutingReport": "airsage.review.routing",
    "build_task_payload": "airsage.review.payload",
    "feature_contributions": "airsage.review.payload",
    "payload_size": "airsage.review.payload",
    "ReviewDecision": "airsage.review.a2i",
    "human_decision": "airsage.review.a2i",
    "timeout_decision": "airsage.review.a2i",
    "human_loop_name": "airsage.review.a2i",
    "write_a2i_output": "airsage.review.a2i",
    "read_decisions": "airsage.review.a2i",
    "resolve_decisions": "airsage.review.a2i",
    "write_pending": "airsage.review.status",
    "apply_decisions": "airsage.review.status",
    "read_review_status": "airsage.review.status",
    "review_status_uri": "airsage.review.status",
    "due_for_timeout": "airsage.review.status",
    "ReviewStatusReport": "airsage.review.status",
    "read_decision_rows": "airsage.review.status",
    "reserved_places": "airsage.review.routing",
    "label_names_for": "airsage.review.payload",
    "label_name": "airsage.review.payload",
    "other_label": "airsage.review.payload",
    "task_subject": "airsage.review.payload",
    "task_body": "airsage.review.payload",
    "ReviewAnswer": "airsage.review.record",
    "RecordedDecision": "airsage.review.record",
    "ReviewProgress": "airsage.review.record",
    "ReviewSummary": "airsage.review.record",
    "answer_error": "airsage.review.record",
    "validate_answer": "airsage.review.record",
    "estimate_acceptance": "airsage.review.record",
    "record_one_decision": "airsage.review.record",
    "review_progress": "airsage.review.record",
    "summarise": "airsage.review.record",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports("airsage.review", _EXPORTS)
