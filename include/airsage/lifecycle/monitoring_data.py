"""What the monitor judges and knows: the monitoring files' names, the captured rows of a partition (each
record once, the newest run's), the ground truth that arrived for them, model quality, the score and
model-quality baselines of a training job, SHAP importance weights, the alert text. Used by ``lifecycle.monitoring``
(the workflow) and ``lifecycle.monitoring_adhoc`` (the CLI's analyses).

Ground truth comes from published datasets (a record's label, known when its dataset was published)
and human review decisions (A2I ``output.json``, known at submission); a timeout is not ground truth.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from airsage import layout, storage
from airsage.config import UseCase
from airsage.errors import ConfigError, DataValidationError

log = logging.getLogger("airsage.monitoring")

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
SCORE_STATISTICS_FILE = "score_statistics.json"
MODEL_QUALITY_FILE = "model_quality.json"
MODEL_QUALITY_CONSTRAINTS_FILE = "model_quality_constraints.json"
FEATURE_IMPORTANCE_FILE = "feature_importance.json"
BASELINE_META_FILE = "baseline.json"
VIOLATIONS_FILE = "constraint_violations.json"
RUN_FILE = "run.json"
REPORT_FILE = "report.html"
SCORE = "score"
CAPTURE_META = ("inference_id", "captured_at", "score", "predicted_label", "model_name", "model_version")
MIN_WEIGHT_COVERAGE = 0.5  # SHAP weights are used only when they name at least half of the baseline features
# the Clarify-based monitors (bias drift, feature-attribution drift): the monitor job's extra channels
CLARIFY_BASELINE_CHANNEL = "clarify_baseline"   # the version's post-training Clarify analysis.json (a snapshot)
GROUNDTRUTH_CHANNEL = "groundtruth"             # labels that arrived for the judged rows (a snapshot)
MODEL_CHANNEL = "model"                         # the version's model.tar.gz (attribution drift)
CLARIFY_INPUTS_FILE = "clarify_inputs.json"     # in the staging directory: what the plan found, and why not
CLARIFY_MONITORS_ENV = "AIRSAGE_MONITOR_CLARIFY_MONITORS"
GROUND_TRUTH = "ground_truth"
ID_COLUMNS = ("inference_id", "captured_at")


def feature_types(uc: UseCase) -> dict[str, str]:
    return {f.name: f.type for f in uc.schema_.features}


def drift_thresholds(uc: UseCase):
    from airsage.monitor.drift import DriftThresholds

    m = uc.monitor
    return DriftThresholds(psi_threshold=m.psi_threshold, js_threshold=m.js_threshold,
                           wasserstein_threshold=m.wasserstein_threshold, drifted_share_alert=m.drifted_share_alert,
                           min_rows=m.min_drift_rows)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def training_outputs(output_data_uri: str | None, eval_predictions_uri: str | None, tmp: Path) -> dict[str, Any]:
    """The held-out predictions (local path, ``eval``) and the model-quality documents of a training job
    (``airsage.training.outputs.read_job_outputs``, the one reader of a training job's output data)."""
    from airsage.training.outputs import read_job_outputs

    out: dict[str, Any] = {}
    tarballs = [u for u in (output_data_uri, eval_predictions_uri) if u and u.endswith((".tar.gz", ".tgz"))]
    if output_data_uri and output_data_uri not in tarballs:
        tarballs.insert(0, output_data_uri)  # an unpacked output directory
    for i, uri in enumerate(dict.fromkeys(tarballs)):
        docs = read_job_outputs(uri, tmp / f"out{i}", require_metrics=False)
        for name, key in ((MODEL_QUALITY_FILE, "model_quality"),
                          (MODEL_QUALITY_CONSTRAINTS_FILE, "model_quality_constraints")):
            if docs[key] is not None and name not in out:
                out[name] = docs[key]
        if docs["eval_predictions"] is not None and "eval" not in out:
            out["eval"] = str(docs["eval_predictions"])
    if eval_predictions_uri and eval_predictions_uri not in tarballs:
        out["eval"] = eval_predictions_uri
    return out


def score_and_quality_baseline(uc: UseCase, outputs: dict[str, Any]) -> dict[str, Any]:
    from airsage.monitor.baseline import suggest_baseline
    from airsage.monitor.model_quality import binary_classification_metrics, suggest_model_quality_constraints

    docs: dict[str, Any] = {}
    frame = None
    if outputs.get("eval"):
        frame = _read_parquet_columns(outputs["eval"], [SCORE, uc.schema_.label])
        if SCORE not in frame.columns:
            raise DataValidationError(outputs["eval"], [f"no {SCORE!r} column in the held-out predictions"],
                                      fix="Pass the eval_predictions.parquet written by the training job.")
        docs[SCORE_STATISTICS_FILE] = suggest_baseline(frame[[SCORE]], features={SCORE: "numeric"})[0]
    quality = outputs.get(MODEL_QUALITY_FILE)
    cons = outputs.get(MODEL_QUALITY_CONSTRAINTS_FILE)
    if quality is None and frame is not None and uc.schema_.label in frame.columns:
        y = binary_labels(frame[uc.schema_.label], uc.schema_.positive_labels)
        keep = y >= 0
        quality = binary_classification_metrics(y[keep], frame[SCORE].to_numpy()[keep],
                                                y_pred=(frame[SCORE].to_numpy()[keep] > uc.training.decision_threshold),
                                                evaluation_time=now().isoformat(timespec="seconds"))
    if quality is not None:
        # same margin rule as the training job's suggestion: max(3 std, 0.05)
        cons = cons or suggest_model_quality_constraints(quality, n_std=3.0, min_slack=0.05)
        docs[MODEL_QUALITY_FILE] = quality
        docs[MODEL_QUALITY_CONSTRAINTS_FILE] = with_overrides(cons, uc.monitor.model_quality_constraints)
    return docs


def _read_parquet_columns(uri: str, columns: list[str]) -> Any:
    """The listed columns (those present) of one Parquet file, as a DataFrame."""
    import pyarrow.parquet as pq

    with storage.local_copy(uri) as local:
        names = pq.read_schema(local).names
        return pq.read_table(local, columns=[c for c in columns if c in names]).to_pandas()


def with_overrides(constraints: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Model-quality constraints with the use case's per-metric overrides applied (validated)."""
    from airsage.monitor.model_quality import suggest_model_quality_constraints

    if not overrides:
        return constraints
    extra = suggest_model_quality_constraints({}, overrides=overrides)["binary_classification_constraints"]
    block = dict(constraints.get("binary_classification_constraints") or {})
    block.update(extra)
    return {**constraints, "binary_classification_constraints": block}


def importance_weights(analysis: dict[str, Any], features: list[str]) -> dict[str, float] | None:
    """Normalised mean |SHAP| per feature from a Clarify ``analysis.json``, or None when it holds no
    SHAP values or names too few of ``features`` (e.g. one-hot names): uniform weights are then safer
    than silently weighting unnamed features 0."""
    from airsage.monitor.bias_drift import global_shap
    from airsage.monitor.drift import weights_from_shap

    labels = global_shap(analysis)
    if not labels:
        return None
    weights = weights_from_shap(next(iter(labels.values())))
    covered = sum(1 for f in features if f in weights)
    if not weights or covered < MIN_WEIGHT_COVERAGE * len(features):
        log.warning("Clarify SHAP values name %d of %d features: drift is weighted uniformly", covered, len(features))
        return None
    return {f: float(weights.get(f, 0.0)) for f in features}


def registry_run_key(uc: UseCase, version: str) -> str | None:
    """The training run key of a registered version (its ``run_key`` tag), or None."""
    try:
        from airsage.registry import ModelRegistry
        from airsage.registry import types as rt

        return ModelRegistry.from_settings().get_version(uc.registered_model_name, version).tags.get(rt.TAG_RUN_KEY)
    except Exception as exc:  # noqa: BLE001 - weighting is optional; say why it is off
        log.warning("could not read the run_key of %s v%s from the registry (%s): no SHAP weights",
                    uc.registered_model_name, version, exc)
        return None


def headline_metrics(stats: dict[str, Any] | None) -> dict[str, float]:
    block = (stats or {}).get("binary_classification_metrics") or {}
    return {k: block[k]["value"] for k in ("auc", "recall", "precision", "f1", "accuracy")
            if isinstance(block.get(k), dict) and isinstance(block[k].get("value"), (int, float))}


def read_optional(base: str, name: str) -> Any | None:
    uri = storage.join(base, name)
    return storage.read_json(uri) if storage.exists(uri) else None


def run_weights(uc: UseCase, base: str) -> tuple[dict[str, float] | None, str]:
    """Importance weights: the baseline's, else the version's Clarify analysis if it arrived later."""
    stored = read_optional(base, FEATURE_IMPORTANCE_FILE)
    if stored and stored.get("weights"):
        return stored["weights"], "importance"
    meta = read_optional(base, BASELINE_META_FILE) or {}
    if meta.get("run_key"):
        uri = layout.clarify_analysis(uc, meta["run_key"])
        if storage.exists(uri):
            weights = importance_weights(storage.read_json(uri), list(feature_types(uc)))
            if weights:
                return weights, "importance"
    return None, "uniform"


# --------------------------------------------------------------------------- the capture
def select_capture(uc: UseCase, day: dt.date, version: str | None, stack: ExitStack) -> dict[str, Any]:
    """The rows to judge: per run file a keep-mask (this version, each inference id once, newest run
    wins) and the kept rows' ids, times, scores and labels (for model quality)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    prefix = layout.captures(uc, day)
    files = storage.list_files(prefix, suffixes=(".parquet",)) if storage.exists(prefix) else []
    if not files:
        hint = "" if uc.transform.capture else " (transform.capture is false in the use case: turn it on)"
        raise DataValidationError(prefix, [f"no captured data for partition {day}"],
                                  fix=f"Score the partition first (the {uc.name}__batch_transform DAG){hint}, or pick "
                                      "a partition that was scored.")
    indexed = []
    for uri in files:
        local = stack.enter_context(storage.local_copy(uri))
        names = pq.read_schema(local).names
        missing = [c for c in ("inference_id", "model_version") if c not in names]
        if missing:
            raise DataValidationError(uri, [f"capture file lacks {missing}"],
                                      fix="Capture files are written by the batch transform "
                                          "(airsage.transform.capture).")
        cols = [c for c in ("inference_id", "model_version", "captured_at", SCORE, "predicted_label") if c in names]
        meta = pq.read_table(local, columns=cols)
        newest = pc.max(meta.column("captured_at")).as_py() if "captured_at" in names and meta.num_rows else None
        indexed.append((uri, local, meta, newest))
    indexed.sort(key=lambda x: (x[3] is not None, x[3] or dt.datetime.min, x[0]), reverse=True)  # newest first
    versions = sorted({str(v) for _, _, m, _ in indexed for v in m.column("model_version").unique().to_pylist()
                       if v is not None})
    if version is None:
        latest = next((m for _, _, m, _ in indexed if m.num_rows), None)
        if latest is None:
            raise DataValidationError(prefix, ["the capture files hold no rows"],
                                      fix="Re-run the batch transform for the partition.")
        counts = pc.value_counts(latest.column("model_version")).to_pylist()
        version = layout.version_key(max(counts, key=lambda c: c["counts"])["values"])
    elif version not in versions:
        raise DataValidationError(prefix, [f"no row of the partition was scored by model version {version} "
                                           f"(the capture holds {versions or 'no version'})"],
                                  fix="Leave model_version empty to take it from the capture, or name one of those.")
    seen: list[pa.Array] = []
    selected, kept_meta, duplicates = [], [], 0
    for uri, local, meta, _ in indexed:
        ids = meta.column("inference_id").combine_chunks()
        keep = pc.equal(pc.cast(meta.column("model_version"), pa.string()), version).combine_chunks()
        keep = pc.fill_null(keep, False)
        if seen:
            dup = pc.is_in(ids, value_set=pa.concat_arrays(seen))
            duplicates += int(pc.sum(pc.and_(keep, dup)).as_py() or 0)
            keep = pc.and_(keep, pc.invert(dup))
        mask = keep.to_numpy(zero_copy_only=False)
        if mask.any():
            selected.append((uri, (local, mask)))
            seen.append(ids.filter(keep))
            kept_meta.append(meta.filter(keep))
    if kept_meta:
        frame = pa.concat_tables(kept_meta, promote_options="default").to_pandas()
    else:
        frame = pd.DataFrame(columns=["inference_id", "captured_at", SCORE, "predicted_label"])
    frame["inference_id"] = frame["inference_id"].astype(str)
    return {"version": version, "files": selected, "meta": frame, "duplicates": duplicates, "versions": versions}


def _stream_capture(files: list[tuple[str, tuple[Path, Any]]], *, with_score: bool, with_ids: bool = False,
                    facets: Any = None) -> Iterator[Any]:
    """The kept rows' feature columns (and the score; with ``with_ids`` their ``inference_id`` and
    ``captured_at``; with ``facets``, a table keyed by its first column, the inference id, those columns
    joined: null where a row has no match), one Arrow row group at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    skip = set(CAPTURE_META) - ({SCORE} if with_score else set()) - (set(ID_COLUMNS) if with_ids else set())
    keys = pc.cast(facets.column(0), pa.string()) if facets is not None else None
    for _, (local, mask) in files:
        schema = pq.read_schema(local)
        wanted = [c for c in schema.names if c not in skip]
        strings = [f.name for f in schema
                   if f.name in wanted and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        pf = pq.ParquetFile(local, read_dictionary=strings)
        offset = 0
        for i in range(pf.num_row_groups):
            table = pf.read_row_group(i, columns=wanted)
            part = mask[offset:offset + table.num_rows]
            offset += table.num_rows
            if not part.all():
                table = table.filter(pa.array(part))
            if facets is not None and table.num_rows:
                at = pc.index_in(pc.cast(table.column("inference_id"), pa.string()), value_set=keys)
                for name in facets.column_names[1:]:
                    if name not in table.column_names:
                        table = table.append_column(name, facets.column(name).take(at))
            if table.num_rows:
                yield table


def stage_capture(files: list[tuple[str, tuple[Path, Any]]], dest: Path, *, with_score: bool, with_ids: bool = False,
                  facets: Any = None) -> list[Path]:
    """Write the kept rows as the monitor job's dataset: one Parquet file per capture file (newest
    first, so the job reads them in ``_stream_capture``'s order), one row group per kept row group."""
    import pyarrow.parquet as pq

    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, item in enumerate(files):
        writer = None
        path = dest / f"part-{i:05d}.parquet"
        try:
            for table in _stream_capture([item], with_score=with_score, with_ids=with_ids, facets=facets):
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
        finally:
            if writer is not None:
                writer.close()
        if writer is not None:
            written.append(path)
    return written


# --------------------------------------------------------------------------- the Clarify-based monitors' inputs
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


# --------------------------------------------------------------------------- ground truth
def binary_labels(values: Any, positive_labels: list[Any]) -> Any:
    """0/1 (int64) for label values, -1 where the label is missing."""
    import numpy as np
    import pandas as pd

    s = pd.Series(values)
    positive = {str(p) for p in positive_labels}
    text = s.astype(object).where(s.notna(), None).map(lambda v: None if v is None else str(v))
    # integer labels may come back as floats (1.0) once nulls are involved
    text = text.map(lambda v: v[:-2] if isinstance(v, str) and v.endswith(".0") and v[:-2].lstrip("-").isdigit() else v)
    out = np.where(text.isin(positive), 1, 0).astype(np.int64)
    out[text.isna().to_numpy()] = -1
    return out


def load_ground_truth(uc: UseCase, inference_ids: Any) -> Any:
    """Labels for ``inference_ids`` with the time each became known:
    ``inference_id, label (0/1), labeled_at (UTC), source``.

    * published datasets (``datasets/ds-*/``): the record's label, known when the dataset was published
      (its manifest's ``created_at``); the capture's inference id is the record id;
    * human review decisions (A2I ``output.json`` under ``review/``): the reviewer's final label at
      submission. Timeouts are left out: a default decision is not ground truth.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from airsage.labeling.dataset import DATA_FILE, MANIFEST_FILE, VERSION_RE

    columns = ["inference_id", "label", "labeled_at", "source"]
    ids = pa.array(pd.unique(pd.Series(inference_ids, dtype=object).astype(str)), pa.string())
    frames = []
    s = uc.schema_
    datasets = layout.datasets(uc)
    manifests = storage.list_files(datasets, suffixes=(MANIFEST_FILE,)) if storage.exists(datasets) else []
    for manifest_uri in manifests:
        ds = manifest_uri[: -len(MANIFEST_FILE) - 1]
        if not VERSION_RE.match(ds.replace("\\", "/").rsplit("/", 1)[-1]) or not storage.is_complete(ds):
            continue
        created = storage.read_json(manifest_uri).get("created_at")
        if not created:
            log.warning("dataset %s has no created_at: its labels cannot be placed in time, skipped", ds)
            continue
        with storage.local_copy(storage.join(ds, DATA_FILE)) as local:
            table = pq.read_table(local, columns=[s.record_id, s.label])
        rid = pc.cast(table.column(s.record_id), pa.string())
        table = table.filter(pc.is_in(rid, value_set=ids))
        if not table.num_rows:
            continue
        df = table.to_pandas()
        frames.append(pd.DataFrame({"inference_id": df[s.record_id].astype(str).to_numpy(),
                                    "label": binary_labels(df[s.label], s.positive_labels),
                                    "labeled_at": pd.to_datetime(created, utc=True),
                                    "source": f"dataset:{ds.replace(chr(92), '/').rsplit('/', 1)[-1]}"}))
    review_root = layout.review(uc)
    if storage.exists(review_root):
        from airsage.review.a2i import read_decisions, resolve_decisions

        try:
            decisions = read_decisions(review_root)
        except DataValidationError as exc:
            log.warning("review decisions under %s are unreadable (%s): not used as ground truth", review_root, exc)
            decisions = pd.DataFrame()
        if len(decisions):
            human = resolve_decisions(decisions[decisions["status"] == "reviewed"])
            human = human[human["inference_id"].astype(str).isin(set(ids.to_pylist()))]
            if len(human):
                frames.append(pd.DataFrame({"inference_id": human["inference_id"].astype(str).to_numpy(),
                                            "label": human["final_label"].astype("int64").to_numpy(),
                                            "labeled_at": human["decided_at"].to_numpy(),
                                            "source": "review"}))
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    out["labeled_at"] = pd.to_datetime(out["labeled_at"], utc=True)
    return out[out["label"] >= 0].reset_index(drop=True)[columns]


def judge_model_quality(uc: UseCase, captured: Any, base: str) -> dict[str, Any]:
    """Model Monitor's model-quality statistics and violations for the captured rows that got labels."""
    from airsage.monitor.model_quality import binary_classification_metrics, check_model_quality, join_ground_truth

    constraints = read_optional(base, MODEL_QUALITY_CONSTRAINTS_FILE)
    if constraints is None:
        return {"status": "no_baseline", "rows": 0}
    if SCORE not in captured.columns or "predicted_label" not in captured.columns or not len(captured):
        return {"status": "no_scores", "rows": 0}
    labels = load_ground_truth(uc, captured["inference_id"])
    if not len(labels):
        return {"status": "no_ground_truth", "rows": 0}
    joined = join_ground_truth(captured, labels, offsets=tuple(uc.monitor.ground_truth_offset_hours),
                               label_col="label", label_time_col="labeled_at", ground_truth_col="ground_truth")
    join = dict(joined.attrs.get("join", {}))
    sources = labels[labels["inference_id"].isin(set(joined["inference_id"]))]["source"].value_counts()
    base_info = {"rows": int(len(joined)), "join": join,
                 "label_sources": {str(k): int(v) for k, v in sources.items()}}
    if not len(joined):
        return {"status": "no_ground_truth_in_window", **base_info}
    stats = binary_classification_metrics(joined["ground_truth"].to_numpy(), joined[SCORE].to_numpy(),
                                          y_pred=joined["predicted_label"].to_numpy(),
                                          evaluation_time=now().isoformat(timespec="seconds"))
    result = {**base_info, "statistics": stats, "violations": []}
    if len(joined) < uc.monitor.min_ground_truth_rows:
        return {**result, "status": "insufficient_ground_truth"}
    if joined["ground_truth"].nunique() < 2:
        return {**result, "status": "single_class"}
    violations = check_model_quality(stats, with_overrides(constraints, uc.monitor.model_quality_constraints))
    return {**result, "violations": violations, "status": "violations" if violations else "ok"}


# =========================================================================== alert text
def alert_kinds(run: dict[str, Any]) -> list[str]:
    """Which monitors of a run summary alerted (for subjects and notifier text)."""
    kinds = []
    if run.get("data_quality_violations"):
        kinds.append("data quality")
    if run.get("dataset_drift"):
        kinds.append("data drift")
    if run.get("prediction_drift"):
        kinds.append("prediction drift")
    if run.get("model_quality") == "violations":
        kinds.append("model quality")
    if (run.get("bias_drift") or {}).get("alert"):
        kinds.append("bias drift")
    if (run.get("feature_attribution_drift") or {}).get("alert"):
        kinds.append("feature attribution drift")
    return kinds


def _clarify_lines(run: dict[str, Any]) -> list[str]:
    """One line per Clarify-based monitor of a run summary: its outcome, or why it did not run."""
    lines = []
    for key, name in (("bias_drift", "bias drift"), ("feature_attribution_drift", "feature attribution drift")):
        r = run.get(key)
        if not r:
            continue
        if r.get("status") == "not_run":
            lines.append(f"{name}: not run ({r.get('reason')})")
        elif key == "bias_drift":
            lines.append(f"{name}: {r.get('n_violations')} violation(s) of {r.get('compared')} compared metric(s), "
                         f"{r.get('rows')} rows ({r.get('labelled_rows')} labelled)")
        else:
            ndcg = r.get("ndcg")
            lines.append(f"{name}: NDCG {'-' if ndcg is None else f'{ndcg:.3f}'} (alert below {r.get('threshold')}); "
                         f"top features now {', '.join(r.get('top_features') or [])}, at baseline "
                         f"{', '.join(r.get('baseline_top_features') or [])}")
    return lines


def format_alert(uc: UseCase, runs: list[dict[str, Any]], *, retrain: bool | None = None) -> dict[str, str]:
    """Subject, plain text and HTML of an alert about one or more monitoring runs (their summaries)."""
    import html

    alerting = [r for r in runs if r.get("alert")] or runs
    retrain = uc.monitor.retrain_on_alert if retrain is None else retrain
    parts = ", ".join(f"{r.get('partition')} (v{r.get('model_version')})" for r in alerting)
    kinds = list(dict.fromkeys(k for r in alerting for k in alert_kinds(r)))
    subject = f"[airsage] {uc.name}: monitoring alert for {parts}" + (f": {', '.join(kinds)}" if kinds else "")
    lines = [f"Monitoring of {uc.name} ({uc.registered_model_name}) raised an alert."]
    for r in alerting:
        lines.append(f"\nPartition {r.get('partition')}, model version {r.get('model_version')}, "
                     f"{r.get('item_count')} rows:")
        lines += [f"  - {reason}" for reason in r.get("reasons", [])]
        lines += [f"  ({line})" for line in _clarify_lines(r)]
        lines.append(f"  report: {r.get('report_uri')}")
    lines.append(f"\nRetraining: the {uc.name}__train DAG is triggered (monitor.retrain_on_alert)." if retrain
                 else "\nRetraining is not automatic (monitor.retrain_on_alert is off): decide whether to retrain.")
    text = "\n".join(lines)
    body = [f"<p>{html.escape(lines[0])}</p>"]
    for r in alerting:
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in r.get("reasons", []))
        notes = "".join(f"<li>{html.escape(line)}</li>" for line in _clarify_lines(r))
        body.append(f"<h3>Partition {html.escape(str(r.get('partition')))}, model version "
                    f"{html.escape(str(r.get('model_version')))}, {html.escape(str(r.get('item_count')))} rows</h3>"
                    f"<ul>{items}</ul>" + (f"<p>Clarify-based monitors:</p><ul>{notes}</ul>" if notes else "")
                    + f"<p>Report: {html.escape(str(r.get('report_uri')))}</p>")
    body.append(f"<p>{html.escape(lines[-1].strip())}</p>")
    return {"subject": subject[:240], "text": text, "html": "<html><body>" + "".join(body) + "</body></html>"}
