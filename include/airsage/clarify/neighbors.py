"""Exact k-nearest-neighbour majority vote for Clarify's flip test (FT).

smclarify fits ``KNeighborsClassifier(k, uniform weights, Minkowski p=2)`` on group *a*. With more than
15 features scikit-learn picks brute force, which is O(n_a * n_d * features): ~70 s at 300k rows here.

This module gives the same exact neighbours faster when it can:

* small problems (``n_a * n_d <= SMALL_PAIRS``), invalid inputs (NaN, no feature): scikit-learn itself,
  configured exactly as smclarify does (same values, same error messages);
* otherwise a k-d tree (``scipy.spatial.cKDTree``, exact Euclidean distances) when a timed sample says
  it beats brute force (tabular data whose distances are dominated by a few wide columns: 5-30x), else
  scikit-learn's brute force. Query rows with an exact tie at the k-th distance are handed to
  scikit-learn (configured as smclarify), since which tied point wins is an implementation detail.

Both paths are exact nearest-neighbour searches; they can differ from scikit-learn's brute force only
when two distances differ by less than its rounding error (it uses ||x||^2 - 2x.y + ||y||^2).
"""
from __future__ import annotations

import time

import numpy as np

SMALL_PAIRS = 20_000_000
SAMPLE_QUERIES = 256


class _Undefined(ValueError):
    pass


def _sklearn_knn(k: int):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=k, weights="uniform", algorithm="auto", leaf_size=30, p=2,
                                metric="minkowski", metric_params=None, n_jobs=None)


def sklearn_majority(xa: np.ndarray, ya: np.ndarray, xd: np.ndarray, k: int, algorithm: str = "auto") -> np.ndarray:
    """Exactly smclarify's call (scikit-learn picks the algorithm unless told)."""
    knn = _sklearn_knn(k)
    if algorithm != "auto":
        knn.set_params(algorithm=algorithm)
    knn.fit(xa, ya)
    return np.asarray(knn.predict(xd), dtype=bool)


def _resolve_ties(xa: np.ndarray, ya: np.ndarray, xd: np.ndarray, idx: np.ndarray, dist: np.ndarray,
                  k: int) -> np.ndarray:
    """Rows whose k-th and (k+1)-th distances tie exactly: which of the tied points is chosen is an
    implementation detail of the search, so ask scikit-learn (configured as smclarify) for those rows."""
    tied = np.flatnonzero(dist[:, k - 1] == dist[:, k])
    out = idx[:, :k].copy()
    if len(tied):
        knn = _sklearn_knn(k).fit(xa, ya)
        out[tied] = knn.kneighbors(xd[tied], return_distance=False)
    return out


def tree_neighbours(xa: np.ndarray, ya: np.ndarray, xd: np.ndarray, k: int, tree=None) -> np.ndarray:
    """Indices (into xa) of the k exact nearest neighbours of every row of xd."""
    from scipy.spatial import cKDTree

    tree = tree if tree is not None else cKDTree(xa)
    kk = min(k + 1, len(xa))
    dist, idx = tree.query(xd, k=kk, workers=-1)
    dist, idx = dist.reshape(len(xd), kk), idx.reshape(len(xd), kk)
    if kk == k:  # no (k+1)-th neighbour exists: nothing can tie beyond k
        return idx
    return _resolve_ties(xa, ya, xd, idx, dist, k)


def _vote(ya: np.ndarray, neighbours: np.ndarray, k: int) -> np.ndarray:
    """Majority of the neighbours' labels (k is odd, so binary votes never tie)."""
    classes = np.unique(ya)
    if len(classes) == 1:
        return np.full(len(neighbours), bool(classes[0]))
    return ya[neighbours].sum(axis=1) * 2 > k


def _choose(xa: np.ndarray, ya: np.ndarray, xd: np.ndarray, k: int, tree) -> str:
    """'tree' or 'brute', by timing both on a sample of query rows."""
    rng = np.random.default_rng(0)
    sample = xd[rng.choice(len(xd), size=min(SAMPLE_QUERIES, len(xd)), replace=False)]
    t0 = time.perf_counter()
    tree.query(sample, k=k + 1, workers=-1)
    t_tree = time.perf_counter() - t0
    knn = _sklearn_knn(k).set_params(algorithm="brute").fit(xa, ya)
    t0 = time.perf_counter()
    knn.kneighbors(sample, return_distance=False)
    t_brute = time.perf_counter() - t0
    return "tree" if t_tree < t_brute else "brute"


def knn_majority(xa: np.ndarray, ya: np.ndarray, xd: np.ndarray, k: int, *, method: str = "auto") -> np.ndarray:
    """k-NN prediction (majority of the k nearest a-rows' labels) for every d-row; raises ValueError
    with scikit-learn's message on invalid input. ``method``: auto | sklearn | tree | brute."""
    ya = np.asarray(ya, dtype=bool)
    valid = xa.ndim == 2 and xa.shape[1] > 0 and np.isfinite(xa).all() and np.isfinite(xd).all()
    if method == "sklearn" or not valid or (method == "auto" and len(xa) * len(xd) <= SMALL_PAIRS):
        return sklearn_majority(xa, ya, xd, k)
    if method == "brute":
        return sklearn_majority(xa, ya, xd, k, algorithm="brute")
    from scipy.spatial import cKDTree

    tree = cKDTree(xa)
    if method == "auto" and _choose(xa, ya, xd, k, tree) == "brute":
        return sklearn_majority(xa, ya, xd, k, algorithm="brute")
    return _vote(ya, tree_neighbours(xa, ya, xd, k, tree), k)
