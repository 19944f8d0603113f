"""Quality gates: the checks a new model version must pass before anyone may approve it.

Like SageMaker Pipelines' ``ConditionStep`` / ``QualityCheckStep`` / ``ClarifyCheckStep``, a gate
compares one number with a threshold from ``uc.gates``. A failing version is still registered (as
``Rejected``, with its failed checks recorded) so the evidence stays in the registry.

Each result is ``{"name", "passed", "value", "threshold", "detail"}``. A gate whose threshold is not
configured is not evaluated (and not listed).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airsage import jsonsafe
from airsage.clarify import vocabulary
from airsage.errors import ConfigError

RATIO_METRICS = frozenset(vocabulary.IDEAL)  # Clarify ratio metrics: ideal value 1, every other metric: ideal 0
SECTIONS = ("pre_training_bias_metrics", "post_training_bias_metrics")


def _number(v: Any) -> float | None:
    """Clarify writes +/-inf as "Infinity"/"-Infinity" and a failed metric as null (``airsage.jsonsafe``)."""
    return jsonsafe.number(v)


def _result(name: str, passed: bool, value: Any, threshold: Any, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "value": value, "threshold": threshold, "detail": detail}


def _metrics_of(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Accept an EvaluationReport dict, a plain metrics dict or a whole ``metrics.json``."""
    if isinstance(evaluation.get("evaluation"), dict):
        return evaluation["evaluation"]
    return evaluation


def threshold_gate(name: str, value: Any, minimum: float) -> dict[str, Any]:
    v = _number(value)
    if v is None or math.isnan(v):
        return _result(name, False, None, minimum, f"{name.removeprefix('min_')} is not available (one class only?)")
    passed = v >= minimum
    return _result(name, passed, v, minimum,
                   f"{name.removeprefix('min_')} {v:.4f} {'>=' if passed else '<'} {minimum}")


def bias_deviation(metric: str, value: float) -> float:
    """Distance of a Clarify metric from its ideal value (1 for DI, 0 otherwise)."""
    return vocabulary.deviation(metric, value)


def check_bias_thresholds(analysis: Mapping, max_abs: Mapping[str, float], *, strict: bool = True) -> list[dict]:
    """The bias gate's per-entry checks (the ClarifyCheck step): one per (stage, facet entry, metric named
    in ``max_abs``): ``{stage, metric, facet, value_or_threshold, value, checked_value, bound, passed, error?}``.

    The checked value is the deviation from the metric's ideal value (``|DI - 1|``, ``|x|`` otherwise:
    ``bound: 0.2`` on DI means DI in [0.8, 1.2]). A metric that could not be computed (``value: null``) or
    is infinite fails its check: a gate must not pass on missing evidence. An unknown metric name is a
    ``ConfigError`` (``strict``) or simply finds nothing. The findings are data; ``bias_gate`` turns them
    into one gate result.
    """
    unknown = sorted(set(max_abs) - vocabulary.ALL)
    if unknown and strict:
        raise ConfigError(f"unknown bias metric(s) {unknown} in the bias gate", key="gates.max_bias",
                          fix=f"Use Clarify metric names: {sorted(vocabulary.ALL)}.")
    checks = []
    for stage in SECTIONS:
        block = analysis.get(stage) or {}
        for facet, entries in (block.get("facets") or {}).items():
            for entry in entries or []:
                for m in entry.get("metrics", []):
                    if m.get("name") not in max_abs:
                        continue
                    bound = float(max_abs[m["name"]])
                    value = _number(m.get("value"))
                    checked = None if value is None else bias_deviation(m["name"], value)
                    check = {"stage": stage.replace("_bias_metrics", ""), "metric": m["name"], "facet": facet,
                             "value_or_threshold": entry.get("value_or_threshold"), "value": m.get("value"),
                             "checked_value": checked, "bound": bound,
                             "passed": checked is not None and math.isfinite(checked) and checked <= bound}
                    if "error" in m:
                        check["error"] = m["error"]
                    checks.append(check)
    return checks


def bias_values(analysis: dict[str, Any], metric: str) -> list[tuple[str, str, str, float | None]]:
    """Every (section, facet, facet value, value) of ``metric`` in a Clarify ``analysis.json``."""
    return [(f"{c['stage']}_bias_metrics", c["facet"], str(c["value_or_threshold"]), _number(c["value"]))
            for c in check_bias_thresholds(analysis, {metric: math.inf}, strict=False)]


def bias_gate(metric: str, max_deviation: float, analysis: dict[str, Any] | None) -> dict[str, Any]:
    """One gate result for ``gates.max_bias[metric]``: the worst facet entry of ``check_bias_thresholds``."""
    name = f"max_bias.{metric}"
    if analysis is None:
        return _result(name, False, None, max_deviation,
                       "no Clarify analysis was given; run the bias analysis before the gates or remove gates.max_bias")
    checks = check_bias_thresholds(analysis, {metric: max_deviation}, strict=False)
    if not checks:
        return _result(name, False, None, max_deviation, f"metric {metric} is not in the Clarify analysis")
    worst, parts, passed = 0.0, [], True
    for c in checks:
        where = f"{c['facet']}={c['value_or_threshold']} ({c['stage'].split('_')[0]}-training)"
        dev = c["checked_value"]
        if dev is None or math.isnan(dev):
            passed = False
            parts.append(f"{where}: not computed")
            continue
        worst = max(worst, dev)
        passed &= c["passed"]
        parts.append(f"{where}: {_number(c['value']):.4f}{'' if c['passed'] else ' (exceeds)'}")
    return _result(name, passed, worst, max_deviation,
                   f"max |{'1 - ' if metric in RATIO_METRICS else ''}{metric}| over facets; " + "; ".join(parts))


def champion_gate(challenger_auc: Any, champion: dict[str, Any] | None, max_drop: float) -> dict[str, Any]:
    name = "champion_max_auc_drop"
    champ_auc = _number(_metrics_of(champion).get("auc")) if champion else None
    if champ_auc is None or math.isnan(champ_auc):
        return _result(name, True, None, max_drop,
                       "no champion to compare with" if not champion else "the champion has no AUC recorded")
    chal = _number(challenger_auc)
    if chal is None or math.isnan(chal):
        return _result(name, False, None, max_drop, "the challenger has no AUC")
    drop = champ_auc - chal
    passed = drop <= max_drop + 1e-12
    return _result(name, passed, drop, max_drop,
                   f"challenger AUC {chal:.4f} vs champion {champ_auc:.4f}: drop {drop:+.4f} "
                   f"{'<=' if passed else '>'} {max_drop}")


def evaluate_gates(uc, evaluation: dict[str, Any], *, champion: dict[str, Any] | None = None,
                   bias_analysis: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Evaluate ``uc.gates`` on a held-out evaluation.

    ``champion`` is the current champion's metrics (``RegisteredVersion.metrics``) or None;
    ``bias_analysis`` a Clarify ``analysis.json`` dict or None.
    """
    g = uc.gates
    m = _metrics_of(evaluation)
    out = []
    for name, attr in (("min_auc", "auc"), ("min_pr_auc", "pr_auc"), ("min_recall", "recall")):
        minimum = getattr(g, name)
        if minimum is not None:
            out.append(threshold_gate(name, m.get(attr), minimum))
    for metric, max_dev in g.max_bias.items():
        out.append(bias_gate(metric, max_dev, bias_analysis))
    if g.champion_max_auc_drop is not None:
        out.append(champion_gate(m.get("auc"), champion, g.champion_max_auc_drop))
    return out


def failed(gate_results: list[dict[str, Any]]) -> list[str]:
    """Names of the failed checks."""
    return [r["name"] for r in gate_results if not r.get("passed")]
