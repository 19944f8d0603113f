"""Bias gates (the ClarifyCheck step) and the analysis config for a use case.

``check_bias_thresholds`` compares every facet entry of an ``analysis.json`` with a per-metric bound on
the absolute value. DI is a ratio whose neutral value is 1, so its checked value is ``|DI - 1|``
(``bound: 0.2`` means DI in [0.8, 1.2]). A metric that could not be computed (``value: null``) or is
infinite fails its check: a gate must not pass on missing evidence. The findings are data; whoever
calls this decides what a failed check means (block, flag, notify).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from airsage.errors import ConfigError

RATIO_METRICS = {"DI": 1.0}  # metric -> neutral value
KNOWN = {"CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL", "DPPL", "DI", "DCA", "DCR", "RD", "SD", "DAR", "DRR",
         "AD", "CDDPL", "TE", "FT", "GE"}


def _value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, str):
        return {"Infinity": math.inf, "-Infinity": -math.inf}.get(v)
    return float(v)


def check_bias_thresholds(analysis: Mapping, max_abs: Mapping[str, float]) -> list[dict]:
    """One check per (stage, facet entry, metric named in ``max_abs``):
    ``{stage, metric, facet, value_or_threshold, value, checked_value, bound, passed, error?}``."""
    unknown = sorted(set(max_abs) - KNOWN)
    if unknown:
        raise ConfigError(f"unknown bias metric(s) {unknown} in the bias gate", key="gates.max_bias",
                          fix=f"Use Clarify metric names: {sorted(KNOWN)}.")
    checks = []
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        block = analysis.get(stage) or {}
        for facet, entries in (block.get("facets") or {}).items():
            for entry in entries:
                for m in entry.get("metrics", []):
                    if m["name"] not in max_abs:
                        continue
                    bound = float(max_abs[m["name"]])
                    value = _value(m.get("value"))
                    checked = None if value is None else abs(value - RATIO_METRICS.get(m["name"], 0.0))
                    check = {"stage": stage.replace("_bias_metrics", ""), "metric": m["name"], "facet": facet,
                             "value_or_threshold": entry.get("value_or_threshold"), "value": m.get("value"),
                             "checked_value": checked, "bound": bound,
                             "passed": checked is not None and math.isfinite(checked) and checked <= bound}
                    if "error" in m:
                        check["error"] = m["error"]
                    checks.append(check)
    return checks


def analysis_config_for_usecase(uc: Any, *, stage: Literal["pre", "post", "all"] = "all", shap: bool = False,
                                dataset_type: str = "application/x-parquet") -> dict:
    """Clarify's ``analysis_config.json`` for a use case (``airsage.config.UseCase``).

    The record id is the join source; the event time and the pass-through columns are excluded from the
    model input (facets among them are still analysed). Post-training bias and SHAP use the model's
    scores with ``uc.clarify.probability_threshold``.
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
        "methods": {"report": {"name": "report", "title": f"{uc.name}: bias and explainability"}},
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
