"""### Clarify: bias and explainability for any version on any dataset
Runs SageMaker Clarify's analysis (all pre-training and post-training bias metrics per facet, exact
TreeSHAP for tree models, KernelSHAP otherwise) as a compute job on the use case's backend and writes
Clarify's layout — `analysis.json`, `explanations_shap/out.csv`, `report.html` — under
`reports/clarify/<run>/analysis/`. Works for approved and candidate versions alike (analysing a model
is not serving it). The training DAG runs the same job automatically (ClarifyCheck gates).

**Form:** `dataset_uri` (CSV with header, JSON Lines or Parquet; empty = the latest training dataset),
`model_version` or `model_alias`, `stages` (pre / post / all).
"""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from airsage_airflow import params as form
from airsage_airflow.errors import fail_fast
from airsage_airflow.operators import RunJobOperator
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    @dag(dag_id=f"{uc.name}__clarify", schedule=None, start_date=start_date(uc), catchup=False,
         default_args=default_args(uc), tags=tags(uc, "Clarify"), doc_md=__doc__,
         description="Clarify bias metrics and SHAP explanations for any model version on any dataset.",
         params={
             "dataset_uri": form.uri("Dataset URI", "Parquet / CSV (header) / JSON Lines; empty = the latest "
                                                    "training dataset."),
             "model_version": form.model_version("Any registered version (candidates too). Empty = the alias."),
             "model_alias": form.model_alias("champion", "Used when no version is given."),
             "stages": Param("all", type="string", enum=["all", "pre", "post"], title="Analyses",
                             description="pre: data bias only (no model); post: model bias + SHAP; all: both."),
         })
    def clarify():
        @task
        @fail_fast
        def plan_analysis(params=None, run_id=None) -> dict:
            from airsage.lifecycle.clarify import clarify_standalone_plan
            from airsage.lifecycle.common import run_key_from
            from airsage.lifecycle.labels import latest_dataset

            params = form.validated(params)
            dataset = params["dataset_uri"] or latest_dataset(uc).uri
            return clarify_standalone_plan(
                uc, run_key=run_key_from(run_id), dataset_uri=dataset,
                model_version=params["model_version"] or None,
                model_alias=None if params["stages"] == "pre" else (params["model_alias"] or None),
                stages=params["stages"]).to_dict()

        plan = plan_analysis()
        job = RunJobOperator(task_id="run_clarify", usecase=uc.name, job="clarify", job_args=plan)

        @task
        def report_location(job: dict) -> dict:
            out = job["outputs"].get("output")
            print(f"Clarify outputs: {out}/analysis.json, {out}/report.html, {out}/explanations_shap/out.csv")
            return {"output_uri": out}

        report_location(job.output)

    return clarify()


for _uc in usecases_or_none():
    build(_uc)
