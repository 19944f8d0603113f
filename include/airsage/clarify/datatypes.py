"""Data typing, label and facet grouping with smclarify's rules: categorical vs continuous columns
(``series_datatype``), category conversion, threshold intervals, the positive label / predicted label
masks (``label_index``, ``predicted_index``) and the facet groups (``facet_groups``) the metrics count over.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from airsage.clarify.formulas import MetricUndefined, divide
from airsage.errors import ConfigError

UNIQUENESS_THRESHOLD = 0.05


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
