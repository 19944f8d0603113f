"""Bias drift and feature-attribution drift of a scored partition: SageMaker's two Clarify-based monitors.

Both compute the current partition's Clarify analysis, compare it with the model version's baseline
Clarify ``analysis.json`` (the rules are in ``bias_drift``) and write what SageMaker's Clarify-based
monitors write, each in its own folder of the run output::

    <run>/bias_drift/analysis.json                         post_training_bias_metrics of the partition
    <run>/bias_drift/constraint_violations.json            bias_drift_check violations
    <run>/feature_attribution_drift/analysis.json          explanations.kernel_shap.<label>.global_shap_values
    <run>/feature_attribution_drift/constraint_violations.json   feature_attribution_drift_check violations

**Bias drift.** The post-training metrics of ``airsage.clarify.metrics`` (the same code as the training
job's Clarify analysis) per facet, from the partition's scores (``score > probability_threshold``):
every night the metrics that need only predicted labels (``PREDICTION_ONLY``: DPPL, DI, and CDDPL with a
group variable); when ground truth is joined (as for model quality), also the metrics that need labels
(``WITH_LABELS``), on the labelled rows. FT (a k-NN fit per facet) is computed only when listed in the
configured methods. A continuous facet's interval ``(t, max]`` ends at the data's maximum, so intervals
are matched by their threshold ``t`` (see ``bias_drift``).

**Feature-attribution drift.** Exact TreeSHAP (XGBoost's ``pred_contribs``, log-odds space, the same
``clarify.explain`` code as the training job's analysis) on a seeded random sample of the partition;
the global value per feature is the mean |SHAP|. NDCG of the current ranking graded by the baseline's
attributions, violation below 0.9. NDCG depends only on the current *ranking*, so the sample needs to
rank features, not to estimate them to many digits: ``DEFAULT_SHAP_SAMPLE`` rows (see the README's
measured costs) rank the example model's top features identically to 1M rows.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from airsage import storage
from airsage.errors import ConfigError, DataValidationError
from airsage.monitor import bias_drift as _rules

BIAS_DIR = "bias_drift"
ATTRIBUTION_DIR = "feature_attribution_drift"
ANALYSIS_FILE = "analysis.json"
VIOLATIONS_FILE = "constraint_violations.json"
PREDICTION_ONLY = ("CDDPL", "DI", "DPPL", "FT")
WITH_LABELS = ("AD", "DAR", "DCA", "DCR", "DRR", "GE", "RD", "SD", "TE")
DEFAULT_SHAP_SAMPLE = 2_000
_PRED = "__airsage_predicted_label__"
_INTERVAL = re.compile(r"^\(([^,]+), [^\]]+\]$")


# =========================================================================== configuration
@dataclass(frozen=True)
class BiasSpec:
    """What Clarify's bias analysis of the version was run with (a subset of ``analysis_config.json``)."""

    label: str
    positive_values: tuple[Any, ...]
    facets: tuple[tuple[str, tuple[Any, ...] | None], ...]
    group_variable: str | None = None
    probability_threshold: float = 0.5
    methods: tuple[str, ...] | None = None   # None: every applicable metric except FT

    @classmethod
    def from_analysis_config(cls, cfg: dict[str, Any]) -> "BiasSpec":
        """From a Clarify ``analysis_config.json`` (label, label_values_or_threshold, facet, group_variable,
        probability_threshold, methods.post_training_bias.methods)."""
        if not isinstance(cfg, dict):
            raise ConfigError("the bias configuration is not a JSON object", key="AIRSAGE_MONITOR_BIAS_CONFIG",
                              fix="Pass a Clarify analysis_config.json (label, label_values_or_threshold, facet).")
        missing = [k for k in ("label", "label_values_or_threshold", "facet") if not cfg.get(k)]
        if missing:
            raise ConfigError(f"the bias configuration lacks {missing}", key="AIRSAGE_MONITOR_BIAS_CONFIG",
                              fix="Give label, label_values_or_threshold and facet as in Clarify's analysis_config.")
        facets = []
        for f in cfg["facet"]:
            values = f.get("value_or_threshold")
            facets.append((str(f["name_or_index"]), tuple(values) if values else None))
        methods = ((cfg.get("methods") or {}).get("post_training_bias") or {}).get("methods")
        return cls(label=str(cfg["label"]), positive_values=tuple(cfg["label_values_or_threshold"]),
                   facets=tuple(facets), group_variable=cfg.get("group_variable"),
                   probability_threshold=float(cfg.get("probability_threshold", 0.5)),
                   methods=None if methods in (None, "all") else tuple(methods))

    def chosen(self, candidates: Sequence[str]) -> list[str]:
        wanted = set(self.methods) if self.methods is not None else set(candidates) - {"FT"}
        out = [m for m in candidates if m in wanted]
        if "CDDPL" in out and not self.group_variable:
            out.remove("CDDPL")
        return sorted(out)


# =========================================================================== bias drift
def _facet_column(series: pd.Series, baseline_values: list[str]) -> pd.Series:
    """Give the facet column the type the baseline analysis had: an interval entry means continuous
    (float), a value entry categorical; smclarify would otherwise decide from the partition's
    uniqueness ratio, which differs between a training set and a night of traffic."""
    if not baseline_values:
        return series
    if all(_INTERVAL.match(v) for v in baseline_values):
        return pd.to_numeric(series, errors="coerce").astype(np.float64)
    return series.astype("category")


def partition_bias_analysis(frame: pd.DataFrame, spec: BiasSpec, *, score_column: str = "score",
                            ground_truth_column: str | None = None,
                            baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    """The partition's ``post_training_bias_metrics`` in Clarify's ``analysis.json`` layout.

    ``ground_truth_column``: joined labels (null where none arrived); the label metrics use the rows
    that have one. ``baseline``: the baseline analysis, whose facet entries fix each facet's type."""
    from airsage.clarify.metrics import bias_reports, label_value_or_threshold

    for col in [score_column] + [f for f, _ in spec.facets]:
        if col not in frame.columns:
            raise DataValidationError("scored partition", [f"column {col!r} is missing"],
                                      fix="Monitor the captured partition with its scores and the facet columns "
                                          "(the transform's passthrough columns).")
    if not len(frame):
        raise DataValidationError("scored partition", ["the partition has no rows"],
                                  fix="Nothing to analyse: check the partition (an empty night is a data-quality "
                                      "finding).")
    base_entries = _baseline_entries(baseline)
    df = frame.reset_index(drop=True).copy()
    for facet, _ in spec.facets:
        df[facet] = _facet_column(df[facet], base_entries.get(facet, []))
    scores = pd.to_numeric(df[score_column], errors="coerce").to_numpy(dtype=np.float64)
    pred = scores > spec.probability_threshold
    facets = [(f, list(v) if v else None) for f, v in spec.facets]
    feature_cols = [c for c in df.columns if c not in {score_column, ground_truth_column, spec.label}]

    # metrics that need only the predicted labels: every row (the label column is a placeholder)
    df[_PRED] = pd.Categorical(pred.astype(np.int64), categories=[0, 1])
    methods = spec.chosen(PREDICTION_ONLY)
    blocks = [bias_reports(df, facets, _PRED, [1], "post_training", predicted_positive=pred,
                           group_variable=spec.group_variable, methods=methods,
                           feature_columns=feature_cols)] if methods else []
    label_str = ",".join(map(str, spec.positive_values))
    labelled = 0
    if ground_truth_column and ground_truth_column in df.columns:
        has = df[ground_truth_column].notna().to_numpy()
        labelled = int(has.sum())
        methods_l = spec.chosen(WITH_LABELS + (("FT",) if not methods else ()))
        if labelled and methods_l:
            sub = df.loc[has].reset_index(drop=True)
            label_str = label_value_or_threshold(sub[ground_truth_column], list(spec.positive_values))
            blocks.append(bias_reports(sub, facets, ground_truth_column, list(spec.positive_values), "post_training",
                                       predicted_positive=pred[has], group_variable=spec.group_variable,
                                       methods=methods_l, feature_columns=feature_cols))
    out: dict[str, list[dict[str, Any]]] = {}
    for facet, _ in spec.facets:
        merged: dict[str, list[dict[str, Any]]] = {}
        for block in blocks:
            for report in block.get(facet, []):
                merged.setdefault(report.value_or_threshold, []).extend(m.to_dict() for m in report.metrics)
        out[facet] = [{"value_or_threshold": v, "metrics": sorted(ms, key=lambda m: m["name"])}
                      for v, ms in merged.items()]
    return {"version": "1.0", "post_training_bias_metrics": {
        "label": spec.label, "label_value_or_threshold": label_str, "facets": out},
        "airsage": {"rows": int(len(df)), "labelled_rows": labelled}}


def _baseline_entries(baseline: dict[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for section in _rules.SECTIONS:
        facets = ((baseline or {}).get(section) or {}).get("facets") or {}
        for facet, groups in facets.items():
            out.setdefault(facet, []).extend(str(g.get("value_or_threshold")) for g in groups)
    return out


# =========================================================================== attribution drift
def partition_attributions(frame: pd.DataFrame, model: Any, feature_columns: Sequence[str], *,
                           sample_size: int = DEFAULT_SHAP_SAMPLE, seed: int = 0, label_key: str = "label0",
                           agg_method: str = "mean_abs") -> dict[str, Any]:
    """Global SHAP values of the partition in Clarify's ``analysis.json`` layout, from exact TreeSHAP on
    a seeded random sample of ``sample_size`` rows (KernelSHAP if the model is not a tree booster)."""
    from airsage.clarify import explain as explain_mod

    if not len(frame):
        raise DataValidationError("scored partition", ["the partition has no rows"],
                                  fix="Nothing to explain: check the partition.")
    if sample_size < 1:
        raise ConfigError(f"SHAP sample size {sample_size} < 1", key="AIRSAGE_MONITOR_SHAP_SAMPLE",
                          fix="Use a positive number of rows, e.g. 2000.")
    rows = np.arange(len(frame))
    if sample_size < len(frame):
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), sample_size, replace=False))
    sub = frame.iloc[rows].reset_index(drop=True)
    t0 = time.perf_counter()
    res = explain_mod.explain(model, sub, feature_columns=list(feature_columns), explainer="auto", seed=seed,
                              agg_method=agg_method, on_additivity_error="warn")
    seconds = time.perf_counter() - t0
    return {"version": "1.0",
            "explanations": {"kernel_shap": {label_key: {"global_shap_values": res.global_values(),
                                                         "expected_value": res.expected_value}}},
            "airsage": {"shap_method": res.method, "shap_output_space": res.output_space, "shap_agg_method": agg_method,
                        "shap_records": int(len(rows)), "partition_rows": int(len(frame)), "seed": int(seed),
                        "shap_seconds": round(seconds, 4)}}


# =========================================================================== results
@dataclass(frozen=True)
class ClarifyMonitorResult:
    """One Clarify-based monitor's outcome for a partition."""

    kind: str                          # bias_drift | feature_attribution_drift
    analysis: dict[str, Any]
    violations: tuple[dict[str, str], ...]
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def alert(self) -> bool:
        return bool(self.violations)

    def summary(self) -> dict[str, Any]:
        return {"alert": self.alert, "n_violations": len(self.violations), **self.details}

    def write(self, run_uri: str) -> dict[str, str]:
        """``<run>/<kind>/analysis.json`` and ``constraint_violations.json`` (each written atomically)."""
        folder = storage.join(run_uri, self.kind)
        return {"analysis": storage.write_json(storage.join(folder, ANALYSIS_FILE), self.analysis),
                "violations": storage.write_json(storage.join(folder, VIOLATIONS_FILE),
                                                 {"version": "1.0", "violations": list(self.violations)})}


def bias_drift(frame: pd.DataFrame, spec: BiasSpec, baseline_analysis: dict[str, Any], *,
               score_column: str = "score", ground_truth_column: str | None = None,
               bounds: dict[str, float] | None = None, judge_unbounded: bool = True) -> ClarifyMonitorResult:
    """Bias drift of a scored partition against the version's baseline Clarify analysis
    (``judge_unbounded=False``: only the metrics in ``bounds`` are judged, the others reported)."""
    current = partition_bias_analysis(frame, spec, score_column=score_column,
                                      ground_truth_column=ground_truth_column, baseline=baseline_analysis)
    rep = _rules.check_bias_drift(current, baseline_analysis, bounds=bounds, judge_unbounded=judge_unbounded)
    current["airsage"].update(bounds=dict(bounds or {}), judge_unbounded=judge_unbounded, compared=rep.compared)
    return ClarifyMonitorResult(BIAS_DIR, current, rep.violations,
                                {"compared": rep.compared, "rows": current["airsage"]["rows"],
                                 "labelled_rows": current["airsage"]["labelled_rows"],
                                 "metrics": _metric_values(current)})


def attribution_drift(frame: pd.DataFrame, model: Any, feature_columns: Sequence[str],
                      baseline_analysis: dict[str, Any], *, sample_size: int = DEFAULT_SHAP_SAMPLE, seed: int = 0,
                      threshold: float = _rules.NDCG_THRESHOLD) -> ClarifyMonitorResult:
    """Feature-attribution drift of a scored partition against the version's baseline analysis."""
    base = _rules.global_shap(baseline_analysis)
    if not base:
        raise DataValidationError("baseline analysis", ["it holds no global SHAP values"],
                                  fix="Use the version's Clarify analysis.json computed with methods.shap.")
    label_key = next(iter(base))
    current = partition_attributions(frame, model, feature_columns, sample_size=sample_size, seed=seed,
                                     label_key=label_key)
    rep = _rules.check_attribution_drift(current, baseline_analysis, threshold=threshold)
    current["airsage"].update(ndcg=dict(rep.ndcg), ndcg_threshold=threshold)
    cur = _rules.global_shap(current)[label_key]
    return ClarifyMonitorResult(ATTRIBUTION_DIR, current, rep.violations,
                                {"ndcg": rep.ndcg, "threshold": threshold,
                                 "top_features": sorted(cur, key=lambda k: -cur[k])[:5],
                                 "baseline_top_features": sorted(base[label_key], key=lambda k: -base[label_key][k])[:5],
                                 "shap_records": current["airsage"]["shap_records"],
                                 "shap_seconds": current["airsage"]["shap_seconds"]})


def _metric_values(analysis: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for facet, groups in (analysis.get("post_training_bias_metrics") or {}).get("facets", {}).items():
        for g in groups:
            for m in g["metrics"]:
                out[f"{facet}={g['value_or_threshold']}:{m['name']}"] = m.get("value")
    return out


# =========================================================================== the monitor job's step
MONITORS = ("bias", "attribution")


def wanted_monitors(setting: str | None, only: str | None = None) -> tuple[str, ...]:
    """``auto`` / ``all`` (both, each when its inputs are there), ``none``, or a comma list."""
    if only:
        return (only,)
    raw = (setting or "auto").strip().lower()
    if raw in ("auto", "all"):
        return MONITORS
    if raw == "none":
        return ()
    chosen = tuple(x.strip() for x in raw.split(",") if x.strip())
    bad = [x for x in chosen if x not in MONITORS]
    if bad:
        raise ConfigError(f"unknown Clarify-based monitor(s) {bad}", key="AIRSAGE_MONITOR_CLARIFY_MONITORS",
                          fix="Use auto, none, bias, attribution or bias,attribution.")
    return chosen


def run_monitors(out: str, *, load_partition: Callable[[list[str] | None], pd.DataFrame],
                 baseline: dict[str, Any] | None, wanted: Sequence[str],
                 bias_config: Callable[[], dict[str, Any] | None], model_uri: Callable[[], Any],
                 bounds: dict[str, float] | None, subfolders: bool, only: str | None = None,
                 score_column: str = "score", ground_truth_column: str = "ground_truth",
                 extra_columns: Sequence[str] = (), shap_sample: int = DEFAULT_SHAP_SAMPLE, seed: int = 0,
                 ndcg_threshold: float = _rules.NDCG_THRESHOLD, judge_unbounded: bool = True) -> dict[str, Any]:
    """Run the wanted monitors whose inputs are there (``only``: that one, its inputs required) and
    write their files into ``<out>/<kind>/`` (``subfolders``) or ``out``. Returns ``{kind: summary}``."""
    if not wanted or baseline is None:
        return {}
    cfg = bias_config() if "bias" in wanted else None
    mpath = model_uri() if "attribution" in wanted else None
    if only == "bias" and cfg is None:
        raise ConfigError("bias drift needs the facets and label of the version's Clarify analysis",
                          key="AIRSAGE_MONITOR_BIAS_CONFIG",
                          fix="Set AIRSAGE_USECASE, or pass Clarify's analysis_config as AIRSAGE_MONITOR_BIAS_CONFIG.")
    if only == "attribution" and mpath is None:
        raise ConfigError("feature-attribution drift needs the model", key="AIRSAGE_MONITOR_MODEL",
                          fix="Mount the model artifact as the 'model' input channel or set AIRSAGE_MONITOR_MODEL.")
    spec = BiasSpec.from_analysis_config(cfg) if cfg is not None and baseline.get("post_training_bias_metrics") \
        else None
    model = None
    if mpath is not None and _rules.global_shap(baseline):
        from airsage.model import ModelBundle

        model = ModelBundle.load_uri(str(mpath))
    if spec is None and model is None:
        return {}
    columns = None
    if model is None:  # bias only: decode just what it needs
        columns = [score_column, *(f for f, _ in spec.facets), *extra_columns,
                   *([spec.group_variable] if spec.group_variable else [])]
    frame = load_partition(columns)
    results: list[ClarifyMonitorResult] = []
    if spec is not None:
        results.append(bias_drift(frame, spec, baseline, score_column=score_column, bounds=bounds,
                                  judge_unbounded=judge_unbounded,
                                  ground_truth_column=ground_truth_column if ground_truth_column in frame.columns
                                  else None))
    if model is not None:
        results.append(attribution_drift(frame, model, list(model.feature_names), baseline, sample_size=shap_sample,
                                         seed=seed, threshold=ndcg_threshold))
    for res in results:
        if subfolders:
            res.write(out)
        else:
            storage.write_json(storage.join(out, ANALYSIS_FILE), res.analysis)
            storage.write_json(storage.join(out, VIOLATIONS_FILE), {"version": "1.0", "violations": list(res.violations)})
    return {res.kind: res.summary() for res in results}


def read_results(run_uri: str) -> dict[str, dict[str, Any]]:
    """``{kind: {"alert", "n_violations", "violations"}}`` of the Clarify-based monitors a run wrote."""
    out = {}
    for kind in (BIAS_DIR, ATTRIBUTION_DIR):
        uri = storage.join(run_uri, kind, VIOLATIONS_FILE)
        if storage.exists(uri):
            v = storage.read_json(uri).get("violations", [])
            out[kind] = {"alert": bool(v), "n_violations": len(v), "violations": v}
    return out


def load_results(run_uri: str, baseline: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``read_results`` with what a report and a trend need, from each monitor's ``analysis.json`` and the
    version's ``baseline`` analysis: for bias drift ``rows``, ``labelled_rows``, ``compared``, ``bounds``
    and ``metrics`` (one row per facet value and metric: ``value``, ``baseline``, ``limit`` — the largest
    allowed distance from the ideal —, ``violation``); for attribution drift ``ndcg`` (the lowest over
    labels), ``threshold``, ``current`` / ``baseline`` (mean |SHAP| per feature), ``top_features``."""
    out = read_results(run_uri)
    for kind, res in out.items():
        uri = storage.join(run_uri, kind, ANALYSIS_FILE)
        analysis = storage.read_json(uri) if storage.exists(uri) else {}
        extra = analysis.get("airsage") or {}
        if kind == BIAS_DIR:
            res.update(rows=extra.get("rows"), labelled_rows=extra.get("labelled_rows"), compared=extra.get("compared"),
                       bounds=extra.get("bounds") or {}, judge_unbounded=extra.get("judge_unbounded", True),
                       metrics=bias_metric_rows(analysis, baseline, extra.get("bounds"), res["violations"],
                                                judge_unbounded=extra.get("judge_unbounded", True)))
        else:
            cur = _rules.global_shap(analysis)
            label = next(iter(cur), None)
            base = _rules.global_shap(baseline or {}).get(label, {}) if label else {}
            ndcg = extra.get("ndcg") or (_rules.check_attribution_drift(analysis, baseline).ndcg if baseline else {})
            current = {k: float(v) for k, v in (cur.get(label) or {}).items()}
            res.update(ndcg=min(ndcg.values()) if ndcg else None, ndcg_by_label=ndcg,
                       threshold=extra.get("ndcg_threshold", _rules.NDCG_THRESHOLD), label=label, current=current,
                       baseline={k: float(v) for k, v in base.items()},
                       top_features=sorted(current, key=lambda k: -abs(current[k]))[:5],
                       shap_records=extra.get("shap_records"))
    return out


def bias_metric_rows(analysis: dict[str, Any], baseline: dict[str, Any] | None, bounds: dict[str, float] | None,
                     violations: Sequence[dict[str, Any]] = (), judge_unbounded: bool = True) -> list[dict[str, Any]]:
    """One row per (facet, facet value, metric) of the partition's analysis, beside the baseline's value
    and the limit it was judged by (``bounds[metric]``, else the baseline's distance from the ideal;
    ``None``: not judged)."""
    from airsage.clarify.vocabulary import ideal

    base = {k: v for k, (v, _) in _rules.metric_table(baseline or {}).items()}
    bad = {(v.get("facet"), v.get("facet_value"), v.get("metric_name")) for v in violations}
    rows = []
    for key, (value, fv) in sorted(_rules.metric_table(analysis).items()):
        _, facet, _, name = key
        b = base.get(key)
        limit = (bounds or {}).get(name)
        if limit is None and judge_unbounded and b is not None and np.isfinite(b):
            limit = abs(b - ideal(name))
        rows.append({"facet": facet, "facet_value": fv, "metric": name, "value": value, "baseline": b,
                     "ideal": ideal(name), "limit": None if limit is None else float(limit),
                     "violation": (facet, fv, name) in bad})
    return rows
