"""Paired DeLong test of the difference of two correlated ROC AUCs (same rows, two scores).

DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of two AUCs measured on the same rows
from their *structural components*: for positive ``i`` and negative ``j`` with kernel
``psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise``,

* ``V10_i = mean_j psi(X_i, Y_j)`` (one per positive), ``V01_j = mean_i psi(X_i, Y_j)`` (one per negative),
* ``S = S10 / m + S01 / n`` with ``S10``, ``S01`` the sample covariance matrices (ddof 1) of the
  components over the ``m`` positives and ``n`` negatives,
* ``Var(AUC2 - AUC1) = S11 + S22 - 2 S12``.

The components come from midranks in O(N log N) (Sun & Xu 2014, "Fast implementation of DeLong's
algorithm"): with ``Z`` the midranks of a score over all rows, ``X`` over the positives only and ``Y``
over the negatives only, ``V10 = (Z_pos - X) / n`` and ``V01 = 1 - (Z_neg - Y) / m``. Midranks give tied
scores the 1/2 of the kernel, so ties are exact. The two-sided p-value and the 95 % interval use the
normal approximation (``math.erfc``; no scipy).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

Z_975 = 1.959963984540054  # the standard normal 97.5 % quantile


class DeLongResult(NamedTuple):
    """``difference = auc2 - auc1``; ``z = difference / se``; ``ci95`` is the interval of the difference."""

    auc1: float
    auc2: float
    z: float
    p_value: float
    ci95: tuple[float, float]


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with tied values sharing the mean of their ranks."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def structural_components(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(auc, V10 per positive, V01 per negative)`` of one score (Sun & Xu's midrank formulas)."""
    t = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = s[t], s[~t]
    m, n = len(pos), len(neg)
    z = midranks(np.concatenate([pos, neg]))
    v10 = (z[:m] - midranks(pos)) / n
    v01 = 1.0 - (z[m:] - midranks(neg)) / m
    auc = float((z[:m].sum() - m * (m + 1) / 2.0) / (m * n))
    return auc, v10, v01


def delong_test(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> DeLongResult:
    """Paired DeLong test of ``AUC(s2) - AUC(s1)`` on the same rows (``y``: 0/1 or bool, 1 = positive).

    Raises ``ValueError`` when either class has fewer than 2 rows (the covariance is undefined) or the
    arrays differ in length or hold non-finite scores. A zero variance (e.g. identical scores) gives
    ``z = 0, p = 1`` for a zero difference and ``z = +-inf, p = 0`` otherwise.
    """
    t = np.asarray(y).astype(bool)
    a, b = np.asarray(s1, dtype=np.float64), np.asarray(s2, dtype=np.float64)
    if not (len(t) == len(a) == len(b)):
        raise ValueError(f"y, s1 and s2 differ in length: {len(t)}, {len(a)}, {len(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("the scores hold NaN or infinite values")
    m = int(t.sum())
    n = len(t) - m
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positives and 2 negatives, got {m} and {n}")
    auc1, v10_1, v01_1 = structural_components(t, a)
    auc2, v10_2, v01_2 = structural_components(t, b)
    s10 = np.cov(np.vstack([v10_1, v10_2]), ddof=1)
    s01 = np.cov(np.vstack([v01_1, v01_2]), ddof=1)
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = auc2 - auc1
    if not var > 0.0:  # also catches a tiny negative variance from rounding
        if diff == 0.0:
            return DeLongResult(auc1, auc2, 0.0, 1.0, (0.0, 0.0))
        return DeLongResult(auc1, auc2, math.copysign(math.inf, diff), 0.0, (diff, diff))
    se = math.sqrt(var)
    z = diff / se
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return DeLongResult(auc1, auc2, z, p, (diff - Z_975 * se, diff + Z_975 * se))
