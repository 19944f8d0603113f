"""The lifecycle's steps, independent of any orchestrator.

Every DAG task and every CLI command calls one of these functions, so the UI, a scheduled run,
``airflow dags test`` and ``airsage ...`` all run the same code. Each step is idempotent for its
``run_key`` (derived from the Airflow run id): a retried or re-run step reattaches or replaces, it never
duplicates. Heavy modules are imported inside the functions.

Data layout below a use case's root (``uc.data_root()``, a local path or ``s3://``)::

    raw/features/dt=YYYY-MM-DD/*.parquet    feature records (no labels) — what labels join to
    labels/incoming/<job>/manifests/output/output.manifest   Ground Truth output manifests
    datasets/<version>/ , datasets/latest.json               versioned training sets (label import)
    scoring/dt=YYYY-MM-DD/*.parquet          the nightly partitions to score
    training/<job>/output/model.tar.gz       training job outputs (SageMaker's layout)
    predictions/dt=YYYY-MM-DD/               batch transform outputs (<file>.out per input file)
    capture/dt=YYYY-MM-DD/<run_key>.parquet  data capture for monitoring
    reports/..., review/...
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import subprocess
from typing import Any

from airsage import storage
from airsage.compute.base import ComputeBackend, JobSpec, job_name
from airsage.config import UseCase, load_settings
from airsage.errors import ConfigError, DataValidationError

log = logging.getLogger("airsage.pipeline")


# ---------------------------------------------------------------------- helpers
def run_key_from(run_id: str | None) -> str:
    """A short, path- and job-name-safe key for a run (Airflow run ids contain ':' and '+')."""
    if not run_id:
        return "cli-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return re.sub(r"[^A-Za-z0-9]+", "-", run_id).strip("-")[:48]


def partition_for(value: str | dt.date | dt.datetime | None, *, default: dt.date | None = None) -> dt.date:
    """The partition date: an explicit ``YYYY-MM-DD`` wins, then a datetime/date, then ``default``."""
    if value in (None, ""):
        if default is None:
            raise ConfigError("no partition given and none could be derived from the run", key="partition",
                              fix="Pass partition=YYYY-MM-DD (the form's 'partition' field) or run on a schedule.")
        return default
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ConfigError(f"partition {value!r} is not a date", key="partition",
                          fix="Use the YYYY-MM-DD form, e.g. 2026-11-21.") from None


def code_version() -> str:
    """The git commit of the code (``AIRSAGE_CODE_VERSION`` wins: set it in images built from a commit)."""
    if os.environ.get("AIRSAGE_CODE_VERSION"):
        return os.environ["AIRSAGE_CODE_VERSION"]
    from airsage.config import REPO_ROOT

    try:
        sha = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (sha or "unknown") + ("-dirty" if dirty and sha else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def backend_for(uc: UseCase, job: str, **kwargs) -> ComputeBackend:
    from airsage.compute import get_backend

    compute = getattr(uc.compute, job)
    if compute.backend == "sagemaker":
        from airsage.compute.sagemaker import SageMakerBackend

        return SageMakerBackend.from_usecase(uc, job, **kwargs)
    return get_backend("local", **kwargs)


def _resources(uc: UseCase, job: str) -> dict[str, Any]:
    return getattr(uc.compute, job).model_dump()


# ---------------------------------------------------------------------- example data
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
        uri = uc.path("raw", "features", f"dt={day}", "part-00000.parquet")
        if not storage.exists(uri):
            with storage.atomic_path(uri) as tmp:
                df.drop(columns=label_cols).to_parquet(tmp, index=False)
            written.append(uri)
    labelled = pd.concat(frames, ignore_index=True)
    job = f"{uc.name.replace('_', '-')}-labels-{end:%Y%m%d}"
    manifest = uc.path("labels", "incoming", job, "manifests", "output", "output.manifest")
    if not storage.exists(manifest):
        write_ground_truth_output_manifest(
            labelled, manifest, label_attribute=uc.labeling.label_attribute or "label", job_name=job,
            class_map={str(v): k for k, v in uc.labeling.class_map.items()} or None, seed=g.seed,
            record_id=uc.schema_.record_id, label=uc.schema_.label)
        written.append(manifest)
    scoring = uc.path("scoring", f"dt={end}", "part-00000.parquet")
    if not storage.exists(scoring):
        df = generate(scoring_rows or rows, seed=g.seed, day=end, bias_strength=g.bias_strength, drift=g.drift)
        with storage.atomic_path(scoring) as tmp:
            df.drop(columns=label_cols).to_parquet(tmp, index=False)
        written.append(scoring)
    return {"manifest": manifest, "features": uc.path("raw", "features"), "scoring": uc.path("scoring", f"dt={end}"),
            "written": written, "history_days": days, "rows_per_day": rows}


# ---------------------------------------------------------------------- label import
def import_labels(uc: UseCase, sources: list[str] | str, *, features_uri: str | None = None,
                  output_root: str | None = None, log_lineage: bool = True) -> dict[str, Any]:
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


def latest_dataset(uc: UseCase, version: str | None = None) -> dict[str, Any]:
    from airsage.labeling import latest_dataset as _latest

    if version:
        uri = uc.path("datasets", version)
        if not storage.exists(storage.join(uri, "manifest.json")):
            raise ConfigError(f"dataset version {version} does not exist under {uc.path('datasets')}",
                              key="dataset_version", fix="Leave it empty for the latest, or run the label import.")
        manifest = storage.read_json(storage.join(uri, "manifest.json"))
        return {"version": version, "uri": uri, "hash": manifest.get("hash"), "rows": manifest.get("rows")}
    latest = _latest(uc)
    if not latest:
        raise DataValidationError(uc.path("datasets"), ["no dataset has been published yet"],
                                  fix=f"Run the {uc.name}__import_labels DAG (or `airsage labels import`) first.")
    return {"version": latest["version"], "uri": latest["uri"], "hash": latest.get("hash"), "rows": latest.get("rows")}


# ---------------------------------------------------------------------- training
def train_spec(uc: UseCase, dataset: dict[str, Any], run_key: str) -> JobSpec:
    from airsage.training.train import TrainingJobConfig

    kind = "tune" if uc.training.tuning.enabled else "train"
    cfg = TrainingJobConfig.from_usecase(uc, dataset_version=dataset["version"])
    hps = cfg.to_hyperparameters()
    if kind == "tune":
        hps["airsage_tuning"] = json.dumps(uc.training.tuning.model_dump())
    return JobSpec(kind=kind, name=job_name(uc.name, kind, run_key), entrypoint=f"airsage.entrypoints.{kind}",
                   inputs={"train": dataset["uri"]}, output_uri=uc.path("training"), hyperparameters=hps,
                   resources=_resources(uc, kind), tags={"usecase": uc.name, "dataset_version": dataset["version"]})


def register_trained(uc: UseCase, *, job: dict[str, Any], dataset: dict[str, Any], run_key: str, actor: str,
                     bias: dict | None = None, clarify_outputs: list[str] | None = None,
                     mirror: bool = True) -> dict[str, Any]:
    """Gate the trained model and register it (PendingManualApproval, or Rejected with the failed checks).
    ``mirror=False``: the SageMaker model package is made later by ``mirror_version``."""
    from airsage.registry import ModelRegistry
    from airsage.training.gates import evaluate_gates

    outputs = job["outputs"]
    metrics = _read_job_metrics(outputs["output_data"])
    if bias is None and clarify_outputs:
        bias = merge_clarify(*clarify_outputs)
    reg = ModelRegistry.from_settings()
    champion = reg.champion(uc.registered_model_name)
    gates = evaluate_gates(uc, metrics["evaluation"], champion=champion.metrics if champion else None,
                           bias_analysis=bias)
    version = reg.register_training(
        uc, model_artifact_uri=outputs["model_artifact"], output_data_uri=outputs["output_data"], dataset=dataset,
        run_key=run_key, gate_results=gates, actor=actor, code_version=code_version(), bias=bias,
        tuning_trials=metrics.get("trials"), mirror=mirror)
    return {**version.to_dict(), "gates": gates, "passed": all(g["passed"] for g in gates)}


def mirror_version(uc: UseCase, version: str | int) -> dict[str, Any]:
    """The version's SageMaker Model Registry mirror (``sagemaker.mirror_model_registry``): created with
    the reports and baselines that exist now, or its approval status brought in line; a no-op when off."""
    from airsage.registry import ModelRegistry
    from airsage.registry.sagemaker_mirror import TAG_PACKAGE_ARN

    v = ModelRegistry.from_settings().sync_mirror(uc, version)
    return {"name": v.name, "version": v.version, "status": str(v.status),
            "model_package_arn": v.tags.get(TAG_PACKAGE_ARN)}


def _read_job_metrics(output_data_uri: str) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        storage.unpack_tar(output_data_uri, tmp)
        out = json.loads((Path(tmp) / "metrics.json").read_text())
        trials = Path(tmp) / "trials.json"
        if trials.exists():
            out["trials"] = json.loads(trials.read_text())
    return out


# ---------------------------------------------------------------------- bias and explainability
def clarify_plan(uc: UseCase, *, job: dict[str, Any], dataset: dict[str, Any], run_key: str) -> dict[str, Any]:
    """Inputs of the two Clarify jobs of a training run (SageMaker Pipelines' ClarifyCheck steps):
    pre-training bias on the training dataset, post-training bias + SHAP on the held-out predictions."""
    import tempfile
    from pathlib import Path

    from airsage.clarify.gates import analysis_config_for_usecase

    root = uc.path("reports", "clarify", run_key)
    eval_uri = storage.join(root, "input", "eval", "eval_predictions.parquet")
    if not storage.exists(eval_uri):
        with tempfile.TemporaryDirectory() as tmp:
            storage.unpack_tar(job["outputs"]["output_data"], tmp)
            storage.upload_file(Path(tmp) / "eval_predictions.parquet", eval_uri)
    pre = analysis_config_for_usecase(uc, stage="pre", shap=False)
    post = analysis_config_for_usecase(uc, stage="post", shap=True)
    # The mounted model scores the held-out rows (Clarify's predictor, with probability_threshold), so the
    # stored scores are excluded from the model input rather than used as predicted labels.
    post["excluded_columns"] = list(dict.fromkeys([*post.get("excluded_columns", []), "score", "predicted_label"]))
    pre["excluded_columns"] = list(dict.fromkeys([*pre.get("excluded_columns", []), "label_confidence",
                                                  "label_source", "human_annotated", "labeling_job", "label_flag"]))
    plans = {}
    for stage, cfg, data, model in (("pre", pre, dataset["uri"], None),
                                    ("post", post, storage.join(root, "input", "eval"), job["outputs"]["model_artifact"])):
        cfg_uri = storage.join(root, "input", f"{stage}-config", "analysis_config.json")
        storage.write_json(cfg_uri, cfg)
        plans[stage] = {"stage": stage, "config_uri": cfg_uri, "data_uri": data, "model_uri": model,
                        "output_uri": storage.join(root, f"{stage}_training")}
    return plans


def clarify_standalone_plan(uc: UseCase, *, run_key: str, dataset_uri: str, model_version: str | None = None,
                            model_alias: str | None = None, stages: str = "all") -> dict[str, Any]:
    """One Clarify analysis of any dataset with any registered version (candidates too: analysing a
    model is not serving it), configured from the use case."""
    from airsage.clarify.gates import analysis_config_for_usecase
    from airsage.registry import ModelRegistry

    model_uri = None
    if model_version or model_alias:
        uri = (f"models:/{uc.registered_model_name}/{model_version}" if model_version
               else f"models:/{uc.registered_model_name}@{model_alias}")
        model_uri = ModelRegistry.from_settings().resolve(uri, require_approved=False).model_artifact_uri
    stage = {"all": "all", "pre": "pre", "post": "post"}[stages]
    if stage != "pre" and not model_uri:
        raise ConfigError("post-training bias and SHAP need a model", key="model_version",
                          fix="Name a model version or alias, or choose stages=pre.")
    cfg = analysis_config_for_usecase(uc, stage=stage, shap=stage != "pre")
    cfg["excluded_columns"] = list(dict.fromkeys([*cfg.get("excluded_columns", []), "score", "predicted_label",
                                                  "label_confidence", "label_source", "human_annotated",
                                                  "labeling_job", "label_flag", "label_available_at"]))
    root = uc.path("reports", "clarify", run_key)
    cfg_uri = storage.join(root, "input", "config", "analysis_config.json")
    storage.write_json(cfg_uri, cfg)
    return {"stage": "standalone", "config_uri": cfg_uri, "data_uri": dataset_uri, "model_uri": model_uri,
            "output_uri": storage.join(root, "analysis")}


def clarify_spec(uc: UseCase, *, run_key: str, config_uri: str, data_uri: str, output_uri: str,
                 model_uri: str | None = None, stage: str = "analysis") -> JobSpec:
    """A Clarify processing job (SageMaker's processing contract: config / data / model inputs)."""
    inputs = {"config": config_uri, "data": data_uri}
    if model_uri:
        inputs["model"] = model_uri
    return JobSpec(kind="clarify", name=job_name(uc.name, "clarify", stage, run_key),
                   entrypoint="airsage.entrypoints.clarify", inputs=inputs, output_uri=output_uri,
                   parameters={"max_shap_rows": uc.clarify.shap_sample_rows, "seed": uc.training.seed},
                   resources=_resources(uc, "clarify"), tags={"usecase": uc.name, "stage": stage})


def merge_clarify(*outputs: str | None) -> dict[str, Any] | None:
    """One ``analysis.json`` from the pre- and post-training analyses (Clarify's layout)."""
    merged: dict[str, Any] = {}
    for out in outputs:
        if out and storage.exists(storage.join(out, "analysis.json")):
            for k, v in storage.read_json(storage.join(out, "analysis.json")).items():
                if isinstance(v, dict) and isinstance(merged.get(k), dict):
                    merged[k] = {**merged[k], **v}
                else:
                    merged.setdefault(k, v)
    return merged or None


# ---------------------------------------------------------------------- governance
def decide(uc: UseCase, version: str, decision: str, *, actor: str, comment: str) -> dict[str, Any]:
    """Apply an approval decision: ``approve`` / ``reject`` (a pending version), ``promote``, ``rollback``."""
    from airsage.registry import ModelRegistry

    if not comment or not comment.strip():
        raise ConfigError("a decision needs a comment (the auditor's 'why')", key="comment",
                          fix="Say why in the comment field.")
    if not actor or not actor.strip():
        raise ConfigError("a decision needs a named person", key="approver", fix="Give the approver's name.")
    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    if decision == "approve":
        v = reg.approve(name, str(version), approver=actor, comment=comment, usecase=uc)
    elif decision == "reject":
        v = reg.reject(name, str(version), approver=actor, comment=comment, usecase=uc)
    elif decision == "promote":
        v = reg.promote(name, str(version), actor=actor, reason=comment)
    elif decision == "rollback":
        v = reg.rollback(name, actor=actor, reason=comment, to_version=str(version) if version else None)
    else:
        raise ConfigError(f"unknown decision {decision!r}", key="decision",
                          fix="Use approve, reject, promote or rollback.")
    card_uri = refresh_model_card(uc, v.version, reg=reg)
    return {**v.to_dict(), "model_card": card_uri}


def refresh_model_card(uc: UseCase, version: str, *, reg=None) -> str | None:
    """Regenerate a version's model card (JSON + HTML) from the registry and attach it to the version."""
    from airsage.cards import build_model_card, render_model_card_html
    from airsage.registry import ModelRegistry

    reg = reg or ModelRegistry.from_settings()
    card = build_model_card(reg, uc.registered_model_name, str(version), uc)
    v = reg.attach_model_card(uc.registered_model_name, str(version), card, render_model_card_html(card))
    from airsage.registry import types as _t

    return v.tags.get(_t.TAG_MODEL_CARD)


def approval_summary(uc: UseCase, version: str) -> str:
    """The approver's view of a version (metrics vs champion, gates, bias headline), as Markdown."""
    from airsage.cards import approval_summary_markdown
    from airsage.registry import ModelRegistry

    return approval_summary_markdown(uc, str(version), ModelRegistry.from_settings())


def resolve_model(uc: UseCase, *, alias: str | None = None, version: str | None = None,
                  model_uri: str | None = None) -> dict[str, Any]:
    """Resolve what to serve; refuses (``ModelNotApprovedError``) anything that is not Approved."""
    from airsage.registry import ModelRegistry

    name = uc.registered_model_name
    uri = model_uri or (f"models:/{name}/{version}" if version else f"models:/{name}@{alias or uc.transform.model_alias}")
    resolved = ModelRegistry.from_settings().resolve(uri, require_approved=True)
    return {"uri": uri, "name": resolved.name, "version": str(resolved.version), "status": resolved.status,
            "model_artifact_uri": resolved.model_artifact_uri, "run_id": resolved.run_id}


# ---------------------------------------------------------------------- batch transform
def transform_spec(uc: UseCase, model: dict[str, Any], partition: dt.date, run_key: str, *,
                   input_uri: str | None = None, output_uri: str | None = None,
                   overrides: dict[str, Any] | None = None) -> JobSpec:
    t = uc.transform
    params = {
        "content_type": t.content_type, "split_type": t.split_type, "batch_strategy": t.batch_strategy,
        "max_payload_mb": t.max_payload_mb, "input_filter": t.input_filter, "join_source": t.join_source,
        "output_filter": t.output_filter, "assemble_with": t.assemble_with,
        "inference_fields": list(t.inference_fields), **({"accept": t.accept} if t.accept else {}),
        # keyed by partition, not by Airflow run: any rerun of a partition replaces its capture and
        # derived inference ids exactly (the job name stays unique per Airflow run)
        "model_name": model["name"], "model_version": str(model["version"]), "run_key": f"dt-{partition}",
        # header-less CSV rows have no column names: there the inference id is derived (as `airsage transform`)
        "partition_date": str(partition), "record_id_col": None if t.content_type == "text/csv" else uc.schema_.record_id,
        "capture_uri": uc.path("capture") if t.capture else None, "fail_on_file_error": False,
    }
    params.update({k: v for k, v in (overrides or {}).items() if v not in (None, "")})
    _transform_config(params)  # a bad combination fails here, before a job exists, on either backend
    return JobSpec(kind="transform", name=job_name(uc.name, "transform", str(partition), run_key),
                   entrypoint="airsage.entrypoints.transform",
                   inputs={"model": model["model_artifact_uri"],
                           "data": input_uri or uc.path("scoring", f"dt={partition}")},
                   output_uri=output_uri or uc.path("predictions", f"dt={partition}"), parameters=params,
                   resources=_resources(uc, "transform"), tags={"usecase": uc.name, "partition": str(partition)})


def _transform_config(params: dict[str, Any]):
    from airsage.transform.settings import TransformConfig

    names = set(TransformConfig.__dataclass_fields__)
    return TransformConfig.from_dict({k: v for k, v in params.items() if k in names and v is not None})


def read_transform_report(job: dict[str, Any]) -> dict[str, Any]:
    """The report a transform job left: the local job's ``report.json``, or the one ``finish_transform``
    wrote for a SageMaker job (``outputs["report"]`` either way); ``{}`` when there is none."""
    report = job.get("outputs", {}).get("report")
    return storage.read_json(report) if report and storage.exists(report) else {}


def transform_report_uri(uc: UseCase, partition: dt.date, job_name: str) -> str:
    return uc.path("reports", "transform", f"dt={partition}", f"{job_name}.json")


def finish_transform(uc: UseCase, job: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """The report of a finished transform job (the DAG's publish step), the same for both backends.

    Local: the job's ``report.json`` (the engine wrote the capture table itself). SageMaker (the job
    result has ``outputs["capture"]``, or ``compute.transform.backend`` is sagemaker): SageMaker's data
    capture is imported into ``capture/dt=<partition>/<run_key>.parquet`` (what monitoring reads; a
    rerun replaces it) and the report is written to ``reports/transform/dt=<partition>/<job>.json``.
    Without capture (``transform.capture: false``) the report counts the ``.out`` files only.
    ``plan`` is what the DAG's ``resolve_model`` returned (model, partition, input/output URIs).
    """
    outputs = job.get("outputs") or {}
    on_sagemaker = bool(outputs.get("capture")) or (uc.compute.transform.backend == "sagemaker"
                                                    and not outputs.get("report"))
    if not on_sagemaker:
        return read_transform_report(job)
    from airsage.transform.sagemaker_capture import import_sagemaker_capture, report_from_outputs

    partition = partition_for(plan["partition"])
    name = str(job.get("job_name") or f"{uc.name}-transform-{partition}")
    spec = transform_spec(uc, plan["model"], partition, "finish", input_uri=plan.get("input_uri") or None,
                          output_uri=plan.get("output_uri") or None, overrides=plan.get("overrides"))
    p = spec.parameters
    config = _transform_config(p)
    common = {"run_key": p["run_key"], "model_name": p["model_name"], "model_version": p["model_version"],
              "job_name": name}
    if outputs.get("capture"):
        report = import_sagemaker_capture(
            _model_schema(spec.inputs["model"]), outputs["capture"], config,
            capture_uri=p.get("capture_uri") or uc.path("capture"), partition_date=p["partition_date"],
            record_id_col=p.get("record_id_col"), feature_columns=p.get("feature_columns"), **common)
    else:
        report = report_from_outputs(spec.inputs["data"], outputs.get("output") or spec.output_uri, config, **common)
    uri = storage.write_json(transform_report_uri(uc, partition, name), report)
    log.info("transform %s: imported SageMaker's outputs (%s files, %s records), capture %s", name,
             report.get("files_out"), report.get("records_out"), report.get("capture_file"))
    return {**report, "report_uri": uri}


def _model_schema(model_uri: str):
    """Feature names and categorical features of a model artifact (its metadata; no model is loaded)."""
    import tempfile
    from pathlib import Path
    from types import SimpleNamespace

    from airsage.model import META_FILE

    with tempfile.TemporaryDirectory(prefix="airsage-model-meta-") as tmp:
        meta = next(iter(sorted(storage.unpack_tar(model_uri, tmp).rglob(META_FILE))), None)
        if meta is None:
            raise DataValidationError(model_uri, [f"no {META_FILE} in the model artifact"],
                                      fix="Point the registered version at a model.tar.gz produced by Airsage training.")
        doc = json.loads(meta.read_text())
    return SimpleNamespace(feature_names=list(doc["feature_names"]), categorical=dict(doc["categorical"]))


def summary(uc: UseCase) -> dict[str, Any]:
    """What exists for a use case: model versions, champion, datasets, predictions (for the demo's last words)."""
    from airsage.registry import ModelRegistry

    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    versions = [v.to_dict() for v in reg.list_versions(name)]
    champion = reg.champion(name)
    preds = storage.list_files(uc.path("predictions"))
    return {
        "usecase": uc.name,
        "tracking_uri": load_settings().tracking_uri,
        "registered_model": name,
        "versions": [{"version": v["version"], "status": v["status"], "aliases": v["aliases"]} for v in versions],
        "champion": champion.version if champion else None,
        "latest_dataset": _safe(lambda: latest_dataset(uc)),
        "prediction_files": preds,
        "capture_files": storage.list_files(uc.path("capture")),
        "clarify_reports": storage.list_files(uc.path("reports", "clarify"), suffixes=("report.html",)),
        "monitoring_reports": storage.list_files(uc.path("monitor", "runs"), suffixes=("report.html",)),
        "monitoring_baselines": sorted({f.rsplit("/", 2)[0] for f in storage.list_files(
            uc.path("monitor", "baselines"), suffixes=("constraints.json",))}),
        "model_card": champion.tags.get("model_card_uri") if champion else None,
        "audit_log": storage.join(load_settings().resolved_data_root, "_audit", name),
        "audit_events": len(reg.audit_events(name)),
    }


def _safe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a summary shows what it can
        return None


# ---------------------------------------------------------------------- CLI entry points
def _bundle_for(uri: str, *, require_approved: bool):
    """A ModelBundle from a registry URI (``models:/…``, guarded) or a model directory / model.tar.gz."""
    from airsage.model import ModelBundle

    if uri.startswith("models:/"):
        from airsage.registry import ModelRegistry

        resolved = ModelRegistry.from_settings().resolve(uri, require_approved=require_approved)
        return resolved.load_bundle(), resolved.name, str(resolved.version)
    return ModelBundle.load_uri(uri), "unregistered", "0"


def transform_cli(*, model_uri: str, input_uri: str, output_uri: str, settings: dict[str, Any],
                  usecase: str | None = None, capture_uri: str | None = None, run_key: str | None = None,
                  record_id: str | None = None) -> dict:
    """``airsage transform``: the batch-transform engine the DAG's job runs, with the approval guard."""
    from airsage.config import get_usecase
    from airsage.transform import run_batch_transform

    if not model_uri.startswith("models:/"):
        raise ConfigError(f"--model-uri {model_uri!r} is not a registry URI", key="--model-uri",
                          fix="Use models:/<name>@<alias> or models:/<name>/<version>: only approved versions are served.")
    bundle, name, version = _bundle_for(model_uri, require_approved=True)
    uc = get_usecase(usecase or name) if (usecase or name) else None
    if record_id not in (None, ""):
        id_col: str | int | None = int(record_id) if str(record_id).lstrip("-").isdigit() else record_id
    else:  # header-less CSV rows have no column names: the inference id is derived unless --record-id names an index
        id_col = uc.schema_.record_id if uc and settings.get("content_type") != "text/csv" else None
    report = run_batch_transform(
        bundle, input_uri, output_uri, {k: v for k, v in settings.items() if v not in (None, "")},
        model_name=name, model_version=version, run_key=run_key_from(run_key), capture_uri=capture_uri,
        record_id_col=id_col, fail_on_file_error=False)
    return report.to_dict()


def clarify_cli(*, analysis_config: str, dataset_uri: str, output_uri: str, model_uri: str | None = None) -> dict:
    """``airsage clarify``: Clarify's analysis on any dataset, for any registered (or local) model."""
    from airsage.clarify.analysis_config import AnalysisConfig
    from airsage.clarify.runner import run_analysis

    cfg = AnalysisConfig.parse(storage.read_text(analysis_config), source=analysis_config)
    model = _bundle_for(model_uri, require_approved=False)[0] if model_uri else None
    return run_analysis(cfg, dataset_uri, output_uri, model=model).to_dict()


def export_uncertain(uc: UseCase, input_uri: str, output_uri: str, *, n: int | None = None) -> dict:
    """Active learning: a Ground Truth input manifest of the unlabelled records the champion is least sure about."""
    import pandas as pd
    import pyarrow.parquet as pq

    from airsage.labeling import export_uncertain as _export, load_dataset

    bundle = _bundle_for(f"models:/{uc.registered_model_name}@champion", require_approved=True)[0]
    frames = [pq.read_table(f).to_pandas() for f in storage.list_files(input_uri, suffixes=(".parquet",))]
    if not frames:
        raise DataValidationError(input_uri, ["no Parquet files"], fix="Point --input at unlabelled feature records.")
    labeled = set(load_dataset("latest", uc)[uc.schema_.record_id].astype(str))
    result = _export(bundle, pd.concat(frames, ignore_index=True), n or uc.labeling.active_learning_batch, output_uri,
                     labeled_ids=labeled, record_id=uc.schema_.record_id, uc=uc)
    return result.to_dict() if hasattr(result, "to_dict") else dict(result)


def monitor_suggest_baseline_cli(*, dataset_uri: str, output_uri: str, usecase: str | None = None) -> dict:
    from airsage.steps.monitoring import suggest_baseline_cli

    return suggest_baseline_cli(dataset_uri, output_uri, usecase=usecase)


def monitor_analyze_cli(*, dataset_uri: str, baseline_uri: str, output_uri: str, usecase: str | None = None) -> dict:
    from airsage.steps.monitoring import analyze_cli

    return analyze_cli(dataset_uri, baseline_uri, output_uri, usecase=usecase)


# ---------------------------------------------------------------------- monitoring (the monitor job)
MONITOR_MODES = ("suggest-baseline", "analyze")


def monitor_spec(uc: UseCase, *, run_key: str, mode: str, target: str, dataset_uri: str, config_uri: str,
                 input_digest: str, statistics_uri: str | None = None, constraints_uri: str | None = None,
                 score_statistics_uri: str | None = None) -> JobSpec:
    """A Model Monitor processing job: ``python -m airsage.entrypoints.monitor`` (the arguments are the
    ``job`` entry of ``steps.monitoring.plan_baseline`` / ``plan_partition``).

    Inputs are processing channels, each a directory the plan staged (``/opt/ml/processing/input/<channel>``
    on SageMaker, the same layout under the local backend): ``baseline_dataset_input`` (suggest-baseline)
    or ``dataset`` + ``baseline_statistics`` + ``baseline_constraints`` (+ ``score_statistics``)
    (analyze), and ``monitor_config`` (the settings file: feature types, SHAP weights). The environment
    carries the small settings (mode, thresholds). The output goes to ``monitor/jobs/<job name>/`` and is kept (a
    retried or re-run task reattaches to the finished job and finds it). The name holds the target
    (``v<version>`` or the partition), the run key and a digest of the inputs and settings: unique per
    run, per mapped partition and per input content (SageMaker never reuses a job name).
    """
    import hashlib

    from airsage.steps.monitoring import job_environment

    if mode not in MONITOR_MODES:
        raise ConfigError(f"unknown monitor mode {mode!r}", key="mode", fix=f"Use one of {MONITOR_MODES}.")
    if mode == "suggest-baseline":
        inputs = {"baseline_dataset_input": dataset_uri, "monitor_config": config_uri}
    else:
        if not (statistics_uri and constraints_uri):
            raise ConfigError("an analyze job needs the baseline's statistics.json and constraints.json",
                              key="statistics_uri", fix="Plan it with airsage.steps.monitoring.plan_partition.")
        inputs = {"dataset": dataset_uri, "baseline_statistics": statistics_uri,
                  "baseline_constraints": constraints_uri, "monitor_config": config_uri}
        if score_statistics_uri:
            inputs["score_statistics"] = score_statistics_uri
    env = job_environment(uc, mode, with_score=bool(score_statistics_uri))
    digest = hashlib.sha256(json.dumps({"inputs": inputs, "environment": env, "input_digest": input_digest},
                                       sort_keys=True).encode()).hexdigest()[:8]
    short = "baseline" if mode == "suggest-baseline" else "analyze"
    name = job_name(uc.name, "monitor", short, target, run_key, digest)
    return JobSpec(kind="monitor", name=name, entrypoint="airsage.entrypoints.monitor", inputs=inputs,
                   output_uri=uc.path("monitor", "jobs", name), environment=env,
                   parameters={"mode": mode, "dataset_format": {"parquet": {}}},
                   resources=_resources(uc, "monitor"),
                   tags={"usecase": uc.name, "monitor_mode": mode, "target": str(target)})
