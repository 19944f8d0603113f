"""A throwaway local registry for tests and demos: sqlite MLflow store, artifacts and audit in one dir.

Creating an MLflow sqlite database runs its schema migrations (5-12 s here), so the first call in a
process migrates a template database and every later call copies it (milliseconds).
"""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from airsage.registry._mlflow import mlflow_module as _mlflow
from airsage.registry.model_registry import ModelRegistry

_template: Path | None = None
_template_lock = threading.Lock()


def _migrated_template() -> Path:
    global _template
    with _template_lock:
        if _template is None or not _template.exists():
            path = Path(tempfile.mkdtemp(prefix="airsage-mlflow-template-")) / "mlflow.db"
            mlflow = _mlflow()
            mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # runs the migrations
            _template = path
        return _template


def local_registry(root: str | Path, **kwargs) -> ModelRegistry:
    """A ``ModelRegistry`` whose whole state lives below ``root`` (``mlflow.db``, ``mlartifacts/``,
    ``data/_audit/``, ``locks/``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    db = root / "mlflow.db"
    if not db.exists():
        shutil.copyfile(_migrated_template(), db)
    return ModelRegistry(tracking_uri=f"sqlite:///{db}", audit_root=str(root / "data" / "_audit"),
                         lock_dir=root / "locks", artifact_root=str(root / "mlartifacts"), **kwargs)


def clone_versions(reg: ModelRegistry, source, name: str, n: int, *, status: str = "PendingManualApproval",
                   actor: str = "test") -> list[str]:
    """``n`` new versions of ``name`` that share ``source``'s run and artifacts (each with its own run key
    and registration audit event): a fast way to set up approval-workflow scenarios in tests, where a full
    ``register_training`` per version would cost a second each. Returns the version numbers."""
    from airsage.registry import types as t

    src_source = reg.client.get_model_version(source.name, source.version).source
    keep = {k: v for k, v in source.tags.items()
            if not k.startswith(("approv", "reject", "model_card")) and k not in (t.TAG_FAILED_CHECKS,)}
    out = []
    for i in range(n):
        tags = {**keep, t.TAG_STATUS: status, t.TAG_RUN_KEY: f"{source.tags.get(t.TAG_RUN_KEY)}-clone-{name}-{i}"}
        with reg._lock(name):
            try:
                reg.client.create_registered_model(name)
            except _mlflow().exceptions.MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise
            mv = reg.client.create_model_version(name, source=src_source, run_id=source.run_id, tags=tags)
            reg._ensure_register_event(reg.get_version(name, mv.version), actor)
        out.append(str(mv.version))
    return out
