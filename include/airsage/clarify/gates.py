"""The analysis config of a use case's Clarify jobs.

The bias gate (the ClarifyCheck step: per-facet checks of an ``analysis.json`` against bounds) is
``airsage.training.gates`` (``check_bias_thresholds`` and ``bias_gate``): one gate, used by training.
The metric vocabulary is ``airsage.clarify.vocabulary``.
"""
from __future__ import annotations

from typing import Any, Literal

from airsage.errors import ConfigError


def analysis_config_for_usecase(uc: Any, *, stage: Literal["pre", "post", "all"] = "all", shap: bool = False,
                                dataset_type: str = "application/x-parquet", subject: str | None = None) -> dict:
    """Clarify's ``analysis_config.json`` for a use case (``airsage.config.UseCase``).

    The record id is the join source; the event time and the pass-through columns are excluded from the
    model input (facets among them are still analysed). Post-training bias and SHAP use the model's
    scores with ``uc.clarify.probability_threshold``. ``subject``: what the analysis is of (model version,
    dataset, run), appended to the report's title so the report says what it belongs to.
    """
    if stage not in ("pre", "post", "all"):
        raise ConfigError(f"unknown stage {stage!r}", key="stage", fix="Use 'pre', 'post' or 'all'.")
    s, c = uc.schema_, uc.clarify
    excluded = [s.event_time] + [p for p in s.passthrough if p not in (s.record_id, s.label)]
    cfg: dict[str, Any] = {
        "version": "1.0",
        "dataset_type": dataset_type,
        "label": s.label,
        "label_values_or_threshold": list(s.positive_labels),
        "joinsource_name_or_index": s.record_id,
        "excluded_columns": list(dict.fromkeys(excluded)),
        "probability_threshold": c.probability_threshold,
        "facet": [{"name_or_index": f.name, **({"value_or_threshold": list(f.value_or_threshold)}
                                               if f.value_or_threshold else {})} for f in s.facets],
        "methods": {"report": {"name": "report", "title": f"{uc.name}: bias and explainability"
                                                          + (f" — {subject}" if subject else "")}},
    }
    if s.group_variable:
        cfg["group_variable"] = s.group_variable
    if stage in ("pre", "all"):
        cfg["methods"]["pre_training_bias"] = {"methods": _methods(c.pre_training_methods)}
    if stage in ("post", "all"):
        cfg["methods"]["post_training_bias"] = {"methods": _methods(c.post_training_methods)}
    if shap:
        shap_cfg: dict[str, Any] = {"agg_method": c.agg_method, "save_local_shap_values": True, "use_logit": False,
                                    "seed": uc.training.seed}
        if c.num_samples:
            shap_cfg["num_samples"] = c.num_samples
        cfg["methods"]["shap"] = shap_cfg
    return cfg


def _methods(value: Any) -> Any:
    return "all" if value == "all" else list(value)
