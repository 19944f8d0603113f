"""### Label import (Ground Truth style)
Turns Ground Truth output manifests, A2I `output.json` files or CSV/Parquet label files into one
validated, immutable, content-addressed training dataset. Bad records go to a quarantine file (file,
line, reason); counts reconcile. Publishing a new version updates the use case's training-dataset
Asset, which schedules the training DAG.

**Form:** `manifest_uri` — one or more URIs (comma-separated; local path or `s3://`).
Empty = the bundled example's manifest.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from airsage_airflow.assets import dataset_asset
from airsage_airflow import params as form
from airsage_airflow.errors import fail_fast
from airsage_airflow.usecases import default_args, start_date, tags, usecases_or_none


def build(uc):
    @dag(dag_id=f"{uc.name}__import_labels", schedule=None, start_date=start_date(uc), catchup=False,
         max_active_runs=1, default_args=default_args(uc), tags=tags(uc, "Labeling"), doc_md=__doc__,
         description="Import Ground Truth / A2I / CSV labels into a validated, versioned training dataset.",
         params={
             "manifest_uri": form.uri("Label source URI(s)",
                                      "Ground Truth output.manifest, A2I output.json, CSV or Parquet; "
                                      "comma-separated; empty = the manifests in <root>/labels/incoming."),
             "features_uri": form.uri("Feature records URI",
                                      "Where the labelled records' features live; empty = <root>/raw/features."),
         })
    def import_labels():
        @task(outlets=[dataset_asset(uc)])
        @fail_fast
        def import_dataset(params=None, outlet_events=None) -> dict:
            from airsage.lifecycle import labels

            from airsage_airflow.assets import dataset_extra

            params = form.validated(params)
            sources = params["manifest_uri"] or ",".join(labels.incoming_manifests(uc))
            result = labels.import_labels(uc, sources, features_uri=params["features_uri"] or None)
            outlet_events[dataset_asset(uc)].extra = dataset_extra(version=result["version"], uri=result["uri"],
                                                                   created=result["created"])
            return {k: result[k] for k in ("version", "uri", "created", "lines_read", "accepted", "quarantined",
                                           "quarantine_uri") if k in result}

        import_dataset()

    return import_labels()


for _uc in usecases_or_none():
    build(_uc)
