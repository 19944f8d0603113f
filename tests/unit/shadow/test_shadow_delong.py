"""The fast DeLong test against the O(n^2) definition (DeLong et al. 1988), a hand-computed example and
scikit-learn's AUC."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from airsage.shadow.delong import Z_975, delong_test, midranks, structural_components


def brute_force_delong(y, s1, s2):
    """DeLong 1988 literally: the kernel over every (positive, negative) pair, sample covariances."""
    t = np.asarray(y).astype(bool)
    comps = []
    for s in (np.asarray(s1, float), np.asarray(s2, float)):
        x, yy = s[t], s[~t]
        psi = (x[:, None] > yy[None, :]).astype(float) + 0.5 * (x[:, None] == yy[None, :])
        comps.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = int(t.sum()), int((~t).sum())
    s10 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    s01 = np.cov(np.vstack([comps[0][2], comps[1][2]]))
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = comps[1][0] - comps[0][0]
    z = diff / math.sqrt(var)
    return comps[0][0], comps[1][0], z, math.erfc(abs(z) / math.sqrt(2))


def test_hand_computed_example():
    # s1: positives .9 .8 .4, negatives .5 .3 .2 -> AUC 8/9, V10 = (1, 1, 2/3), V01 = (2/3, 1, 1)
    # s2: positives .9 .7 .6, negatives .6 .2 .1 (a tie) -> AUC 17/18, V10 = (1, 1, 5/6), V01 = (5/6, 1, 1)
    # S10 = S01 = [[1/27, 1/54], [1/54, 1/108]]; S = (S10 + S01) / 3; Var(diff) = 2/81 + 1/162 - 2/81 = 1/162
    # diff = 1/18, z = sqrt(162) / 18 = sqrt(1/2), p = erfc(1/2)
    y = [1, 1, 1, 0, 0, 0]
    r = delong_test(y, [.9, .8, .4, .5, .3, .2], [.9, .7, .6, .6, .2, .1])
    assert r.auc1 == pytest.approx(8 / 9, abs=1e-15)
    assert r.auc2 == pytest.approx(17 / 18, abs=1e-15)
    assert r.z == pytest.approx(math.sqrt(0.5), rel=1e-12)
    assert r.p_value == pytest.approx(math.erfc(0.5), rel=1e-12)  # 0.4795...
    se = 1 / math.sqrt(162)
    assert r.ci95 == pytest.approx((1 / 18 - Z_975 * se, 1 / 18 + Z_975 * se), rel=1e-12)


@pytest.mark.parametrize("seed,decimals", [(0, None), (1, 1), (2, 2), (3, 0)])
def test_fast_delong_equals_the_definition(seed, decimals):
    rng = np.random.default_rng(seed)
    n = 150
    y = rng.integers(0, 2, n)
    s1 = rng.random(n) * 0.6 + y * 0.3
    s2 = 0.5 * s1 + 0.5 * rng.random(n) + y * 0.1
    if decimals is not None:  # many ties (decimals 0: scores 0 or 1 only)
        s1, s2 = np.round(s1, decimals), np.round(s2, decimals)
    r = delong_test(y, s1, s2)
    auc1, auc2, z, p = brute_force_delong(y, s1, s2)
    assert (r.auc1, r.auc2) == pytest.approx((auc1, auc2), abs=1e-12)
    assert r.z == pytest.approx(z, rel=1e-9)
    assert r.p_value == pytest.approx(p, rel=1e-9, abs=1e-15)
    assert r.auc1 == pytest.approx(roc_auc_score(y, s1), abs=1e-12)
    assert r.auc2 == pytest.approx(roc_auc_score(y, s2), abs=1e-12)
    lo, hi = r.ci95
    assert lo < r.auc2 - r.auc1 < hi


def test_midranks_and_components():
    assert midranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]
    auc, v10, v01 = structural_components(np.array([1, 0, 1, 0]), np.array([.8, .8, .3, .1]))
    assert auc == pytest.approx(0.625)  # pairs: (.8,.8)=.5 (.8,.1)=1 (.3,.8)=0 (.3,.1)=1
    assert v10.tolist() == pytest.approx([0.75, 0.5])
    assert v01.tolist() == pytest.approx([0.25, 1.0])


def test_identical_scores_and_degenerate_input():
    y = [1, 0, 1, 0, 1, 0]
    s = [.9, .1, .8, .3, .2, .4]
    r = delong_test(y, s, s)
    assert (r.z, r.p_value, r.ci95) == (0.0, 1.0, (0.0, 0.0))
    with pytest.raises(ValueError, match="at least 2 positives"):
        delong_test([1, 0, 0, 0], [.1, .2, .3, .4], [.1, .2, .3, .4])
    with pytest.raises(ValueError, match="length"):
        delong_test([1, 0], [.1], [.2, .3])
    with pytest.raises(ValueError, match="non-finite|NaN"):
        delong_test([1, 0, 1, 0], [.1, np.nan, .3, .4], [.1, .2, .3, .4])
