"""What the monitor judges and knows: the monitoring files' names, the captured rows of a partition (each
record once, the newest run's), the ground truth that arrived for them, model quality, the score and
model-quality baselines of a training job, SHAP importance weights. Used by ``lifecycle.monitoring`` (the
workflow), ``lifecycle.monitoring_clarify`` (the Clarify-based monitors' inputs) and
``lifecycle.monitoring_adhoc`` (the CLI's analyses); the alert text is ``lifecycle.monitoring_alert``.

Ground truth comes from published datasets (a record's label, known when its dataset was published)
and human review decisions (A2I ``output.json``, known at submission); a timeout is not ground truth.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from airsage import layout, storage
from airsage.config import UseCase
from airsage.errors import DataValidationError

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
