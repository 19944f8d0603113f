"""What a training (or tuning) job leaves in its output data directory.

* ``metrics.json``: held-out evaluation of the model and of the baseline, lineage, training settings;
* ``eval_predictions.parquet``: the held-out rows with their scores (input of post-training bias,
  SHAP, and of the registry's model signature);
* ``model_quality.json`` / ``model_quality_constraints.json``: the same evaluation in Model Monitor's
  model-quality format, i.e. the model-quality baseline (statistics and suggested constraints);
* ``trials.json`` (tuning only).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from airsage import storage
from airsage.training.model_quality import model_quality_metrics, suggest_constraints
from airsage.training.train import TrainingJobConfig, TrainResult, binary_target

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "eval_predictions.parquet"
MODEL_QUALITY_FILE = "model_quality.json"
MODEL_QUALITY_CONSTRAINTS_FILE = "model_quality_constraints.json"
TRIALS_FILE = "trials.json"


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
