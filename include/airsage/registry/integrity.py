"""Is the registry's state backed by its audit log? (``airsage registry verify --usecase U``,
``airsage.registry.verify``)

MLflow holds the state (the ``approval_status`` tag, the ``champion`` / ``previous`` aliases), but anyone
with access to the MLflow server can change it without Airsage. The audit log (``registry.audit``) is
hash-chained and written only by Airsage's decision methods, so it is the witness:

* the chain holds (the first broken event is named);
* every version whose ``approval_status`` is ``Approved`` has, as the last decision the log records for
  it, an ``approve`` event (and its ``approved_by`` tag names that event's actor);
* the ``champion`` and ``previous`` aliases point where the log's last champion move left them.

The serving guard (``ModelRegistry.resolve`` with ``require_approved``) applies the same two checks to
the one version it is about to serve (``serving_problem``), and refuses it with ``ModelNotApprovedError``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airsage.registry import types as t
from airsage.registry.audit import describe, event_hash, expected_aliases, last_decision
from airsage.registry.types import ApprovalStatus, RegisteredVersion

ALIASES = (t.CHAMPION, t.PREVIOUS)
OUTSIDE = "changed outside Airsage"


@dataclass(frozen=True)
class VerifyReport:
    """The result of ``verify``: ``ok`` when the chain holds and every finding list is empty."""

    usecase: str
    model: str
    events: int
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chain_ok: bool = True
    first_broken: str | None = None

    @property
    def ok(self) -> bool:
        return self.chain_ok and not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"usecase": self.usecase, "model": self.model, "ok": self.ok, "events": self.events,
                "chain_ok": self.chain_ok, "first_broken": self.first_broken, "findings": list(self.findings),
                "notes": list(self.notes)}

    def render(self) -> str:
        head = (f"{self.model} ({self.usecase}): {self.events} audit event(s); "
                + ("OK: the registry state is backed by an intact audit log." if self.ok
                   else f"{len(self.findings)} finding(s)."))
        return "\n".join([head, *(f"- {f}" for f in self.findings), *(f"  note: {n}" for n in self.notes)])


def approval_problem(v: RegisteredVersion, events: list[dict[str, Any]]) -> str | None:
    """Why ``v``'s ``Approved`` tag is not backed by the log, or None when it is (or it is not Approved)."""
    if v.status != ApprovalStatus.APPROVED:
        return None
    last = last_decision(events, v.version)
    if last is None or last.get("action") != "approve" or last.get("to_status") != ApprovalStatus.APPROVED.value:
        what = "has no decision" if last is None else (
            f"is {describe(last)} -> {last.get('to_status')}")
        return (f"version {v.version} is Approved in MLflow but the audit log's last decision for it {what}; "
                f"{OUTSIDE}")
    if "sha256" in last and last["sha256"] != event_hash(last):
        return f"version {v.version}'s approval event {last.get('seq')} was edited after it was written"
    tagged = v.tags.get("approved_by")
    if tagged is not None and tagged != last.get("actor"):
        return (f"version {v.version}'s approved_by tag says {tagged!r} but the audit log says "
                f"{last.get('actor')!r} ({describe(last)}); {OUTSIDE}")
    return None


def alias_problem(name: str, alias: str, actual: str | None, events: list[dict[str, Any]]) -> str | None:
    """Why MLflow's ``alias`` (pointing at ``actual``) is not where the log's champion moves left it."""
    expected, event = expected_aliases(events).get(alias, (None, None))
    if (actual or None) == (expected or None):
        return None
    where = f"version {actual}" if actual else "no version"
    should = (f"version {expected} ({describe(event)})" if expected else
              "no version (the audit log records no champion move that sets it)")
    return f"alias {alias} of {name} points at {where} in MLflow but the audit log says {should}; {OUTSIDE}"


def serving_problem(v: RegisteredVersion, alias: str | None, actual_alias_version: str | None,
                    events: list[dict[str, Any]]) -> str | None:
    """The serving guard's check of one version (and of the alias it was resolved through)."""
    problem = approval_problem(v, events)
    if problem is None and alias in ALIASES:
        problem = alias_problem(v.name, alias, actual_alias_version, events)
    return problem


def check(registry, usecase) -> VerifyReport:
    """Check the audit chain of a use case's model and that MLflow's approvals and aliases are backed by it.

    ``registry``: a ``ModelRegistry``; ``usecase``: a ``UseCase``. Read-only: it never changes MLflow or the
    log. (``airsage.registry.verify`` is the entry point that builds both from names and settings.)
    """
    name = usecase.registered_model_name
    findings: list[str] = []
    notes: list[str] = []
    good, brk = registry.audit.check_chain(name)
    total = len(registry.audit.files(name))
    if brk is not None:
        findings.append(f"the audit chain is broken at {brk}; the {len(good)} event(s) before it are intact. "
                        "Restore the log from its backup (versioned bucket) and find who wrote to it.")
    legacy = [e for e in good if "sha256" not in e]
    if legacy:
        notes.append(f"{len(legacy)} event(s) predate the hash chain (written by an older Airsage); the first "
                     "chained event anchors the last of them.")
    events = good  # decisions after a break are not trusted
    versions = registry.list_versions(name)
    for v in versions:
        problem = approval_problem(v, events)
        if problem:
            findings.append(problem)
    by_alias = {a: v.version for v in versions for a in v.aliases}
    for alias in ALIASES:
        problem = alias_problem(name, alias, by_alias.get(alias), events)
        if problem:
            findings.append(problem)
    if findings:
        notes.append("Fix: undo the change in MLflow (set approval_status / the alias back as the audit log "
                     "says), or record the decision through Airsage (airsage registry approve / promote / "
                     "rollback, or the governance DAGs), then run verify again.")
    return VerifyReport(usecase=usecase.name, model=name, events=total, findings=findings, notes=notes,
                        chain_ok=brk is None, first_broken=str(brk) if brk else None)
