"""Facet groups of a shadow comparison and the Clarify bias of both models' decisions from their counts.

Group *d* follows SageMaker Clarify (``airsage.clarify.metrics.facet_groups``, the same data-type rules):

* ``threshold``: a continuous facet with one value ``t``: *d* is ``value > t``; the groups are ``"> t"``
  (``in_facet_group`` true) and ``"<= t"``;
* ``values``: a categorical facet with listed values: one group per distinct value, ``in_facet_group``
  true for the listed ones; the bias entry (key: the facet name) compares all of them with the rest;
* ``one_vs_rest``: no values listed: one group per distinct value, each its own *d* (``in_facet_group``
  true), one bias entry per value keyed ``"<facet>=<value>"``. A column Clarify would call continuous
  is taken as categorical here (Clarify's own fix, "cast the column to category for one-vs-rest"), so
  a small partition of integer codes never stops the comparison.

Clarify's data-type rules apply to every partition as it comes: a float column with one value is a
threshold; an integer column with few distinct values (under 5 % of its rows) is categorical, so ``[1]``
means ``value == 1`` there, as in Clarify's own reports of the same facet.

Rows with a missing facet value form a group of their own (``value`` null, never in *d*: Clarify's
*a*). Every bias number is computed from the group counts by ``bias_from_groups``, for one partition
and for the sum of several alike, with Clarify's ``DPPL`` / ``DI`` on ``Group`` counts: an undefined
metric (an empty *d* or *a*) is null, a ratio over zero is +-inf (``"Infinity"`` in JSON).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from airsage.clarify.metrics import (DI, DPPL, DataType, Group, MetricUndefined, as_category, ensure_series_data_type,
                                     facet_groups)
from airsage.errors import ConfigError

THRESHOLD, VALUES, ONE_VS_REST = "threshold", "values", "one_vs_rest"
COUNT_KEYS = ("rows", "agree", "to_positive", "to_negative", "champion_positive", "challenger_positive")
BIAS_METRICS = {"DPPL": DPPL, "DI": DI}


def facet_spec(facet: Any) -> tuple[str, list[Any]]:
    """``(name, value_or_threshold)`` of a ``FacetSpec`` or a ``{"name", "value_or_threshold"}`` dict."""
    if isinstance(facet, Mapping):
        name, values = facet.get("name"), facet.get("value_or_threshold")
    else:
        name, values = getattr(facet, "name", None), getattr(facet, "value_or_threshold", None)
    if not name:
        raise ConfigError(f"facet {facet!r} has no name", key="schema.facets",
                          fix="Give every facet a name (and optionally value_or_threshold).")
    return str(name), list(values or [])


def _group_value(value: Any) -> str:
    return str(value)


def facet_layout(series: pd.Series, values: list[Any]) -> tuple[str, np.ndarray, list[tuple[str | None, bool]]]:
    """``(kind, group index per row, [(group value, in_facet_group), ...])``; missing values get a group
    ``(None, False)``; groups sorted by value, the missing-value group last."""
    series = series.reset_index(drop=True)
    vals = list(values) or None
    dtype, conv, _ = ensure_series_data_type(series, vals)
    if dtype == DataType.CONTINUOUS and not vals:
        series = conv = as_category(series)
        dtype = DataType.CATEGORICAL
    missing = series.isna().to_numpy()
    fg = facet_groups(series, vals)
    if dtype == DataType.CONTINUOUS:
        t = _group_value(vals[0])
        labels: list[tuple[str | None, bool]] = [(f"> {t}", True), (f"<= {t}", False)]
        codes = fg.codes.copy()  # 0: d, 1: everything else
        kind = THRESHOLD
    else:
        kind = ONE_VS_REST if not vals else VALUES
        in_d = set(fg.entries[0][1]) if kind == VALUES else set(range(fg.n_codes))
        labels = [(_group_value(c), i in in_d) for i, c in enumerate(conv.cat.categories)]
        codes = fg.codes.copy()  # 0..k-1, k = missing
    codes[missing] = len(labels)
    labels.append((None, False))
    # merge categories whose text is the same, drop empty groups, sort
    present = np.bincount(codes, minlength=len(labels)) > 0
    order = sorted({labels[i] for i in np.flatnonzero(present)}, key=_sort_key)
    index = {lab: i for i, lab in enumerate(order)}
    remap = np.array([index.get(lab, -1) for lab in labels], dtype=np.int64)
    return kind, remap[codes], order


def _sort_key(group: tuple[str | None, bool] | Mapping[str, Any]) -> tuple:
    value = group["value"] if isinstance(group, Mapping) else group[0]
    return (value is None, "" if value is None else value)


def group_rows(keys: np.ndarray, labels: list[tuple[str | None, bool]], champion: np.ndarray,
               challenger: np.ndarray) -> list[dict[str, Any]]:
    """One entry per group with its counts (``COUNT_KEYS``), ``in_facet_group`` and ``flip_rate``."""
    g = len(labels)

    def count(mask: np.ndarray | None = None) -> list[int]:
        k = keys if mask is None else keys[mask]
        return np.bincount(k, minlength=g).tolist()

    cols = {
        "rows": count(),
        "agree": count(champion == challenger),
        "to_positive": count(~champion & challenger),
        "to_negative": count(champion & ~challenger),
        "champion_positive": count(champion),
        "challenger_positive": count(challenger),
    }
    return [finish_group({"value": value, "in_facet_group": bool(in_d), **{k: int(cols[k][i]) for k in COUNT_KEYS}})
            for i, (value, in_d) in enumerate(labels)]


def finish_group(entry: dict[str, Any]) -> dict[str, Any]:
    """The group entry in the contract's key order, with ``flip_rate`` from its counts."""
    rows = entry["rows"]
    flips = entry["to_positive"] + entry["to_negative"]
    return {"value": entry["value"], "in_facet_group": entry["in_facet_group"], "rows": rows,
            "agree": entry["agree"], "to_positive": entry["to_positive"], "to_negative": entry["to_negative"],
            "flip_rate": flips / rows if rows else None, "champion_positive": entry["champion_positive"],
            "challenger_positive": entry["challenger_positive"]}


def merge_groups(lists: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The groups of several partitions of one facet, counts summed per group value."""
    merged: dict[str | None, dict[str, Any]] = {}
    for groups in lists:
        for g in groups:
            acc = merged.setdefault(g["value"], {"value": g["value"], "in_facet_group": False,
                                                 **dict.fromkeys(COUNT_KEYS, 0)})
            acc["in_facet_group"] = acc["in_facet_group"] or bool(g["in_facet_group"])
            for k in COUNT_KEYS:
                acc[k] += int(g[k])
    return [finish_group(g) for g in sorted(merged.values(), key=_sort_key)]


def _metrics(n_a: int, pos_a: int, n_d: int, pos_d: int) -> dict[str, float | None]:
    # no observed labels here: DPPL and DI read only n and the predicted positives (tp + fp)
    a = Group(tp=0, fp=pos_a, fn=0, tn=n_a - pos_a)
    d = Group(tp=0, fp=pos_d, fn=0, tn=n_d - pos_d)
    out: dict[str, float | None] = {}
    for name, fn in BIAS_METRICS.items():
        try:
            out[name] = float(fn(a, d))
        except MetricUndefined:
            out[name] = None
    return out


def _change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or np.isnan(before) or np.isnan(after):
        return None
    return 0.0 if before == after else after - before


def bias_entry(facet: str, kind: str, facet_values: list[Any], d_groups: Sequence[Mapping[str, Any]],
               groups: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Clarify's DPPL and DI of both models' decisions, *d* = ``d_groups``, *a* = the facet's other rows."""
    counts, metrics = {}, {}
    for model, key in (("champion", "champion_positive"), ("challenger", "challenger_positive")):
        n, pos = sum(g["rows"] for g in groups), sum(g[key] for g in groups)
        n_d, pos_d = sum(g["rows"] for g in d_groups), sum(g[key] for g in d_groups)
        counts[model] = {"n_a": n - n_d, "pos_a": pos - pos_d, "n_d": n_d, "pos_d": pos_d}
        metrics[model] = _metrics(n - n_d, pos - pos_d, n_d, pos_d)
    change = {m: _change(metrics["champion"][m], metrics["challenger"][m]) for m in BIAS_METRICS}
    return {"facet": facet, "kind": kind, "facet_values": list(facet_values), "counts": counts,
            "champion": metrics["champion"], "challenger": metrics["challenger"], "change": change}


def bias_from_groups(facet: str, kind: str, values: list[Any], groups: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The bias entries of one facet: ``{facet: entry}``, or ``{"facet=value": entry}`` per value (one-vs-rest)."""
    if kind == ONE_VS_REST:
        return {f"{facet}={g['value']}": bias_entry(facet, kind, [g["value"]], [g], groups)
                for g in groups if g["value"] is not None}
    return {facet: bias_entry(facet, kind, values, [g for g in groups if g["in_facet_group"]], groups)}
