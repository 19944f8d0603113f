"""The shadow approval gate: may a pending version be approved on its shadow evidence so far?

``evaluate_gate(summary, gate)`` checks a ShadowSummary against ``shadow.gate`` (``ShadowGateSpec`` or a
dict with the same keys); each bound that is set (not None) is checked, and every failed check is one
reason: a full sentence with the measured number, the bound (by its config key) and what to do. The
checks run also when the gate is disabled (``enabled: false``), so a report can show what the gate would
say; only an enabled gate should block an approval.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from airsage.jsonsafe import number

KEYS = ("enabled", "min_partitions", "max_flip_rate", "max_group_flip_rate", "max_bias_change", "min_auc_delta")
DEFAULTS = {"enabled": False, "min_partitions": 3, "max_flip_rate": None, "max_group_flip_rate": None,
            "max_bias_change": None, "min_auc_delta": None}


def _settings(gate: Any) -> dict[str, Any]:
    if gate is None:
        return dict(DEFAULTS)
    if isinstance(gate, Mapping):
        return {k: gate.get(k, DEFAULTS[k]) for k in KEYS}
    return {k: getattr(gate, k, DEFAULTS[k]) for k in KEYS}


def _f(x: float) -> str:
    return f"{x:.3g}"


def _over(summary: Mapping[str, Any]) -> str:
    n = int(summary.get("partitions") or 0)
    return f"over {n} partition{'s' if n != 1 else ''} ({int(summary.get('rows') or 0)} rows)"


def _worst_group(summary: Mapping[str, Any]) -> tuple[float, str, int] | None:
    worst = None
    for facet, groups in (summary.get("groups") or {}).items():
        for g in groups:
            rate = number(g.get("flip_rate"))
            if rate is not None and (worst is None or rate > worst[0]):
                worst = (rate, f"{facet}={g.get('value')}", int(g.get("rows") or 0))
    return worst


def _worst_bias(summary: Mapping[str, Any]) -> tuple[float, str, Mapping[str, Any]] | None:
    worst = None
    for key, entry in (summary.get("bias") or {}).items():
        change = number((entry.get("change") or {}).get("DPPL"))
        if change is not None and (worst is None or abs(change) > abs(worst[0])):
            worst = (change, key, entry)
    return worst


def check(summary: Mapping[str, Any], gate: Any) -> list[str]:
    """The reasons ``summary`` fails ``gate`` (empty: it passes)."""
    g = _settings(gate)
    reasons: list[str] = []
    parts = int(summary.get("partitions") or 0)
    if parts < int(g["min_partitions"]):
        missing = int(g["min_partitions"]) - parts
        reasons.append(f"{parts} shadow-scored partition{'s' if parts != 1 else ''}, fewer than "
                       f"shadow.gate.min_partitions {g['min_partitions']}: wait for {missing} more nightly "
                       f"partition{'s' if missing != 1 else ''} (or lower shadow.gate.min_partitions).")
    flips = summary.get("flips") or {}
    rate = number(flips.get("rate"))
    if g["max_flip_rate"] is not None:
        if rate is None:
            reasons.append(f"no shadow-scored rows yet, so the flip rate is unknown (shadow.gate.max_flip_rate "
                           f"{_f(g['max_flip_rate'])}): wait for the nightly batch transform to shadow-score "
                           f"a partition.")
        elif rate > g["max_flip_rate"]:
            reasons.append(f"flip rate {_f(rate)} exceeds shadow.gate.max_flip_rate {_f(g['max_flip_rate'])} "
                           f"{_over(summary)}: the challenger changes {flips.get('to_positive', 0)} decisions to "
                           f"positive and {flips.get('to_negative', 0)} to negative; review the flips in the shadow "
                           f"report, or raise the bound if the change is intended.")
    worst = _worst_group(summary)
    if g["max_group_flip_rate"] is not None and worst is not None and worst[0] > g["max_group_flip_rate"]:
        bound = g["max_group_flip_rate"]
        n_over = sum(1 for gs in (summary.get("groups") or {}).values() for x in gs
                     if (number(x.get("flip_rate")) or 0.0) > bound)
        reasons.append(f"flip rate {_f(worst[0])} in facet group {worst[1]} ({worst[2]} rows) exceeds "
                       f"shadow.gate.max_group_flip_rate {_f(bound)} {_over(summary)} ({n_over} group"
                       f"{'s' if n_over != 1 else ''} over the bound): review that group's flips in the shadow "
                       f"report, or raise the bound if the change is intended.")
    bias = _worst_bias(summary)
    if g["max_bias_change"] is not None and bias is not None and abs(bias[0]) > g["max_bias_change"]:
        change, key, entry = bias
        before = number((entry.get("champion") or {}).get("DPPL"))
        after = number((entry.get("challenger") or {}).get("DPPL"))
        reasons.append(f"DPPL of facet {key} changes by {_f(change)} (champion {_f(before or 0.0)}, challenger "
                       f"{_f(after or 0.0)}), more than shadow.gate.max_bias_change {_f(g['max_bias_change'])} "
                       f"{_over(summary)}: the challenger treats that group differently; review the bias in the "
                       f"shadow report and retrain or adjust the threshold, or raise the bound if intended.")
    if g["min_auc_delta"] is not None:
        reasons += _quality_reasons(summary.get("quality"), float(g["min_auc_delta"]))
    return reasons


def _quality_reasons(quality: Mapping[str, Any] | None, bound: float) -> list[str]:
    if not quality or not int(quality.get("labelled_rows") or 0):
        return [f"no labelled rows yet: shadow.gate.min_auc_delta {_f(bound)} needs ground truth for "
                f"shadow-scored rows; wait for labels to arrive (or unset shadow.gate.min_auc_delta)."]
    if quality.get("status") != "ok":
        why = quality.get("reason") or "too few labelled rows"
        return [f"too few labelled rows yet to compare AUCs ({why}): shadow.gate.min_auc_delta {_f(bound)} "
                f"needs more ground truth; wait for more labels (or unset shadow.gate.min_auc_delta)."]
    delta = number(quality.get("auc_delta"))
    if delta is None or delta < bound:
        p = number((quality.get("delong") or {}).get("p_value"))
        shown = "unknown" if delta is None else _f(delta)
        return [f"AUC change {shown} (challenger - champion) is below shadow.gate.min_auc_delta {_f(bound)} over "
                f"{int(quality['labelled_rows'])} labelled rows" + (f" (DeLong p = {_f(p)})" if p is not None else "")
                + ": the challenger does not rank better enough; keep the champion, or lower the bound."]
    return []


def evaluate_gate(summary: Mapping[str, Any], gate: Any, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """``{"enabled", "passed", "reasons", "checked_at"}`` of ``summary`` against ``gate`` (see the module)."""
    reasons = check(summary, gate)
    when = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return {"enabled": bool(_settings(gate)["enabled"]), "passed": not reasons, "reasons": reasons,
            "checked_at": when.isoformat(timespec="seconds")}
