"""Fit a model on a dataset version and evaluate it on the deterministic held-out split."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from airsage.errors import ConfigError, DataValidationError
from airsage.model import ModelBundle, vocabularies
from airsage.training.evaluate import EvaluationReport, evaluate
from airsage.training.split import test_mask

XGB_DEFAULTS = {"max_depth": 6, "eta": 0.1, "num_round": 200, "subsample": 1.0, "colsample_bytree": 1.0,
                "min_child_weight": 1.0, "tree_method": "hist"}


@dataclass(frozen=True)
class TrainingJobConfig:
    """Everything the training job needs; travels as SageMaker hyperparameters (JSON strings)."""

    features: list[str]
    categorical: list[str]
    label: str
    positive_labels: list[Any]
    record_id: str
    algorithm: str = "xgboost"
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    test_size: float = 0.2
    seed: int = 7
    threshold: float = 0.5
    handle_imbalance: bool = True
    passthrough: list[str] = field(default_factory=list)
    dataset_version: str | None = None
    baseline_algorithm: str = "logistic_regression"  # trained in the same job, reported beside; "none": skip

    @classmethod
    def from_usecase(cls, uc, **overrides) -> "TrainingJobConfig":
        s, t = uc.schema_, uc.training
        kw = dict(features=s.feature_names, categorical=s.categorical_features, label=s.label,
                  positive_labels=list(s.positive_labels), record_id=s.record_id, algorithm=t.algorithm,
                  hyperparameters=dict(t.hyperparameters), test_size=t.test_size, seed=t.seed,
                  threshold=t.decision_threshold, handle_imbalance=t.handle_imbalance,
                  baseline_algorithm=t.baseline_algorithm,
                  passthrough=list(s.passthrough) + [f.name for f in s.facets if f.name not in s.feature_names
                                                     and f.name not in s.passthrough])
        kw.update(overrides)
        return cls(**kw)

    def to_hyperparameters(self) -> dict[str, str]:
        import json

        return {"airsage_config": json.dumps(self.__dict__, default=str)}

    @classmethod
    def from_hyperparameters(cls, hps: dict[str, Any]) -> "TrainingJobConfig":
        import json

        cfg = hps["airsage_config"]
        return cls(**(json.loads(cfg) if isinstance(cfg, str) else cfg))


@dataclass(frozen=True)
class TrainResult:
    bundle: ModelBundle
    evaluation: EvaluationReport
    eval_frame: pd.DataFrame  # held-out rows: id, label, score, predicted label, features, passthrough
    train_rows: int
    best_iteration: int | None = None
    baseline_algorithm: str | None = None  # the simple model trained beside the main one
    baseline_evaluation: EvaluationReport | None = None  # on the same held-out rows


@dataclass(frozen=True)
class PreparedData:
    """A dataset encoded once, split deterministically: what every fit (and every tuning trial) reads."""

    bundle: ModelBundle  # vocabularies and feature order set; no model yet
    x: np.ndarray
    y: np.ndarray
    is_test: np.ndarray
    frame: pd.DataFrame

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[~self.is_test], self.y[~self.is_test]

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[self.is_test], self.y[self.is_test]


def binary_target(values: pd.Series, positive_labels: list[Any]) -> np.ndarray:
    pos = {str(v) for v in positive_labels}
    return values.astype(str).isin(pos).to_numpy().astype(np.int64)


def prepare(df: pd.DataFrame, cfg: TrainingJobConfig) -> PreparedData:
    """Validate the columns, encode the features with the training-side vocabularies and split."""
    missing = [c for c in [cfg.record_id, cfg.label, *cfg.features] if c not in df.columns]
    if missing:
        raise DataValidationError("training dataset", [f"missing column(s) {missing}"],
                                  fix="Train on a dataset published by the label import for this use case.")
    y = binary_target(df[cfg.label], cfg.positive_labels)
    is_test = test_mask(df[cfg.record_id], cfg.test_size, cfg.seed)
    if is_test.all() or (~is_test).all() or len(np.unique(y[~is_test])) < 2:
        raise DataValidationError("training dataset", ["the split left a side empty or with one class"],
                                  fix="Import more labelled data (both classes) before training.")
    bundle = ModelBundle(algorithm=cfg.algorithm, feature_names=list(cfg.features),
                         categorical=vocabularies(df.loc[~is_test], cfg.categorical), threshold=cfg.threshold,
                         label=cfg.label, positive_label=cfg.positive_labels[0],
                         metadata={"dataset_version": cfg.dataset_version, "trained_at": dt.datetime.now(dt.UTC).isoformat(),
                                   "hyperparameters": cfg.hyperparameters, "test_size": cfg.test_size, "seed": cfg.seed})
    return PreparedData(bundle, bundle.encode(df), y, is_test, df)


def fit(df: pd.DataFrame, cfg: TrainingJobConfig) -> TrainResult:
    return fit_prepared(prepare(df, cfg), cfg)


def fit_prepared(data: PreparedData, cfg: TrainingJobConfig) -> TrainResult:
    """Fit the main model (and the baseline) on the training side; evaluate both on the test side."""
    import copy

    bundle = copy.copy(data.bundle)
    bundle.metadata = {**data.bundle.metadata, "hyperparameters": cfg.hyperparameters}
    (x_tr, y_tr), (x_te, y_te) = data.train, data.test
    best_iteration = None
    if cfg.algorithm == "xgboost":
        bundle.booster, best_iteration = _fit_xgboost(x_tr, y_tr, x_te, y_te, cfg, bundle.feature_names)
    elif cfg.algorithm == "logistic_regression":
        bundle.estimator = _fit_logreg(x_tr, y_tr, cfg, _categorical_columns(bundle))
    else:
        raise ConfigError(f"unknown algorithm {cfg.algorithm!r}", key="training.algorithm",
                          fix="Use xgboost or logistic_regression.")
    scores = bundle.predict_proba_encoded(x_te)
    evaluation = evaluate(y_te, scores, cfg.threshold)
    baseline_algorithm, baseline_evaluation = None, None
    if cfg.baseline_algorithm not in (None, "none", cfg.algorithm):
        if cfg.baseline_algorithm != "logistic_regression":
            raise ConfigError(f"unknown baseline algorithm {cfg.baseline_algorithm!r}", key="training.baseline_algorithm",
                              fix="Use logistic_regression or none.")
        baseline = _fit_logreg(x_tr, y_tr, replace(cfg, hyperparameters={}), _categorical_columns(bundle))
        baseline_algorithm = cfg.baseline_algorithm
        baseline_evaluation = evaluate(y_te, baseline.predict_proba(x_te)[:, 1], cfg.threshold)
    df = data.frame
    keep = [c for c in dict.fromkeys([cfg.record_id, cfg.label, *cfg.passthrough, *cfg.features]) if c in df.columns]
    eval_frame = df.loc[data.is_test, keep].reset_index(drop=True)
    eval_frame["score"] = scores
    eval_frame["predicted_label"] = bundle.predict_label(scores)
    bundle.metadata.update({"train_rows": int(len(y_tr)), "test_rows": int(len(y_te)),
                            "best_iteration": best_iteration})
    return TrainResult(bundle, evaluation, eval_frame, int(len(y_tr)), best_iteration,
                       baseline_algorithm, baseline_evaluation)


def _categorical_columns(bundle: ModelBundle) -> list[int]:
    return [j for j, name in enumerate(bundle.feature_names) if name in bundle.categorical]


def imbalance_weight(y: np.ndarray) -> float:
    """XGBoost's ``scale_pos_weight`` for a training label vector: the square root of negatives per
    positive. Damped (not the full ratio) so that scores stay close to calibrated probabilities."""
    pos = max(int(y.sum()), 1)
    return float((len(y) - pos) / pos) ** 0.5


def xgboost_params(cfg: TrainingJobConfig, y_tr: np.ndarray) -> tuple[dict[str, Any], int, int | None]:
    """(booster params, num_round, early_stopping_rounds) from the defaults and the hyperparameters."""
    hp = {**XGB_DEFAULTS, **cfg.hyperparameters}
    num_round = int(hp.pop("num_round"))
    early = hp.pop("early_stopping_rounds", None)
    for k in ("max_depth", "max_bin", "max_leaves"):
        if k in hp:
            hp[k] = int(hp[k])
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "seed": cfg.seed,
              "nthread": 0, **hp}
    if cfg.handle_imbalance and "scale_pos_weight" not in hp:
        params["scale_pos_weight"] = imbalance_weight(y_tr)
    return params, num_round, int(early) if early else None


def _fit_xgboost(x_tr, y_tr, x_te, y_te, cfg: TrainingJobConfig, names):
    import xgboost as xgb

    params, num_round, early = xgboost_params(cfg, y_tr)
    dtr = xgb.DMatrix(x_tr, label=y_tr, feature_names=names, missing=np.nan)
    dte = xgb.DMatrix(x_te, label=y_te, feature_names=names, missing=np.nan)
    booster = xgb.train(params, dtr, num_round, evals=[(dte, "validation")], verbose_eval=False,
                        early_stopping_rounds=early)
    best = getattr(booster, "best_iteration", None) if early else None
    if best is not None:
        booster = booster[: best + 1]
    return booster, best


def _fit_logreg(x_tr, y_tr, cfg: TrainingJobConfig, categorical_columns: list[int] | None = None):
    """Logistic regression on the bundle encoding: numeric columns median-imputed and scaled,
    categorical codes one-hot encoded (an unseen or missing category is all zeros); balanced class
    weights when imbalance handling is on."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat = list(categorical_columns or [])
    num = [j for j in range(x_tr.shape[1]) if j not in cat]
    parts = [("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), num)]
    if cat:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), cat))
    c = float(cfg.hyperparameters.get("C", 1.0))
    return make_pipeline(ColumnTransformer(parts),
                         LogisticRegression(C=c, max_iter=1000,
                                            class_weight="balanced" if cfg.handle_imbalance else None)).fit(x_tr, y_tr)
