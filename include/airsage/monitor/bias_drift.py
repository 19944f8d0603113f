"""Bias drift and feature-attribution drift, as SageMaker Clarify's monitors report them.

* Bias drift (DG ``clarify-model-monitor-bias-drift-violations``): the baseline constraints file *is*
  a Clarify ``analysis.json``. Each bias metric of the current analysis is compared with the same
  metric (same section, facet, facet value) of the baseline: a violation when the current value is
  farther from the metric's ideal value than the baseline's (ideal 0; 1 for the ratio DI), or, when a
  bound is configured for the metric, farther than that bound. A continuous facet's entries
  ``(t, max]`` are matched by ``t`` (the maximum is the data's own).
* Feature-attribution drift (DG ``clarify-model-monitor-feature-attribution-drift``): per label,
  ``NDCG = DCG / iDCG`` with ``DCG = sum_i a(f'_i) / log2(i + 1)``, ``f'`` the features ranked by
  *current* global SHAP, ``a`` the *baseline* attribution, iDCG the same sum in the baseline order.
  A violation when NDCG < 0.9.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from airsage.clarify.vocabulary import ideal as _ideal
from airsage.jsonsafe import number as _value

SECTIONS = ("pre_training_bias_metrics", "post_training_bias_metrics")
NDCG_THRESHOLD = 0.9


_INTERVAL = re.compile(r"^\(([^,]+), [^\]]+\]$")


def entry_key(value_or_threshold: str) -> str:
    """A facet entry's identity: a continuous facet's interval ``(t, max]`` ends at the data's maximum,
    which differs between datasets, so intervals are matched by their threshold ``t``."""
    m = _INTERVAL.match(value_or_threshold)
    if not m:
        return value_or_threshold
    try:
        return f"({float(m.group(1))!r}, *]"  # "(40, 61]" (an int column) and "(40.0, 85.0]" are one entry
    except ValueError:
        return f"({m.group(1)}, *]"


def metric_table(analysis: dict[str, Any]) -> dict[tuple[str, str, str, str], tuple[float | None, str]]:
    """(section, facet, facet entry key, metric) -> (value, facet value as written) for every bias metric."""
    out: dict[tuple[str, str, str, str], tuple[float | None, str]] = {}
    for section in SECTIONS:
        facets = (analysis.get(section) or {}).get("facets") or {}
        for facet, groups in facets.items():
            for group in groups:
                fv = str(group.get("value_or_threshold"))
                for m in group.get("metrics", []):
                    out[(section, facet, entry_key(fv), m["name"])] = (_value(m.get("value")), fv)
    return out


@dataclass(frozen=True)
class BiasDriftReport:
    violations: tuple[dict[str, str], ...]
    compared: int

    def violations_json(self) -> dict[str, Any]:
        return {"version": "1.0", "violations": list(self.violations)}

    def to_dict(self) -> dict[str, Any]:
        return {"compared": self.compared, "n_violations": len(self.violations), "violations": list(self.violations)}


def check_bias_drift(
    current_analysis: dict[str, Any],
    baseline_analysis: dict[str, Any],
    *,
    bounds: dict[str, float] | None = None,
    judge_unbounded: bool = True,
) -> BiasDriftReport:
    """Compare the bias metrics of two Clarify ``analysis.json`` documents.

    ``bounds``: metric name -> largest allowed ``|value - ideal|`` (e.g. the use case's
    ``gates.max_bias``); for a bounded metric the bound replaces the baseline value as the limit.
    ``judge_unbounded=False``: a metric without a bound is reported in the analysis but not judged
    (Clarify's baseline rule for it fires on sampling noise)."""
    bounds = bounds or {}
    base = {k: v for k, (v, _) in metric_table(baseline_analysis).items()}
    violations = []
    compared = 0
    for key, (value, fv) in metric_table(current_analysis).items():
        _, facet, _, name = key
        if value is None or math.isnan(value):
            continue
        ideal = _ideal(name)
        if name in bounds:
            limit = float(bounds[name])
        elif not judge_unbounded:
            continue
        elif key in base and base[key] is not None and not math.isnan(base[key]):
            limit = abs(base[key] - ideal)
        else:
            continue
        compared += 1
        if abs(value - ideal) > limit:
            violations.append({"facet": facet, "facet_value": fv, "metric_name": name,
                               "constraint_check_type": "bias_drift_check",
                               "description": f"Value {value} does not meet the constraint requirement"})
    return BiasDriftReport(violations=tuple(violations), compared=compared)


# =========================================================================== attribution drift
def ndcg(current: dict[str, float], baseline: dict[str, float]) -> float:
    """NDCG of the current feature ranking, graded by the baseline attributions."""
    if not baseline:
        return 1.0
    a = {k: abs(float(v)) for k, v in baseline.items()}
    cur_rank = sorted(current, key=lambda k: (-abs(float(current[k])), k))
    ideal_rank = sorted(a, key=lambda k: (-a[k], k))
    dcg = sum(a.get(f, 0.0) / math.log2(i + 1) for i, f in enumerate(cur_rank, start=1))
    idcg = sum(a[f] / math.log2(i + 1) for i, f in enumerate(ideal_rank, start=1))
    return dcg / idcg if idcg > 0 else 1.0


def global_shap(analysis: dict[str, Any]) -> dict[str, dict[str, float]]:
    """label -> {feature: global SHAP} from an analysis.json (first explanation method found)."""
    explanations = analysis.get("explanations") or {}
    for method in ("kernel_shap", "tree_shap", *explanations):
        block = explanations.get(method)
        if isinstance(block, dict):
            return {label: dict(v.get("global_shap_values") or {}) for label, v in block.items()
                    if isinstance(v, dict) and "global_shap_values" in v}
    return {}


@dataclass(frozen=True)
class AttributionDriftReport:
    ndcg: dict[str, float]
    threshold: float
    violations: tuple[dict[str, str], ...]

    def violations_json(self) -> dict[str, Any]:
        return {"version": "1.0", "violations": list(self.violations)}

    def to_dict(self) -> dict[str, Any]:
        return {"ndcg": dict(self.ndcg), "threshold": self.threshold, "violations": list(self.violations)}


def check_attribution_drift(current_analysis: dict[str, Any], baseline_analysis: dict[str, Any], *,
                            threshold: float = NDCG_THRESHOLD) -> AttributionDriftReport:
    cur, base = global_shap(current_analysis), global_shap(baseline_analysis)
    scores, violations = {}, []
    for label, base_vals in base.items():
        if label not in cur:
            continue
        score = ndcg(cur[label], base_vals)
        scores[label] = score
        if score < threshold:
            violations.append({"label": label, "metric_name": "shap",
                               "constraint_check_type": "feature_attribution_drift_check",
                               "description": f"Feature attribution drift {score} exceeds threshold {threshold}"})
    return AttributionDriftReport(ndcg=scores, threshold=threshold, violations=tuple(violations))
