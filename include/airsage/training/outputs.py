"""What a training (or tuning) job leaves in its output data directory.

* ``metrics.json``: held-out evaluation of the model and of the baseline, lineage, training settings;
* ``eval_predictions.parquet``: the held-out rows with their scores (input of post-training bias,
  SHAP, and of the registry's model signature);
* ``model_quality.json`` / ``model_quality_constraints.json``: the same evaluation in Model Monitor's
  model-quality format, i.e. the model-quality baseline (statistics and suggested constraints);
* ``trials.json`` (tuning only).

``write_job_outputs`` (inside the job) and ``read_job_outputs`` (the registry, the lifecycle steps) are
the one writer and the one reader of this layout. The reader is light to import (stdlib + storage): the
heavy training imports are inside the writer.
"""
from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airsage import storage
from airsage.errors import DataValidationError, StorageError

if TYPE_CHECKING:
    from airsage.training.train import TrainingJobConfig, TrainResult

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "eval_predictions.parquet"
MODEL_QUALITY_FILE = "model_quality.json"
MODEL_QUALITY_CONSTRAINTS_FILE = "model_quality_constraints.json"
TRIALS_FILE = "trials.json"
#: the JSON documents of the layout, as ``read_job_outputs`` keys (file name without ``.json``)
JSON_FILES = (METRICS_FILE, MODEL_QUALITY_FILE, MODEL_QUALITY_CONSTRAINTS_FILE, TRIALS_FILE)


def metrics_document(result: TrainResult, cfg: TrainingJobConfig, **extra: Any) -> dict[str, Any]:
    """The content of ``metrics.json``."""
    baseline = None
    if result.baseline_evaluation is not None:
        baseline = {"algorithm": result.baseline_algorithm, "evaluation": result.baseline_evaluation.to_dict()}
    return {"evaluation": result.evaluation.to_dict(), "train_rows": result.train_rows,
            "best_iteration": result.best_iteration, "algorithm": cfg.algorithm,
            "hyperparameters": result.bundle.metadata.get("hyperparameters", cfg.hyperparameters),
            "threshold": cfg.threshold, "test_size": cfg.test_size, "seed": cfg.seed,
            "handle_imbalance": cfg.handle_imbalance, "dataset_version": cfg.dataset_version,
            "baseline": baseline, **extra}


def write_job_outputs(result: TrainResult, cfg: TrainingJobConfig, out_dir: str | Path, **extra: Any) -> dict[str, str]:
    """Write the job's output data files (each atomically); return {file kind: path}."""
    from airsage.training.model_quality import model_quality_metrics, suggest_constraints
    from airsage.training.train import binary_target

    out = str(out_dir)
    y = binary_target(result.eval_frame[cfg.label], cfg.positive_labels)
    stats = model_quality_metrics(y, result.eval_frame["score"].to_numpy(), cfg.threshold, seed=cfg.seed)
    paths = {
        "metrics": storage.write_json(storage.join(out, METRICS_FILE), metrics_document(result, cfg, **extra)),
        "model_quality": storage.write_json(storage.join(out, MODEL_QUALITY_FILE), stats),
        "model_quality_constraints": storage.write_json(storage.join(out, MODEL_QUALITY_CONSTRAINTS_FILE),
                                                        suggest_constraints(stats)),
    }
    with storage.atomic_path(storage.join(out, PREDICTIONS_FILE)) as tmp:
        result.eval_frame.to_parquet(tmp, index=False)
    paths["eval_predictions"] = storage.join(out, PREDICTIONS_FILE)
    return paths


def print_metrics(result: TrainResult) -> None:
    """SageMaker picks metrics from the log with MetricDefinitions regexes: print them in a stable form."""
    for k, v in result.evaluation.metrics().items():
        print(f"airsage-metric {k}={v}")
    if result.baseline_evaluation is not None:
        for k, v in result.baseline_evaluation.metrics().items():
            print(f"airsage-metric baseline_{k}={v}")


def read_job_outputs(output_data_uri: str, dest_dir: Path, *, require_metrics: bool = True) -> dict[str, Any]:
    """Read a training or tuning job's output data (its ``output.tar.gz``, or the unpacked directory).

    Unpacks into ``dest_dir`` (which the caller owns, e.g. a temporary directory) and returns::

        {"metrics": dict | None,                    # metrics.json
         "model_quality": dict | None,              # model_quality.json (Model Monitor statistics)
         "model_quality_constraints": dict | None,  # model_quality_constraints.json
         "trials": list | None,                     # trials.json (tuning only)
         "eval_predictions": Path | None,           # local path of eval_predictions.parquet
         "dir": Path}                               # where it was unpacked

    A missing or unreadable archive, or (with ``require_metrics``) one without ``metrics.json``, is a
    ``DataValidationError`` naming the fix.
    """
    dest = Path(dest_dir)
    try:
        storage.unpack_tar(output_data_uri, dest)
    except (StorageError, FileNotFoundError, NotADirectoryError, tarfile.TarError, EOFError) as exc:
        raise DataValidationError(output_data_uri, [f"cannot read the training output: {exc}"],
                                  fix="Pass the output_data URI the training job reported (output.tar.gz).") from exc
    found: dict[str, Path] = {}
    for p in sorted(dest.rglob("*"), key=lambda p: (len(p.parts), str(p))):
        if p.is_file():
            found.setdefault(p.name, p)  # shallowest first: one file per name
    if require_metrics and METRICS_FILE not in found:
        raise DataValidationError(output_data_uri, [f"no {METRICS_FILE} in the training output"],
                                  fix="Pass the output_data URI of an Airsage training or tuning job.")
    out: dict[str, Any] = {"dir": dest, "eval_predictions": found.get(PREDICTIONS_FILE)}
    for name in JSON_FILES:
        key = name.removesuffix(".json")
        if name not in found:
            out[key] = None
            continue
        try:
            out[key] = json.loads(found[name].read_text())
        except (ValueError, OSError) as exc:
            raise DataValidationError(output_data_uri, [f"{name} is not valid JSON: {exc}"],
                                      fix="Re-run the training job; its output data is damaged.") from exc
    return out
