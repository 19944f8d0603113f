"""FT's neighbour search: the k-d tree path gives scikit-learn's (smclarify's) predictions."""
from __future__ import annotations

import numpy as np
import pytest

from airsage.clarify import metrics as M
from airsage.clarify.neighbors import knn_majority, sklearn_majority


def _data(seed, n_a, n_d, dims, integer):
    rng = np.random.default_rng(seed)
    scale = rng.lognormal(0, 2, dims)  # wide and narrow columns, like tabular data
    xa, xd = (rng.normal(size=(n, dims)) * scale for n in (n_a, n_d))
    if integer:  # many exact distance ties and duplicate rows
        xa, xd = np.round(xa / scale * 1.5), np.round(xd / scale * 1.5)
    ya = rng.random(n_a) < 0.3 + 0.4 * (xa[:, 0] > 0)
    return xa, ya, xd


@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("integer", [False, True])
def test_tree_path_equals_sklearn(k, integer):
    xa, ya, xd = _data(k + integer, 1500, 1200, 20, integer)
    assert np.array_equal(knn_majority(xa, ya, xd, k, method="tree"), sklearn_majority(xa, ya, xd, k))


def test_exact_ties_are_resolved_like_sklearn():
    xa = np.array([[0.0], [1.0], [-1.0], [1.0], [-1.0], [2.0]] * 3)
    ya = np.array([False, True, True, False, False, True] * 3)
    xd = np.array([[0.0], [0.5], [-0.5], [1.0]])
    assert np.array_equal(knn_majority(xa, ya, xd, 5, method="tree"), sklearn_majority(xa, ya, xd, 5))


def test_invalid_inputs_give_sklearn_messages_as_error_entries():
    pred = np.array([True, False, True, False])
    d = np.array([True, False, False, True])
    with pytest.raises(M.MetricUndefined, match="0 feature"):
        M.FT(np.empty((4, 0)), d, pred)
    with pytest.raises(M.MetricUndefined, match="NaN"):
        M.FT(np.array([[1.0], [np.nan], [2.0], [3.0]]), d, pred)
