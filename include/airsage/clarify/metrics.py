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
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from airsage import jsonsafe
from airsage.clarify.vocabulary import DESCRIPTIONS, POST_TRAINING, PRE_TRAINING  # noqa: F401
from airsage.errors import ConfigError

INFINITY = float("inf")
UNIQUENESS_THRESHOLD = 0.05
FT_DEFAULT_NEIGHBOR, FT_MIN_NEIGHBOR, FT_SAMPLES_COUNT_THRESHOLD = 5, 1, 9

class MetricUndefined(ValueError):
    """A metric cannot be computed on this data; becomes an error entry, never a crash."""


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


# =========================================================================== counts
@dataclass(frozen=True)
class Group:
    """Confusion counts of one group (observed label x predicted label); pre-training has pred = 0."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def pos(self) -> int:  # observed positives
        return self.tp + self.fn

    @property
    def neg(self) -> int:
        return self.fp + self.tn

    @property
    def pred_pos(self) -> int:
        return self.tp + self.fp

    @property
    def pred_neg(self) -> int:
        return self.fn + self.tn

    @classmethod
    def from_array(cls, c: np.ndarray) -> "Group":
        """``c[label, pred]`` -> Group (Python ints, so arithmetic matches smclarify's)."""
        return cls(tp=int(c[1, 1]), fp=int(c[0, 1]), fn=int(c[1, 0]), tn=int(c[0, 0]))


def divide(a: float, b: float) -> float:
    """smclarify's ``common.divide``: 0/0 -> 0.0, x/0 -> +inf (or -inf when x < 0)."""
    if b == 0 and a == 0:
        return 0.0
    if b == 0:
        return -INFINITY if a < 0 else INFINITY
    return a / b


def _both_inf(x: float, y: float, diff: float, zero: float | int = 0) -> float | int:
    return zero if x == y and x == INFINITY else diff


# =========================================================================== pre-training
def CI(a: Group, d: Group) -> float:
    """Class imbalance (n_a - n_d) / n."""
    if a.n == 0:
        raise MetricUndefined("CI: negated facet set is empty. Check that x[~facet] has non-zero length.")
    if d.n == 0:
        raise MetricUndefined("CI: facet set is empty. Check that x[facet] has non-zero length.")
    return float(a.n - d.n) / (a.n + d.n)


def _dpl(na: int, na_pos: int, nd: int, nd_pos: int) -> float:
    if na == 0:
        raise MetricUndefined("Negative facet set is empty.")
    if nd == 0:
        raise MetricUndefined("Facet set is empty.")
    return na_pos / na - nd_pos / nd


def DPL(a: Group, d: Group) -> float:
    """Difference in positive proportions of observed labels, q_a - q_d."""
    return _dpl(a.n, a.pos, d.n, d.pos)


def aligned_pmfs(a: Group, d: Group) -> tuple[np.ndarray, np.ndarray]:
    """Binary label PMFs of a and d over the outcomes non-zero in both (no renormalisation)."""
    pa, pd_ = [], []
    for ca, cd in ((a.neg, d.neg), (a.pos, d.pos)):  # sorted keys: False, True
        if ca and cd:
            pa.append(ca / a.n)
            pd_.append(cd / d.n)
    if not pa:
        raise MetricUndefined("No instance of common facet found, dataset may be too small")
    return np.array(pa), np.array(pd_)


def KL(a: Group, d: Group) -> float:
    """Kullback-Leibler divergence KL(P_a || P_d) in nats."""
    pa, pd_ = aligned_pmfs(a, d)
    return np.sum(pa * np.log(pa / pd_))


def JS(a: Group, d: Group) -> float:
    """Jensen-Shannon divergence."""
    pa, pd_ = aligned_pmfs(a, d)
    p = 1 / 2 * (pa + pd_)
    return 0.5 * (np.sum(pa * np.log(pa / p)) + np.sum(pd_ * np.log(pd_ / p)))


def LP(a: Group, d: Group) -> float:
    """L2 norm of P_a - P_d."""
    pa, pd_ = aligned_pmfs(a, d)
    return float(np.linalg.norm(pa - pd_, 2))


def TVD(a: Group, d: Group) -> float:
    """Total variation distance, half the L1 norm of P_a - P_d."""
    pa, pd_ = aligned_pmfs(a, d)
    return 0.5 * float(np.linalg.norm(pa - pd_, 1))


def KS(a: Group, d: Group) -> float:
    """Kolmogorov-Smirnov distance, max |P_a - P_d|."""
    pa, pd_ = aligned_pmfs(a, d)
    return float(np.linalg.norm(pa - pd_, np.inf))


def CDD(per_group: np.ndarray | None, total_pos: int, total_neg: int) -> float:
    """Conditional demographic disparity: sum_i n_i DD_i / sum_i n_i over the subgroups i.

    ``per_group[i] = [n_i, n_d_pos_i, n_pos_i, n_d_neg_i, n_neg_i]`` in sorted subgroup order;
    ``pos`` means observed labels for CDDL and predicted labels for CDDPL.
    """
    if per_group is None:
        raise MetricUndefined("Group variable is empty or not provided")
    if total_pos == 0:
        raise MetricUndefined("No positive labels in set")
    if total_neg == 0:
        raise MetricUndefined("No negative labels in set")
    counts, cdd = [], []
    for n_i, num_a, den_a, num_d, den_d in per_group.tolist():
        counts.append(float(n_i))
        share_a = num_a / den_a if den_a != 0 else 0
        share_d = num_d / den_d if den_d != 0 else 0
        cdd.append(share_d - share_a)
    counts_arr, cdd_arr = np.array(counts, dtype=float), np.array(cdd, dtype=float)
    return divide(np.sum(counts_arr * cdd_arr), np.sum(counts_arr))


# =========================================================================== post-training
def DPPL(a: Group, d: Group) -> float:
    """Difference in positive proportions of predicted labels, q'_a - q'_d."""
    return _dpl(a.n, a.pred_pos, d.n, d.pred_pos)


def DI(a: Group, d: Group) -> float:
    """Disparate impact q'_d / q'_a (d over a)."""
    if a.n == 0:
        raise MetricUndefined("Negated facet set is empty")
    qa = a.pred_pos / a.n
    if d.n == 0:
        raise MetricUndefined("Facet set is empty")
    return divide(d.pred_pos / d.n, qa)


def _require_both(a: Group, d: Group, prefix: str = "") -> None:
    if d.n == 0:
        raise MetricUndefined(f"{prefix}Facet set is empty")
    if a.n == 0:
        raise MetricUndefined(f"{prefix}Negated Facet set is empty")


def DCA(a: Group, d: Group) -> float:
    """Difference in conditional acceptance c_a - c_d, c = observed / predicted positives."""
    _require_both(a, d, "DCO: ")
    ca, cd = divide(a.pos, a.pred_pos), divide(d.pos, d.pred_pos)
    return _both_inf(ca, cd, ca - cd)


def DCR(a: Group, d: Group) -> float:
    """Difference in conditional rejection r_d - r_a, r = observed / predicted negatives (d - a)."""
    _require_both(a, d, "DCO: ")
    ra, rd = divide(a.neg, a.pred_neg), divide(d.neg, d.pred_neg)
    return _both_inf(ra, rd, rd - ra)


def DAR(a: Group, d: Group) -> float:
    """Difference in acceptance rates (precision) a - d."""
    _require_both(a, d, "DLR: ")
    ar_a, ar_d = divide(a.tp, a.pred_pos), divide(d.tp, d.pred_pos)
    return _both_inf(ar_a, ar_d, ar_a - ar_d)


def DRR(a: Group, d: Group) -> float:
    """Difference in rejection rates TN/(TN+FN), d - a."""
    _require_both(a, d, "DLR: ")
    rr_a, rr_d = divide(a.tn, a.pred_neg), divide(d.tn, d.pred_neg)
    return _both_inf(rr_a, rr_d, rr_d - rr_a)


def RD(a: Group, d: Group) -> float:
    """Recall difference TPR_a - TPR_d."""
    _require_both(a, d, "DLA: ")
    rec_a, rec_d = divide(a.tp, a.tp + a.fn), divide(d.tp, d.tp + d.fn)
    return _both_inf(rec_a, rec_d, rec_a - rec_d)


def SD(a: Group, d: Group) -> float:
    """Specificity difference TNR_d - TNR_a (d - a)."""
    _require_both(a, d, "DLA: ")
    sp_a, sp_d = divide(a.tn, a.tn + a.fp), divide(d.tn, d.tn + d.fp)
    return _both_inf(sp_a, sp_d, sp_d - sp_a)


def AD(a: Group, d: Group) -> float:
    """Accuracy difference ACC_a - ACC_d."""
    _require_both(a, d)
    acc_a, acc_d = divide(a.tp + a.tn, a.n), divide(d.tp + d.tn, d.n)
    return _both_inf(acc_a, acc_d, acc_a - acc_d, 0.0)


def TE(a: Group, d: Group) -> float:
    """Treatment equality FN_d/FP_d - FN_a/FP_a (d - a)."""
    _require_both(a, d)
    tau_a, tau_d = divide(a.fn, a.fp), divide(d.fn, d.fp)
    return _both_inf(tau_a, tau_d, tau_d - tau_a, 0.0)


def GE(label: np.ndarray, pred: np.ndarray, alpha: int = 2) -> float:
    """Generalized entropy index (alpha = 2) of the benefit b = yhat - y + 1; independent of the facet."""
    n = label.shape[0]
    if n == 0:
        raise MetricUndefined("dataset must be non-empty")
    benefit = pred.astype(np.int64) - label.astype(np.int64) + 1
    mean_benefit = benefit.sum(dtype=np.float64) / n
    if mean_benefit == 0:
        raise MetricUndefined("All predicted labels are false negatives. There should be at least one prediction "
                              "that is not false negative.")
    ratio = benefit / mean_benefit
    return np.sum(ratio ** alpha - 1) / (n * alpha * (alpha - 1))


def FT(x: np.ndarray | None, d_mask: np.ndarray, pred: np.ndarray, *, numeric_error: str | None = None) -> float:
    """Flip test: k-NN trained on group a (model predictions as targets) relabels group d."""
    nd = int(d_mask.sum())
    if nd == 0:
        raise MetricUndefined("Facet set is empty")
    if nd == len(d_mask):
        raise MetricUndefined("Negated Facet set is empty")
    if numeric_error:
        raise MetricUndefined(numeric_error)
    from airsage.clarify.neighbors import knn_majority

    y_a = pred[~d_mask]
    k = FT_DEFAULT_NEIGHBOR if len(y_a) > FT_SAMPLES_COUNT_THRESHOLD else FT_MIN_NEIGHBOR
    try:
        knn = knn_majority(x[~d_mask], y_a, x[d_mask], k)
    except ValueError as exc:  # scikit-learn's input validation (NaN, no feature column, ...)
        raise MetricUndefined(str(exc)) from None
    model = pred[d_mask]
    flips_pos = int(np.count_nonzero(model & ~knn))
    flips_neg = int(np.count_nonzero(~model & knn))
    return divide(flips_pos - flips_neg, nd)


COUNT_METRICS: dict[str, Callable[[Group, Group], float]] = {
    "CI": CI, "DPL": DPL, "KL": KL, "JS": JS, "LP": LP, "TVD": TVD, "KS": KS,
    "DPPL": DPPL, "DI": DI, "DCA": DCA, "DCR": DCR, "DAR": DAR, "DRR": DRR, "RD": RD, "SD": SD, "AD": AD, "TE": TE,
}


# =========================================================================== data types (smclarify's rules)
class DataType(Enum):
    CATEGORICAL = 0
    CONTINUOUS = 1


def _is_text_dtype(series: pd.Series) -> bool:
    return series.dtype.name in ("str", "string", "object") or isinstance(series.dtype, pd.StringDtype)


def series_datatype(series: pd.Series, values: Sequence[Any] | None = None,
                    factorized: tuple[np.ndarray, Any] | None = None) -> DataType:
    """smclarify's ``series_datatype``: decides categorical vs continuous (a known gotcha, kept on purpose)."""
    codes, uniques = factorized if factorized is not None else pd.factorize(series, sort=False)
    uniqueness = divide(len(uniques), int(np.count_nonzero(codes >= 0)))  # nunique / count
    if series.dtype.name == "category" or (values is not None and len(values) > 1):
        return DataType.CATEGORICAL
    if _is_text_dtype(series):
        castable = _int_castable(series.head(1)) and _int_castable(series)  # the first row fails fast
        if castable and uniqueness >= UNIQUENESS_THRESHOLD:
            return DataType.CONTINUOUS
    elif pd.api.types.is_float_dtype(series.dtype):
        return DataType.CONTINUOUS
    elif pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        if uniqueness >= UNIQUENESS_THRESHOLD:
            return DataType.CONTINUOUS
    return DataType.CATEGORICAL


def _int_castable(series: pd.Series) -> bool:
    try:
        series.astype(object).astype("int64")
        return True
    except (ValueError, TypeError, OverflowError):
        return False


def as_category(series: pd.Series, factorized: tuple[np.ndarray, Any] | None = None) -> pd.Series:
    """``series.astype("category")`` with the same == semantics, without pandas 3's detour through an Arrow
    string array (categories in order of appearance instead of sorted: nothing here depends on the order)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series
    codes, uniques = factorized if factorized is not None else pd.factorize(series, sort=False)
    return pd.Series(pd.Categorical.from_codes(codes, categories=uniques), name=series.name)


def ensure_series_data_type(series: pd.Series, values: list[Any] | None) -> tuple[DataType, pd.Series, list | None]:
    """Type, converted series and (for a continuous series) the numeric threshold list."""
    factorized = pd.factorize(series, sort=False)
    dtype = series_datatype(series, values, factorized)
    if dtype == DataType.CATEGORICAL:
        return dtype, as_category(series, factorized), values
    values = list(values) if values else values
    if values and not isinstance(values[0], (int, float)):
        try:
            values[0] = float(values[0])
        except (TypeError, ValueError):
            raise ConfigError(f"value {values[0]!r} is not a number but column {series.name!r} is continuous",
                              key=str(series.name),
                              fix="Give one numeric threshold (exclusive lower bound), or make the column "
                                  "categorical (category dtype or two or more values).") from None
    return dtype, pd.to_numeric(series.astype(object) if _is_text_dtype(series) else series), values


def interval_index(data: pd.Series, thresholds: list[Any] | None) -> pd.IntervalIndex:
    """smclarify's ``_interval_index``: ``[t]`` -> ``(t, max]`` (max appended unless |max| is listed)."""
    if not thresholds:
        raise ConfigError(f"column {data.name!r} is continuous, so it needs a threshold",
                          key=str(data.name), fix="Give value_or_threshold [t] (rows with value > t form the group), "
                                                  "or cast the column to category for one-vs-rest.")
    max_value = data.max()
    breaks = list(thresholds)
    if abs(max_value) not in thresholds:
        breaks.append(max_value)
    return pd.IntervalIndex.from_breaks(sorted(breaks))


def interval_mask(x: pd.Series, intervals: pd.IntervalIndex) -> np.ndarray:
    values = x.to_numpy(dtype=float, na_value=np.nan)
    mask = np.zeros(len(values), dtype=bool)
    for iv in intervals:
        with np.errstate(invalid="ignore"):
            mask |= (values > iv.left) & (values <= iv.right)
    return mask


def convert_values(first: Any, values: list[Any]) -> list[Any]:
    """smclarify's ``convert_positive_label_values``: cast the given values to the column's element type."""
    if isinstance(values[0], type(first)):
        return values
    kind = type(first)
    try:
        return [kind(v) for v in values]
    except ValueError as exc:
        if "invalid literal for int() with base 10" in str(exc):
            return [float(v) for v in values]
        raise MetricUndefined("'label' has not positive elements. Double-check if 'label' and "
                              "'positive_label_values'have correct data-types or values.") from None


def category_match(series_cat: pd.Series, values: list[Any]) -> np.ndarray:
    """Boolean array over the categories: which category equals one of ``values`` (pandas' == semantics)."""
    cats = series_cat.cat.categories
    cat_series = pd.Series(pd.Categorical(cats, categories=cats))
    hit = np.zeros(len(cats), dtype=bool)
    for v in values:
        hit |= (cat_series == v).to_numpy(dtype=bool)
    return hit


def categorical_index(series_cat: pd.Series, values: list[Any]) -> np.ndarray:
    """Rows equal to any of ``values``; retried with values cast to the column's type (smclarify)."""
    codes = series_cat.cat.codes.to_numpy()
    hit = category_match(series_cat, values)
    if not hit[codes[codes >= 0]].any():
        if len(series_cat) == 0:
            return np.zeros(0, dtype=bool)
        hit = category_match(series_cat, convert_values(series_cat.iloc[0], values))
    return np.where(codes >= 0, hit[codes], False)


# =========================================================================== labels
@dataclass(frozen=True)
class LabelIndex:
    positive: np.ndarray  # bool per row
    value_or_threshold: str
    datatype: DataType
    series: pd.Series  # converted label series
    values: list[Any]  # positive values (threshold converted to a number for a continuous label)


def label_index(series: pd.Series, positive_values: Sequence[Any]) -> LabelIndex:
    """Positive-label mask and its report string ("1", "a,b" or "(0, 4]")."""
    if not positive_values:
        raise ConfigError("label_values_or_threshold is empty", key="label_values_or_threshold",
                          fix="List the positive label value(s), or one threshold for a continuous label.")
    values = list(positive_values)
    dtype, conv, values = ensure_series_data_type(series, values)
    if dtype == DataType.CONTINUOUS:
        intervals = interval_index(conv, values)
        return LabelIndex(interval_mask(conv, intervals), ",".join(map(str, intervals)), dtype, conv, values)
    return LabelIndex(categorical_index(conv, values), ",".join(map(str, values)), dtype, conv, values)


def predicted_index(predicted: pd.Series, label: LabelIndex) -> np.ndarray:
    """Positive predicted-label mask with the label's values/threshold (smclarify's ``_positive_predicted_index``)."""
    dtype, conv, _ = ensure_series_data_type(predicted, list(label.values))
    if dtype != label.datatype:
        raise ConfigError("Predicted Label Column series datatype is not the same as Label Column series",
                          key="predicted_label",
                          fix="Give predicted labels of the same kind as the labels (cast both to category, "
                              "or give two or more label values so both are categorical).")
    if dtype == DataType.CONTINUOUS:
        conv = conv.astype(label.series.dtype)
        both = pd.concat([label.series, conv])
        mask = interval_mask(conv, interval_index(both, list(label.values)))
    else:
        mask = categorical_index(conv, list(label.values))
    if not mask.any():
        raise ConfigError("No Label values are present in the predicted Label Column,"
                          "Positive Predicted Index Series contains all False values", key="predicted_label",
                          fix="Check label_values_or_threshold against the predicted label column (an integer 0/1 "
                              "column of under 40 rows is treated as continuous: cast it to category).")
    return mask


# =========================================================================== facets
@dataclass(frozen=True)
class FacetGroups:
    """Facet rows coded 0..K-1 (K = no group / missing) and the report entries as (string, code list)."""

    codes: np.ndarray
    n_codes: int
    entries: list[tuple[str, list[int]]]


def facet_groups(series: pd.Series, values: Sequence[Any] | None) -> FacetGroups:
    """Entries of a facet: one-vs-rest per value, the listed values together, or the interval above a threshold."""
    values = list(values) if values else None
    dtype, conv, values = ensure_series_data_type(series, values)
    if dtype == DataType.CONTINUOUS:
        intervals = interval_index(conv, values)
        mask = interval_mask(conv, intervals)
        return FacetGroups(np.where(mask, 0, 1).astype(np.int64), 1, [(",".join(map(str, intervals)), [0])])
    codes = conv.cat.codes.to_numpy().astype(np.int64)
    k = len(conv.cat.categories)
    codes = np.where(codes < 0, k, codes)
    if not values:  # one-vs-rest, in order of appearance (smclarify uses Series.unique())
        first = pd.unique(codes[codes < k])
        cats = conv.cat.categories
        return FacetGroups(codes, k, [(str(cats[c]), [int(c)]) for c in first])
    cat_s = conv
    hit = category_match(cat_s, values)
    if not hit[codes[codes < k]].any() and len(conv):
        try:
            hit = category_match(cat_s, convert_values(conv.iloc[0], values))
        except MetricUndefined:
            hit = np.zeros(k, dtype=bool)
    return FacetGroups(codes, k, [(",".join(map(str, values)), [int(i) for i in np.flatnonzero(hit)])])


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
