"""Data-quality checks with SageMaker Model Monitor's semantics -> ``constraint_violations.json``.

The six check types of the prebuilt container (DG ``model-monitor-interpreting-violations``):

==========================  ==================================================================
``missing_column_check``    a baseline feature is absent from the current data (one violation
                            per missing column; the text quotes both column counts)
``extra_column_check``      the current data has a column the baseline does not know
``data_type_check``         the share of present values matching the baseline's inferred type is
                            below ``1 - datatype_check_threshold``
``completeness_check``      the share of non-null values is below the feature's ``completeness``
``categorical_values_check`` the share of present values outside ``string_constraints.domains``
                            is above ``domain_content_threshold``
``baseline_drift_check``    the distribution distance exceeds ``comparison_threshold``
                            (``categorical_comparison_threshold`` for String features)
==========================  ==================================================================

Distances (Deequ ``Distance.scala``): numeric = L-infinity between the CDFs (evaluated exactly at
every baseline sketch key and its left limit), categorical = L-infinity between the PMFs. ``Robust``
subtracts the two-sample KS critical value ``c_alpha * sqrt((n + m) / (n m))`` (``c_alpha`` = 1.8, or
``sqrt(-ln(alpha / 2) / 2)`` when ``alpha`` is given), floored at 0.

The two match thresholds are read as the *tolerated share of non-matching values* (0.1 = at most
10 % may fail; the current DG default). Constraints files of the older prebuilt container carry
``1.0`` there, meaning "100 % must match" (its output reads "Expected match: 100.0%"); a value of
exactly 1.0 is read that way so that such files keep working. The description texts follow the
container's (``data_type_check`` verbatim from real outputs, the others in the same style;
``baseline_drift_check`` matches the "distance: X exceeds threshold: Y" pattern public scripts parse).
``categorical_drift_method: ChiSquared`` is not supported (its thresholding is undocumented).

Two findings that Model Monitor has no check type for are added (an alert, never silence):
``empty_dataset_check`` (feature ``(dataset)``: the current data has no row) and ``non_finite_check``
(a numeric feature holds +-inf values while its baseline had none). A non-numeric value in a numeric
column is counted once, by ``data_type_check``: it is present, so completeness does not count it.

Each numeric distance carries ``distance_error_bound``: the baseline sketch's rank-error bound (0.0
when the sketch is exact, as for a feature with at most 2048 distinct values; the current data is
always seen exactly), so ``|distance_simple - exact L-infinity| <= distance_error_bound``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airsage.errors import ConfigError
from airsage.monitor import profile as _profile
from airsage.monitor.profile import CategoricalProfile, CategoricalRef, NumericProfile, NumericRef

VIOLATIONS_FILE = "constraint_violations.json"
CHECK_TYPES = ("data_type_check", "completeness_check", "baseline_drift_check", "missing_column_check",
               "extra_column_check", "categorical_values_check")
DEFAULT_C_ALPHA = 1.8
EMPTY_DATASET_FEATURE = "(dataset)"


@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"feature_name": self.feature_name, "constraint_check_type": self.constraint_check_type,
                "description": self.description}


@dataclass(frozen=True)
class FeatureCheck:
    """What was measured for one baseline feature (``None`` = not measurable / not checked)."""

    name: str
    inferred_type: str
    present: bool
    type_match: float | None = None
    completeness: float | None = None
    in_domain: float | None = None
    distance: float | None = None          # after the Robust correction when Robust
    distance_simple: float | None = None   # L-infinity as measured
    threshold: float | None = None
    # largest possible |distance_simple - exact L-infinity| (0.0: exact; None: unknown, e.g. a baseline
    # sketch written by Model Monitor itself, whose KLL error bound is probabilistic)
    distance_error_bound: float | None = None
    non_finite: int | None = None          # +-inf values among the present ones

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class DataQualityReport:
    violations: tuple[Violation, ...]
    statistics: dict[str, Any]                 # current statistics.json
    features: tuple[FeatureCheck, ...]
    comparison_method: str
    item_count: int
    profile: _profile.DatasetProfile | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.violations

    def violations_json(self) -> dict[str, Any]:
        """The ``constraint_violations.json`` document."""
        return {"violations": [v.to_dict() for v in self.violations]}

    def to_dict(self) -> dict[str, Any]:
        by_type: dict[str, int] = {}
        for v in self.violations:
            by_type[v.constraint_check_type] = by_type.get(v.constraint_check_type, 0) + 1
        return {"item_count": self.item_count, "comparison_method": self.comparison_method,
                "n_violations": len(self.violations), "violations_by_type": by_type,
                "violations": [v.to_dict() for v in self.violations],
                "features": [f.to_dict() for f in self.features]}


# =========================================================================== entry point
def analyze(
    current: Any,
    baseline_statistics: dict[str, Any],
    baseline_constraints: dict[str, Any],
    *,
    comparison_method: str | None = None,
    comparison_threshold: float | None = None,
    categorical_comparison_threshold: float | None = None,
    alpha: float | None = None,
    c_alpha: float | None = None,
    exclude_columns: tuple[str, ...] | list[str] = (),
    profile: _profile.DatasetProfile | None = None,
) -> DataQualityReport:
    """Check ``current`` (DataFrame, Arrow table, chunk iterable or Parquet URI) against a baseline.

    Keyword arguments override the constraints file's ``monitoring_config``; a feature's
    ``monitoringConfigOverrides`` override both for that feature. ``exclude_columns`` are ignored
    entirely (ids, timestamps, scores of captured data). ``profile`` reuses a profile computed with
    ``profile_for_baseline`` (one pass for checks and drift).
    """
    if profile is None:
        profile = profile_for_baseline(current, baseline_statistics, baseline_constraints,
                                       exclude_columns=exclude_columns)
    cfg = _merge_config(baseline_constraints.get("monitoring_config") or {},
                        comparison_method=comparison_method, comparison_threshold=comparison_threshold,
                        categorical_comparison_threshold=categorical_comparison_threshold)
    refs = _profile.refs_from_statistics(baseline_statistics)
    c_a = _c_alpha(alpha, c_alpha)
    evaluate = cfg.get("evaluate_constraints", "Enabled") == "Enabled"
    cons_feats = baseline_constraints.get("features", [])
    base_names = [f["name"] for f in cons_feats] or list(refs)
    excluded = set(exclude_columns)
    cur_cols = [c for c in profile.columns if c not in excluded]

    violations: list[Violation] = []
    checks: list[FeatureCheck] = []
    missing = [n for n in base_names if n not in cur_cols or n not in profile.features]
    extra = [c for c in cur_cols if c not in base_names]
    counts = f"Number of columns in current dataset: {len(cur_cols)}, Number of columns in baseline constraints: {len(base_names)}"
    if evaluate and profile.item_count == 0:
        violations.append(Violation(EMPTY_DATASET_FEATURE, "empty_dataset_check",
                                    "The current dataset has no rows. Expected: at least one row to check against "
                                    f"the baseline of {len(base_names)} columns."))
    if evaluate:
        for name in missing:
            violations.append(Violation(name, "missing_column_check",
                                        f"There are missing columns in current dataset. {counts}"))
        for name in extra:
            violations.append(Violation(name, "extra_column_check",
                                        f"There are extra columns in current dataset. {counts}"))

    for feat in cons_feats or [{"name": n, "inferred_type": getattr(refs[n], "inferred_type", "Unknown")} for n in refs]:
        name = feat["name"]
        fcfg = _feature_config(cfg, feat.get("monitoringConfigOverrides") or {})
        expected = feat.get("inferred_type", "Unknown")
        p = profile.features.get(name)
        if name in missing or p is None:
            checks.append(FeatureCheck(name, expected, present=False))
            continue
        check, found = _check_feature(feat, p, refs.get(name), fcfg, c_a, profile.item_count)
        checks.append(check)
        if evaluate:
            violations.extend(found)
    stats = _profile.statistics_json(profile)
    return DataQualityReport(violations=tuple(violations), statistics=stats, features=tuple(checks),
                             comparison_method=cfg["distribution_constraints"]["comparison_method"],
                             item_count=profile.item_count, profile=profile)


def profile_for_baseline(current: Any, baseline_statistics: dict[str, Any], baseline_constraints: dict[str, Any],
                         *, exclude_columns=(), extra_refs: dict[str, Any] | None = None) -> _profile.DatasetProfile:
    """Profile ``current`` seen through the baseline (kinds, expected types, sketch keys)."""
    refs = _profile.refs_from_statistics(baseline_statistics)
    if extra_refs:
        refs = {**refs, **extra_refs}
    expected = {f["name"]: f.get("inferred_type") for f in baseline_constraints.get("features", [])}
    for name, ref in refs.items():
        expected.setdefault(name, ref.inferred_type if isinstance(ref, NumericRef) else _profile.STRING)
    return _profile.profile_data(current, refs=refs, expected_types=expected, exclude_columns=exclude_columns)


# =========================================================================== per feature
def _check_feature(feat: dict[str, Any], p, ref, cfg: dict[str, Any], c_a: float,
                   item_count: int) -> tuple[FeatureCheck, list[Violation]]:
    name = feat["name"]
    expected = feat.get("inferred_type", "Unknown")
    out: list[Violation] = []
    n_present = p.n_present
    n_values = n_present + getattr(p, "n_unparsable", 0)
    n_total = n_present + p.n_missing + getattr(p, "n_unparsable", 0)

    type_match = None
    if expected in (_profile.INTEGRAL, _profile.FRACTIONAL, _profile.STRING) and n_values:
        type_match = p.n_type_match / n_values
        required = _required_share(cfg.get("datatype_check_threshold", 0.1))
        if type_match < required - 1e-12:
            out.append(Violation(name, "data_type_check",
                                 f"Data type match requirement is not met. Expected data type: {expected}, "
                                 f"Expected match: {_pct(required)}%. Observed: Only {_pct(type_match)}% of data is {expected}."))

    # completeness counts non-null values: a non-numeric value is present (the type check counts it)
    completeness = (n_values / n_total) if n_total else None
    required_c = feat.get("completeness")
    if completeness is not None and isinstance(required_c, (int, float)) and completeness < float(required_c) - 1e-12:
        out.append(Violation(name, "completeness_check",
                             f"Data completeness requirement is not met. Expected completeness: {_pct(float(required_c))}%. "
                             f"Observed: Only {_pct(completeness)}% of data is complete."))

    n_nonfinite = getattr(p, "n_nonfinite", 0)
    if n_nonfinite and isinstance(ref, NumericRef) and not ref.has_nonfinite:
        out.append(Violation(name, "non_finite_check",
                             f"Non-finite values are not allowed. The baseline has none. Observed: {n_nonfinite} of "
                             f"{n_present} values ({_pct(n_nonfinite / n_present)}%) are infinite."))

    in_domain = None
    domains = (feat.get("string_constraints") or {}).get("domains")
    if domains is not None and isinstance(p, CategoricalProfile) and n_present:
        allowed = set(map(str, domains))
        in_domain = sum(c for v, c in p.counts.items() if v in allowed) / n_present
        required_d = _required_share(cfg.get("domain_content_threshold", 0.1))
        if in_domain < required_d - 1e-12:
            out.append(Violation(name, "categorical_values_check",
                                 f"Categorical value requirement is not met. Expected match: {_pct(required_d)}%. "
                                 f"Observed: Only {_pct(in_domain)}% of data is within the baseline domain."))

    dist = cfg["distribution_constraints"]
    distance = simple = threshold = bound = None
    if dist.get("perform_comparison", "Enabled") == "Enabled" and n_present and ref is not None:
        if isinstance(p, NumericProfile) and isinstance(ref, NumericRef) and p.ref_counts is not None:
            simple = linf_numeric(p, ref)
            bound = ref.rank_error
            threshold = float(dist.get("comparison_threshold", 0.1))
        elif isinstance(p, CategoricalProfile) and isinstance(ref, CategoricalRef) and ref.n_present:
            if dist.get("categorical_drift_method", "LInfinity") != "LInfinity":
                raise ConfigError(f"categorical_drift_method {dist.get('categorical_drift_method')!r} is not supported",
                                  key="monitoring_config.distribution_constraints.categorical_drift_method",
                                  fix="Set it to 'LInfinity' in constraints.json (ChiSquared's thresholding is undocumented).")
            simple = linf_categorical(p.counts, ref.counts, n_current=p.n_present, n_baseline=ref.n_present)
            bound = 0.0 if sum(ref.counts.values()) == ref.n_present else None  # truncated buckets: unknown
            threshold = float(dist.get("categorical_comparison_threshold", dist.get("comparison_threshold", 0.1)))
        if simple is not None:
            distance = simple
            if dist.get("comparison_method", "Robust") == "Robust":
                distance = robust_distance(simple, ref.n_present, n_present, c_a)
            if distance > threshold:
                out.append(Violation(name, "baseline_drift_check",
                                     f"Baseline drift distance: {distance} exceeds threshold: {threshold}"))
    return FeatureCheck(name, expected, True, type_match, completeness, in_domain, distance, simple, threshold,
                        distance_error_bound=bound, non_finite=n_nonfinite or None), out


# =========================================================================== distances
def linf_numeric(p: NumericProfile, ref: NumericRef) -> float:
    """``max_x |F_baseline(x) - F_current(x)|``: exact for the baseline's sketch CDF, evaluated at
    every key and at its left limit (where step functions attain their largest gap)."""
    rc = p.ref_counts
    n = p.n_present
    at = np.abs(ref.cdf - rc.le / n).max()
    left = np.abs(ref.cdf_left() - rc.lt / n).max()
    return float(max(at, left))


def linf_categorical(current: dict[str, int], baseline: dict[str, int], *, n_current: int | None = None,
                     n_baseline: int | None = None) -> float:
    """``max_k |p_baseline(k) - p_current(k)|`` over the union of categories (non-null values).
    ``n_*`` are the non-null counts when the value counts are truncated (long tails)."""
    nb = n_baseline or sum(baseline.values())
    nc = n_current or sum(current.values())
    if not nb or not nc:
        return 0.0 if nb == nc else 1.0
    keys = set(baseline) | set(current)
    return float(max(abs(baseline.get(k, 0) / nb - current.get(k, 0) / nc) for k in keys))


def robust_distance(linf: float, n: int, m: int, c_alpha: float = DEFAULT_C_ALPHA) -> float:
    """Deequ's robust L-infinity: the distance minus the two-sample KS critical value, floored at 0."""
    if n <= 0 or m <= 0:
        return linf
    return max(0.0, linf - c_alpha * math.sqrt((n + m) / (n * m)))


def _c_alpha(alpha: float | None, c_alpha: float | None) -> float:
    if c_alpha is not None:
        return float(c_alpha)
    if alpha is not None:
        if not 0 < alpha < 1:
            raise ConfigError(f"alpha={alpha} is outside (0, 1)", key="alpha", fix="Use e.g. 0.003 (c_alpha 1.8).")
        return math.sqrt(-math.log(alpha / 2) / 2)
    return DEFAULT_C_ALPHA


# =========================================================================== config plumbing
def _merge_config(cfg: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    from airsage.monitor.baseline import default_monitoring_config

    out = default_monitoring_config()
    out.update({k: v for k, v in cfg.items() if k != "distribution_constraints"})
    out["distribution_constraints"] = {**out["distribution_constraints"], **(cfg.get("distribution_constraints") or {})}
    dist = out["distribution_constraints"]
    if "categorical_comparison_threshold" not in (cfg.get("distribution_constraints") or {}):
        dist["categorical_comparison_threshold"] = dist["comparison_threshold"]
    if overrides.get("comparison_method") is not None:
        if overrides["comparison_method"] not in ("Simple", "Robust"):
            raise ConfigError(f"comparison_method {overrides['comparison_method']!r} is not supported",
                              key="comparison_method", fix="Use 'Simple' or 'Robust'.")
        dist["comparison_method"] = overrides["comparison_method"]
    if overrides.get("comparison_threshold") is not None:
        dist["comparison_threshold"] = float(overrides["comparison_threshold"])
        if overrides.get("categorical_comparison_threshold") is None:
            dist["categorical_comparison_threshold"] = float(overrides["comparison_threshold"])
    if overrides.get("categorical_comparison_threshold") is not None:
        dist["categorical_comparison_threshold"] = float(overrides["categorical_comparison_threshold"])
    return out


def _feature_config(cfg: dict[str, Any], feature_overrides: dict[str, Any]) -> dict[str, Any]:
    """A feature's ``monitoringConfigOverrides`` (flat or nested keys) on top of the global config."""
    if not feature_overrides:
        return cfg
    out = {**cfg, "distribution_constraints": dict(cfg["distribution_constraints"])}
    for k, v in feature_overrides.items():
        if k == "distribution_constraints" and isinstance(v, dict):
            out["distribution_constraints"].update(v)
        elif k in out["distribution_constraints"]:
            out["distribution_constraints"][k] = v
        else:
            out[k] = v
    return out


def _required_share(threshold: float) -> float:
    threshold = float(threshold)
    return 1.0 if threshold >= 1.0 else max(0.0, 1.0 - threshold)


def _pct(share: float) -> float:
    return round(share * 100.0, 12)
