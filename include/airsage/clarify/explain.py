"""SHAP explanations in Clarify's shape: local values per record, a global aggregate, an expected value.

Two algorithms:

* **Exact TreeSHAP** for XGBoost (``booster.predict(..., pred_contribs=True)``), the fast path. It is
  path-dependent TreeSHAP (the trees' own cover statistics stand in for the baseline) and it explains the
  booster's **margin, i.e. log-odds** for ``binary:logistic``: the local values plus the expected value add
  up to the log-odds, not to the probability. This matches Clarify with ``use_logit: true`` in units,
  but not in algorithm (Clarify always runs KernelSHAP against a baseline). It is chosen because it is
  exact, deterministic and 70-250x faster than KernelSHAP.
* **KernelSHAP** (``shap.KernelExplainer``), Clarify's own algorithm, for any ``predict_proba`` callable
  and whenever the probability space is wanted: the baseline is the configured rows, or a k-means
  summary of the data (``shap.kmeans``, values snapped to observed ones) with ``num_clusters`` (default
  10) clusters; ``num_samples`` defaults to shap's ``2 * features + 2048``; ``use_logit`` explains the
  log-odds of the probability instead of the probability.

Every result is checked for additivity (``sum(local) + expected_value == model output``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from airsage.errors import AirsageError, ConfigError

AGG_METHODS = ("mean_abs", "median", "mean_sq")
DEFAULT_NUM_CLUSTERS = 10
KMEANS_MAX_ROWS = 10_000


class AdditivityError(AirsageError):
    """Local SHAP values plus the expected value do not add up to the model output."""


@dataclass(frozen=True)
class ExplainResult:
    method: str  # "tree_shap" | "kernel_shap"
    output_space: str  # "log_odds" | "probability"
    feature_names: tuple[str, ...]
    local: np.ndarray  # (records, features)
    expected_value: float
    output: np.ndarray  # the explained model output per record (in output_space)
    additivity_max_error: float
    additivity_ok: bool
    agg_method: str = "mean_abs"

    def global_values(self) -> dict[str, float]:
        return dict(zip(self.feature_names, map(float, aggregate(self.local, self.agg_method))))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "output_space": self.output_space, "agg_method": self.agg_method,
                "expected_value": self.expected_value, "global_shap_values": self.global_values(),
                "records": int(self.local.shape[0]), "additivity_max_error": self.additivity_max_error,
                "additivity_ok": self.additivity_ok}


def aggregate(local: np.ndarray, agg_method: str = "mean_abs") -> np.ndarray:
    """Clarify's global SHAP: mean of |phi| (default), median of phi, or mean of phi^2 per feature."""
    if agg_method == "mean_abs":
        return np.abs(local).mean(axis=0)
    if agg_method == "median":
        return np.median(local, axis=0)
    if agg_method == "mean_sq":
        return (local ** 2).mean(axis=0)
    raise ConfigError(f"unknown agg_method {agg_method!r}", key="methods.shap.agg_method",
                      fix=f"Use one of {list(AGG_METHODS)}.")


def check_additivity(local: np.ndarray, expected: float, output: np.ndarray, tol: float, on_error: str,
                      what: str) -> tuple[float, bool]:
    err = float(np.max(np.abs(local.sum(axis=1) + expected - output))) if len(output) else 0.0
    ok = err <= tol * max(1.0, float(np.max(np.abs(output))) if len(output) else 1.0)
    if not ok and on_error == "raise":
        raise AdditivityError(f"{what}: local SHAP values + expected value differ from the model output by up to "
                              f"{err:.3g} (tolerance {tol:g})",
                              fix="Check that the explained data is encoded as the model expects; for KernelSHAP "
                                  "raise num_samples.")
    return err, ok


# =========================================================================== TreeSHAP (XGBoost)
def tree_shap(booster: Any, x: np.ndarray, *, feature_names: Sequence[str] | None = None, agg_method: str = "mean_abs",
              tol: float = 1e-3, on_additivity_error: str = "raise", chunk_rows: int = 50_000) -> ExplainResult:
    """Exact path-dependent TreeSHAP in margin (log-odds) space via XGBoost's ``pred_contribs``."""
    import xgboost as xgb

    names = list(feature_names or booster.feature_names or [f"f{i}" for i in range(x.shape[1])])
    parts, margins = [], []
    for start in range(0, len(x), chunk_rows):
        dm = xgb.DMatrix(x[start:start + chunk_rows], feature_names=booster.feature_names,
                         feature_types=booster.feature_types, missing=np.nan)
        parts.append(booster.predict(dm, pred_contribs=True, validate_features=False))
        margins.append(booster.predict(dm, output_margin=True, validate_features=False))
    contribs = np.concatenate(parts) if parts else np.zeros((0, len(names) + 1), dtype=np.float32)
    margin = np.concatenate(margins).astype(np.float64) if margins else np.zeros(0)
    if contribs.ndim != 2:
        raise ConfigError("TreeSHAP supports single-output boosters only", key="methods.shap.explainer",
                          fix='Use "explainer": "kernel" for multi-class models.')
    local = contribs[:, :-1].astype(np.float64)
    expected = float(contribs[0, -1]) if len(contribs) else float("nan")
    err, ok = check_additivity(local, expected, margin, tol, on_additivity_error, "TreeSHAP")
    return ExplainResult("tree_shap", "log_odds", tuple(names), local, expected, margin, err, ok, agg_method)


# =========================================================================== KernelSHAP
def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def summarize_baseline(x: np.ndarray, num_clusters: int | None = None, seed: int | None = None):
    """Clarify's generated baseline: k-means centres of (a sample of) the data, snapped to observed values."""
    import shap

    k = min(num_clusters or DEFAULT_NUM_CLUSTERS, len(x))
    if len(x) > KMEANS_MAX_ROWS:
        rng = np.random.default_rng(seed or 0)
        x = x[np.sort(rng.choice(len(x), KMEANS_MAX_ROWS, replace=False))]
    return shap.kmeans(x, k)


def kernel_shap(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, baseline: Any, *,
                feature_names: Sequence[str], num_samples: int | None = None, use_logit: bool = False,
                seed: int | None = None, agg_method: str = "mean_abs", tol: float = 1e-6,
                on_additivity_error: str = "raise") -> ExplainResult:
    """KernelSHAP of ``predict`` (probability of the positive class) against ``baseline``.

    ``baseline``: an (rows, features) array or the output of ``summarize_baseline``.
    """
    import shap

    f = (lambda z: _logit(predict(z))) if use_logit else (lambda z: np.asarray(predict(z), dtype=np.float64))
    explainer = shap.KernelExplainer(f, baseline)
    state = np.random.get_state()
    np.random.seed(0 if seed is None else seed)  # shap samples coalitions with numpy's global generator
    try:
        values = explainer.shap_values(x, nsamples=num_samples or "auto", silent=True)
    finally:
        np.random.set_state(state)
    local = np.asarray(values, dtype=np.float64).reshape(len(x), -1)
    expected = float(np.asarray(explainer.expected_value).reshape(-1)[0])
    output = f(x)
    err, ok = check_additivity(local, expected, output, tol, on_additivity_error, "KernelSHAP")
    space = "log_odds" if use_logit else "probability"
    return ExplainResult("kernel_shap", space, tuple(feature_names), local, expected, output, err, ok, agg_method)


# =========================================================================== tabular codec
@dataclass(frozen=True)
class TabularCodec:
    """Numeric view of a DataFrame for KernelSHAP when the model has no ``encode``: categorical columns
    become codes into a sorted vocabulary, and are decoded back before ``predict_proba(df)`` is called."""

    columns: tuple[str, ...]
    vocab: dict[str, tuple]
    dtypes: dict[str, Any]

    @classmethod
    def fit(cls, df: pd.DataFrame) -> "TabularCodec":
        vocab = {}
        for c in df.columns:
            if not (pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])):
                vocab[c] = tuple(sorted(df[c].dropna().unique().tolist(), key=lambda v: (str(type(v)), v)))
        return cls(tuple(df.columns), vocab, {c: df[c].dtype for c in df.columns})

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(df), len(self.columns)), dtype=np.float64)
        for j, c in enumerate(self.columns):
            if c in self.vocab:
                codes = pd.Categorical(df[c], categories=list(self.vocab[c])).codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def decode(self, x: np.ndarray) -> pd.DataFrame:
        cols = {}
        for j, c in enumerate(self.columns):
            if c in self.vocab:
                values = np.asarray(self.vocab[c] + (None,), dtype=object)
                codes = np.where(np.isnan(x[:, j]), len(self.vocab[c]), np.clip(np.rint(np.nan_to_num(x[:, j])), 0,
                                                                                 max(len(self.vocab[c]) - 1, 0)))
                cols[c] = values[codes.astype(np.int64)]
            else:
                cols[c] = pd.Series(x[:, j]).astype(self.dtypes[c]) if pd.api.types.is_bool_dtype(self.dtypes[c]) \
                    else x[:, j]
        return pd.DataFrame(cols)


def model_inputs(model: Any, df: pd.DataFrame, feature_columns: Sequence[str]) -> tuple[
        np.ndarray, Callable[[np.ndarray], np.ndarray], list[str], Callable[[pd.DataFrame], np.ndarray]]:
    """(x, predict(x) -> probability, feature names, encode(df) -> x) for a model with or without ``encode``."""
    if hasattr(model, "encode") and getattr(model, "feature_names", None):
        names = list(model.feature_names)
        if hasattr(model, "predict_proba_encoded"):
            predict = model.predict_proba_encoded
        else:
            def predict(z: np.ndarray) -> np.ndarray:  # without a codec, hand the model raw values
                return np.asarray(model.predict_proba(pd.DataFrame(z, columns=names)), dtype=np.float64).reshape(-1)
        return model.encode(df), predict, names, model.encode
    codec = TabularCodec.fit(df[list(feature_columns)])

    def predict_decoded(z: np.ndarray) -> np.ndarray:
        proba = np.asarray(model.predict_proba(codec.decode(z)), dtype=np.float64)
        return proba[:, -1] if proba.ndim == 2 else proba

    return codec.encode(df), predict_decoded, list(feature_columns), codec.encode


def explain(model: Any, df: pd.DataFrame, *, feature_columns: Sequence[str], baseline: pd.DataFrame | None = None,
            explainer: str = "auto", num_samples: int | None = None, num_clusters: int | None = None,
            use_logit: bool = False, seed: int | None = None, agg_method: str = "mean_abs",
            on_additivity_error: str = "raise") -> ExplainResult:
    """Explain every row of ``df``: TreeSHAP when the model has an XGBoost ``booster`` and ``explainer`` is
    auto/tree, else KernelSHAP (``baseline`` rows, or a k-means summary of ``df``)."""
    aggregate(np.zeros((1, 1)), agg_method)  # validates agg_method early
    booster = getattr(model, "booster", None)
    if explainer == "tree" and booster is None:
        raise ConfigError("explainer 'tree' needs an XGBoost model", key="methods.shap.explainer",
                          fix='Use "explainer": "auto" or "kernel" for this model.')
    x, predict, names, encode = model_inputs(model, df, feature_columns)
    if booster is not None and explainer in ("auto", "tree") and hasattr(model, "encode"):
        return tree_shap(booster, x.astype(np.float32), feature_names=names, agg_method=agg_method,
                         on_additivity_error=on_additivity_error)
    if baseline is not None and len(baseline):
        base = encode(baseline)
    else:
        base = summarize_baseline(x, num_clusters, seed)
    return kernel_shap(predict, x, base, feature_names=names, num_samples=num_samples, use_logit=use_logit,
                       seed=seed, agg_method=agg_method, on_additivity_error=on_additivity_error)
