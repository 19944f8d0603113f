"""One monitoring run over the current data: data-quality checks + drift in a single pass.

The current data is profiled once through the baseline (its sketch keys, categories and expected
types); the Model Monitor checks (``checks``) and the effect-size drift (``drift``) are both
computed from that profile, so a run reads each row once, in bounded memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airsage import storage
from airsage.errors import DataValidationError
from airsage.monitor import checks as _checks
from airsage.monitor import drift as _drift
from airsage.monitor import profile as _profile
from airsage.monitor.baseline import STATISTICS_FILE

DRIFT_FILE = "drift.json"
SUMMARY_FILE = "summary.json"
QUALITY_FILE = "quality.json"  # the full DataQualityReport (per-feature checks): what ``read`` rebuilds from


@dataclass(frozen=True)
class DataMonitorReport:
    quality: _checks.DataQualityReport
    drift: _drift.DriftReport

    @property
    def alert(self) -> bool:
        """Any Model Monitor violation, dataset-level drift, or prediction drift."""
        return bool(self.quality.violations) or self.drift.alert

    def summary(self) -> dict[str, Any]:
        """A small, flat summary (XCom, history)."""
        by_type = self.quality.to_dict()["violations_by_type"]
        pred = self.drift.prediction
        return {"alert": self.alert, "item_count": self.quality.item_count,
                "n_violations": len(self.quality.violations), "violations_by_type": by_type,
                "dataset_drift": self.drift.dataset_drift, "drifted_share": round(self.drift.drifted_share, 6),
                "drifted_features": self.drift.drifted_features,
                "prediction_drift": bool(pred and pred.drifted),
                "prediction_psi": None if pred is None else pred.psi,
                "feature_psi": {f.name: f.psi for f in self.drift.features},
                "feature_linf": {f.name: f.distance for f in self.quality.features}}

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "quality": self.quality.to_dict(), "drift": self.drift.to_dict()}

    def write(self, output_uri: str) -> dict[str, str]:
        """Model Monitor's ``statistics.json`` + ``constraint_violations.json``, and ours:
        ``drift.json`` and ``summary.json``. Each file is written atomically."""
        out = {
            "statistics": storage.write_json(storage.join(output_uri, STATISTICS_FILE), self.quality.statistics),
            "violations": storage.write_json(storage.join(output_uri, _checks.VIOLATIONS_FILE),
                                             self.quality.violations_json()),
            "drift": storage.write_json(storage.join(output_uri, DRIFT_FILE), self.drift.to_dict()),
            "summary": storage.write_json(storage.join(output_uri, SUMMARY_FILE), self.summary()),
        }
        return out

    def write_job_outputs(self, output_uri: str) -> dict[str, str]:
        """What a monitoring *job* leaves: ``write``'s files plus ``quality.json``, enough for ``read``
        to rebuild this report exactly in another process (the job's caller finishes the run)."""
        out = self.write(output_uri)
        out["quality"] = storage.write_json(storage.join(output_uri, QUALITY_FILE), self.quality.to_dict())
        return out

    @classmethod
    def read(cls, output_uri: str) -> "DataMonitorReport":
        """The report a job wrote with ``write_job_outputs`` (``statistics.json``, ``quality.json``,
        ``drift.json``); ``write`` / ``summary`` / the HTML page of the result equal the original's."""
        missing = [n for n in (STATISTICS_FILE, QUALITY_FILE, DRIFT_FILE)
                   if not storage.exists(storage.join(output_uri, n))]
        if missing:
            raise DataValidationError(output_uri, [f"the monitoring job output lacks {missing}"],
                                      fix="Re-run the monitor job (python -m airsage.entrypoints.monitor in analyze "
                                          "mode writes them), or check the job's output prefix.")
        q = storage.read_json(storage.join(output_uri, QUALITY_FILE))
        quality = _checks.DataQualityReport(
            violations=tuple(_checks.Violation(**v) for v in q["violations"]),
            statistics=storage.read_json(storage.join(output_uri, STATISTICS_FILE)),
            features=tuple(_checks.FeatureCheck(**f) for f in q["features"]),
            comparison_method=q["comparison_method"], item_count=q["item_count"])
        d = storage.read_json(storage.join(output_uri, DRIFT_FILE))
        drift = _drift.DriftReport(
            features=tuple(_feature_drift(f) for f in d["features"]), drifted_share=d["drifted_share"],
            dataset_drift=d["dataset_drift"], weights_source=d["weights_source"],
            thresholds=_drift.DriftThresholds(**d["thresholds"]),
            prediction=_feature_drift(d["prediction"]) if d.get("prediction") else None)
        return cls(quality=quality, drift=drift)


def _feature_drift(doc: dict[str, Any]) -> _drift.FeatureDrift:
    tuples = ("bins", "baseline_shares", "current_shares")
    return _drift.FeatureDrift(**{k: tuple(v) if k in tuples else v for k, v in doc.items()})


def monitor_data(
    current: Any,
    baseline_statistics: dict[str, Any],
    baseline_constraints: dict[str, Any],
    *,
    weights: dict[str, float] | None = None,
    thresholds: _drift.DriftThresholds = _drift.DriftThresholds(),
    exclude_columns: tuple[str, ...] | list[str] = (),
    score_column: str | None = None,
    score_statistics: dict[str, Any] | None = None,
    comparison_method: str | None = None,
    comparison_threshold: float | None = None,
    alpha: float | None = None,
) -> DataMonitorReport:
    """Data quality (Model Monitor checks) + drift of ``current`` against a baseline, one pass.

    ``score_column`` with ``score_statistics`` (statistics of the baseline scores) adds prediction
    drift; the score column is then left out of the data-quality column checks.
    """
    score_ref = _drift.score_ref(score_column, score_statistics)
    extra_refs = {score_column: score_ref} if score_ref is not None else None
    prof = _checks.profile_for_baseline(current, baseline_statistics, baseline_constraints,
                                        exclude_columns=exclude_columns, extra_refs=extra_refs)
    quality_exclude = tuple(exclude_columns) + ((score_column,) if score_column else ())
    if score_column and score_column in prof.features:
        quality_prof = _without(prof, score_column)
    else:
        quality_prof = prof
    quality = _checks.analyze(None, baseline_statistics, baseline_constraints, comparison_method=comparison_method,
                              comparison_threshold=comparison_threshold, alpha=alpha,
                              exclude_columns=quality_exclude, profile=quality_prof)
    refs = _profile.refs_from_statistics(baseline_statistics)
    drift = _drift.drift_from_profile(prof, refs, weights=weights, thresholds=thresholds,
                                      score_column=score_column, score_ref=score_ref)
    return DataMonitorReport(quality=quality, drift=drift)


def _without(prof: _profile.DatasetProfile, column: str) -> _profile.DatasetProfile:
    return _profile.DatasetProfile(item_count=prof.item_count, columns=[c for c in prof.columns if c != column],
                          features={k: v for k, v in prof.features.items() if k != column})
