"""Effect-size drift per feature and the dataset-level drift decision.

Why effect sizes: a KS or chi-square p-value answers "is there *any* difference?", which on a
million rows is "yes" for every feature of unchanged data. PSI, the Jensen-Shannon distance and the
Wasserstein distance normalised by the baseline's standard deviation measure *how large* the
difference is, and stay near 0 for unchanged data whatever the sample size.

Per feature (bins: ~10 equal-mass bins of the baseline, from its stored sketch, plus a "missing"
bin, so a change in missingness is drift too):

* ``psi``  = sum (c - b) ln(c / b), shares floored at ``1e-4``
* ``js``   = Jensen-Shannon *distance* (sqrt of the divergence, base 2: in [0, 1])
* ``wasserstein`` (numeric) = W1(baseline, current) / baseline std, from the exact current CDF at
  the baseline's sketch keys and the partial sums of the current values (tails exact)
* ``linf`` = Model Monitor's L-infinity distance (CDF or PMF, non-null values)

A feature drifts when ``psi >= psi_threshold`` or its distance (normalised Wasserstein for numeric,
Jensen-Shannon for categorical) reaches its threshold; features with fewer than ``min_rows`` current
rows are not judged. The dataset drifts when the importance-weighted share of drifted features
(weights = mean |SHAP| per feature when given, else uniform) reaches ``drifted_share_alert``.
Prediction drift is the same computation on the score column against the baseline scores.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from airsage.monitor import profile as _profile
from airsage.monitor.profile import CategoricalProfile, CategoricalRef, NumericProfile, NumericRef

PSI_EPS = 1e-4
MAX_CHART_CATEGORIES = 20


@dataclass(frozen=True)
class DriftThresholds:
    psi_threshold: float = 0.2
    js_threshold: float = 0.1
    wasserstein_threshold: float = 0.1
    drifted_share_alert: float = 0.2
    min_rows: int = 500
    bins: int = 10


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str                      # numeric | categorical
    n_baseline: int
    n_current: int
    psi: float | None
    js: float | None
    wasserstein: float | None      # normalised by the baseline std (numeric only)
    linf: float | None
    drifted: bool
    reason: str                    # which metric fired, or why the feature was not judged
    weight: float = 0.0
    bins: tuple[str, ...] = ()
    baseline_shares: tuple[float, ...] = ()
    current_shares: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("bins", "baseline_shares", "current_shares"):
            d[k] = list(d[k])
        return d


@dataclass(frozen=True)
class DriftReport:
    features: tuple[FeatureDrift, ...]
    drifted_share: float
    dataset_drift: bool
    weights_source: str                     # importance | uniform
    thresholds: DriftThresholds
    prediction: FeatureDrift | None = None

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    @property
    def alert(self) -> bool:
        return self.dataset_drift or bool(self.prediction and self.prediction.drifted)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset_drift": self.dataset_drift, "drifted_share": self.drifted_share,
                "drifted_features": self.drifted_features, "weights_source": self.weights_source,
                "thresholds": self.thresholds.__dict__, "alert": self.alert,
                "prediction": self.prediction.to_dict() if self.prediction else None,
                "features": [f.to_dict() for f in self.features]}


# =========================================================================== pure metrics
def psi(baseline: np.ndarray, current: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index of two share vectors over the same bins."""
    b = np.maximum(np.asarray(baseline, float), eps)
    c = np.maximum(np.asarray(current, float), eps)
    return float(np.sum((c - b) * np.log(c / b)))


def jensen_shannon(baseline: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two share vectors."""
    p = np.asarray(baseline, float)
    q = np.asarray(current, float)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def weights_from_shap(global_shap_values: dict[str, float]) -> dict[str, float]:
    """Feature weights from global SHAP values (mean |phi| per feature), normalised to sum 1."""
    w = {k: abs(float(v)) for k, v in global_shap_values.items()}
    total = sum(w.values())
    return {k: v / total for k, v in w.items()} if total > 0 else {}


# =========================================================================== per feature
def numeric_drift(p: NumericProfile, ref: NumericRef, th: DriftThresholds = DriftThresholds()) -> FeatureDrift:
    """Drift of one numeric feature from its profile seen through the baseline's keys."""
    n, n_total = p.n_present, p.n_present + p.n_missing + p.n_unparsable
    nb_total = ref.n_present + ref.n_missing
    if n_total < th.min_rows or not nb_total:
        return FeatureDrift(p.name, "numeric", nb_total, n_total, None, None, None, None, False,
                            f"not judged: {n_total} rows < min_rows {th.min_rows}")
    miss_b = ref.n_missing / nb_total
    miss_c = (n_total - n) / n_total
    if n == 0 or p.ref_counts is None or not len(ref.keys):
        labels = ("present", "missing")
        b, c = np.array([1 - miss_b, miss_b]), np.array([1 - miss_c, miss_c])
        w = lin = None
    else:
        rc = p.ref_counts
        keys = ref.keys
        lin = float(max(np.abs(ref.cdf - rc.le / n).max(), np.abs(ref.cdf_left() - rc.lt / n).max()))
        w = wasserstein_from_counts(rc, ref, n)
        j = ref.coarse_boundaries(th.bins)
        b_cum = ref.cdf_left()[j]
        c_cum = rc.lt[j] / n
        b = np.r_[np.diff(np.r_[0.0, b_cum, 1.0]) * (1 - miss_b), miss_b]
        c = np.r_[np.diff(np.r_[0.0, c_cum, 1.0]) * (1 - miss_c), miss_c]
        edges = [_fmt(v) for v in keys[j]]
        labels = tuple([f"< {edges[0]}"] if edges else []) + tuple(
            f"[{a}, {z})" for a, z in zip(edges[:-1], edges[1:])) + (f">= {edges[-1]}" if edges else "all",) + ("missing",)
    ps, js = psi(b, c), jensen_shannon(b, c)
    reasons = []
    if ps >= th.psi_threshold:
        reasons.append(f"psi {ps:.3f} >= {th.psi_threshold}")
    if w is not None and w >= th.wasserstein_threshold:
        reasons.append(f"wasserstein {w:.3f} >= {th.wasserstein_threshold}")
    return FeatureDrift(p.name, "numeric", nb_total, n_total, ps, js, w, lin, bool(reasons), "; ".join(reasons),
                        bins=tuple(labels), baseline_shares=tuple(map(float, b)), current_shares=tuple(map(float, c)))


def wasserstein_from_counts(rc: _profile.RefCounts, ref: NumericRef, n: int) -> float:
    """W1 between the baseline sketch CDF and the current data, divided by the baseline std.

    Exact below the first and above the last key (``E[(k0 - X)+]``, ``E[(X - kz)+]`` from the partial
    sums); between two keys the baseline CDF is flat and the current CDF's integral is exact, so
    the only approximation is ignoring a sign change of ``F_b - F_c`` inside one interval."""
    if not math.isfinite(rc.total):  # +-inf values in the current data: infinitely far
        return float("inf")
    keys = ref.keys
    below = (rc.lt[0] * keys[0] - rc.sum_lt[0]) / n
    above = ((rc.total - rc.sum_le[-1]) - (n - rc.le[-1]) * keys[-1]) / n
    width = np.diff(keys)
    cnt_open = rc.lt[1:] - rc.le[:-1]
    sum_open = rc.sum_lt[1:] - rc.sum_le[:-1]
    int_fc = (rc.le[:-1] * width + cnt_open * keys[1:] - sum_open) / n
    inner = float(np.abs(ref.cdf[:-1] * width - int_fc).sum())
    w1 = max(0.0, float(below)) + max(0.0, float(above)) + inner
    if not math.isfinite(w1):  # +-inf values in the current data: infinitely far
        return float("inf")
    scale = ref.std if ref.std and math.isfinite(ref.std) and ref.std > 0 else (abs(ref.mean) if ref.mean else 1.0)
    return w1 / scale


def categorical_drift(p: CategoricalProfile, ref: CategoricalRef, th: DriftThresholds = DriftThresholds()) -> FeatureDrift:
    n_total = p.n_present + p.n_missing
    nb_total = ref.n_present + ref.n_missing
    if n_total < th.min_rows or not nb_total:
        return FeatureDrift(p.name, "categorical", nb_total, n_total, None, None, None, None, False,
                            f"not judged: {n_total} rows < min_rows {th.min_rows}")
    cats = sorted(ref.counts, key=lambda k: -ref.counts[k]) + sorted(set(p.counts) - set(ref.counts),
                                                                      key=lambda k: -p.counts[k])
    b = np.array([ref.counts.get(k, 0) for k in cats] + [ref.n_missing], float) / nb_total
    c = np.array([p.counts.get(k, 0) for k in cats] + [p.n_missing], float) / n_total
    ps, js = psi(b, c), jensen_shannon(b, c)
    lin = None
    if ref.n_present and p.n_present:
        lin = float(np.abs(b[:-1] / b[:-1].sum() - c[:-1] / c[:-1].sum()).max())
    reasons = []
    if ps >= th.psi_threshold:
        reasons.append(f"psi {ps:.3f} >= {th.psi_threshold}")
    if js >= th.js_threshold:
        reasons.append(f"js {js:.3f} >= {th.js_threshold}")
    labels, bs, cs = _chart_categories(cats, b, c)
    return FeatureDrift(p.name, "categorical", nb_total, n_total, ps, js, None, lin, bool(reasons), "; ".join(reasons),
                        bins=labels, baseline_shares=bs, current_shares=cs)


def _chart_categories(cats: list[str], b: np.ndarray, c: np.ndarray):
    k = MAX_CHART_CATEGORIES
    if len(cats) <= k:
        return tuple(cats) + ("missing",), tuple(map(float, b)), tuple(map(float, c))
    order = np.argsort(-(b[:-1] + c[:-1]), kind="stable")[:k]
    rest = np.setdiff1d(np.arange(len(cats)), order)
    labels = tuple(cats[i] for i in order) + ("(other)", "missing")
    bs = tuple(map(float, np.r_[b[order], b[rest].sum(), b[-1]]))
    cs = tuple(map(float, np.r_[c[order], c[rest].sum(), c[-1]]))
    return labels, bs, cs


def _fmt(v: float) -> str:
    return f"{v:.4g}"


# =========================================================================== dataset level
def detect_drift(
    current: Any,
    baseline_statistics: dict[str, Any],
    *,
    weights: dict[str, float] | None = None,
    thresholds: DriftThresholds = DriftThresholds(),
    exclude_columns: tuple[str, ...] | list[str] = (),
    score_column: str | None = None,
    score_statistics: dict[str, Any] | None = None,
    profile: _profile.DatasetProfile | None = None,
) -> DriftReport:
    """Per-feature drift of ``current`` against the baseline statistics, and the dataset rule.

    ``weights``: feature importances (e.g. ``weights_from_shap(global_shap_values)``); features
    without a weight count 0. ``score_column`` + ``score_statistics`` (a baseline built from the
    baseline scores) add prediction drift.
    """
    refs = _profile.refs_from_statistics(baseline_statistics)
    score_ref_ = score_ref(score_column, score_statistics)
    if profile is None:
        all_refs = {**refs, **({score_column: score_ref_} if score_ref_ else {})}
        profile = _profile.profile_data(current, refs=all_refs, exclude_columns=exclude_columns)
    return drift_from_profile(profile, refs, weights=weights, thresholds=thresholds,
                              score_column=score_column, score_ref=score_ref_)


def score_ref(score_column: str | None, score_statistics: dict[str, Any] | None) -> NumericRef | None:
    if not score_column or not score_statistics:
        return None
    ref = _profile.refs_from_statistics(score_statistics).get(score_column)
    return ref if isinstance(ref, NumericRef) else None


def drift_from_profile(profile: _profile.DatasetProfile, refs: dict[str, Any], *, weights=None,
                       thresholds: DriftThresholds = DriftThresholds(), score_column: str | None = None,
                       score_ref: NumericRef | None = None) -> DriftReport:
    feats: list[FeatureDrift] = []
    for name, ref in refs.items():
        p = profile.features.get(name)
        if p is None or name == score_column:
            continue
        if isinstance(ref, NumericRef) and isinstance(p, NumericProfile):
            feats.append(numeric_drift(p, ref, thresholds))
        elif isinstance(ref, CategoricalRef) and isinstance(p, CategoricalProfile):
            feats.append(categorical_drift(p, ref, thresholds))
    if weights:
        w = {f.name: abs(float(weights.get(f.name, 0.0))) for f in feats}
        source = "importance"
    else:
        w = {f.name: 1.0 for f in feats}
        source = "uniform"
    judged = [f for f in feats if f.psi is not None]
    total = sum(w[f.name] for f in judged)
    share = (sum(w[f.name] for f in judged if f.drifted) / total) if total > 0 else 0.0
    feats = [_with_weight(f, (w[f.name] / total) if total > 0 else 0.0) for f in feats]
    prediction = None
    if score_column and score_ref is not None:
        sp = profile.features.get(score_column)
        if isinstance(sp, NumericProfile):
            prediction = numeric_drift(sp, score_ref, thresholds)
    return DriftReport(features=tuple(feats), drifted_share=float(share),
                       dataset_drift=bool(judged) and share >= thresholds.drifted_share_alert,
                       weights_source=source, thresholds=thresholds, prediction=prediction)


def prediction_drift(scores: Any, score_statistics: dict[str, Any], *, score_column: str = "score",
                     thresholds: DriftThresholds = DriftThresholds()) -> FeatureDrift:
    """Drift of the model's scores against the baseline scores' statistics (same metrics)."""
    import pandas as pd

    ref = score_ref(score_column, score_statistics)
    if ref is None:
        from airsage.errors import DataValidationError

        raise DataValidationError("score baseline", [f"no numeric feature {score_column!r} in the score statistics"],
                                  fix="Build it with suggest_baseline(pd.DataFrame({'score': baseline_scores})).")
    frame = scores if isinstance(scores, pd.DataFrame) else pd.DataFrame({score_column: np.asarray(scores, float)})
    prof = _profile.profile_data(frame[[score_column]], refs={score_column: ref})
    return numeric_drift(prof.features[score_column], ref, thresholds)


def _with_weight(f: FeatureDrift, weight: float) -> FeatureDrift:
    return replace(f, weight=float(weight))


__all__ = ["DriftThresholds", "FeatureDrift", "DriftReport", "psi", "jensen_shannon", "weights_from_shap",
           "numeric_drift", "categorical_drift", "detect_drift", "score_ref", "drift_from_profile", "prediction_drift",
           "wasserstein_from_counts"]
