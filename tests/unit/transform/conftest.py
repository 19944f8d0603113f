"""Shared fixtures: a tiny exact model (no xgboost) whose scores are easy to compute by hand."""
from __future__ import annotations

import numpy as np
import pytest

from airsage.model import ModelBundle, vocabularies


class ExactEstimator:
    """P(positive) = x1/8 + x2/16 + code(color)/4, NaN counted as 0: binary fractions, exact in float32."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(np.asarray(x, dtype=np.float64))
        p = x[:, 0] / 8 + x[:, 1] / 16 + x[:, 2] / 4
        return np.column_stack([1 - p, p])


def exact_score(x1: float, x2: float, color: str | None) -> float:
    """The golden value, computed independently of the engine."""
    code = {"blue": 0, "red": 1}.get(color or "", 0)
    return x1 / 8 + x2 / 16 + code / 4


@pytest.fixture
def model() -> ModelBundle:
    return ModelBundle(algorithm="exact", feature_names=["x1", "x2", "color"], categorical={"color": ["blue", "red"]},
                       threshold=0.5, estimator=ExactEstimator())


@pytest.fixture(scope="session")
def bundle() -> ModelBundle:
    """A small real XGBoost bundle on the example data (threshold 0.3)."""
    xgb = pytest.importorskip("xgboost")
    from airsage.data import generator as g

    df = g.generate(2000, seed=3)
    b = ModelBundle("xgboost", g.NUMERIC + g.CATEGORICAL, vocabularies(df, g.CATEGORICAL), threshold=0.3)
    b.booster = xgb.train({"max_depth": 3, "objective": "binary:logistic", "nthread": 1},
                          xgb.DMatrix(b.encode(df), label=df["default"]), 15)
    return b
