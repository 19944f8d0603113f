"""The audit log itself: immutable events, gap-free sequence numbers, a writer that lost a race takes the next."""
from __future__ import annotations

import json

from airsage import storage
from airsage.registry.audit import AuditLog


def test_append_assigns_sequence_and_records_the_fields(tmp_path):
    log = AuditLog(str(tmp_path / "_audit"))
    e1 = log.append("my/model", action="register", actor="ci", version="1", to_status="PendingManualApproval")
    e2 = log.append("my/model", action="approve", actor="alice", version="1", from_version=None, to_version="1",
                    from_status="PendingManualApproval", to_status="Approved", reason="looks good", extra={"k": 1})
    assert (e1["seq"], e2["seq"]) == (1, 2)
    # issue 13: every event also says through which door it came (source) and is hash-chained
    assert set(e2) == {"seq", "ts", "model", "version", "action", "actor", "from_version", "to_version",
                       "from_status", "to_status", "reason", "extra", "source", "prev_sha256", "sha256"}
    assert log.events("my/model") == [e1, e2]
    files = sorted(p.name for p in (tmp_path / "_audit" / "my_model").iterdir())
    assert files == ["event-0000000001.json", "event-0000000002.json"]
    assert log.events("other") == []


def test_events_are_immutable_and_a_stale_writer_takes_the_next_number(tmp_path, monkeypatch):
    log = AuditLog(str(tmp_path))
    log.append("m", action="register", actor="a", version="1")
    first = storage.join(log.prefix("m"), "event-0000000001.json")
    assert storage.write_if_absent(first, b"{}") is False  # never overwritten
    monkeypatch.setattr(log, "_uris", lambda model: [])  # a writer that listed before the first event landed
    e = log.append("m", action="register", actor="b", version="2")
    assert e["seq"] == 2
    monkeypatch.undo()
    assert [x["actor"] for x in log.events("m")] == ["a", "b"]
    assert json.loads(open(first).read())["actor"] == "a"
