"""Human review of batch predictions, A2I-style (reference d).

Flow, per nightly partition: ``route_parquet`` / ``route_records`` pick the records a human should see
(capped, prioritised, with reasons) -> ``write_pending`` marks them ``pending_review`` in the
partition's sidecar -> ``build_task_payload`` makes each task (the A2I InputContent, small enough for
an Airflow HITL form) -> each answer (``human_decision``) or expiry (``timeout_decision``) is stored
with ``write_a2i_output`` exactly like A2I's ``output.json`` -> ``read_decisions`` + ``apply_decisions``
put the final label and reviewer beside the model's. Imported lazily: ``import airsage.review`` is cheap.
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
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports("airsage.review", _EXPORTS)
