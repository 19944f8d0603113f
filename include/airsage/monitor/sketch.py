"""The mergeable quantile summary behind every numeric profile (exact, or with a proven error bound)."""
from __future__ import annotations

import numpy as np

SKETCH_K = 2048          # Deequ KLLSketch.DEFAULT_SKETCH_SIZE


# =========================================================================== quantile summary
class QuantileSummary:
    """A mergeable quantile summary of a stream of sorted chunks, with a proven rank-error bound.

    *Exact mode.* While at most ``k`` distinct values have been seen, the summary is the list of
    distinct values with their counts: every rank (hence every CDF value) is exact.

    *Bounded mode.* Beyond ``k`` distinct values the summary is a set of weighted *blocks*, at most one
    per level (a binary counter over chunks). A new chunk enters at level 0 as its distinct values
    with their counts; two blocks of the same level are merged into one block of the next level.
    A block with more than ``k`` points is *reduced* to ``k`` points of weight ``W / k`` (``W`` its
    total weight): point ``j`` is the first value whose cumulative weight exceeds ``(j + 1/2) W / k``.

    Error bound (proof). Let ``C(x)`` be the block's weight at or below ``x``. Point ``j`` is ``<= x``
    exactly when ``(j + 1/2) W / k < C(x)``, so the reduced block holds ``ceil(C(x) k / W - 1/2)``
    points ``<= x`` (clamped to ``[0, k]``), i.e. weight within ``W / (2k)`` of ``C(x)`` -- for every
    ``x`` at once, ties included. Merging adds no error and the total weight is preserved, so the
    summary's rank ``R^(x)`` differs from the true rank by at most the sum of ``W / (2k)`` over all
    reductions. That sum is tracked exactly (``abs_error``); as each row sits in at most one reduced
    block per level, it is at most ``(L + 2) n / (2k)`` with ``L = log2(number of chunks)`` (the
    ``+2``: the reduction of each chunk and the final reduction to one level), whatever the order of
    the data. Memory: at most ``(L + 1) k`` points. The normalised bound ``abs_error / n`` applies
    to every CDF value read back from the written sketch, hence to the L-infinity distance computed
    from it (the current data's side is exact).
    """

    def __init__(self, k: int = SKETCH_K):
        self.k = int(k)
        self.n = 0
        self.abs_error = 0.0
        self._exact: tuple[np.ndarray, np.ndarray] | None = (np.empty(0), np.empty(0, dtype=np.int64))
        self._blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._points = 0

    @property
    def exact(self) -> bool:
        return self._exact is not None

    def add_sorted(self, xs: np.ndarray) -> None:
        if not len(xs):
            return
        self.n += len(xs)
        v, c = _distinct_counts(xs)
        if self._exact is not None:
            v, c = _merge_counts(*self._exact, v, c)
            if len(v) <= self.k:
                self._exact = (v, c)
                self._points = len(v)
                return
            self._exact = None  # more than k distinct values: the counts become the first block
        self._push(v, c.astype(np.float64), 0)
        self._points = sum(len(b[0]) for b in self._blocks.values())

    def _push(self, v: np.ndarray, w: np.ndarray, level: int) -> None:
        if len(v) > self.k:
            v, w = self._reduce(v, w)
        while level in self._blocks:
            ov, ow = self._blocks.pop(level)
            v, w = np.concatenate([ov, v]), np.concatenate([ow, w])
            order = np.argsort(v, kind="stable")
            v, w = v[order], w[order]
            if len(v) > self.k:
                v, w = self._reduce(v, w)
            level += 1
        self._blocks[level] = (v, w)

    def _reduce(self, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cw = np.cumsum(w)
        total = float(cw[-1])
        targets = (np.arange(self.k) + 0.5) * (total / self.k)
        idx = np.minimum(np.searchsorted(cw, targets, side="right"), len(v) - 1)
        self.abs_error += total / (2 * self.k)
        return v[idx], np.full(self.k, total / self.k)

    def _weighted(self) -> tuple[np.ndarray, np.ndarray]:
        if self._exact is not None:
            return self._exact[0], self._exact[1].astype(np.float64)
        if not self._blocks:
            return np.empty(0), np.empty(0)
        v = np.concatenate([b[0] for b in self._blocks.values()])
        w = np.concatenate([b[1] for b in self._blocks.values()])
        order = np.argsort(v, kind="stable")
        return v[order], w[order]

    def levels(self) -> tuple[list[np.ndarray], float]:
        """The summary as KLL compactor levels (level ``i`` items weigh ``2**i``) and its normalised
        rank-error bound. Exact mode: each distinct value sits on the levels of the set bits of its
        count, so any KLL reader recovers every count exactly (bound 0). Bounded mode: one level of
        ``k`` equal-weight points (a final reduction, counted in the bound)."""
        if not self.n:
            return [], 0.0
        if self._exact is not None:
            v, c = self._exact
            return [v[(c >> i) & 1 == 1] for i in range(int(c.max()).bit_length())], 0.0
        v, w = self._weighted()
        err = self.abs_error
        if len(self._blocks) > 1 or len(v) > self.k or not np.all(w == w[0]):
            cw = np.cumsum(w)
            targets = (np.arange(self.k) + 0.5) * (float(cw[-1]) / self.k)
            v = v[np.minimum(np.searchsorted(cw, targets, side="right"), len(v) - 1)]
            err += float(cw[-1]) / (2 * self.k)
        return [v], err / self.n

    def points(self) -> np.ndarray:
        """Sorted points of equal weight: every value when at most ``k`` were seen, else ``k`` points."""
        if self._exact is not None and self.n <= self.k:
            return np.repeat(*self._exact)
        levels, _ = self.levels() if self._exact is None else ([], 0.0)
        if levels:
            return levels[0]
        v, c = self._exact
        cw = np.cumsum(c)
        targets = (np.arange(self.k) + 0.5) * (self.n / self.k)
        return v[np.minimum(np.searchsorted(cw, targets, side="right"), len(v) - 1)]


def _distinct_counts(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and counts of a sorted array (one pass, no hashing)."""
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    return xs[starts], np.diff(np.r_[starts, len(xs)]).astype(np.int64)


def _merge_counts(v1: np.ndarray, c1: np.ndarray, v2: np.ndarray, c2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(v1):
        return v2, c2
    v, inv = np.unique(np.concatenate([v1, v2]), return_inverse=True)
    return v, np.bincount(inv, weights=np.concatenate([c1, c2]), minlength=len(v)).astype(np.int64)
