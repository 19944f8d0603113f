"""What a registration records in MLflow besides the version: the training run (params, metrics, code
version, dataset lineage), the model as a pyfunc with its signature and pinned requirements, the job's
``model.tar.gz``, the evaluation files, the Clarify analysis and tuning trials as child runs; and the
MLflow run of a label import (dataset lineage before any model exists).
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

from airsage.registry.artifacts import MODEL_ARTIFACT_DIR
from airsage.registry.audit import safe_name
from airsage.registry._mlflow import mlflow_module
from airsage.registry.store import MlflowStore, now_ms, quiet, quoted, scalar_metrics

EVALUATION_DIR = "evaluation"  # metrics.json, model_quality*.json, trials.json
CLARIFY_DIR = "clarify"  # analysis.json
RUN_KEY_TAG = "airsage.run_key"
#: the training-output documents logged under ``evaluation/`` ({file name: read_job_outputs key})
EVALUATION_FILES = {"metrics.json": "metrics", "model_quality.json": "model_quality",
                    "model_quality_constraints.json": "model_quality_constraints", "trials.json": "trials"}


def signature(meta: dict[str, Any], predictions: Path | None):
    """Model signature from the bundle's feature list (numeric: double, categorical: string; all optional,
    as the bundle maps missing and unseen values to NaN) and a 5-row input example from the held-out rows."""
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    features = meta["feature_names"]
    categorical = set(meta.get("categorical") or {})
    inputs = Schema([ColSpec("string" if f in categorical else "double", f, required=False) for f in features])
    outputs = Schema([ColSpec("double", "score"), ColSpec("long", "predicted_label")])
    example = None
    if predictions is not None:
        import pyarrow.parquet as pq

        cols = [f for f in features if f in pq.read_schema(predictions).names]
        if len(cols) == len(features):
            frame = pq.read_table(predictions, columns=cols).slice(0, 5).to_pandas()
            example = pd.DataFrame({f: (frame[f].astype(object).where(frame[f].notna(), None).map(
                lambda x: None if x is None else str(x)) if f in categorical else frame[f].astype("float64"))
                                    for f in features})
    return ModelSignature(inputs=inputs, outputs=outputs), example


#: what loading an Airsage pyfunc needs besides the ``airsage`` code logged with it (``code_paths``):
#: MLflow and the pickle, the bundle's numpy / pandas, and the package's own light runtime imports
LOAD_REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "pyarrow", "scikit-learn", "joblib", "pydantic",
                     "pyyaml")


def pip_requirements(algorithm: str) -> list[str]:
    """Pinned to the versions installed here, so MLflow never infers them (slow; loads the model), and
    every one installable from PyPI in a clean environment. ``airsage`` itself is not a requirement (it
    is not on PyPI): its code travels with the model (``code_paths``, see ``log_model``)."""
    from importlib.metadata import PackageNotFoundError, version

    pkgs = list(LOAD_REQUIREMENTS)
    if algorithm == "xgboost":
        pkgs.insert(1, "xgboost")
    out = []
    for p in pkgs:
        try:
            out.append(f"{p}=={version(p)}")
        except PackageNotFoundError:
            out.append(p)
    return out


def airsage_code_path() -> str:
    """The directory of the installed ``airsage`` package, logged with every Airsage pyfunc."""
    import airsage

    return str(Path(airsage.__file__).resolve().parent)


def log_dataset(store: MlflowStore, run_id: str, uc, dataset: dict[str, Any], context: str = "training") -> None:
    """Dataset lineage (``mlflow.log_input``): the dataset URI, its hash as the digest, its version."""
    if not dataset.get("uri"):
        return
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag

    digest = str(dataset.get("hash") or dataset.get("digest") or dataset.get("version") or "")[:36] or None
    with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local source
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(dataset["uri"])
    ds = MetaDataset(source=source, name=str(dataset.get("name") or f"{uc.name}-training"), digest=digest)
    tags = [InputTag("mlflow.data.context", context)]
    for k in ("version", "rows", "hash"):
        if dataset.get(k) is not None:
            tags.append(InputTag(f"airsage.dataset_{k}", str(dataset[k])))
    store.client.log_inputs(run_id, [DatasetInput(ds._to_mlflow_entity(), tags)])


def log_model(store: MlflowStore, exp_id: str, run_id: str, uc, bundle_dir: Path, predictions: Path | None,
              tmp: Path) -> tuple[str, str]:
    """Log the bundle as an MLflow 3 LoggedModel (pyfunc flavour); return (artifact location, model id)."""
    mlflow = mlflow_module()
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    from airsage.registry.pyfunc import BUNDLE_ARTIFACT, AirsageBundleModel

    client = store.client
    meta = json.loads((bundle_dir / "airsage_model.json").read_text())
    sig, example = signature(meta, predictions)
    lm = client.create_logged_model(experiment_id=exp_id, name="model", source_run_id=run_id,
                                    model_type="airsage-bundle",
                                    tags={"airsage.usecase": uc.name, "airsage.algorithm": meta["algorithm"]})
    local = tmp / "mlflow-model"
    with quiet("mlflow.pyfunc"):  # the wrapper is pickled by reference: the CloudPickle caveat is moot
        mlflow.pyfunc.save_model(
            path=str(local), python_model=AirsageBundleModel(), artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
            signature=sig, input_example=example, pip_requirements=pip_requirements(meta["algorithm"]),
            # the package travels with the model: mlflow.pyfunc.load_model works where airsage is not installed
            code_paths=[airsage_code_path()],
            mlflow_model=Model(artifact_path=lm.artifact_location, run_id=run_id, model_uuid=lm.model_id,
                               model_id=lm.model_id))
    client.log_model_artifacts(lm.model_id, str(local))
    client.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, [LoggedModelOutput(lm.model_id, step=0)])
    # the version's source is the storage location: MLflow 3.17 resolves a models:/<id> source
    # through a client on the *global* tracking URI, not this registry's
    return lm.artifact_location, lm.model_id


def log_trial(store: MlflowStore, exp_id: str, parent_run_id: str, run_key: str, trial: dict[str, Any],
              objective: str | None) -> None:
    from mlflow.entities import Metric, Param

    status = str(trial.get("status", "Completed"))
    child = store.client.create_run(exp_id, run_name=f"trial-{int(trial.get('trial', 0)):03d}",
                                    tags={"mlflow.parentRunId": parent_run_id, "airsage.kind": "tuning-trial",
                                          "airsage.parent_run_key": run_key, "airsage.trial_status": status,
                                          "airsage.trial_detail": str(trial.get("detail", ""))[:5000]})
    metrics = []
    if isinstance(trial.get("metric"), (int, float)):
        metrics.append(Metric(f"validation_{objective or 'objective'}", float(trial["metric"]), now_ms(), 0))
    for k in ("rounds", "best_iteration"):
        if isinstance(trial.get(k), (int, float)):
            metrics.append(Metric(k, float(trial[k]), now_ms(), 0))
    store.log_batch(child.info.run_id, [Param(k, str(v)) for k, v in (trial.get("params") or {}).items()], metrics)
    store.client.set_terminated(child.info.run_id, {"Completed": "FINISHED", "Pruned": "KILLED"}.get(status, "FAILED"))


def log_training_run(store: MlflowStore, uc, *, run_key: str, actor: str, code_version: str,
                     dataset: dict[str, Any], outputs: dict[str, Any], bundle_dir: Path, tarball: Path,
                     model_artifact_uri: str, output_data_uri: str, bias: dict[str, Any] | None,
                     trials: list[dict[str, Any]], tmp: Path, extra_tags: dict[str, str] | None = None
                     ) -> tuple[str, str, str]:
    """One MLflow run for a finished training (``outputs``: ``training.outputs.read_job_outputs``);
    returns (run id, model source URI, logged model id). The run is FAILED when anything goes wrong."""
    from mlflow.entities import Metric, Param

    client = store.client
    exp_id = store.experiment_id(uc)
    metrics_doc = outputs.get("metrics") or {}
    run_tags = {RUN_KEY_TAG: run_key, "airsage.usecase": uc.name, "airsage.kind": "training",
                "mlflow.user": actor, "airsage.code_version": code_version,
                "airsage.model_artifact_uri": model_artifact_uri, "airsage.output_data_uri": output_data_uri,
                **(extra_tags or {})}
    if re.fullmatch(r"[0-9a-f]{40}", code_version or ""):
        run_tags["mlflow.source.git.commit"] = code_version
    run = client.create_run(exp_id, run_name=f"{uc.name}-{safe_name(run_key)}"[:250], tags=run_tags)
    run_id = run.info.run_id
    try:
        baseline = metrics_doc.get("baseline") or {}
        params = {"algorithm": metrics_doc.get("algorithm"), "threshold": metrics_doc.get("threshold"),
                  "test_size": metrics_doc.get("test_size"), "seed": metrics_doc.get("seed"),
                  "handle_imbalance": metrics_doc.get("handle_imbalance"),
                  "dataset_version": dataset.get("version"), "dataset_rows": dataset.get("rows"),
                  "baseline_algorithm": baseline.get("algorithm"),
                  **{f"hp.{k}": v for k, v in (metrics_doc.get("hyperparameters") or {}).items()}}
        ts = now_ms()
        metrics = {**scalar_metrics(metrics_doc.get("evaluation")),
                   **scalar_metrics(baseline.get("evaluation"), "baseline_"),
                   **scalar_metrics({"train_rows": metrics_doc.get("train_rows")})}
        store.log_batch(run_id, [Param(k, str(v)) for k, v in params.items() if v is not None],
                        [Metric(k, v, ts, 0) for k, v in metrics.items()])
        log_dataset(store, run_id, uc, dataset)
        model_uri, model_id = log_model(store, exp_id, run_id, uc, bundle_dir, outputs.get("eval_predictions"), tmp)
        client.log_artifact(run_id, str(tarball), MODEL_ARTIFACT_DIR)
        eval_dir = tmp / "evaluation-artifacts"
        eval_dir.mkdir()
        for fname, key in EVALUATION_FILES.items():
            if outputs.get(key) is not None:
                (eval_dir / fname).write_text(json.dumps(outputs[key], indent=2))
        if any(eval_dir.iterdir()):
            client.log_artifacts(run_id, str(eval_dir), EVALUATION_DIR)
        if bias is not None:
            client.log_dict(run_id, bias, f"{CLARIFY_DIR}/analysis.json")
        objective = (outputs.get("trials") or {}).get("objective") if isinstance(outputs.get("trials"), dict) else None
        for trial in trials:
            log_trial(store, exp_id, run_id, run_key, trial, objective)
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return run_id, model_uri, model_id


def log_dataset_import(store: MlflowStore, uc, lineage: dict[str, dict[str, Any]]) -> str:
    """One MLflow run per imported dataset version (idempotent per version); returns its run id."""
    from mlflow.entities import Metric, Param

    client = store.client
    tags = {str(k): str(v) for k, v in (lineage.get("tags") or {}).items()}
    params = {str(k): str(v) for k, v in (lineage.get("params") or {}).items()}
    version = params.get("dataset_version") or tags.get("airsage.dataset.version") or "unknown"
    exp_id = store.experiment_id(uc)
    version_filter = f"tags.`airsage.dataset.version` = '{quoted(version, 'dataset version')}'"
    runs = client.search_runs([exp_id], filter_string=f"tags.`airsage.kind` = 'dataset-import' and {version_filter}",
                              max_results=1)
    if runs:
        return runs[0].info.run_id
    run = client.create_run(exp_id, run_name=f"import-{version}"[:250],
                            tags={**tags, "airsage.kind": "dataset-import", "airsage.usecase": uc.name,
                                  "airsage.dataset.version": version})
    store.log_batch(run.info.run_id, [Param(k, v[:6000]) for k, v in params.items()],
                    [Metric(k, float(v), now_ms(), 0) for k, v in (lineage.get("metrics") or {}).items()
                     if isinstance(v, (int, float))])
    log_dataset(store, run.info.run_id, uc, {"uri": params.get("dataset_uri") or tags.get("airsage.dataset.uri"),
                                             "hash": params.get("dataset_hash") or tags.get("airsage.dataset.hash"),
                                             "version": version, "rows": params.get("dataset_rows")},
                context="import")
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id
