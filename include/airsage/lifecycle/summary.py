"""What exists for a use case (the demo's last words): model versions, champion, datasets, outputs."""
from __future__ import annotations

from typing import Any

from airsage import layout, storage
from airsage.config import UseCase


def summary(uc: UseCase) -> dict[str, Any]:
    """Model versions, champion, the latest dataset, predictions, captures, reports, baselines, audit log."""
    from airsage.lifecycle.labels import latest_dataset
    from airsage.registry import ModelRegistry

    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    versions = [v.to_dict() for v in reg.list_versions(name)]
    champion = reg.champion(name)
    dataset = _safe(lambda: latest_dataset(uc))
    return {
        "usecase": uc.name,
        "tracking_uri": _settings().tracking_uri,
        "registered_model": name,
        "versions": [{"version": v["version"], "status": v["status"], "aliases": v["aliases"]} for v in versions],
        "champion": champion.version if champion else None,
        "latest_dataset": dataset.to_dict() if dataset else None,
        "prediction_files": storage.list_files(layout.predictions(uc)),
        "capture_files": storage.list_files(layout.captures(uc)),
        "clarify_reports": storage.list_files(layout.clarify_reports(uc), suffixes=("report.html",)),
        "monitoring_reports": storage.list_files(layout.monitor_runs(uc), suffixes=("report.html",)),
        "monitoring_baselines": sorted({f.rsplit("/", 2)[0] for f in storage.list_files(
            layout.monitor_baselines(uc), suffixes=("constraints.json",))}),
        "model_card": champion.tags.get("model_card_uri") if champion else None,
        "audit_log": layout.audit_log(name),
        "audit_events": len(reg.audit_events(name)),
    }


def _settings():
    from airsage.config import load_settings

    return load_settings()


def _safe(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a summary shows what it can
        return None
