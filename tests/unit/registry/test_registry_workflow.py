"""The approval workflow: approve / reject / promote / rollback, alias moves, the serving guard, the audit log."""
from __future__ import annotations

import pytest
from registry_testkit import FAIL

from airsage.errors import ModelNotApprovedError, ModelNotFoundError
from airsage.registry import ApprovalStatus, RegistryTransitionError


def champion_of(reg, name):
    c = reg.champion(name)
    return c.version if c else None


def aliases(reg, name):
    return {v.version: v.aliases for v in reg.list_versions(name) if v.aliases}


def test_approve_moves_champion_and_keeps_the_old_one_as_previous(reg, three):
    name, (v1, v2, v3) = three
    a = reg.approve(name, v1, approver="alice", comment="first")
    assert a.status == ApprovalStatus.APPROVED and a.aliases == ["champion"]
    assert a.tags["approved_by"] == "alice" and a.tags["approval_comment"] == "first"
    reg.approve(name, v2, approver="bob", comment="better")
    assert aliases(reg, name) == {v1: ["previous"], v2: ["champion"]}
    assert reg.get_version(name, v3).status == ApprovalStatus.PENDING


def test_approve_is_idempotent(reg, three):
    name, (v1, _, _) = three
    reg.approve(name, v1, approver="alice", comment="ok")
    again = reg.approve(name, v1, approver="alice", comment="ok (retry)")
    assert again.status == ApprovalStatus.APPROVED
    assert [e["action"] for e in reg.audit_events(name)].count("approve") == 1


def test_reject_leaves_the_champion_and_cannot_be_approved_later(reg, three):
    name, (v1, v2, _) = three
    reg.approve(name, v1, approver="alice", comment="ok")
    r = reg.reject(name, v2, approver="carol", comment="calibration is off")
    assert r.status == ApprovalStatus.REJECTED and r.tags["rejected_by"] == "carol"
    assert champion_of(reg, name) == v1
    with pytest.raises(RegistryTransitionError, match="approval_status is 'Rejected'"):
        reg.approve(name, v2, approver="alice", comment="changed my mind")
    with pytest.raises(RegistryTransitionError):
        reg.reject(name, v1, approver="carol", comment="approved versions are retired by rollback")
    assert reg.reject(name, v2, approver="carol", comment="again").status == ApprovalStatus.REJECTED  # no-op


def test_gate_rejected_version_cannot_be_approved_or_promoted(reg, uc, register):
    v = register(uc, "run-bad", gates=FAIL)
    with pytest.raises(RegistryTransitionError):
        reg.approve(v.name, v.version, approver="alice", comment="ship it")
    with pytest.raises(ModelNotApprovedError) as err:
        reg.promote(v.name, v.version, actor="alice", reason="ship it")
    assert err.value.status == "Rejected" and err.value.version == v.version


def test_promote_only_approved_versions(reg, three):
    name, (v1, v2, v3) = three
    reg.approve(name, v1, approver="a", comment="c")
    reg.approve(name, v2, approver="a", comment="c")
    with pytest.raises(ModelNotApprovedError) as err:
        reg.promote(name, v3, actor="ops", reason="try")
    assert err.value.status == "PendingManualApproval"
    p = reg.promote(name, v1, actor="ops", reason="v2 misbehaves on partition X")
    assert p.aliases == ["champion"] and aliases(reg, name) == {v1: ["champion"], v2: ["previous"]}
    assert reg.promote(name, v1, actor="ops", reason="again").aliases == ["champion"]  # no-op


def test_rollback_leaves_previous_at_the_version_just_replaced(reg, three):
    # issue 13: after a rollback `previous` is the version just replaced (it used to walk further back)
    name, (v1, v2, v3) = three
    reg.approve(name, v1, approver="a", comment="c")
    with pytest.raises(RegistryTransitionError, match="no previous version"):
        reg.rollback(name, actor="ops", reason="nothing to go back to")
    for v in (v2, v3):
        reg.approve(name, v, approver="a", comment="c")
    assert aliases(reg, name) == {v2: ["previous"], v3: ["champion"]}
    reg.rollback(name, actor="ops", reason="v3 drifts")
    assert aliases(reg, name) == {v3: ["previous"], v2: ["champion"]}
    reg.rollback(name, actor="ops", reason="v3 was fine after all")  # previous -> back where it started
    assert aliases(reg, name) == {v2: ["previous"], v3: ["champion"]}
    back = reg.rollback(name, actor="ops", reason="both drift", to_version=v1)
    assert back.aliases == ["champion"] and aliases(reg, name) == {v1: ["champion"], v3: ["previous"]}
    assert reg.audit_events(name)[-1]["extra"]["previous"] == v3


def test_rollback_to_a_version_that_is_not_approved_is_refused(reg, three):
    name, (v1, v2, v3) = three
    reg.approve(name, v1, approver="a", comment="c")
    reg.reject(name, v2, approver="a", comment="no")
    for target, status in ((v2, "Rejected"), (v3, "PendingManualApproval")):
        with pytest.raises(ModelNotApprovedError) as err:
            reg.rollback(name, actor="ops", reason="x", to_version=target)
        assert err.value.version == target and err.value.status == status
    assert champion_of(reg, name) == v1


def test_resolve_serves_only_approved_versions(reg, three):
    name, (v1, v2, v3) = three
    with pytest.raises(ModelNotFoundError, match="no alias 'champion'"):
        reg.resolve(f"models:/{name}@champion")
    reg.approve(name, v1, approver="a", comment="c")
    reg.reject(name, v2, approver="a", comment="no")
    r = reg.resolve(f"models:/{name}@champion")
    assert (r.version, r.alias, r.status) == (v1, "champion", ApprovalStatus.APPROVED)
    assert r.model_artifact_uri.endswith("model.tar.gz") and r.to_dict()["uri"] == f"models:/{name}/{v1}"
    for uri, status in ((f"models:/{name}/{v2}", "Rejected"), (f"models:/{name}/{v3}", "PendingManualApproval"),
                        (f"models:/{name}/latest", "PendingManualApproval"), (f"models:/{name}/LATEST", None)):
        with pytest.raises(ModelNotApprovedError) as err:
            reg.resolve(uri)
        assert err.value.model == name and err.value.status == (status or "PendingManualApproval")
        assert "only Approved versions can be served" in str(err.value)
    assert reg.resolve(f"models:/{name}/{v3}", require_approved=False).version == v3


@pytest.mark.parametrize("uri, reason", [("models:/nope@champion", "no alias"), ("models:/nope/1", "no version"),
                                         ("models:/x/Production", "stage"), ("runs:/abc/model", "not a models:/"),
                                         ("models:/m-0123456789", "LoggedModel")])
def test_resolve_unknown_or_unsupported_uris(reg, uri, reason):
    with pytest.raises(ModelNotFoundError, match=reason):
        reg.resolve(uri)


def test_load_bundle_fast_path_and_fallback_to_the_logged_copy(reg, uc, register, job, frame, tmp_path):
    import dataclasses
    import shutil

    v = register(uc, "run-load")
    reg.approve(v.name, v.version, approver="a", comment="c")
    r = reg.resolve(f"models:/{v.name}@champion")
    expected = job.result.bundle.predict_proba(frame.head(20))
    assert r.load_bundle().predict_proba(frame.head(20)) == pytest.approx(expected)
    moved = dataclasses.replace(r, model_artifact_uri=str(tmp_path / "gone" / "model.tar.gz"))
    assert moved.load_bundle().predict_proba(frame.head(20)) == pytest.approx(expected)
    tampered = tmp_path / "model.tar.gz"
    shutil.copyfile(job.output_data_uri, tampered)  # right name, wrong content: checksum differs
    assert dataclasses.replace(r, model_artifact_uri=str(tampered)).load_bundle().predict_proba(
        frame.head(20)) == pytest.approx(expected)


def test_audit_log_is_complete_and_ordered(reg, uc, register):
    name = uc.registered_model_name
    v1 = register(uc, "a1").version
    v2 = register(uc, "a2").version
    v3 = register(uc, "a3", gates=FAIL).version
    reg.approve(name, v1, approver="alice", comment="good")
    reg.approve(name, v2, approver="bob", comment="better")
    reg.rollback(name, actor="ops", reason="incident 42")
    reg.promote(name, v2, actor="ops", reason="fixed upstream")
    v4 = register(uc, "a4").version
    reg.reject(name, v4, approver="carol", comment="too slow")
    events = reg.audit_events(name)
    assert [e["seq"] for e in events] == list(range(1, 10))
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert [(e["action"], e["version"], e["from_version"], e["to_version"], e["from_status"], e["to_status"])
            for e in events] == [
        ("register", v1, None, None, None, "PendingManualApproval"),
        ("register", v2, None, None, None, "PendingManualApproval"),
        ("register", v3, None, None, None, "Rejected"),
        ("approve", v1, None, v1, "PendingManualApproval", "Approved"),
        ("approve", v2, v1, v2, "PendingManualApproval", "Approved"),
        ("rollback", v1, v2, v1, "Approved", "Approved"),
        ("promote", v2, v1, v2, "Approved", "Approved"),
        ("register", v4, v2, v2, None, "PendingManualApproval"),
        ("reject", v4, v2, v2, "PendingManualApproval", "Rejected"),
    ]
    assert [e["actor"] for e in events][3:7] == ["alice", "bob", "ops", "ops"]
    assert events[5]["reason"] == "incident 42"
    assert reg.get_version(name, v1).aliases == ["previous"]


def test_an_interrupted_approval_is_completed_by_a_retry(reg, three):
    name, (v1, _, _) = three
    # the process died after tagging, before moving the alias and writing the event
    reg.client.set_model_version_tag(name, v1, "approval_status", "Approved")
    assert reg.champion(name) is None
    done = reg.approve(name, v1, approver="alice", comment="retry")
    assert done.aliases == ["champion"] and [e["action"] for e in reg.audit_events(name)][-1] == "approve"
