"""The approval workflow's bookkeeping: how a decision is recorded in MLflow and in the audit log.

``ModelRegistry`` (the facade) runs each decision under the model's lock and calls these helpers, which
never lock themselves:

* ``ensure_register_event`` writes a registration's audit event once (a retry completes it);
* ``move_champion`` moves the ``champion`` alias and keeps the replaced champion as ``previous``;
* ``check_approvable`` / ``check_rejectable`` are the transitions' preconditions (the state machine:
  ``PendingManualApproval`` -> ``Approved`` | ``Rejected``; four eyes on approval);
* ``record_approval`` / ``record_rejection`` set the decision's version tags and append its event.

The audit event is always written last: an event means the change is complete.
"""
from __future__ import annotations

import getpass

from airsage.registry import types as t
from airsage.registry.audit import AuditLog
from airsage.registry.store import MlflowStore, now
from airsage.registry.types import ApprovalStatus, FourEyesError, RegisteredVersion, RegistryTransitionError


def cli_source() -> str:
    """The ``source`` of a decision typed at a terminal: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def register_reason(v: RegisteredVersion) -> str:
    """The registration audit event's reason: the gates' verdict, and where an outside model came from."""
    failed = v.failed_checks
    if failed:
        reason = "quality gates failed: " + ", ".join(failed)
    elif t.TAG_GATES in v.tags:
        reason = "all quality gates passed"
    else:
        reason = "registered without quality gates (an outside model: review its evidence before approving)"
    if v.tags.get(t.TAG_IMPORTED_FROM):
        reason = f"imported from {v.tags[t.TAG_IMPORTED_FROM]}; {reason}"
    elif v.tags.get(t.TAG_MODEL_SOURCE):
        reason = f"MLflow model {v.tags[t.TAG_MODEL_SOURCE]}; {reason}"
    return reason


def same_person(a: str | None, b: str | None) -> bool:
    """Four eyes: are two user names the same person (case and surrounding blanks ignored)?"""
    return bool(a and b) and a.strip().casefold() == b.strip().casefold()


def has_event(audit: AuditLog, name: str, version: str, action: str) -> bool:
    """Does the audit log hold an ``action`` event for the version?"""
    return any(e["action"] == action and e["version"] == str(version) for e in audit.events(name))


def ensure_register_event(store: MlflowStore, audit: AuditLog, v: RegisteredVersion, actor: str,
                          source: str | None = None) -> None:
    """Write the registration's audit event unless it exists (a retry after a crash completes it)."""
    if has_event(audit, v.name, v.version, "register"):
        return
    champion = store.alias_version(v.name, t.CHAMPION)
    audit.append(v.name, action="register", actor=actor, version=v.version, from_version=champion,
                 to_version=champion, from_status=None, to_status=str(v.status), reason=register_reason(v),
                 extra={"run_key": v.tags.get(t.TAG_RUN_KEY), "run_id": v.run_id,
                        "dataset_version": v.tags.get(t.TAG_DATASET_VERSION),
                        "failed_checks": v.failed_checks, "metrics": v.metrics,
                        "trained_by": v.tags.get(t.TAG_TRAINED_BY),
                        **({"imported_from": v.tags[t.TAG_IMPORTED_FROM]}
                           if v.tags.get(t.TAG_IMPORTED_FROM) else {}),
                        **({"model_source": v.tags[t.TAG_MODEL_SOURCE]}
                           if v.tags.get(t.TAG_MODEL_SOURCE) else {})},
                 source=source or cli_source())


def move_champion(store: MlflowStore, name: str, version: str) -> tuple[str | None, str | None]:
    """champion -> ``version``; the replaced champion -> ``previous``. Returns (old champion, previous)."""
    old = store.alias_version(name, t.CHAMPION)
    if old == str(version):
        return old, store.alias_version(name, t.PREVIOUS)
    if old is not None:
        store.set_alias(name, t.PREVIOUS, old)
    store.set_alias(name, t.CHAMPION, str(version))
    return old, old if old is not None else store.alias_version(name, t.PREVIOUS)


def check_approvable(name: str, version: str, v: RegisteredVersion, approver: str, *, four_eyes: bool) -> None:
    """Refuse approving ``v`` unless it is PendingManualApproval (or Approved: a no-op) and, with
    ``four_eyes``, ``approver`` did not start its training run."""
    if v.status not in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED):
        raise RegistryTransitionError(
            name, version, str(v.status), "approve",
            fix="Only a PendingManualApproval version can be approved; a Rejected version failed its "
                "gates or review: retrain (or fix the gates) to get a new version.")
    if four_eyes and same_person(approver, v.tags.get(t.TAG_TRAINED_BY)):
        raise FourEyesError(name, version, approver)


def check_rejectable(name: str, version: str, v: RegisteredVersion) -> None:
    """Refuse rejecting ``v`` unless it is PendingManualApproval."""
    if v.status != ApprovalStatus.PENDING:
        raise RegistryTransitionError(
            name, version, str(v.status), "reject",
            fix="Only a PendingManualApproval version can be rejected. To retire an approved champion, "
                "roll back (airsage registry rollback) or promote another approved version.")


def record_approval(store: MlflowStore, audit: AuditLog, name: str, version: str, *, approver: str, comment: str,
                    source: str | None, four_eyes: bool) -> None:
    """Approved: the version's tags (who, why, when, where from), champion moved, then the audit event."""
    store.set_tags(name, version, {t.TAG_STATUS: ApprovalStatus.APPROVED.value, "approved_by": approver,
                                   "approval_comment": comment, "approval_ts": now(),
                                   "approval_source": source or cli_source()})
    old, previous = move_champion(store, name, version)
    audit.append(name, action="approve", actor=approver, version=version, from_version=old,
                 to_version=version, from_status=ApprovalStatus.PENDING.value,
                 to_status=ApprovalStatus.APPROVED.value, reason=comment,
                 extra={"previous": previous, "four_eyes": four_eyes}, source=source or cli_source())


def record_rejection(store: MlflowStore, audit: AuditLog, name: str, version: str, *, approver: str, comment: str,
                     source: str | None) -> None:
    """Rejected: the version's tags (who, why, when), then the audit event; the champion is unchanged."""
    store.set_tags(name, version, {t.TAG_STATUS: ApprovalStatus.REJECTED.value, "rejected_by": approver,
                                   "rejection_comment": comment, "rejection_ts": now()})
    append_reject(store, audit, name, version, approver, comment, source)


def append_reject(store: MlflowStore, audit: AuditLog, name: str, version: str, approver: str, comment: str,
                  source: str | None) -> None:
    """The rejection's audit event (also written alone when a crash left the tags without it)."""
    champion = store.alias_version(name, t.CHAMPION)
    audit.append(name, action="reject", actor=approver, version=version, from_version=champion,
                 to_version=champion, from_status=ApprovalStatus.PENDING.value,
                 to_status=ApprovalStatus.REJECTED.value, reason=comment, source=source or cli_source())


def record_move(audit: AuditLog, action: str, name: str, version: str, status: ApprovalStatus | str | None, *,
                actor: str, reason: str, from_version: str | None, previous: str | None, source: str | None) -> None:
    """The audit event of a champion move (``promote``, ``rollback``) to the Approved ``version``."""
    status = str(status)
    audit.append(name, action=action, actor=actor, version=version, from_version=from_version,
                 to_version=version, from_status=status, to_status=status, reason=reason,
                 extra={"previous": previous}, source=source or cli_source())
