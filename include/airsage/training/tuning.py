"""Hyperparameter tuning for the XGBoost model: random or grid search under a trial budget.

Like a SageMaker HyperparameterTuningJob with ``TrainingJobEarlyStoppingType: Auto``, in one job:

* trials are scored on a validation split carved out of the *training* side by record-id hash (the
  test set is never used to choose hyperparameters);
* every trial uses XGBoost's ``early_stopping_rounds`` on that validation split;
* a hopeless trial is pruned: after ``prune_after_fraction`` of its rounds, a trial whose validation
  metric trails the best trial's at the same round by more than ``prune_margin`` stops ("Pruned");
* the best trial's hyperparameters (with its best round count) are refit on the whole training side
  and evaluated on the test set exactly like a plain training job.

The result is written as ``trials.json`` (one entry per trial: params, metric, status).
"""
from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from airsage.errors import ConfigError
from airsage.training.evaluate import evaluate
from airsage.training.split import test_mask
from airsage.training.train import (PreparedData, TrainingJobConfig, TrainResult, fit_prepared, prepare,
                                    xgboost_params)

DEFAULT_SEARCH_SPACE: dict[str, list[float | int]] = {
    "max_depth": [3, 8],
    "eta": [0.03, 0.3],
    "min_child_weight": [1.0, 10.0],
    "subsample": [0.6, 1.0],
    "colsample_bytree": [0.5, 1.0],
}
INT_PARAMS = {"max_depth", "num_round", "max_bin", "max_leaves"}
# objective -> (XGBoost eval metric used for early stopping and pruning, maximize?)
XGB_METRIC = {"auc": ("auc", True), "pr_auc": ("aucpr", True), "log_loss": ("logloss", False),
              "f1": ("logloss", False)}
MAXIMIZE = {"auc": True, "pr_auc": True, "f1": True, "log_loss": False}
COMPLETED, PRUNED, FAILED = "Completed", "Pruned", "Failed"


@dataclass(frozen=True)
class TuningConfig:
    """The tuning settings a job needs (``uc.training.tuning``, as plain values)."""

    max_trials: int = 8
    objective: str = "auc"
    strategy: str = "random"
    early_stopping_rounds: int = 20
    search_space: dict[str, list[float | int]] = field(default_factory=dict)
    validation_size: float = 0.2
    prune_after_fraction: float = 0.3
    prune_margin: float | None = 0.05
    seed: int | None = None

    @classmethod
    def from_spec(cls, spec) -> "TuningConfig":
        return cls(**{k: v for k, v in spec.model_dump().items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_hyperparameters(cls, hps: dict[str, Any]) -> "TuningConfig":
        raw = hps.get("airsage_tuning") or {}
        raw = json.loads(raw) if isinstance(raw, str) else raw
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


def tuning_hyperparameters(uc, **overrides) -> dict[str, str]:
    """The hyperparameters of a ``tune`` job for a use case (SageMaker's all-strings contract)."""
    cfg = TrainingJobConfig.from_usecase(uc, **overrides)
    tuning = TuningConfig.from_spec(uc.training.tuning)
    return {**cfg.to_hyperparameters(), "airsage_tuning": json.dumps(asdict(tuning))}


@dataclass(frozen=True)
class TrialResult:
    trial: int
    params: dict[str, Any]
    metric: float | None  # validation objective
    status: str  # Completed | Pruned | Failed
    rounds: int = 0  # boosting rounds actually run
    best_iteration: int | None = None
    duration_s: float = 0.0
    detail: str = ""
    curve: list[float] = field(default_factory=list, repr=False)  # validation eval metric per round

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("curve")
        if d["metric"] is not None and math.isnan(d["metric"]):
            d["metric"] = None
        return d


@dataclass(frozen=True)
class TuningResult:
    objective: str
    maximize: bool
    strategy: str
    trials: list[TrialResult]
    best_trial: int
    best_hyperparameters: dict[str, Any]
    result: TrainResult  # the refit best model, evaluated on the test set

    def to_dict(self) -> dict[str, Any]:
        """The content of ``trials.json``."""
        return {"objective": self.objective, "direction": "Maximize" if self.maximize else "Minimize",
                "strategy": self.strategy, "max_trials": len(self.trials), "best_trial": self.best_trial,
                "best_hyperparameters": self.best_hyperparameters,
                "test_evaluation": self.result.evaluation.metrics(),
                "trials": [t.to_dict() for t in self.trials]}


# ----------------------------------------------------------------------------- search space
def _is_int_range(name: str, bounds: list[float | int]) -> bool:
    return name in INT_PARAMS or all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)


def _check_space(space: dict[str, list[float | int]]) -> None:
    for name, bounds in space.items():
        if len(bounds) < 2:
            raise ConfigError(f"search_space.{name} needs [low, high], got {bounds}",
                              key=f"training.tuning.search_space.{name}", fix="Give two bounds, e.g. [3, 8].")
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise ConfigError(f"search_space.{name}: low {bounds[0]} > high {bounds[1]}",
                              key=f"training.tuning.search_space.{name}", fix="Write [low, high].")


def _sample(name: str, bounds: list[float | int], rng: np.random.Generator) -> float | int:
    if len(bounds) > 2:  # explicit levels: pick one
        return bounds[int(rng.integers(len(bounds)))]
    lo, hi = bounds
    if _is_int_range(name, bounds):
        return int(rng.integers(int(lo), int(hi) + 1))
    if lo > 0 and hi / lo >= 10:
        return float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.6g}")
    return float(f"{rng.uniform(lo, hi):.6g}")


def _levels(name: str, bounds: list[float | int], k: int) -> list[float | int]:
    if len(bounds) > 2:
        return list(bounds)
    lo, hi = bounds
    if _is_int_range(name, bounds):
        return sorted({int(round(v)) for v in np.linspace(int(lo), int(hi), k)})
    return [float(f"{v:.6g}") for v in np.linspace(lo, hi, k)]


def candidates(space: dict[str, list[float | int]], strategy: str, max_trials: int, seed: int) -> list[dict[str, Any]]:
    """At most ``max_trials`` hyperparameter sets (deterministic for a seed)."""
    space = space or DEFAULT_SEARCH_SPACE
    _check_space(space)
    names = sorted(space)
    if strategy == "random":
        rng = np.random.default_rng(seed)
        return [{n: _sample(n, space[n], rng) for n in names} for _ in range(max_trials)]
    if strategy != "grid":
        raise ConfigError(f"unknown tuning strategy {strategy!r}", key="training.tuning.strategy",
                          fix="Use random or grid.")
    k = max(2, int(math.floor(max_trials ** (1 / len(names)) + 1e-9)))
    grid = [dict(zip(names, combo)) for combo in itertools.product(*(_levels(n, space[n], k) for n in names))]
    if len(grid) > max_trials:  # spread the budget over the whole grid, not its first corner
        grid = [grid[i] for i in np.unique(np.linspace(0, len(grid) - 1, max_trials).round().astype(int))]
    return grid


# ----------------------------------------------------------------------------- trials
def _objective_value(objective: str, y: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    return float(getattr(evaluate(y, scores, threshold), objective))


def _run_trial(i: int, params: dict[str, Any], data: PreparedData, fit_mask: np.ndarray, cfg: TrainingJobConfig,
               tuning: TuningConfig, best_curve: list[float] | None) -> TrialResult:
    import xgboost as xgb

    start = time.monotonic()
    metric_name, maximize = XGB_METRIC[tuning.objective]
    trial_cfg = replace(cfg, hyperparameters={**cfg.hyperparameters, **params})
    (x_all, y_all) = data.train
    x_tr, y_tr, x_va, y_va = x_all[fit_mask], y_all[fit_mask], x_all[~fit_mask], y_all[~fit_mask]
    booster_params, num_round, _ = xgboost_params(trial_cfg, y_tr)
    booster_params["eval_metric"] = [metric_name]
    check_round = max(1, int(math.ceil(tuning.prune_after_fraction * num_round)))
    reference = None
    if best_curve and tuning.prune_margin is not None:
        reference = best_curve[min(check_round, len(best_curve)) - 1]

    class Prune(xgb.callback.TrainingCallback):
        pruned = False

        def after_iteration(self, model, epoch, evals_log):  # True stops training
            if reference is None or epoch + 1 != check_round:
                return False
            v = evals_log["validation"][metric_name][-1]
            behind = (reference - v) if maximize else (v - reference)
            Prune.pruned = behind > tuning.prune_margin
            return Prune.pruned

    names = data.bundle.feature_names
    dtr = xgb.DMatrix(x_tr, label=y_tr, feature_names=names, missing=np.nan)
    dva = xgb.DMatrix(x_va, label=y_va, feature_names=names, missing=np.nan)
    history: dict[str, Any] = {}
    booster = xgb.train(booster_params, dtr, num_round, evals=[(dva, "validation")], evals_result=history,
                        verbose_eval=False, callbacks=[Prune()],
                        early_stopping_rounds=tuning.early_stopping_rounds)
    curve = [float(v) for v in history["validation"][metric_name]]
    if Prune.pruned:
        return TrialResult(i, params, None, PRUNED, len(curve), None, time.monotonic() - start,
                           f"validation {metric_name} {curve[-1]:.4f} after {len(curve)} rounds trails the best "
                           f"trial's {reference:.4f} by more than {tuning.prune_margin}", curve)
    best_it = int(getattr(booster, "best_iteration", len(curve) - 1))
    scores = booster.inplace_predict(x_va, iteration_range=(0, best_it + 1))
    value = _objective_value(tuning.objective, y_va, np.asarray(scores, dtype=float), cfg.threshold)
    return TrialResult(i, params, value, COMPLETED, len(curve), best_it, time.monotonic() - start,
                       f"validation {tuning.objective} {value:.4f} at round {best_it + 1}", curve)


def run_tuning(df: pd.DataFrame, cfg: TrainingJobConfig, tuning: TuningConfig) -> TuningResult:
    """Search hyperparameters for ``cfg`` (an XGBoost config), refit the best, evaluate it on the test set."""
    if cfg.algorithm != "xgboost":
        raise ConfigError(f"tuning supports the xgboost algorithm, not {cfg.algorithm!r}",
                          key="training.tuning.enabled", fix="Set training.algorithm: xgboost or disable tuning.")
    if tuning.objective not in MAXIMIZE:
        raise ConfigError(f"unknown tuning objective {tuning.objective!r}", key="training.tuning.objective",
                          fix=f"Use one of {sorted(MAXIMIZE)}.")
    data = prepare(df, cfg)
    train_ids = data.frame.loc[~data.is_test, cfg.record_id]
    seed = cfg.seed if tuning.seed is None else tuning.seed
    fit_mask = ~test_mask(train_ids, tuning.validation_size, seed + 1)
    y_tr = data.train[1]
    if len(np.unique(y_tr[fit_mask])) < 2 or len(np.unique(y_tr[~fit_mask])) < 2:
        from airsage.errors import DataValidationError

        raise DataValidationError("training dataset", ["the tuning validation split has one class only"],
                                  fix="Tune on more labelled data or raise training.tuning.validation_size.")
    maximize = MAXIMIZE[tuning.objective]
    trials: list[TrialResult] = []
    best: TrialResult | None = None
    for i, params in enumerate(candidates(tuning.search_space, tuning.strategy, tuning.max_trials, seed)):
        try:
            t = _run_trial(i, params, data, fit_mask, cfg, tuning, best.curve if best else None)
        except Exception as exc:  # noqa: BLE001 - a bad combination fails its trial, not the search
            t = TrialResult(i, params, None, FAILED, detail=f"{type(exc).__name__}: {exc}")
        trials.append(t)
        if t.status == COMPLETED and not math.isnan(t.metric) and (
                best is None or (t.metric > best.metric if maximize else t.metric < best.metric)):
            best = t
    if best is None:
        raise ConfigError("every tuning trial failed: " + "; ".join(t.detail for t in trials[:3]),
                          key="training.tuning.search_space", fix="Check the search space bounds against XGBoost's "
                                                                  "parameter ranges.")
    hps = {k: v for k, v in {**cfg.hyperparameters, **best.params}.items() if k != "early_stopping_rounds"}
    hps["num_round"] = int(best.best_iteration) + 1
    result = fit_prepared(data, replace(cfg, hyperparameters=hps))
    return TuningResult(tuning.objective, maximize, tuning.strategy, trials, best.trial, hps, result)
