"""Produce what a training or tuning job leaves behind, in-process and small: for tests and demos.

``job_outputs`` fits a model and writes ``model.tar.gz`` and ``output.tar.gz`` laid out exactly as a
SageMaker (or local-backend) training job publishes them, so registry code can be exercised without
starting a job.
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from airsage.training.outputs import TRIALS_FILE, write_job_outputs
from airsage.training.train import TrainingJobConfig, TrainResult, fit


@dataclass(frozen=True)
class JobOutputs:
    model_artifact_uri: str  # .../output/model.tar.gz
    output_data_uri: str  # .../output/output.tar.gz
    result: TrainResult

    def to_dict(self) -> dict[str, str]:
        return {"model_artifact_uri": self.model_artifact_uri, "output_data_uri": self.output_data_uri}


def pack(src: Path, target: Path) -> str:
    """Tar-gzip a directory's content (paths relative to it), like SageMaker's model.tar.gz."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for p in sorted(src.rglob("*")):
            tar.add(p, arcname=p.relative_to(src).as_posix(), recursive=False)
    return str(target)


def job_outputs(df: pd.DataFrame, cfg: TrainingJobConfig, dest: str | Path, *, tuning=None) -> JobOutputs:
    """Train (or tune, when ``tuning`` is a ``TuningConfig``) and publish the job's two archives under ``dest``."""
    from airsage import storage

    dest = Path(dest)
    model_dir, data_dir = dest / "work" / "model", dest / "work" / "data"
    if tuning is not None:
        from airsage.training.tuning import run_tuning

        tuned = run_tuning(df, cfg, tuning)
        result, extra = tuned.result, {"tuning": {"best_trial": tuned.best_trial}}
        storage.write_json(str(data_dir / TRIALS_FILE), tuned.to_dict())
    else:
        result, extra = fit(df, cfg), {}
    result.bundle.save(model_dir)
    write_job_outputs(result, cfg, data_dir, **extra)
    out = dest / "output"
    return JobOutputs(pack(model_dir, out / "model.tar.gz"), pack(data_dir, out / "output.tar.gz"), result)


def dataset_info(df: pd.DataFrame, uri: str, version: str) -> dict[str, Any]:
    """The ``dataset`` dict ``ModelRegistry.register_training`` takes, for an in-memory frame."""
    import hashlib

    digest = hashlib.sha256(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()).hexdigest()
    return {"version": version, "uri": uri, "hash": digest, "rows": int(len(df)), "name": f"training-{version}"}
