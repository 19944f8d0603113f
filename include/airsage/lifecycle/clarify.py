"""The Clarify workflow (the training DAG's bias checks, ``<uc>__clarify``, ``airsage clarify``): plans and
specs of Clarify processing jobs, merging their analyses, an analysis in-process."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airsage import layout, storage
from airsage.compute.base import JobSpec, job_name
from airsage.config import UseCase
from airsage.contracts import ClarifyArgs, DatasetRef, JobResult
from airsage.errors import ConfigError
from airsage.lifecycle.common import bundle_for, resources

#: label-import bookkeeping columns: never model inputs, never facets
LABEL_META = ("label_confidence", "label_source", "human_annotated", "labeling_job", "label_flag")


def _excluding(cfg: dict[str, Any], *columns: str) -> list[str]:
    return list(dict.fromkeys([*cfg.get("excluded_columns", []), *columns]))


def clarify_plan(uc: UseCase, *, job: JobResult | Mapping[str, Any], dataset: DatasetRef | Mapping[str, Any],
                 run_key: str) -> dict[str, dict[str, Any]]:
    """Inputs of the two Clarify jobs of a training run (SageMaker Pipelines' ClarifyCheck steps):
    pre-training bias on the training dataset, post-training bias + SHAP on the held-out predictions.
    Returns ``{"pre": ClarifyArgs dict, "post": ClarifyArgs dict}``."""
    import tempfile
    from pathlib import Path

    from airsage.clarify.gates import analysis_config_for_usecase

    result = job if isinstance(job, JobResult) else JobResult.from_dict(job)
    ds = dataset if isinstance(dataset, DatasetRef) else DatasetRef.from_dict(dataset)
    root = layout.clarify_run(uc, run_key)
    eval_uri = storage.join(root, "input", "eval", "eval_predictions.parquet")
    if not storage.exists(eval_uri):
        with tempfile.TemporaryDirectory() as tmp:
            storage.unpack_tar(result.output("output_data"), tmp)
            storage.upload_file(Path(tmp) / "eval_predictions.parquet", eval_uri)
    about = f"dataset {ds.version} (sha256 {(ds.hash or '?')[:12]}), training run {run_key}"
    pre = analysis_config_for_usecase(uc, stage="pre", shap=False, subject=f"{about}, before training")
    post = analysis_config_for_usecase(uc, stage="post", shap=True,
                                       subject=f"the candidate model of {about} (held-out rows)")
    # The mounted model scores the held-out rows (Clarify's predictor, with probability_threshold), so the
    # stored scores are excluded from the model input rather than used as predicted labels.
    post["excluded_columns"] = _excluding(post, "score", "predicted_label")
    pre["excluded_columns"] = _excluding(pre, *LABEL_META)
    plans = {}
    for stage, cfg, data, model in (("pre", pre, ds.uri, None),
                                    ("post", post, storage.join(root, "input", "eval"),
                                     result.output("model_artifact"))):
        cfg_uri = storage.join(root, "input", f"{stage}-config", "analysis_config.json")
        storage.write_json(cfg_uri, cfg)
        plans[stage] = ClarifyArgs(stage=stage, config_uri=cfg_uri, data_uri=data, model_uri=model,
                                   output_uri=layout.clarify_output(uc, run_key, f"{stage}_training")).to_dict()
    return plans


def clarify_standalone_plan(uc: UseCase, *, run_key: str, dataset_uri: str, model_version: str | None = None,
                            model_alias: str | None = None, stages: str = "all") -> ClarifyArgs:
    """One Clarify analysis of any dataset with any registered version (candidates too: analysing a
    model is not serving it), configured from the use case."""
    from airsage.clarify.gates import analysis_config_for_usecase
    from airsage.registry import ModelRegistry

    model_uri = None
    if model_version or model_alias:
        uri = (f"models:/{uc.registered_model_name}/{model_version}" if model_version
               else f"models:/{uc.registered_model_name}@{model_alias}")
        model_uri = ModelRegistry.from_settings().resolve(uri, require_approved=False).model_artifact_uri
    if stages not in ("all", "pre", "post"):
        raise ConfigError(f"unknown Clarify stages {stages!r}", key="stages", fix="Use all, pre or post.")
    if stages != "pre" and not model_uri:
        raise ConfigError("post-training bias and SHAP need a model", key="model_version",
                          fix="Name a model version or alias, or choose stages=pre.")
    model = (f"model version {model_version}" if model_version else f"model @{model_alias}") if model_uri else "no model"
    cfg = analysis_config_for_usecase(uc, stage=stages, shap=stages != "pre",
                                      subject=f"{model}, dataset {dataset_uri}, run {run_key}")
    cfg["excluded_columns"] = _excluding(cfg, "score", "predicted_label", *LABEL_META, "label_available_at")
    root = layout.clarify_run(uc, run_key)
    cfg_uri = storage.join(root, "input", "config", "analysis_config.json")
    storage.write_json(cfg_uri, cfg)
    return ClarifyArgs(stage="standalone", config_uri=cfg_uri, data_uri=dataset_uri, model_uri=model_uri,
                       output_uri=layout.clarify_output(uc, run_key, "analysis"))


def clarify_spec(uc: UseCase, *, run_key: str, config_uri: str, data_uri: str, output_uri: str,
                 model_uri: str | None = None, stage: str = "analysis") -> JobSpec:
    """A Clarify processing job (SageMaker's processing contract: config / data / model inputs)."""
    inputs = {"config": config_uri, "data": data_uri}
    if model_uri:
        inputs["model"] = model_uri
    return JobSpec(kind="clarify", name=job_name(uc.name, "clarify", stage, run_key),
                   entrypoint="airsage.entrypoints.clarify", inputs=inputs, output_uri=output_uri,
                   parameters={"max_shap_rows": uc.clarify.shap_sample_rows, "seed": uc.training.seed},
                   resources=resources(uc, "clarify"), tags={"usecase": uc.name, "stage": stage})


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


def analyze(*, analysis_config: str, dataset_uri: str, output_uri: str, model_uri: str | None = None,
            force: bool = False) -> dict:
    """``airsage clarify``: Clarify's analysis on any dataset, for any registered (or local) model, in-process.
    The output is checked before anything is read (``storage.check_output``: never onto or inside the
    dataset or the config; an existing folder only when Airsage published it, or with ``force``)."""
    from airsage.clarify.analysis_config import AnalysisConfig
    from airsage.clarify.runner import OUTPUT_KIND, run_analysis

    inputs = (dataset_uri, analysis_config, *((model_uri,) if model_uri and not model_uri.startswith("models:/")
                                              else ()))
    storage.check_output(output_uri, inputs=inputs, force=force, kind=OUTPUT_KIND)
    cfg = AnalysisConfig.parse(storage.read_text(analysis_config), source=analysis_config)
    model = bundle_for(model_uri, require_approved=False)[0] if model_uri else None
    return run_analysis(cfg, dataset_uri, output_uri, model=model, force=force, inputs=inputs).to_dict()
