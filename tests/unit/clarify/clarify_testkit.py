"""Shared helpers for the clarify tests: smclarify calls (the reference) and a tiny XGBoost model."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd


def smclarify_report(df, facet, values, label, positive, stage, predicted=None, group=None, metrics=("all",)):
    """smclarify 0.5's bias_report; string columns cast to object (smclarify fails on pandas 3 ``str``).
    ``group``: a column name or a Series (a Series is not part of the frame, so not an FT feature)."""
    from smclarify.bias import report as R

    logging.getLogger("smclarify").setLevel(logging.CRITICAL)
    df = df.copy()
    for c in df.columns:
        if isinstance(df[c].dtype, pd.StringDtype) or df[c].dtype.name == "str":
            df[c] = df[c].astype(object)
    st = R.StageType.PRE_TRAINING if stage.startswith("pre") else R.StageType.POST_TRAINING
    pc = R.LabelColumn(predicted, df[predicted], list(positive)) if predicted else None
    return R.bias_report(df, R.FacetColumn(facet, list(values) if values else None),
                         R.LabelColumn(label, df[label], list(positive)), st, pc, metrics=list(metrics),
                         group_variable=df[group] if isinstance(group, str) else group)


def mixed_frame(n: int, seed: int) -> pd.DataFrame:
    """Numeric features, categorical facets, a continuous facet, a group variable, labels and scores."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "f1": rng.normal(size=n), "f2": rng.integers(0, 50, n).astype(float), "age": rng.integers(18, 80, n),
        "cnt": rng.integers(0, 6, n),
        "cat": rng.choice(list("pqrs"), n, p=[0.4, 0.3, 0.2, 0.1]),
        "grp": rng.choice(["u", "v", "w"], n),
    })
    df = df.astype({"cat": object, "grp": object})
    logit = 0.8 * df.f1 + 0.6 * (df.cat == "p") - 0.02 * (df.age - 40)
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df["score"] = 1 / (1 + np.exp(-(logit + rng.normal(0, 1, n))))
    df["yhat"] = (df.score > 0.5).astype(int)
    return df


class TinyModel:
    """The model protocol run_analysis expects: predict_proba(df), booster, encode(df), feature_names."""

    def __init__(self, df: pd.DataFrame, features: list[str], label: str, rounds: int = 20, depth: int = 3):
        import xgboost as xgb

        self.feature_names = list(features)
        self.booster = xgb.train({"max_depth": depth, "objective": "binary:logistic", "nthread": 1,
                                  "eta": 0.3, "seed": 0}, xgb.DMatrix(self.encode(df), label=df[label]), rounds)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        return df[self.feature_names].to_numpy(dtype=np.float32)

    def predict_proba_encoded(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(np.asarray(x, dtype=np.float32)), dtype=np.float64)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        return self.predict_proba_encoded(self.encode(df))


class ProbaOnly:
    """A model exposing only predict_proba(df) (a logistic function of the numeric columns and a category)."""

    def __init__(self, weights: dict[str, float], category: tuple[str, str, float] | None = None):
        self.weights, self.category = weights, category

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        z = sum(w * df[c].astype(float).to_numpy() for c, w in self.weights.items())
        if self.category:
            col, value, w = self.category
            z = z + w * (df[col].to_numpy() == value)
        return 1 / (1 + np.exp(-z))
