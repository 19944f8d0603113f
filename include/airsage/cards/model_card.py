"""Model cards, generated per registered version from the registry's record — never hand-written.

The card follows the content layout of a SageMaker model card (the public model card JSON schema,
``CreateModelCard.Content``): ``model_overview``, ``intended_uses``, ``business_details``,
``training_details``, ``evaluation_details`` (a list) and ``additional_information``, with the
schema's snake_case keys and metric types (``number``, ``boolean``, ``matrix``, ``linear_graph``,
``bar_chart``). ``sagemaker_content(card)`` is exactly what ``CreateModelCard(Content=json.dumps(...))``
takes.

Departures, all in one extra top-level key ``airsage`` (dropped by ``sagemaker_content``): the
registry identity and lineage, the approval status and aliases, the quality-gate results, the
approval history (the audit events), bias / explainability summaries in plain form and the shadow
evidence (``airsage.shadow``: the version scored beside the champion on production partitions; also an
``evaluation_details`` entry when it exists). SageMaker
keeps approval state on the model package and its card status enum (``Draft``, ``PendingReview``,
``Approved``, ``Archived``) is given in ``airsage.model_card_status``. ``training_arn`` and
``inference_environment`` are left out (a local job has no ARN or container image).

The human-written parts come from ``uc.model_card`` (intended use, risk rating, limitations, ...);
every number comes from what the registry recorded for the version.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from airsage.cards.shadow import SHADOW_EVALUATION, group_label, shadow_section

CONTENT_KEYS = ("model_overview", "intended_uses", "business_details", "training_details",
                "evaluation_details", "additional_information")
CARD_STATUS = {"PendingManualApproval": "PendingReview", "Approved": "Approved", "Rejected": "Archived"}
SCALAR_METRICS = ("auc", "pr_auc", "precision", "recall", "f1", "accuracy", "log_loss", "brier", "ece")
ALGORITHM_NAMES = {"xgboost": "XGBoost (gradient-boosted trees)", "logistic_regression": "Logistic regression"}
MAX_SHAP_FEATURES = 20


def _num(v: Any) -> float | None:
    """A JSON-safe number (NaN and +/-inf become None; Clarify's "Infinity" strings too)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _metric(name: str, value: Any, kind: str = "number", **extra: Any) -> dict[str, Any]:
    d = {"name": name[:255], "type": kind, "value": _num(value) if kind == "number" else value}
    d.update({k: v for k, v in extra.items() if v is not None})
    return d


def _group(name: str, metric_data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name[:63], "metric_data": metric_data}


def version_events(events: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    """The audit events that concern ``version``: its own, and champion moves to or from it."""
    v = str(version)
    return [e for e in events if e.get("version") == v
            or (e.get("from_version") != e.get("to_version") and v in (e.get("from_version"), e.get("to_version")))]


def bias_summary(analysis: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Flatten a Clarify ``analysis.json`` into [{stage, facet, value_or_threshold, metrics: {name: value}}]."""
    out = []
    for section, stage in (("pre_training_bias_metrics", "pre-training"), ("post_training_bias_metrics", "post-training")):
        facets = ((analysis or {}).get(section) or {}).get("facets") or {}
        for facet, groups in facets.items():
            for g in groups or []:
                out.append({"stage": stage, "facet": facet, "value_or_threshold": str(g.get("value_or_threshold")),
                            "metrics": {m.get("name"): _num(m.get("value")) for m in g.get("metrics", [])}})
    return out


def explainability_summary(analysis: dict[str, Any] | None) -> dict[str, Any] | None:
    """Global SHAP values from a Clarify ``analysis.json`` (largest first), or None."""
    kernel = ((analysis or {}).get("explanations") or {}).get("kernel_shap") or {}
    for label, body in kernel.items():
        values = (body or {}).get("global_shap_values") or {}
        if values:
            ranked = sorted(((k, _num(v) or 0.0) for k, v in values.items()), key=lambda kv: -abs(kv[1]))
            return {"method": "kernel_shap", "label": label, "expected_value": _num(body.get("expected_value")),
                    "global_shap_values": dict(ranked)}
    return None


def _evaluation_details(metrics_doc: dict[str, Any], mq: dict[str, Any] | None, gates: list[dict[str, Any]],
                        dataset_uri: str | None, tags: dict[str, str]) -> dict[str, Any]:
    ev = metrics_doc.get("evaluation") or {}
    groups = [_group("held_out_metrics", [_metric(k, ev.get(k)) for k in SCALAR_METRICS if k in ev])]
    cm = ev.get("confusion_matrix") or ((mq or {}).get("binary_classification_metrics") or {}).get("confusion_matrix")
    if cm:
        matrix = [[int(cm.get(a, {}).get(p, 0)) for p in ("0", "1")] for a in ("0", "1")]
        groups.append(_group("confusion_matrix", [_metric("confusion_matrix", matrix, "matrix",
                                                          x_axis_name=["predicted 0", "predicted 1"],
                                                          y_axis_name=["actual 0", "actual 1"])]))
    bcm = (mq or {}).get("binary_classification_metrics") or {}
    roc = bcm.get("receiver_operating_characteristic_curve")
    if roc:
        points = [[_num(x), _num(y)] for x, y in zip(roc["false_positive_rates"], roc["true_positive_rates"])]
        groups.append(_group("roc_curve", [_metric("receiver_operating_characteristic_curve", points, "linear_graph",
                                                   x_axis_name=["false positive rate"],
                                                   y_axis_name=["true positive rate"])]))
    pr = bcm.get("precision_recall_curve")
    if pr:
        points = [[_num(x), _num(y)] for x, y in zip(pr["recalls"], pr["precisions"])]
        groups.append(_group("precision_recall_curve", [_metric("precision_recall_curve", points, "linear_graph",
                                                                x_axis_name=["recall"], y_axis_name=["precision"])]))
    baseline = metrics_doc.get("baseline") or {}
    if baseline.get("evaluation"):
        bev = baseline["evaluation"]
        groups.append(_group(f"baseline_{baseline.get('algorithm')}",
                             [_metric(k, bev.get(k), notes="same held-out rows") for k in SCALAR_METRICS if k in bev]))
    if gates:
        groups.append(_group("quality_gates", [_metric(g["name"], bool(g.get("passed")), "boolean",
                                                       notes=str(g.get("detail", ""))[:1024]) for g in gates]))
    failed = [g["name"] for g in gates if not g.get("passed")]
    auc = _num(ev.get("auc"))
    observation = (f"Evaluated on {int(ev.get('n', 0))} held-out rows (deterministic split by record-id hash) at "
                   f"decision threshold {ev.get('threshold')}: AUC {auc if auc is None else round(auc, 4)}, "
                   f"recall {round(_num(ev.get('recall')) or 0, 4)}, precision {round(_num(ev.get('precision')) or 0, 4)}. ")
    if baseline.get("evaluation"):
        observation += (f"The {baseline.get('algorithm')} baseline scored AUC "
                        f"{round(_num(baseline['evaluation'].get('auc')) or 0, 4)} on the same rows. ")
    observation += ("Quality gates failed: " + ", ".join(failed) + ".") if failed else "All quality gates passed."
    metadata = {k: str(v) for k, v in {"dataset_version": tags.get("dataset_version"), "test_rows": ev.get("n"),
                                       "decision_threshold": ev.get("threshold"),
                                       "model_quality_format": "SageMaker Model Monitor (model_quality.json)"}.items()
                if v is not None}
    return {"name": "held-out test split", "evaluation_observation": observation[:4096],
            "datasets": [dataset_uri] if dataset_uri else [], "metadata": metadata, "metric_groups": groups}


def _bias_details(bias: list[dict[str, Any]], dataset_uri: str | None) -> dict[str, Any]:
    # a metric Clarify could not compute (null, +/-inf) has no number for the schema: it is left out
    # here and kept as null in the card's airsage.bias_summary
    groups = [_group(f"{b['stage']} {b['facet']}={b['value_or_threshold']}",
                     [_metric(k, v) for k, v in b["metrics"].items() if v is not None]) for b in bias]
    facets = sorted({b["facet"] for b in bias})
    return {"name": "bias (SageMaker Clarify)", "evaluation_observation":
            f"Clarify pre- and post-training bias metrics for the facet(s) {', '.join(facets)}; differences "
            "are facet a minus facet d except DCR, SD, DRR, TE (d minus a); DI is a ratio (ideal 1).",
            "datasets": [dataset_uri] if dataset_uri else [], "metric_groups": groups}


def _explainability_details(expl: dict[str, Any]) -> dict[str, Any]:
    top = list(expl["global_shap_values"].items())[:MAX_SHAP_FEATURES]
    return {"name": "explainability (global SHAP)",
            "evaluation_observation": f"Mean |SHAP| per feature ({expl['method']}, {expl['label']}); the "
                                      f"{len(top)} most influential features.",
            "metric_groups": [_group("global_shap_values", [
                _metric("global_shap_values", [v for _, v in top], "bar_chart", x_axis_name=[k for k, _ in top],
                        y_axis_name=["mean |SHAP|"])])]}


def _tuning_details(trials: dict[str, Any]) -> dict[str, Any]:
    rows = trials.get("trials") or []
    return {"name": "hyperparameter tuning", "evaluation_observation":
            f"{len(rows)} trials ({trials.get('strategy')} search, objective {trials.get('objective')} on a validation "
            f"split of the training side); best trial {trials.get('best_trial')}.",
            "metric_groups": [_group("trials", [_metric(f"trial {r.get('trial')} ({r.get('status')})", r.get("metric"),
                                                        notes=str(r.get("params"))[:1024]) for r in rows])]}


def _shadow_details(s: dict[str, Any]) -> dict[str, Any]:
    """The shadow evidence as a SageMaker evaluation (``s``: ``shadow_section`` of a scored version)."""
    f = s["flips"]
    agreement = [_metric(n, v) for n, v in (
        ("partitions", s["partitions"]), ("rows", s["rows"]), ("agreement_rate", s["agreement_rate"]),
        ("flip_rate", f["rate"]), ("flips_to_positive_rate", f["to_positive_rate"]),
        ("flips_to_negative_rate", f["to_negative_rate"]),
        ("max_group_flip_rate", (s.get("worst_group") or {}).get("flip_rate")), ("psi", s["scores"]["psi"]),
        ("mean_score_champion", s["scores"]["mean_champion"]),
        ("mean_score_challenger", s["scores"]["mean_challenger"])) if _num(v) is not None]
    groups = [_group("shadow_agreement", agreement)]
    rated = [g for g in s["groups"] if _num(g["flip_rate"]) is not None]
    if rated:
        groups.append(_group("shadow_group_flip_rates", [_metric(
            "flip rate by facet group", [g["flip_rate"] for g in rated], "bar_chart",
            x_axis_name=[group_label(g) for g in rated], y_axis_name=["flip rate"])]))
    bias = [_metric(f"{b['facet']} {m} change", b["change"][m]) for b in s["bias"] for m in ("DPPL", "DI")
            if _num(b["change"][m]) is not None]
    if bias:
        groups.append(_group("shadow_bias_change", bias))
    q = s.get("quality") or {}
    if q.get("status") == "ok":
        groups.append(_group("shadow_paired_quality", [_metric(n, q.get(k)) for n, k in (
            ("champion_auc", "champion_auc"), ("challenger_auc", "challenger_auc"), ("auc_delta", "auc_delta"),
            ("delong_p_value", "p_value"), ("labelled_rows", "labelled_rows")) if _num(q.get(k)) is not None]))
    champs = ", ".join(f"v{c}" for c in s["champion_versions"]) or "the champion"
    observation = (f"Scored in shadow beside {champs} on {s['partitions']} production partition(s) "
                   f"({s['first_partition']} to {s['last_partition']}, {s['rows']} rows): the decisions agreed on "
                   f"{round(100 * (_num(s['agreement_rate']) or 0), 2)} % of the rows. ")
    observation += ("Paired quality on the labelled rows is given." if q.get("status") == "ok"
                    else "No paired quality yet: the outcomes are not labelled.")
    return {"name": SHADOW_EVALUATION, "evaluation_observation": observation[:4096],
            "metadata": {"status": str(s["status"]), "first_partition": str(s["first_partition"]),
                         "last_partition": str(s["last_partition"])},
            "metric_groups": groups}


def build_model_card(reg, name: str, version: str | int, uc) -> dict[str, Any]:
    """The model card of one registered version (SageMaker model card content + an ``airsage`` block).

    ``reg`` is an ``airsage.registry.ModelRegistry`` (passed in: domain modules do not import the registry).
    """
    v = reg.get_version(name, version)
    docs = reg.version_documents(name, v.version)
    metrics_doc = docs.get("metrics") or {}
    mq = docs.get("model_quality")
    trials = docs.get("trials")
    analysis = docs.get("clarify_analysis")
    tags = v.tags
    try:
        gates = json.loads(tags.get("gate_results") or "[]")
    except ValueError:
        gates = []
    mc = uc.model_card
    algorithm = metrics_doc.get("algorithm") or "unknown"
    status = str(v.status) if v.status is not None else None
    dataset_uri = tags.get("dataset_uri")
    ev = metrics_doc.get("evaluation") or {}
    history = version_events(reg.audit_events(name), v.version)
    creator = tags.get("registered_by") or next((e["actor"] for e in history if e["action"] == "register"), None)
    hps = metrics_doc.get("hyperparameters") or {}
    baseline = metrics_doc.get("baseline") or {}
    imbalance = ("class imbalance handled (XGBoost scale_pos_weight = sqrt(negatives/positives); logistic "
                 "regression balanced class weights)" if metrics_doc.get("handle_imbalance") else
                 "no class-imbalance handling")
    observations = (f"Trained on dataset version {tags.get('dataset_version')} (hash {tags.get('dataset_hash')}, "
                    f"{tags.get('dataset_rows', 'unknown')} rows; {metrics_doc.get('train_rows')} training rows after the "
                    f"held-out split of {metrics_doc.get('test_size')}). "
                    f"Algorithm: {ALGORITHM_NAMES.get(algorithm, algorithm)}; "
                    f"{imbalance}.")
    if baseline.get("algorithm"):
        observations += f" A {baseline['algorithm']} baseline was trained in the same job on the same split."
    if trials:
        observations += (f" Hyperparameters chosen by {trials.get('strategy')} search over "
                         f"{len(trials.get('trials') or [])} trials.")
    bias = bias_summary(analysis)
    expl = explainability_summary(analysis)
    evaluation_details = [_evaluation_details(metrics_doc, mq, gates, dataset_uri, tags)]
    if bias:
        evaluation_details.append(_bias_details(bias, dataset_uri))
    if expl:
        evaluation_details.append(_explainability_details(expl))
    if trials and trials.get("trials"):
        evaluation_details.append(_tuning_details(trials))
    shadow = shadow_section(uc, v.version, pending=status in (None, "PendingManualApproval"))
    if shadow["exists"]:
        evaluation_details.append(_shadow_details(shadow))
    objective = {"function": {"function": "Minimize", "facet": "Loss",
                              "condition": "binary:logistic (log loss)" if algorithm == "xgboost" else "log loss"},
                 "notes": "Binary classification: probability of the positive label."}
    card = {
        "model_overview": {
            "model_id": f"models:/{name}/{v.version}",
            "model_name": name,
            "model_description": uc.description or None,
            "model_version": int(v.version) if v.version.isdigit() else None,
            "problem_type": "Binary Classification",
            "algorithm_type": ALGORITHM_NAMES.get(algorithm, algorithm),
            "model_creator": creator,
            "model_owner": uc.owner,
            "model_artifact": [u for u in (tags.get("model_artifact_uri"),) if u],
        },
        "intended_uses": {
            "purpose_of_model": uc.description or None,
            "intended_uses": mc.intended_use or None,
            "factors_affecting_model_efficiency": mc.factors_affecting_model_efficiency or None,
            "risk_rating": mc.risk_rating,
            "explanations_for_risk_rating": mc.risk_rating_explanation or None,
        },
        "business_details": {
            "business_problem": mc.business_problem or uc.description or None,
            "business_stakeholders": mc.business_stakeholders or uc.owner,
            "line_of_business": mc.line_of_business or None,
        },
        "training_details": {
            "objective_function": objective,
            "training_observations": observations[:4096],
            "training_job_details": {
                "training_datasets": [dataset_uri] if dataset_uri else [],
                "training_metrics": ([_metric(f"validation_{trials.get('objective')}",
                                              _best_trial_metric(trials), notes="best tuning trial")]
                                     if trials and trials.get("trials") else []),
                "hyper_parameters": [{"name": str(k), "value": str(v_)} for k, v_ in sorted(hps.items())],
            },
        },
        "evaluation_details": evaluation_details,
        "additional_information": {
            "ethical_considerations": mc.ethical_considerations or _ethics_note(uc, bias),
            "caveats_and_recommendations": mc.limitations or None,
            "custom_details": {k: str(x) for k, x in {
                "approval_status": status, "aliases": ",".join(v.aliases) or None,
                "approved_by": tags.get("approved_by"), "approval_comment": tags.get("approval_comment"),
                "registered_by": tags.get("registered_by"), "run_id": v.run_id, "run_key": tags.get("run_key"),
                "code_version": tags.get("code_version"), "dataset_version": tags.get("dataset_version"),
                "dataset_hash": tags.get("dataset_hash"), "failed_checks": tags.get("failed_checks")}.items()
                if x},
        },
    }
    card = _drop_none(card)
    card["airsage"] = {
        "schema": "airsage-model-card/1",
        "usecase": uc.name,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_card_status": CARD_STATUS.get(status or "", "Draft"),
        "registry": {"name": name, "version": v.version, "uri": v.uri, "run_id": v.run_id,
                     "approval_status": status, "aliases": v.aliases, "created_at": v.created_at},
        "lineage": {"dataset_version": tags.get("dataset_version"), "dataset_hash": tags.get("dataset_hash"),
                    "dataset_uri": dataset_uri, "dataset_rows": tags.get("dataset_rows"),
                    "code_version": tags.get("code_version"), "model_artifact_uri": tags.get("model_artifact_uri"),
                    "model_artifact_sha256": tags.get("model_artifact_sha256"),
                    "output_data_uri": tags.get("output_data_uri")},
        "metrics": {k: _num(x) for k, x in v.metrics.items()},
        "gate_results": gates,
        "approval_history": history,
        "bias_summary": bias or None,
        "explainability_summary": expl,
        "model_quality_constraints": docs.get("model_quality_constraints"),
        "shadow": shadow,
    }
    return card


def _best_trial_metric(trials: dict[str, Any]) -> float | None:
    best = trials.get("best_trial")
    return next((t.get("metric") for t in trials.get("trials", []) if t.get("trial") == best), None)


def _ethics_note(uc, bias: list[dict[str, Any]]) -> str:
    facets = [f.name for f in uc.schema_.facets]
    note = (f"Sensitive attributes ({', '.join(facets) or 'none declared'}) are not model inputs; they are kept for "
            "bias analysis only.")
    if not bias:
        note += " No Clarify bias analysis was attached to this version."
    return note


def _drop_none(obj: Any) -> Any:
    """Remove None-valued keys (the schema has no nulls), keep everything else as it is."""
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


def sagemaker_content(card: dict[str, Any]) -> dict[str, Any]:
    """The part of the card SageMaker's ``CreateModelCard`` accepts as ``Content``."""
    return {k: card[k] for k in CONTENT_KEYS if k in card}
