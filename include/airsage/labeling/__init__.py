"""Label import (SageMaker Ground Truth style): label files in, a validated, versioned dataset out.

Public API (imported lazily, so ``import airsage.labeling`` stays cheap)::

    import_labels(uc, sources, *, features_uri=None, output_root=None) -> ImportReport
    latest_dataset(uc, *, output_root=None) -> dict | None
    load_dataset(uri_or_version, uc, *, output_root=None, verify=False) -> pandas.DataFrame
    lineage(report) -> {"params": ..., "tags": ..., "metrics": ...}
    export_uncertain(model_bundle, features_df, n, output_uri, *, labeled_ids, record_id=None, uc=None)
    read_ground_truth_manifest / read_a2i_output / read_label_table / read_labels(uri, ReaderOptions)
    generate_suite(uc) -> dict ; validate_dataset(df, suite) -> ValidationResult

Modules: ``records`` (vocabulary, quarantine reasons, options), ``readers``, ``consolidate`` (vote and
tie rule), ``features``, ``validation`` (great-expectations), ``dataset`` (content addressing,
publishing), ``importer``, ``active_learning``, ``simulate`` (demo/test label sources).
"""
from __future__ import annotations

from airsage._lazy import lazy_exports

_EXPORTS = {
    "import_labels": "importer", "ImportReport": "importer", "lineage": "importer",
    "latest_dataset": "dataset", "load_dataset": "dataset", "canonical_sha256": "dataset",
    "export_uncertain": "active_learning", "UncertainExport": "active_learning",
    "read_ground_truth_manifest": "readers", "read_a2i_output": "readers", "read_label_table": "readers",
    "read_labels": "readers", "expand_sources": "readers",
    "ReaderOptions": "records", "Annotation": "records", "Rejection": "records",
    "load_features": "features",
    "generate_suite": "validation", "validate_dataset": "validation", "load_suite": "validation",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports("airsage.labeling", {k: f"airsage.labeling.{v}" for k, v in _EXPORTS.items()})
