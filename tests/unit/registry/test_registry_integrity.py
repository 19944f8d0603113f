"""Tamper-evident approvals (issue 13): the hash-chained audit log, ``verify``, the serving guard against
changes made with MLflow's own client, four eyes, who/where of each decision, malformed versions."""
from __future__ import annotations

import getpass
import hashlib
import json

import pytest

from airsage.errors import ConfigError, ModelNotApprovedError
from airsage.registry import ApprovalNotBackedError, FourEyesError, verify
from airsage.registry.audit import AuditLog


def sha(event: dict) -> str:
    """The chain's hash, written out from its definition: SHA-256 of the event without ``sha256``,
    sorted keys, no whitespace, UTF-8."""
    body = {k: v for k, v in event.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def aliases(reg, name):
    return {v.version: v.aliases for v in reg.list_versions(name) if v.aliases}


# ---------------------------------------------------------------------- the chain
def test_each_event_carries_its_hash_and_the_previous_one(tmp_path):
    log = AuditLog(str(tmp_path))
    e1 = log.append("m", action="register", actor="ci", version="1", source="airflow")
    e2 = log.append("m", action="approve", actor="alice", version="1", reason="ok – ünïcode", source="airflow-ui")
    stored = [json.loads(p.read_text()) for p in sorted((tmp_path / "m").iterdir())]
    assert stored == [e1, e2]
    assert e1["prev_sha256"] is None and e1["sha256"] == sha(e1)
    assert e2["prev_sha256"] == sha(e1) == e1["sha256"] and e2["sha256"] == sha(e2)
    assert log.check_chain("m") == ([e1, e2], None)


@pytest.fixture
def chained(tmp_path):
    log = AuditLog(str(tmp_path))
    for i, action in enumerate(("register", "approve", "promote", "rollback"), start=1):
        log.append("m", action=action, actor=f"user{i}", version=str(i))
    return log, tmp_path / "m"


def test_an_edited_event_is_named(chained):
    log, folder = chained
    f = folder / "event-0000000002.json"
    e = json.loads(f.read_text())
    e["actor"] = "approver"  # forge who approved
    f.write_text(json.dumps(e))
    good, brk = log.check_chain("m")
    assert [x["seq"] for x in good] == [1]
    assert brk.seq == 2 and brk.file == "event-0000000002.json" and "does not match its sha256" in brk.problem


def test_a_rehashed_forgery_breaks_the_next_link(chained):
    log, folder = chained
    f = folder / "event-0000000003.json"
    e = json.loads(f.read_text())
    e["reason"] = "nothing to see"
    e["sha256"] = sha(e)  # the forger recomputes the event's own hash
    f.write_text(json.dumps(e))
    good, brk = log.check_chain("m")
    assert len(good) == 3 and brk.file == "event-0000000004.json" and "prev_sha256" in brk.problem


def test_a_removed_event_is_named(chained):
    log, folder = chained
    (folder / "event-0000000002.json").unlink()
    _, brk = log.check_chain("m")
    assert brk.file == "event-0000000003.json" and "removed" in brk.problem


def test_events_from_before_the_chain_are_anchored_by_the_first_chained_event(tmp_path):
    log = AuditLog(str(tmp_path))
    (tmp_path / "m").mkdir()
    legacy = {"seq": 1, "ts": "2026-01-01T00:00:00+00:00", "model": "m", "version": "1", "action": "register",
              "actor": "ci", "from_version": None, "to_version": None, "from_status": None,
              "to_status": "PendingManualApproval", "reason": "", "extra": {}}
    (tmp_path / "m" / "event-0000000001.json").write_text(json.dumps(legacy))
    e2 = log.append("m", action="approve", actor="alice", version="1")
    assert e2["prev_sha256"] == sha(legacy)
    assert log.check_chain("m")[1] is None


# ---------------------------------------------------------------------- who and where
def test_decisions_record_actor_and_source(reg, three):
    name, (v1, v2, v3) = three
    reg.approve(name, v1, approver="approver", comment="ok", source="airflow-ui")
    reg.reject(name, v2, approver="approver", comment="no", source="airflow-api")
    reg.approve(name, v3, approver="alice", comment="from a terminal")
    events = reg.audit_events(name)[-3:]
    assert [(e["actor"], e["source"]) for e in events] == [
        ("approver", "airflow-ui"), ("approver", "airflow-api"), ("alice", f"cli:{getpass.getuser()}")]
    assert reg.get_version(name, v1).tags["approval_source"] == "airflow-ui"


# ---------------------------------------------------------------------- verify and the serving guard
def test_verify_is_clean_after_decisions_made_through_airsage(reg, uc, three):
    name, (v1, v2, v3) = three
    reg.approve(name, v1, approver="a", comment="c")
    reg.approve(name, v2, approver="b", comment="c")
    reg.reject(name, v3, approver="c", comment="no")
    reg.rollback(name, actor="ops", reason="incident")
    reg.promote(name, v2, actor="ops", reason="fixed")
    report = verify(uc, registry=reg)
    assert report.ok and report.findings == [] and report.chain_ok and report.events == 8
    assert report.to_dict()["ok"] is True and "OK" in report.render()


def test_tag_and_alias_changed_with_mlflows_own_client_are_refused_and_named(reg, uc, three):
    from mlflow import MlflowClient

    name, (v1, v2, _) = three
    reg.approve(name, v1, approver="approver", comment="ok")
    assert reg.resolve(f"models:/{name}@champion").version == v1
    outside = MlflowClient(tracking_uri=reg.tracking_uri)  # e.g. the MLflow UI, which has no login
    outside.set_model_version_tag(name, v2, "approval_status", "Approved")
    outside.set_registered_model_alias(name, "champion", v2)

    with pytest.raises(ApprovalNotBackedError) as err:
        reg.resolve(f"models:/{name}@champion")
    assert isinstance(err.value, ModelNotApprovedError) and err.value.version == v2
    assert f"version {v2} is Approved in MLflow" in str(err.value) and "changed outside Airsage" in str(err.value)
    assert "airsage registry verify" in err.value.fix
    with pytest.raises(ApprovalNotBackedError):
        reg.resolve(f"models:/{name}/{v2}")

    report = verify(uc, registry=reg)
    assert not report.ok and report.chain_ok
    assert any(f.startswith(f"version {v2} is Approved in MLflow but the audit log's last decision for it is event")
               and "register" in f and "changed outside Airsage" in f for f in report.findings), report.findings
    assert any(f"alias champion of {name} points at version {v2} in MLflow" in f and f"says version {v1}" in f
               for f in report.findings), report.findings
    assert len(report.findings) == 2


def test_a_moved_alias_alone_is_refused_and_a_forged_approver_is_named(reg, uc, three):
    from mlflow import MlflowClient

    name, (v1, v2, _) = three
    reg.approve(name, v1, approver="approver", comment="ok")
    reg.approve(name, v2, approver="approver", comment="better")
    outside = MlflowClient(tracking_uri=reg.tracking_uri)
    outside.set_registered_model_alias(name, "champion", v1)  # both Approved: only the alias is wrong
    with pytest.raises(ApprovalNotBackedError, match=f"alias champion of {name} points at version {v1}"):
        reg.resolve(f"models:/{name}@champion")
    assert reg.resolve(f"models:/{name}/{v1}").version == v1  # the version itself is backed
    outside.set_registered_model_alias(name, "champion", v2)
    outside.set_model_version_tag(name, v2, "approved_by", "somebody-else")
    findings = verify(uc, registry=reg).findings
    assert len(findings) == 1
    assert findings[0].startswith(f"version {v2}'s approved_by tag says 'somebody-else' but the audit log says "
                                  "'approver' (event ")


def test_an_edited_audit_log_is_refused_at_serving_and_named_by_verify(reg, uc, three):
    name, (v1, _, _) = three
    reg.approve(name, v1, approver="approver", comment="ok")
    uri = sorted(reg.audit._uris(name))[-1]
    e = json.loads(open(uri).read())
    e["actor"] = "someone-else"
    open(uri, "w").write(json.dumps(e))
    with pytest.raises(ApprovalNotBackedError, match="chain itself is broken"):
        reg.resolve(f"models:/{name}@champion")
    report = verify(uc, registry=reg)
    assert not report.chain_ok and report.first_broken.startswith(uri.rsplit("/", 1)[-1])
    assert "the audit chain is broken at event-" in report.findings[0]


def test_an_approval_through_airsage_repairs_what_verify_found(reg, uc, three):
    from mlflow import MlflowClient

    name, (v1, _, _) = three
    MlflowClient(tracking_uri=reg.tracking_uri).set_model_version_tag(name, v1, "approval_status", "Approved")
    assert not verify(uc, registry=reg).ok
    reg.approve(name, v1, approver="approver", comment="reviewed the evidence")  # records the decision
    assert verify(uc, registry=reg).ok and reg.resolve(f"models:/{name}@champion").version == v1


def test_nightly_monitoring_reports_an_outside_change_as_a_finding(reg, uc, three):
    """The monitor DAG's verdict includes ``registry verify``'s findings (an alert names the change)."""
    from mlflow import MlflowClient

    from airsage.lifecycle.monitoring import registry_findings

    name, (v1, v2, _) = three
    reg.approve(name, v1, approver="approver", comment="ok")
    assert registry_findings(uc, registry=reg) == []
    MlflowClient(tracking_uri=reg.tracking_uri).set_model_version_tag(name, v2, "approval_status", "Approved")
    findings = registry_findings(uc, registry=reg)
    assert len(findings) == 1 and f"version {v2} is Approved in MLflow" in findings[0]


# ---------------------------------------------------------------------- four eyes
def test_the_person_who_trained_a_version_may_not_approve_it(reg, uc, register):
    v = register(uc, "run-4eyes", trained_by="alice")
    assert v.tags["airsage.trained_by"] == "alice"
    assert reg.audit_events(v.name)[0]["extra"]["trained_by"] == "alice"
    for who in ("alice", " Alice "):
        with pytest.raises(FourEyesError) as err:
            reg.approve(v.name, v.version, approver=who, comment="my own model")
        assert "four eyes" in str(err.value) and "another approver" in err.value.fix
    assert str(reg.get_version(v.name, v.version).status) == "PendingManualApproval"
    assert reg.approve(v.name, v.version, approver="bob", comment="reviewed").tags["approved_by"] == "bob"


def test_four_eyes_can_be_switched_off(reg, uc, register):
    v = register(uc, "run-self", trained_by="alice")
    done = reg.approve(v.name, v.version, approver="alice", comment="sandbox", four_eyes=False)
    assert str(done.status) == "Approved" and reg.audit_events(v.name)[-1]["extra"]["four_eyes"] is False


# ---------------------------------------------------------------------- previous alias and promote
def test_promote_leaves_previous_at_the_version_just_replaced(reg, three):
    name, (v1, v2, v3) = three
    for v in (v1, v2, v3):
        reg.approve(name, v, approver="a", comment="c")
    reg.promote(name, v1, actor="ops", reason="pin")
    assert aliases(reg, name) == {v1: ["champion"], v3: ["previous"]}
    reg.rollback(name, actor="ops", reason="undo the pin")
    assert aliases(reg, name) == {v3: ["champion"], v1: ["previous"]}


# ---------------------------------------------------------------------- malformed input
@pytest.mark.parametrize("bad", ["1' OR '1'='1", "../3", "-1", "0", "v3", ""])
def test_a_malformed_version_is_a_config_error_with_a_fix(reg, three, bad):
    name, _ = three
    calls = [lambda: reg.approve(name, bad, approver="a", comment="c"),
             lambda: reg.reject(name, bad, approver="a", comment="c"),
             lambda: reg.promote(name, bad, actor="a", reason="r"),
             lambda: reg.rollback(name, actor="a", reason="r", to_version=bad),
             lambda: reg.get_version(name, bad)]
    for call in calls:
        with pytest.raises(ConfigError) as err:
            call()
        assert err.value.fix and "model_version" in str(err.value)


def test_a_quote_in_a_model_name_is_a_config_error(reg):
    with pytest.raises(ConfigError, match="quote") as err:
        reg.list_versions("x' OR '1'='1")
    assert err.value.fix
