"""The training job's held-out metrics in Model Monitor's model-quality format.

The training job writes ``model_quality.json`` (the statistics a model-quality monitoring job would
produce for the same rows) and ``model_quality_constraints.json`` (the suggested constraints), so the
training evaluation doubles as the model-quality baseline. Both are computed by the one
implementation in ``airsage.monitor.model_quality`` (formats, standard-deviation definition and the
constraint rule are documented there); this module only fixes the training job's choices:
an evaluation time stamp always, and constraints ``max(3 * standard_deviation, 0.05)`` from the
held-out value (a held-out set is smaller than a night of traffic: a wider margin).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from airsage.monitor.model_quality import (HIGHER_IS_BETTER, LOWER_IS_BETTER, MIN_ROWS_FOR_STD, N_SUBSAMPLES,
                                           SUBSAMPLE_SHARE, binary_classification_metrics, confusion_counts, f_beta,
                                           suggest_model_quality_constraints)

TRAINING_N_STD = 3.0
TRAINING_TOLERANCE = 0.05

__all__ = ["HIGHER_IS_BETTER", "LOWER_IS_BETTER", "MIN_ROWS_FOR_STD", "N_SUBSAMPLES", "SUBSAMPLE_SHARE",
           "confusion_counts", "f_beta", "model_quality_metrics", "suggest_constraints"]


def model_quality_metrics(y_true, scores, threshold: float = 0.5, *, seed: int = 0,
                          max_curve_points: int = 101, evaluation_time: str | None = None) -> dict[str, Any]:
    """Model Monitor's model-quality statistics (binary classification) for held-out rows."""
    when = evaluation_time or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return binary_classification_metrics(y_true, scores, threshold=threshold, seed=seed,
                                         max_curve_points=max_curve_points, evaluation_time=when)


def suggest_constraints(statistics: dict[str, Any], *, tolerance: float = TRAINING_TOLERANCE,
                        metrics: tuple[str, ...] = HIGHER_IS_BETTER + LOWER_IS_BETTER) -> dict[str, Any]:
    """The suggested model-quality constraints of the training job (see the module docstring)."""
    return suggest_model_quality_constraints(statistics, names=metrics, n_std=TRAINING_N_STD, min_slack=tolerance)
