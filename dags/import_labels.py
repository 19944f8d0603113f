"""### Label import (Ground Truth style)
Turns Ground Truth output manifests, A2I `output.json` files or CSV/Parquet label files into one
validated, immutable, content-addressed training dataset. Bad records go to a quarantine file (file,
line, reason); counts reconcile. Publishing a new version updates the use case's training-dataset
Asset, which schedules the training DAG.

**Form:** `manifest_uri` — one or more URIs (comma-separated; local path or `s3://`).
Empty = the bundled example's manifest.
"""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from airsage_airflow.assets import dataset_asset
from airsage_airflow.errors import fail_fast
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    @dag(dag_id=f"{uc.name}__import_labels", schedule=None, start_date=start_date(uc), catchup=False,
         max_active_runs=1, default_args=default_args(uc), tags=tags(uc, "labeling"), doc_md=__doc__,
         params={
             "manifest_uri": Param("", type="string", title="Label source URI(s)",
                                   description="Ground Truth output.manifest, A2I output.json, CSV or Parquet; "
                                               "comma-separated; empty = the example's manifest."),
             "features_uri": Param("", type="string", title="Feature records URI",
                                   description="Where the labelled records' features live; empty = <root>/raw/features."),
         })
    def import_labels():
        @task(outlets=[dataset_asset(uc)])
        @fail_fast
        def import_dataset(params=None, outlet_events=None) -> dict:
            from airsage import pipeline, storage

            sources = params["manifest_uri"] or ",".join(storage.list_files(uc.path("labels", "incoming"),
                                                                            suffixes=(".manifest",)))
            result = pipeline.import_labels(uc, sources, features_uri=params["features_uri"] or None)
            outlet_events[dataset_asset(uc)].extra = {"version": result["version"], "uri": result["uri"],
                                                      "created": result["created"]}
            return {k: result[k] for k in ("version", "uri", "created", "lines_read", "accepted", "quarantined",
                                           "quarantine_uri") if k in result}

        import_dataset()

    return import_labels()


for _uc in usecases_or_none():
    build(_uc)
