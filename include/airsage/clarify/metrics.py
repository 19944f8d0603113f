"""SageMaker Clarify bias metrics, with smclarify 0.5's exact definitions and conventions.

Group *d* is the selected facet value(s) (or the interval above a continuous threshold); group *a* is
everyone else. Every metric except FT and GE is a function of a handful of counts per group, so the
counts for every facet value are taken in one ``np.bincount`` pass and the metrics are ~10-line pure
functions over them (fairlearn's shape: metric functions + one aggregator per facet). The scalar
arithmetic follows smclarify's operation for operation, so the values are bit-identical.

Conventions kept from smclarify (see the module ``airsage.clarify`` for deliberate differences):

* data-type inference (``series_datatype``): ``category`` dtype or several values -> categorical;
  float -> continuous; int (and int-castable object) -> continuous when ``nunique/count >= 0.05``.
* a continuous facet/label threshold ``t`` is an exclusive lower bound: *d* / positive = ``(t, max]``.
* division: 0/0 -> 0, x/0 -> +-inf; DCA, DCR, DAR, DRR, RD, SD, AD, TE are 0 when both sides are +inf.
* KL/JS/LP/TVD/KS use the binary positive-label PMFs of *a* and *d*, keeping only the outcomes that are
  non-zero in both, without renormalising (so KL may be negative).
* a metric that cannot be computed is reported as ``{"name", "description", "value": None, "error"}``.
* FT fits k-NN (k=5, or 1 when n_a <= 9) on group *a* with the model's predictions as targets, predicts
  group *d*, and returns ``(#{model=1, knn=0} - #{model=0, knn=1}) / n_d`` (smclarify's sign).

The formulas live in ``airsage.clarify.formulas``, the data typing, label and facet helpers in
``airsage.clarify.datatypes``; this module aggregates them into reports, and every name stays importable
from here.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from airsage import jsonsafe
from airsage.clarify.datatypes import (  # noqa: F401
    UNIQUENESS_THRESHOLD, DataType, FacetGroups, LabelIndex, _int_castable, _is_text_dtype, as_category,
    categorical_index, category_match, convert_values, ensure_series_data_type, facet_groups, interval_index,
    interval_mask, label_index, predicted_index, series_datatype,
)
from airsage.clarify.formulas import (  # noqa: F401
    AD, CDD, CI, COUNT_METRICS, DAR, DCA, DCR, DI, DPL, DPPL, DRR, FT, FT_DEFAULT_NEIGHBOR, FT_MIN_NEIGHBOR,
    FT_SAMPLES_COUNT_THRESHOLD, GE, INFINITY, JS, KL, KS, LP, RD, SD, TE, TVD, Group, MetricUndefined, _both_inf,
    _dpl, _require_both, aligned_pmfs, divide,
)
from airsage.clarify.vocabulary import DESCRIPTIONS, POST_TRAINING, PRE_TRAINING  # noqa: F401
from airsage.errors import ConfigError


# =========================================================================== results
def inf_as_str(value: Any) -> Any:
    """smclarify's JSON convention: +-inf become the strings "Infinity" / "-Infinity"."""
    if isinstance(value, float) and math.isinf(value):
        return jsonsafe.encode(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class MetricResult:
    name: str
    description: str
    value: float | int | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "description": self.description, "value": inf_as_str(_plain(self.value))}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class FacetReport:
    """One facet value (or interval) and its metrics, sorted by name: smclarify's ``FacetReport``."""

    value_or_threshold: str
    metrics: tuple[MetricResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"value_or_threshold": self.value_or_threshold, "metrics": [m.to_dict() for m in self.metrics]}

    def value(self, name: str) -> float | int | None:
        return next((m.value for m in self.metrics if m.name == name), None)


# =========================================================================== aggregator
def _resolve_methods(methods: str | Sequence[str], stage: str) -> list[str]:
    allowed = PRE_TRAINING if stage == "pre_training" else POST_TRAINING
    if methods == "all" or list(methods) == ["all"]:
        return list(allowed)
    bad = [m for m in methods if m not in allowed]
    if bad:
        raise ConfigError(f"unknown {stage} bias metric(s) {bad}", key=f"methods.{stage}_bias.methods",
                          fix=f'Use "all" or a list of {list(allowed)}.')
    return sorted(set(methods))


def _stage(stage: str) -> str:
    aliases = {"pre": "pre_training", "pre_training": "pre_training", "post": "post_training",
               "post_training": "post_training"}
    if stage not in aliases:
        raise ConfigError(f"unknown stage {stage!r}", key="stage", fix="Use 'pre_training' or 'post_training'.")
    return aliases[stage]


def _column(df: pd.DataFrame, ref: str | pd.Series | np.ndarray | None, what: str) -> pd.Series | None:
    if ref is None:
        return None
    if isinstance(ref, str):
        if ref not in df.columns:
            raise ConfigError(f"{what} column {ref!r} is not in the dataset", key=what,
                              fix=f"Use one of the dataset's columns: {list(df.columns)[:20]}.")
        series = df[ref]
    elif isinstance(ref, pd.Series):
        series = ref
    else:
        return pd.Series(np.asarray(ref), name=what)
    if isinstance(series.index, pd.RangeIndex) and series.index.start == 0 and series.index.step == 1:
        return series
    return series.reset_index(drop=True)


def _cdd_table(counts_g: np.ndarray | None, codes_in_d: list[int], axis_pos: int) -> np.ndarray | None:
    """Per subgroup ``[n_i, n_d_pos, n_pos, n_d_neg, n_neg]``; axis_pos 2 = observed label, 3 = predicted."""
    if counts_g is None:
        return None
    other = 3 if axis_pos == 2 else 2
    by_outcome = counts_g.sum(axis=other)  # (G, K+1, 2)
    d = by_outcome[:, codes_in_d, :].sum(axis=1)  # (G, 2)
    tot = by_outcome.sum(axis=1)  # (G, 2)
    return np.stack([tot.sum(axis=1), d[:, 1], tot[:, 1], d[:, 0], tot[:, 0]], axis=1)


@dataclass
class _Prepared:
    label: np.ndarray
    pred: np.ndarray
    group_codes: np.ndarray | None
    n_groups: int
    features: np.ndarray | None = None
    feature_error: str | None = None
    extra: dict = field(default_factory=dict)


def _group_codes(group: pd.Series | None) -> tuple[np.ndarray | None, int]:
    """Subgroup codes in np.unique's (sorted) order; missing values get -1 (ignored)."""
    if group is None or group.empty:
        return None, 0
    codes, uniques = pd.factorize(group, sort=True)
    return codes.astype(np.int64), len(uniques)


def _ft_features(frame: pd.DataFrame) -> tuple[np.ndarray | None, str | None]:
    """FT's inputs: every remaining column, which must all be numeric or bool (smclarify's rule)."""
    if len(frame.columns) != len(frame.select_dtypes([np.number, bool]).columns):
        return None, "FlipTest does not support non-numeric columns"
    x = frame.to_numpy(dtype=np.float64, na_value=np.nan) if len(frame.columns) else np.empty((len(frame), 0))
    return x, None


def facet_metrics(facet: FacetGroups, prep: _Prepared, methods: list[str]) -> list[FacetReport]:
    """All requested metrics for every entry of one facet, from one bincount pass."""
    k1 = facet.n_codes + 1
    key = (facet.codes * 2 + prep.label) * 2 + prep.pred
    counts = np.bincount(key, minlength=k1 * 4).reshape(k1, 2, 2)
    total = counts.sum(axis=0)
    counts_g = None
    if prep.group_codes is not None:
        ok = prep.group_codes >= 0
        gkey = prep.group_codes[ok] * (k1 * 4) + key[ok]
        counts_g = np.bincount(gkey, minlength=prep.n_groups * k1 * 4).reshape(prep.n_groups, k1, 2, 2)
    ge_value: MetricResult | None = None
    reports = []
    for value_str, in_d in facet.entries:
        d_arr = counts[in_d].sum(axis=0) if in_d else np.zeros((2, 2), dtype=np.int64)
        a, d = Group.from_array(total - d_arr), Group.from_array(d_arr)
        results = []
        for name in methods:
            try:
                if name in COUNT_METRICS:
                    value = COUNT_METRICS[name](a, d)
                elif name == "CDDL":
                    value = CDD(_cdd_table(counts_g, in_d, 2), a.pos + d.pos, a.neg + d.neg)
                elif name == "CDDPL":
                    value = CDD(_cdd_table(counts_g, in_d, 3), a.pred_pos + d.pred_pos, a.pred_neg + d.pred_neg)
                elif name == "GE":
                    if ge_value is None:
                        ge_value = _safe("GE", lambda: GE(prep.label.astype(bool), prep.pred.astype(bool)))
                    results.append(ge_value)
                    continue
                elif name == "FT":
                    d_mask = np.isin(facet.codes, in_d)
                    value = FT(prep.features, d_mask, prep.pred.astype(bool), numeric_error=prep.feature_error)
                else:  # pragma: no cover - _resolve_methods guards this
                    raise MetricUndefined(f"unknown metric {name}")
                results.append(MetricResult(name, DESCRIPTIONS[name], value))
            except MetricUndefined as exc:
                results.append(MetricResult(name, DESCRIPTIONS[name], None, str(exc)))
        reports.append(FacetReport(value_str, tuple(results)))
    return reports


def _safe(name: str, fn: Callable[[], float]) -> MetricResult:
    try:
        return MetricResult(name, DESCRIPTIONS[name], fn())
    except MetricUndefined as exc:
        return MetricResult(name, DESCRIPTIONS[name], None, str(exc))


def bias_report(
    df: pd.DataFrame,
    facet_name: str,
    facet_values: Sequence[Any] | None,
    label_name: str,
    positive_values: Sequence[Any],
    stage: str = "pre_training",
    predicted_label: str | pd.Series | np.ndarray | None = None,
    group_variable: str | pd.Series | np.ndarray | None = None,
    methods: str | Sequence[str] = "all",
    *,
    predicted_positive: np.ndarray | None = None,
    feature_columns: Sequence[str] | None = None,
) -> list[FacetReport]:
    """smclarify's ``bias_report`` for one facet: one ``FacetReport`` per facet value or interval.

    ``facet_values``: the values forming group *d* (None/empty = one-vs-rest), or ``[t]`` for a continuous
    facet (*d* = facet > t). ``positive_values``: positive label values, or ``[t]`` (positive = label > t).
    ``predicted_label``: a column name or array of predicted labels (interpreted with ``positive_values``);
    or ``predicted_positive``: a boolean array (e.g. ``score > probability_threshold``).
    ``feature_columns``: FT's inputs (default: every column except facet, label and predicted label).
    ``[r.to_dict() for r in result]`` equals smclarify's output.
    """
    return bias_reports(df, [(facet_name, facet_values)], label_name, positive_values, stage, predicted_label,
                        group_variable, methods, predicted_positive=predicted_positive,
                        feature_columns=feature_columns)[facet_name]


def bias_reports(
    df: pd.DataFrame,
    facets: Sequence[tuple[str, Sequence[Any] | None]],
    label_name: str,
    positive_values: Sequence[Any],
    stage: str = "pre_training",
    predicted_label: str | pd.Series | np.ndarray | None = None,
    group_variable: str | pd.Series | np.ndarray | None = None,
    methods: str | Sequence[str] = "all",
    *,
    predicted_positive: np.ndarray | None = None,
    feature_columns: Sequence[str] | None = None,
) -> dict[str, list[FacetReport]]:
    """``bias_report`` for several facets ``[(name, values), ...]``, preparing labels, predictions and the
    group variable once. FT's default inputs exclude the facet being analysed (other facets stay in)."""
    stage = _stage(stage)
    names = _resolve_methods(methods, stage)
    for facet_name, _ in facets:
        if facet_name not in df.columns:
            raise ConfigError(f"Facet column {facet_name!r} is not present in the dataset",
                              key="facet.name_or_index",
                              fix=f"Use one of the dataset's columns: {list(df.columns)[:20]}.")
    labels = label_index(_column(df, label_name, "label"), positive_values)
    n = len(df)
    pred = np.zeros(n, dtype=np.int64)
    drop = {label_name}
    if stage == "post_training":
        if predicted_positive is not None:
            pred_mask = np.asarray(predicted_positive, dtype=bool)
        elif predicted_label is not None:
            pred_mask = predicted_index(_column(df, predicted_label, "predicted_label"), labels)
        else:
            raise ConfigError("post-training metrics need predicted labels", key="predicted_label",
                              fix="Name the predicted_label column or give a model to predict with.")
        if len(pred_mask) != n:
            raise ConfigError(f"{len(pred_mask)} predictions for {n} rows", key="predicted_label",
                              fix="Give one prediction per dataset row.")
        pred = pred_mask.astype(np.int64)
        if isinstance(predicted_label, str):
            drop.add(predicted_label)
    gcodes, n_groups = _group_codes(_column(df, group_variable, "group_variable"))
    out: dict[str, list[FacetReport]] = {}
    for facet_name, facet_values in facets:
        features, feature_error = None, None
        if stage == "post_training" and "FT" in names:
            cols = list(feature_columns) if feature_columns is not None else [c for c in df.columns if c not in drop]
            features, feature_error = _ft_features(df[[c for c in cols if c != facet_name]])
        prep = _Prepared(labels.positive.astype(np.int64), pred, gcodes, n_groups, features, feature_error)
        facet = facet_groups(_column(df, facet_name, "facet"), facet_values)
        out.setdefault(facet_name, []).extend(facet_metrics(facet, prep, names))  # a facet may be listed twice
    return out


def label_value_or_threshold(series: pd.Series, positive_values: Sequence[Any]) -> str:
    """The label string of ``analysis.json`` ("1", "a,b" or "(0, 4]")."""
    return label_index(series, positive_values).value_or_threshold
