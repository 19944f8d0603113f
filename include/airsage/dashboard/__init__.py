"""The model dashboard's domain side (no Airflow): compact summaries written when things happen, a
``rebuild`` that backfills them from existing state, the views the pages and the JSON API show, and
one-step lineage from an inference id.

    from airsage.dashboard import record_version, record_decision, record_partition, record_monitor_run, \
        record_review, safe_record, rebuild, lineage

Light to import: pandas/pyarrow and the registry are loaded by the functions that need them.
"""
from airsage.dashboard.lineage import lineage
from airsage.dashboard.rebuild import rebuild
from airsage.dashboard.record import (record_decision, record_monitor_run, record_partition, record_review,
                                      record_version, safe_record)
from airsage.dashboard.views import overview, partition_view, report_uri, trend_svg, version_view

__all__ = ["lineage", "overview", "partition_view", "rebuild", "record_decision", "record_monitor_run",
           "record_partition", "record_review", "record_version", "report_uri", "safe_record", "trend_svg",
           "version_view"]
