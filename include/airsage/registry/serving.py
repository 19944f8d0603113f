"""Serving: a ``models:/`` URI resolved to the registered version to score with, and the serving guard.

``resolve`` (``ModelRegistry.resolve``) accepts ``models:/NAME@ALIAS``, ``models:/NAME/<version>`` and
``models:/NAME/latest``. With ``require_approved`` it refuses anything not ``Approved``
(``ModelNotApprovedError``) and, through ``guard``, an approval or a ``champion`` / ``previous`` alias that
the audit log does not back (``ApprovalNotBackedError``, a subclass; ``registry.integrity``).
"""
from __future__ import annotations

import re

from airsage.errors import ModelNotApprovedError, ModelNotFoundError
from airsage.registry import integrity
from airsage.registry import types as t
from airsage.registry.audit import AuditLog
from airsage.registry.store import MlflowStore, check_name
from airsage.registry.types import ApprovalNotBackedError, ApprovalStatus, RegisteredVersion, ResolvedModel


def resolve(store: MlflowStore, audit: AuditLog, uri: str, *, require_approved: bool = True) -> ResolvedModel:
    """``uri`` -> the version (see the module docstring); ``ModelNotFoundError`` when the model, version or
    alias does not exist."""
    name, version, alias = parse_uri(uri)
    check_name(name)
    if alias is not None:
        version = store.alias_version(name, alias)
        if version is None:
            raise ModelNotFoundError(uri, f"model {name} has no alias {alias!r}")
    elif version == "latest":
        versions = store.versions_of(name)
        if not versions:
            raise ModelNotFoundError(uri, f"model {name} has no versions")
        version = str(max(int(mv.version) for mv in versions))
    try:
        v = store.get_version(name, version)
    except ModelNotFoundError:
        raise ModelNotFoundError(uri, f"model {name} has no version {version}") from None
    if require_approved:
        if v.status != ApprovalStatus.APPROVED:
            raise ModelNotApprovedError(name, v.version, str(v.status) if v.status is not None else None)
        guard(audit, v, alias)
    return ResolvedModel(name=name, version=v.version, status=v.status, alias=alias, run_id=v.run_id,
                         model_artifact_uri=v.tags.get(t.TAG_MODEL_ARTIFACT), tags=v.tags,
                         tracking_uri=store.tracking_uri, source=v.source)


def guard(audit: AuditLog, v: RegisteredVersion, alias: str | None) -> None:
    """Refuse a version whose approval (or the alias it was resolved through) the audit log does not back."""
    events, brk = audit.check_chain(v.name)
    problem = integrity.serving_problem(v, alias, v.version, events)
    if problem:
        if brk is not None:
            problem += f" (the audit chain itself is broken at {brk})"
        usecase = v.tags.get("airsage.usecase")
        raise ApprovalNotBackedError(v.name, v.version, str(v.status), problem, usecase=usecase)


def parse_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/`` URI -> (name, version or ``"latest"`` or None, alias or None)."""
    m = re.match(r"^models:/(?P<rest>.+)$", uri or "")
    if not m:
        raise ModelNotFoundError(uri, "not a models:/ URI (use models:/NAME@ALIAS, models:/NAME/VERSION "
                                      "or models:/NAME/latest)")
    rest = m.group("rest")
    if "@" in rest:
        name, alias = rest.rsplit("@", 1)
        return name, None, alias
    name, _, suffix = rest.rpartition("/")
    if not name:
        raise ModelNotFoundError(uri, "a bare models:/<id> (MLflow LoggedModel) is not a registered version")
    if suffix.isdigit():
        return name, suffix, None
    if suffix.lower() == "latest":
        return name, "latest", None
    raise ModelNotFoundError(uri, f"{suffix!r} is a stage or unknown suffix; stages are not used, "
                                  "use an alias (models:/NAME@champion) or a version number")
