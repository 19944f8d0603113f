"""Races: registrations, approvals and rollbacks at once leave one champion and a complete, consistent audit log."""
from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest

from airsage.errors import AirsageError
from airsage.registry import ApprovalStatus
from airsage.registry.lock import registry_lock
from airsage.registry.testing import clone_versions


def race(fns):
    """Start every fn at the same moment in its own thread; return [(result | None, error | None)]."""
    barrier = threading.Barrier(len(fns))
    out = [None] * len(fns)

    def run(i, fn):
        barrier.wait()
        try:
            out[i] = (fn(), None)
        except Exception as exc:  # noqa: BLE001 - collected and checked by the test
            out[i] = (None, exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    return out


def assert_consistent(reg, name):
    """One Approved champion; audit sequence 1..n without gaps; every champion move starts where the last ended."""
    events = reg.audit_events(name)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    champion = None
    for e in events:
        if e["action"] in ("approve", "promote", "rollback"):
            assert e["from_version"] == champion, f"lost update before event {e['seq']}: {e}"
            champion = e["to_version"]
        else:
            assert e["from_version"] == e["to_version"] == champion
    current = reg.champion(name)
    assert (current.version if current else None) == champion
    if current:
        assert current.status == ApprovalStatus.APPROVED
    assert sum("champion" in v.aliases for v in reg.list_versions(name)) == (1 if champion else 0)
    return events


def test_racing_approvals_and_rollbacks(reg, uc, seed_version):
    name = uc.registered_model_name
    versions = clone_versions(reg, seed_version, name, 5)
    reg.approve(name, versions[0], approver="alice", comment="first")
    ops = [lambda v=v: reg.approve(name, v, approver="alice", comment=f"approve {v}") for v in versions[1:]]
    ops += [lambda: reg.rollback(name, actor="ops", reason="incident") for _ in range(3)]
    ops += [lambda: reg.promote(name, versions[0], actor="ops", reason="pin v1")]
    results = race(ops)
    errors = [e for _, e in results if e is not None]
    assert all(isinstance(e, AirsageError) for e in errors), errors  # only refusals (e.g. no previous version)
    assert all(e is None for _, e in results[:4])  # every approval of a distinct version succeeds exactly once
    events = assert_consistent(reg, name)
    actions = [e["action"] for e in events]
    assert actions.count("register") == 5 and actions.count("approve") == 5
    assert actions.count("rollback") == sum(e is None for _, e in results[4:7])  # each successful rollback, once
    # the promote succeeds either by moving the champion (one event) or as a no-op (v1 was champion already)
    assert results[7][1] is None and actions.count("promote") <= 1


def test_racing_registrations(reg, uc, register):
    name = uc.registered_model_name
    results = race([lambda: register(uc, "run-x"), lambda: register(uc, "run-y"),
                    lambda: register(uc, "run-x"), lambda: register(uc, "run-y")])
    assert all(e is None for _, e in results), results
    by_key = {}
    for v, _ in results:
        by_key.setdefault(v.tags["run_key"], set()).add(v.version)
    assert {k: len(s) for k, s in by_key.items()} == {"run-x": 1, "run-y": 1}  # a retried task never registers twice
    assert sorted(v.version for v in reg.list_versions(name)) == ["1", "2"]
    events = assert_consistent(reg, name)
    assert sorted(e["version"] for e in events) == ["1", "2"]


def _count_under_lock(lock_dir, counter, n):
    for _ in range(n):
        with registry_lock(lock_dir, "shared-model"):
            value = int(counter.read_text() or 0)
            time.sleep(0.001)  # widen the read-modify-write window
            counter.write_text(str(value + 1))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_lock_excludes_other_processes(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_count_under_lock, args=(tmp_path / "locks", counter, 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert counter.read_text() == "160"


def test_lock_times_out_as_a_transient_error(tmp_path):
    from airsage.errors import TransientError

    with registry_lock(tmp_path, "m"):
        with pytest.raises(TransientError, match="busy"):
            with registry_lock(tmp_path, "m", timeout_s=0.2):
                pass
    with registry_lock(tmp_path, "m", timeout_s=0.2):  # released
        pass
