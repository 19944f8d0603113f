"""The bias metric formulas of SageMaker Clarify, with smclarify 0.5's exact definitions: pure functions of
the confusion counts of group *a* and group *d* (``Group``), plus CDD over subgroup counts, GE over the
labels and FT (the flip test) over the feature matrix.

The scalar arithmetic follows smclarify's operation for operation (``divide``: 0/0 -> 0, x/0 -> +-inf), so
the values are bit-identical. A metric that cannot be computed raises ``MetricUndefined``; the aggregator
(``airsage.clarify.metrics``) turns that into an error entry.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

INFINITY = float("inf")
FT_DEFAULT_NEIGHBOR, FT_MIN_NEIGHBOR, FT_SAMPLES_COUNT_THRESHOLD = 5, 1, 9


class MetricUndefined(ValueError):
    """A metric cannot be computed on this data; becomes an error entry, never a crash."""


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

