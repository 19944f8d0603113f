"""The nightly Clarify-based monitors (bias drift, feature-attribution drift) in the monitoring workflow:
what the plan needs for them (the version's post-training Clarify analysis, its model artifact, the
facets of the judged rows, the labels that arrived), the bounds they are judged by, and how their
results enter the run summary. The job itself runs ``airsage.monitor.clarify_monitors``."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airsage import layout, storage
from airsage.config import UseCase
from airsage.errors import ConfigError
from airsage.lifecycle.monitoring_data import BASELINE_META_FILE, ID_COLUMNS, load_ground_truth, read_optional

log = logging.getLogger("airsage.monitoring")

# the Clarify-based monitors (bias drift, feature-attribution drift): the monitor job's extra channels
CLARIFY_BASELINE_CHANNEL = "clarify_baseline"   # the version's post-training Clarify analysis.json (a snapshot)
GROUNDTRUTH_CHANNEL = "groundtruth"             # labels that arrived for the judged rows (a snapshot)
MODEL_CHANNEL = "model"                         # the version's model.tar.gz (attribution drift)
CLARIFY_INPUTS_FILE = "clarify_inputs.json"     # in the staging directory: what the plan found, and why not
CLARIFY_MONITORS_ENV = "AIRSAGE_MONITOR_CLARIFY_MONITORS"
GROUND_TRUTH = "ground_truth"


def clarify_monitors_setting() -> str:
    """Which Clarify-based monitors the nightly run asks for: ``$AIRSAGE_MONITOR_CLARIFY_MONITORS`` where the
    plan runs (the Airflow worker, the CLI) — ``auto`` (default: each one whose inputs exist), ``none``,
    ``bias``, ``attribution`` or ``bias,attribution``."""
    from airsage.monitor.clarify_monitors import wanted_monitors

    raw = (os.environ.get(CLARIFY_MONITORS_ENV) or "auto").strip()
    wanted_monitors(raw)  # a typo is a ConfigError naming the variable
    return raw


def bias_bounds(uc: UseCase) -> dict[str, float]:
    """The nightly bias-drift bounds (metric -> largest allowed ``|value - ideal|``):
    ``$AIRSAGE_MONITOR_BIAS_BOUNDS`` (JSON) where the plan runs, else the use case's ``gates.max_bias``.
    When there are bounds, only the bounded metrics are judged (the rest are reported): Clarify's own
    rule — no farther from the ideal than the baseline value — fires on sampling noise alone for about
    half of the metrics of an unchanged night."""
    raw = os.environ.get("AIRSAGE_MONITOR_BIAS_BOUNDS")
    if raw:
        try:
            doc = json.loads(raw)
            return {str(k): float(v) for k, v in doc.items()}
        except (ValueError, TypeError, AttributeError):
            raise ConfigError(f"AIRSAGE_MONITOR_BIAS_BOUNDS is not a JSON object of numbers: {raw[:80]!r}",
                              key="AIRSAGE_MONITOR_BIAS_BOUNDS", fix='Set e.g. {"DPPL": 0.2, "DI": 0.5}, or unset it '
                                                                      "to use the use case's gates.max_bias.") from None
    return {k: float(v) for k, v in (uc.gates.max_bias or {}).items()}


def facet_columns(uc: UseCase) -> list[str]:
    """The bias analysis' columns that are not model features (e.g. pass-through ``sex``): the capture
    does not hold them, so the plan joins them from the scored partition's records."""
    s = uc.schema_
    cols = [f.name for f in s.facets] + ([s.group_variable] if s.group_variable else [])
    features = set(s.feature_names)
    return [c for c in dict.fromkeys(cols) if c not in features]


def unjudged_columns(uc: UseCase) -> list[str]:
    """Columns staged for the Clarify-based monitors only: data quality leaves them out."""
    return [*ID_COLUMNS, *facet_columns(uc)]


def _version_tags(uc: UseCase, version: str) -> dict[str, str]:
    try:
        from airsage.registry import ModelRegistry

        return dict(ModelRegistry.from_settings().get_version(uc.registered_model_name, version).tags)
    except Exception as exc:  # noqa: BLE001 - the monitors are optional; say why they are off
        log.warning("could not read %s v%s from the registry (%s): no model for attribution drift",
                    uc.registered_model_name, version, exc)
        return {}


def clarify_inputs(uc: UseCase, version: str, base: str, setting: str | None = None) -> dict[str, Any]:
    """What the version's Clarify-based monitors need, and why a monitor cannot run:
    ``{"wanted", "analysis_uri", "model_uri", "model_sha256", "skipped": {monitor: reason}}``.

    The baseline is the version's post-training Clarify ``analysis.json`` (bias metrics and global SHAP
    of its held-out data): the one the baseline was built from, else the training run's
    (``reports/clarify/<run_key>/post_training/analysis.json``, run key from ``baseline.json`` or the
    registry). The model is the version's ``model_artifact_uri`` tag. Nothing is read from the
    registry unless an analysis exists."""
    from airsage.monitor.bias_drift import global_shap
    from airsage.monitor.clarify_monitors import wanted_monitors
    from airsage.registry import tags as rt

    wanted = wanted_monitors(setting if setting is not None else clarify_monitors_setting())
    out: dict[str, Any] = {"wanted": list(wanted), "analysis_uri": None, "model_uri": None, "model_sha256": None,
                           "skipped": {}}
    if not wanted:
        return out
    meta = read_optional(base, BASELINE_META_FILE) or {}
    candidates = [meta.get("clarify_analysis_uri")]
    if meta.get("run_key"):
        candidates.append(layout.clarify_analysis(uc, meta["run_key"]))
    tags: dict[str, str] | None = None
    if not meta.get("run_key") and not any(c and storage.exists(c) for c in candidates):
        tags = _version_tags(uc, version)  # a baseline without a run key: the version's tag names it
        if tags.get(rt.TAG_RUN_KEY):
            candidates.append(layout.clarify_analysis(uc, tags[rt.TAG_RUN_KEY]))
    analysis_uri = next((c for c in candidates if c and storage.exists(c)), None)
    if analysis_uri is None:
        reason = (f"model version {version} has no post-training Clarify analysis (the training run's Clarify job "
                  f"writes it; or run `airsage clarify` and name it in {BASELINE_META_FILE})")
        out["skipped"] = {m: reason for m in wanted}
        return out
    analysis = storage.read_json(analysis_uri)
    out["analysis_uri"] = analysis_uri
    if "bias" in wanted:
        if not uc.schema_.facets:
            out["skipped"]["bias"] = "the use case names no facets (schema.facets)"
        elif not analysis.get("post_training_bias_metrics"):
            out["skipped"]["bias"] = f"{analysis_uri} holds no post-training bias metrics"
    if "attribution" in wanted:
        if not global_shap(analysis):
            out["skipped"]["attribution"] = f"{analysis_uri} holds no global SHAP values"
        else:
            tags = _version_tags(uc, version) if tags is None else tags
            model = tags.get(rt.TAG_MODEL_ARTIFACT)
            if model and storage.exists(model):
                out["model_uri"], out["model_sha256"] = model, tags.get(rt.TAG_MODEL_SHA256)
            else:
                out["skipped"]["attribution"] = (f"the model artifact of version {version} is not found "
                                                 f"({rt.TAG_MODEL_ARTIFACT} tag: {model or 'none'})")
    return out


def facet_lookup(uc: UseCase, day: dt.date) -> tuple[Any, str | None]:
    """The facet columns of the partition's scored records keyed by record id (the capture's inference
    id), as one Arrow table ``(record_id, *facet_columns)``; ``(None, reason)`` when they cannot be had."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = facet_columns(uc)
    if not cols:
        return None, None
    rid = uc.schema_.record_id
    src = layout.scoring(uc, day)
    files = storage.list_files(src, suffixes=(".parquet",)) if storage.exists(src) else []
    if not files:
        return None, f"the facet column(s) {cols} are not in the capture and {src} holds no Parquet records to join"
    tables = []
    for uri in files:
        with storage.local_copy(uri) as local:
            names = pq.read_schema(local).names
            missing = [c for c in [rid, *cols] if c not in names]
            if missing:
                return None, f"{uri} lacks {missing}: the facets cannot be joined to the captured rows"
            t = pq.read_table(local, columns=[rid, *cols])
        tables.append(t.set_column(0, rid, t.column(0).cast(pa.string())))
    return pa.concat_tables(tables, promote_options="default"), None


def stage_ground_truth(uc: UseCase, inference_ids: Any, dest: Path) -> int:
    """The labels known for the judged rows (``load_ground_truth``) as the job's ``groundtruth`` channel:
    ``inference_id, ground_truth, labeled_at`` (the job joins them within the offsets, as model quality
    does). Returns the number of label rows (0: nothing is written)."""
    labels = load_ground_truth(uc, inference_ids)
    if not len(labels):
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    labels.rename(columns={"label": GROUND_TRUTH})[["inference_id", GROUND_TRUTH, "labeled_at"]].to_parquet(
        dest / "part-00000.parquet", index=False)
    return int(len(labels))


def clarify_results(job_output: str, baseline_uri: str | None) -> dict[str, dict[str, Any]]:
    """The Clarify-based monitors' results the job wrote (``<job output>/<kind>/``), with the details the
    report and the history need (``clarify_monitors.load_results``)."""
    from airsage.monitor.clarify_monitors import load_results

    baseline = storage.read_json(baseline_uri) if baseline_uri and storage.exists(baseline_uri) else None
    return load_results(job_output, baseline)


def run_summaries(clarify: dict[str, dict[str, Any]], found: Mapping[str, Any]) -> dict[str, Any]:
    """``bias_drift`` / ``feature_attribution_drift`` entries of the run summary (XCom-sized): the result,
    or ``{"status": "not_run", "reason": ...}``."""
    from airsage.monitor.clarify_monitors import ATTRIBUTION_DIR, BIAS_DIR

    out: dict[str, Any] = {}
    skipped = found.get("skipped") or {}
    for kind, monitor in ((BIAS_DIR, "bias"), (ATTRIBUTION_DIR, "attribution")):
        r = clarify.get(kind)
        if r is None:
            reason = skipped.get(monitor) or ("turned off (AIRSAGE_MONITOR_CLARIFY_MONITORS)"
                                              if found and monitor not in (found.get("wanted") or []) else
                                              "the monitor job did not run it")
            out[kind] = {"status": "not_run", "reason": reason}
            continue
        entry = {"status": "violations" if r["alert"] else "ok", "alert": r["alert"], "n_violations": r["n_violations"]}
        if kind == BIAS_DIR:
            entry.update(rows=r.get("rows"), labelled_rows=r.get("labelled_rows"), compared=r.get("compared"),
                         violations=[bias_violation_text(m) for m in r.get("metrics", []) if m["violation"]][:10])
        else:
            entry.update(ndcg=r.get("ndcg"), threshold=r.get("threshold"), top_features=r.get("top_features"),
                         baseline_top_features=sorted(r.get("baseline") or {},
                                                      key=lambda k: -abs(r["baseline"][k]))[:5])
        out[kind] = entry
    return out


def bias_violation_text(m: Mapping[str, Any]) -> str:
    base = "-" if m.get("baseline") is None else f"{m['baseline']:.3g}"
    return (f"{m['metric']} {m['facet']}={m['facet_value']}: {m['value']:.3g} (baseline {base}, "
            f"allowed |value - {m['ideal']:g}| <= {m['limit']:.3g})")
