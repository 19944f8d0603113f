"""Held-out evaluation: ranking, threshold and calibration metrics for a binary classifier."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class EvaluationReport:
    n: int
    positive_rate: float
    auc: float
    pr_auc: float
    precision: float
    recall: float
    f1: float
    accuracy: float
    log_loss: float
    brier: float
    ece: float  # expected calibration error over 10 equal-width bins
    threshold: float
    confusion_matrix: dict[str, dict[str, int]]  # Model Monitor layout: {actual: {predicted: count}}
    calibration: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def metrics(self) -> dict[str, float]:
        """The scalar metrics (what MLflow logs and the gates read)."""
        return {k: v for k, v in asdict(self).items() if isinstance(v, (int, float)) and k != "threshold"}


def evaluate(y_true, scores, threshold: float = 0.5) -> EvaluationReport:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y_true).astype(int)
    p = np.clip(np.asarray(scores, dtype=float), 1e-7, 1 - 1e-7)
    pred = (p > threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both = len(np.unique(y)) == 2
    bins = np.minimum((p * 10).astype(int), 9)
    calibration, ece = [], 0.0
    for b in range(10):
        m = bins == b
        if m.any():
            mean_p, obs = float(p[m].mean()), float(y[m].mean())
            calibration.append({"bin": b, "count": int(m.sum()), "mean_predicted": mean_p, "observed_rate": obs})
            ece += m.mean() * abs(mean_p - obs)
    return EvaluationReport(
        n=len(y), positive_rate=float(y.mean()) if len(y) else 0.0,
        auc=float(roc_auc_score(y, p)) if both else float("nan"),
        pr_auc=float(average_precision_score(y, p)) if both else float("nan"),
        precision=precision, recall=recall, f1=f1, accuracy=(tp + tn) / len(y) if len(y) else 0.0,
        log_loss=float(log_loss(y, p, labels=[0, 1])), brier=float(brier_score_loss(y, p)), ece=float(ece),
        threshold=threshold,
        confusion_matrix={"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        calibration=calibration,
    )
