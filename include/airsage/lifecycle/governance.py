"""The governance workflow (``<uc>__approve_model``, ``<uc>__promote_model``, the training DAG's approval,
``airsage registry``): decisions, the approver's summary, model cards, and what may be served."""
from __future__ import annotations

from typing import Any

from airsage.config import UseCase
from airsage.contracts import ServingModel
from airsage.errors import ConfigError

DECISIONS = ("approve", "reject", "promote", "rollback")


def decide(uc: UseCase, version: str, decision: str, *, actor: str, comment: str, source: str | None = None,
           four_eyes: bool | None = None) -> dict[str, Any]:
    """Apply an approval decision: ``approve`` / ``reject`` (a pending version), ``promote``, ``rollback``.
    Every decision names a person (the authenticated Airflow user, or the OS user of the CLI) and the
    channel it came through (``source``: ``airflow-ui``, ``cli:<user>``, ...), and says why; the version's
    model card is regenerated after it. ``four_eyes`` (default: the use case's ``governance.four_eyes``):
    the user who started a version's training run may not approve it."""
    from airsage.registry import ModelRegistry

    if not comment or not comment.strip():
        raise ConfigError("a decision needs a comment (the auditor's 'why')", key="comment",
                          fix="Say why in the comment field.")
    if not actor or not actor.strip():
        raise ConfigError("a decision needs a named person", key="approver", fix="Give the approver's name.")
    if decision not in DECISIONS:
        raise ConfigError(f"unknown decision {decision!r}", key="decision",
                          fix="Use approve, reject, promote or rollback.")
    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    four_eyes = uc.governance.four_eyes if four_eyes is None else four_eyes
    if decision == "approve":
        from airsage.lifecycle.shadow import check_gate

        check_gate(uc, str(version))  # shadow.gate: refused until the shadow evidence passes
        v = reg.approve(name, str(version), approver=actor, comment=comment, usecase=uc, source=source,
                        four_eyes=four_eyes)
    elif decision == "reject":
        v = reg.reject(name, str(version), approver=actor, comment=comment, usecase=uc, source=source)
    elif decision == "promote":
        v = reg.promote(name, str(version), actor=actor, reason=comment, source=source)
    else:
        v = reg.rollback(name, actor=actor, reason=comment, to_version=str(version) if version else None,
                         source=source)
    if decision in ("approve", "reject"):  # no longer pending: its shadow scoring stops (recorded in its summary)
        from airsage.lifecycle.shadow import stop

        stop(uc, v.version, action=f"{decision}d", actor=actor)
    card_uri = refresh_model_card(uc, v.version, reg=reg)
    _record_decision(uc, reg, v, action=decision, actor=actor, comment=comment)
    return {**v.to_dict(), "model_card": card_uri}


def _record_decision(uc: UseCase, reg, v, *, action: str, actor: str, comment: str) -> None:
    """The dashboard's summary of a decision (with the champion and previous aliases after it)."""
    from airsage import dashboard

    champion = reg.champion(uc.registered_model_name)
    previous = next((x for x in reg.list_versions(uc.registered_model_name) if "previous" in (x.aliases or [])), None)
    dashboard.safe_record(dashboard.record_decision, uc, v.to_dict(), action=action, actor=actor, comment=comment,
                          champion=champion.version if champion else None,
                          previous=previous.version if previous else None)


def refresh_model_card(uc: UseCase, version: str, *, reg=None) -> str | None:
    """Regenerate a version's model card (JSON + HTML) from the registry and attach it to the version."""
    from airsage.cards import build_model_card, render_model_card_html
    from airsage.registry import ModelRegistry
    from airsage.registry import types as _t

    reg = reg or ModelRegistry.from_settings()
    card = build_model_card(reg, uc.registered_model_name, str(version), uc)
    v = reg.attach_model_card(uc.registered_model_name, str(version), card, render_model_card_html(card))
    return v.tags.get(_t.TAG_MODEL_CARD)


def model_card(uc: UseCase, version: str) -> tuple[dict[str, Any], str]:
    """A version's model card and its HTML rendering (``airsage registry card``)."""
    from airsage.cards import build_model_card, render_model_card_html
    from airsage.registry import ModelRegistry

    card = build_model_card(ModelRegistry.from_settings(), uc.registered_model_name, str(version), uc)
    return card, render_model_card_html(card)


def approval_summary(uc: UseCase, version: str) -> str:
    """The approver's view of a version (metrics vs champion, gates, bias headline), as Markdown."""
    from airsage.cards import approval_summary_markdown
    from airsage.registry import ModelRegistry

    import os

    if uc.shadow.enabled:  # outcomes may have arrived since the last night: the evidence shown is current
        from airsage.lifecycle import shadow

        if shadow.partitions_of(uc, str(version)) and (shadow.read_summary(uc, str(version)) or {}).get("status") != "stopped":
            shadow.refresh(uc, str(version))
    # the evidence opens in the model dashboard (same origin as the Airflow UI, behind the same login)
    base = (os.environ.get("AIRSAGE__DASHBOARD_URL") or "/airsage").rstrip("/")
    page = f"{base}/usecases/{uc.name}/versions/{version}"
    return approval_summary_markdown(uc, str(version), ModelRegistry.from_settings(),
                                     model_card_url=f"{page}/card", clarify_report_url=page)


def resolve_model(uc: UseCase, *, alias: str | None = None, version: str | None = None,
                  model_uri: str | None = None) -> ServingModel:
    """Resolve what to serve; refuses (``ModelNotApprovedError``) anything that is not Approved."""
    from airsage import identifiers
    from airsage.registry import ModelRegistry

    name = uc.registered_model_name
    if version:
        version = identifiers.model_version(version)
    uri = model_uri or (f"models:/{name}/{version}" if version else f"models:/{name}@{alias or uc.transform.model_alias}")
    return ServingModel.from_resolved(uri, ModelRegistry.from_settings().resolve(uri, require_approved=True))
