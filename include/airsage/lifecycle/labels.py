"""The label workflow (``<uc>__import_labels``, ``airsage labels``, ``airsage demo prepare``): example data,
label import, the published dataset versions, active learning."""
from __future__ import annotations

import datetime as dt
from typing import Any

from airsage import layout, storage
from airsage.config import UseCase
from airsage.contracts import DatasetRef
from airsage.errors import ConfigError, DataValidationError
from airsage.lifecycle.common import bundle_for, partition_for


def prepare_example_data(uc: UseCase, *, end_date: dt.date | str = "2026-11-21", days: int | None = None,
                         rows_per_day: int | None = None, scoring_rows: int | None = None) -> dict[str, Any]:
    """Generate the bundled example: ``days`` of feature records ending the day before ``end_date``, a
    Ground Truth output manifest labelling them, and the scoring partition for ``end_date``.

    Deterministic (seeded) and idempotent: files that exist already are left as they are.
    """
    import pandas as pd

    from airsage.data.generator import generate
    from airsage.labeling.simulate import write_ground_truth_output_manifest

    g = uc.generator
    end = partition_for(end_date)
    days = days or g.history_days
    rows = rows_per_day or g.rows_per_day
    label_cols = [uc.schema_.label, "label_available_at"]
    written, frames = [], []
    for i in range(days, 0, -1):
        day = end - dt.timedelta(days=i)
        df = generate(rows, seed=g.seed, day=day, bias_strength=g.bias_strength, label_delay_days=g.label_delay_days)
        frames.append(df)
        uri = storage.join(layout.raw_features(uc, day), "part-00000.parquet")
        if not storage.exists(uri):
            with storage.atomic_path(uri) as tmp:
                df.drop(columns=label_cols).to_parquet(tmp, index=False)
            written.append(uri)
    labelled = pd.concat(frames, ignore_index=True)
    job = f"{uc.name.replace('_', '-')}-labels-{end:%Y%m%d}"
    manifest = layout.ground_truth_manifest(uc, job)
    if not storage.exists(manifest):
        write_ground_truth_output_manifest(
            labelled, manifest, label_attribute=uc.labeling.label_attribute or "label", job_name=job,
            class_map={str(v): k for k, v in uc.labeling.class_map.items()} or None, seed=g.seed,
            record_id=uc.schema_.record_id, label=uc.schema_.label)
        written.append(manifest)
    written += prepare_scoring(uc, end, rows=scoring_rows or rows)["written"]
    return {"manifest": manifest, "features": layout.raw_features(uc), "scoring": layout.scoring(uc, end),
            "written": written, "history_days": days, "rows_per_day": rows}


def _scoring_frame(uc: UseCase, day: dt.date, rows: int | None):
    """The example's records of scoring partition ``day`` with their (later known) outcomes (seeded)."""
    from airsage.data.generator import generate

    g = uc.generator
    return generate(rows or g.rows_per_day, seed=g.seed, day=day, bias_strength=g.bias_strength, drift=g.drift)


def prepare_scoring(uc: UseCase, day: dt.date | str, *, rows: int | None = None) -> dict[str, Any]:
    """The example's scoring partition for ``day`` (features only; idempotent: an existing file is kept)."""
    day = partition_for(day)
    scoring = storage.join(layout.scoring(uc, day), "part-00000.parquet")
    written = []
    if not storage.exists(scoring):
        df = _scoring_frame(uc, day, rows)
        with storage.atomic_path(scoring) as tmp:
            df.drop(columns=[uc.schema_.label, "label_available_at"]).to_parquet(tmp, index=False)
        written.append(scoring)
    return {"scoring": layout.scoring(uc, day), "written": written}


def prepare_outcomes(uc: UseCase, day: dt.date | str, *, rows: int | None = None) -> dict[str, Any]:
    """The outcomes of the example's scoring partition ``day`` arrive: its records join the feature store
    (``raw_features``) and a Ground Truth manifest labelling them lands in ``labels_incoming``, so the next
    label import publishes them as a dataset (ground truth for monitoring and shadow scoring). Idempotent."""
    from airsage.labeling.simulate import write_ground_truth_output_manifest

    day = partition_for(day)
    df = _scoring_frame(uc, day, rows)
    written = []
    features = storage.join(layout.raw_features(uc, day), "part-00000.parquet")
    if not storage.exists(features):
        with storage.atomic_path(features) as tmp:
            df.drop(columns=[uc.schema_.label, "label_available_at"]).to_parquet(tmp, index=False)
        written.append(features)
    job = f"{uc.name.replace('_', '-')}-outcomes-{day:%Y%m%d}"
    manifest = layout.ground_truth_manifest(uc, job)
    if not storage.exists(manifest):
        write_ground_truth_output_manifest(
            df, manifest, label_attribute=uc.labeling.label_attribute or "label", job_name=job,
            class_map={str(v): k for k, v in uc.labeling.class_map.items()} or None, seed=uc.generator.seed,
            record_id=uc.schema_.record_id, label=uc.schema_.label)
        written.append(manifest)
    return {"manifest": manifest, "features": layout.raw_features(uc), "written": written}


def incoming_manifests(uc: UseCase) -> list[str]:
    """Every Ground Truth output manifest below ``labels/incoming/`` (the import DAG's default source)."""
    return storage.list_files(layout.labels_incoming(uc), suffixes=(".manifest",))


def import_labels(uc: UseCase, sources: list[str] | str, *, features_uri: str | None = None,
                  output_root: str | None = None, log_lineage: bool = True) -> dict[str, Any]:
    """Read, consolidate, validate and publish labels as a dataset version (the import report as a dict)."""
    from airsage.labeling import import_labels as _import

    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    if not sources:
        raise ConfigError("no label source given", key="manifest_uri",
                          fix="Pass one or more manifest / output.json / CSV / Parquet URIs.")
    report = _import(uc, sources, features_uri=features_uri, output_root=output_root)
    result = report.to_dict()
    if log_lineage:
        result["mlflow_run_id"] = _log_dataset_lineage(uc, report)
    return result


def _log_dataset_lineage(uc: UseCase, report) -> str | None:
    from airsage.labeling import lineage
    from airsage.registry.tracking import log_dataset_import

    return log_dataset_import(uc, lineage(report))


def latest_dataset(uc: UseCase, version: str | None = None) -> DatasetRef:
    """The named dataset version, else the latest published one."""
    from airsage.labeling import latest_dataset as _latest

    if version:
        uri = layout.dataset(uc, version)
        if not storage.exists(storage.join(uri, "manifest.json")):
            raise ConfigError(f"dataset version {version} does not exist under {layout.datasets(uc)}",
                              key="dataset_version", fix="Leave it empty for the latest, or run the label import.")
        manifest = storage.read_json(storage.join(uri, "manifest.json"))
        return DatasetRef(version=version, uri=uri, hash=manifest.get("hash"), rows=manifest.get("rows"))
    latest = _latest(uc)
    if not latest:
        raise DataValidationError(layout.datasets(uc), ["no dataset has been published yet"],
                                  fix=f"Run the {uc.name}__import_labels DAG (or `airsage labels import`) first.")
    return DatasetRef(version=latest["version"], uri=latest["uri"], hash=latest.get("hash"), rows=latest.get("rows"))


def export_uncertain(uc: UseCase, input_uri: str, output_uri: str, *, n: int | None = None) -> dict:
    """Active learning: a Ground Truth input manifest of the unlabelled records the champion is least sure about."""
    import pandas as pd
    import pyarrow.parquet as pq

    from airsage.labeling import export_uncertain as _export, load_dataset

    bundle = bundle_for(f"models:/{uc.registered_model_name}@champion", require_approved=True)[0]
    frames = [pq.read_table(f).to_pandas() for f in storage.list_files(input_uri, suffixes=(".parquet",))]
    if not frames:
        raise DataValidationError(input_uri, ["no Parquet files"], fix="Point --input at unlabelled feature records.")
    labeled = set(load_dataset("latest", uc)[uc.schema_.record_id].astype(str))
    result = _export(bundle, pd.concat(frames, ignore_index=True), n or uc.labeling.active_learning_batch, output_uri,
                     labeled_ids=labeled, record_id=uc.schema_.record_id, uc=uc)
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)
