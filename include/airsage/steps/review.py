"""Human review of a scored partition (A2I-style), as steps the ``<usecase>__human_review`` DAG and tests call.

route -> mark ``pending_review`` in the partition's sidecar -> one task per routed record (payload with
the record, the score, the reasons and the top SHAP contributions) -> each answer, or the use case's
default on timeout, is written as an A2I ``output.json`` under ``<root>/review/a2i/`` -> the sidecar gets
the final label and the reviewer beside the model's. Reviewed labels flow back through the label import
(the A2I outputs are a label source) and into monitoring as ground truth.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from airsage import storage
from airsage.config import UseCase

FLOW = "review"


def flow_definition_name(uc: UseCase) -> str:
    return f"{uc.name.replace('_', '-')}-{FLOW}"


def a2i_root(uc: UseCase) -> str:
    return uc.path("review", "a2i")


def predictions_uri(uc: UseCase, partition: str, output_uri: str | None = None) -> str:
    return output_uri or uc.path("predictions", f"dt={partition}")


def queue_reviews(uc: UseCase, *, partition: str, output_uri: str | None = None) -> dict[str, Any]:
    """Route the partition's scored records and build one review task per routed record."""
    from airsage.review import build_task_payload, feature_contributions, route_parquet, write_pending

    preds = predictions_uri(uc, partition, output_uri)
    files = storage.list_files(preds, suffixes=(".out",))
    routed, report = route_parquet(files, uc.review)
    now = dt.datetime.now(dt.UTC)
    if len(routed):
        write_pending(preds, routed, routed_at=now)
    contributions = None
    if len(routed):
        contributions = _contributions(uc, routed)
    s = uc.schema_
    tasks = []
    for i, (_, row) in enumerate(routed.iterrows()):
        payload = build_task_payload(
            row.to_dict(), feature_names=s.feature_names, reasons=list(row["reasons"]),
            record_id=str(row[s.record_id]) if s.record_id in row else None,
            contributions=contributions[i] if contributions else None, usecase=uc.name,
            threshold=uc.training.decision_threshold)
        payload[s.record_id] = payload.get("record_id")  # A2I inputContent carries the record id by its name
        tasks.append({"payload": payload, "created_at": now.isoformat(), "body": review_markdown(uc, payload)})
    return {"partition": partition, "predictions_uri": preds, "routing": report.to_dict()
            if hasattr(report, "to_dict") else dict(report.__dict__), "tasks": tasks}


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
    """What the reviewer sees in the Airflow form."""
    model = payload.get("model") or {}
    lines = [f"**{uc.name}** record `{payload.get('record_id') or payload['inference_id']}` — model "
             f"{model.get('name')} v{model.get('version')} scored **{payload.get('score', 0):.3f}** "
             f"(label {payload.get('model_label')}, threshold {payload.get('threshold')}).",
             "", "**Why it is here:** " + "; ".join(payload.get("reasons", []))]
    contrib = payload.get("top_contributions")
    if contrib:
        lines += ["", "**Top contributions (log-odds):**"]
        lines += [f"- {c['feature']} = {c.get('value')}: {float(c['contribution']):+.3f}" for c in contrib]
    feats = payload.get("features") or {}
    if feats:
        lines += ["", "**Record:** " + ", ".join(f"{k}={v}" for k, v in list(feats.items())[:40])]
    lines += ["", "*Confirm* keeps the model's label; *Override* sets the other label (give a comment)."]
    return "\n".join(lines)


def record_decisions(uc: UseCase, *, queued: dict[str, Any], answers: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Write each answer (or the timeout default) as an A2I output.json and update the partition's sidecar."""
    from airsage.review import apply_decisions, human_decision, read_decisions, timeout_decision, write_a2i_output

    written = []
    for task, answer in zip(queued["tasks"], answers):
        payload, created = task["payload"], dt.datetime.fromisoformat(task["created_at"])
        if answer and answer.get("chosen_options"):
            user = answer.get("responded_by_user") or {}
            params = answer.get("params_input") or {}
            override = answer["chosen_options"] == ["Override"]
            decision = human_decision(
                payload, decision="override" if override else "confirm",
                reviewer=user.get("name") or user.get("id") or "unknown", created_at=created,
                submitted_at=_ts(answer.get("responded_at")) or dt.datetime.now(dt.UTC),
                label=1 - int(payload["model_label"]) if override else None,
                comment=params.get("comment") or "")
        else:
            decision = timeout_decision(payload, uc.review, created_at=created)
        written.append(write_a2i_output(decision, a2i_root(uc), flow_definition_name(uc)))
    decisions = read_decisions(a2i_root(uc), flow_definition_name(uc))
    report = apply_decisions(queued["predictions_uri"], decisions) if len(decisions) else None
    return {"a2i_outputs": written, "status": report.to_dict() if report is not None else None}


def _ts(v: Any) -> dt.datetime | None:
    if v in (None, ""):
        return None
    return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
