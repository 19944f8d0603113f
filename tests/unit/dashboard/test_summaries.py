"""record_* write item files and the index; the overview reads only the index."""
from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from airsage.dashboard import (overview, record_decision, record_monitor_run, record_partition, record_review,
                               record_version, safe_record, trend_svg)
from airsage.dashboard import store
from airsage.errors import ConfigError

from dashboard_support import make_version


def transform_report(version="2", rows=1234, failed=0):
    return {"status": "Completed" if not failed else "Failed", "run_key": "dt-x", "model_name": "credit_risk",
            "model_version": version, "input_uri": "/in", "output_uri": "/out", "capture_file": "/cap.parquet",
            "files_in": 2, "files_out": 2 - failed, "files_failed": failed, "records_in": rows, "records_out": rows,
            "records_failed": 0, "failures": [], "files": [{"output_uri": "/out/a.out"}, {"output_uri": "/out/b.out"}],
            "started_at": "2026-11-22T02:00:00+00:00", "seconds": 3.0, "records_per_s": 400.0}


def test_version_and_decisions_move_champion_and_previous(uc):
    record_version(uc, make_version(1, "PendingManualApproval").to_dict())
    record_decision(uc, make_version(1, "Approved", aliases=["champion"], approved_by="alice").to_dict(),
                    action="approve", actor="alice", comment="ok")
    record_version(uc, make_version(2, "PendingManualApproval").to_dict())
    record_decision(uc, make_version(2, "Approved", aliases=["champion"], approved_by="bob").to_dict(),
                    action="approve", actor="bob", comment="better")
    record_version(uc, make_version(3, "PendingManualApproval").to_dict())
    record_decision(uc, make_version(3, "Rejected").to_dict(), action="reject", actor="carol", comment="bias")
    idx = store.read_index(uc)
    assert (idx["champion"], idx["previous"]) == ("2", "1")
    v3 = idx["versions"]["3"]
    assert (v3["status"], v3["decided_by"], v3["decision"]) == ("Rejected", "carol", "reject")
    assert v3["gates_passed"] == 2 and v3["gates_total"] == 2
    full = store.read_json(store.version_uri(uc, "2"))
    assert [e["action"] for e in full["events"]] == ["approve"] and full["events"][0]["actor"] == "bob"
    record_decision(uc, make_version(1, "Approved", aliases=["champion"], approved_by="alice").to_dict(),
                    action="rollback", actor="dora", comment="incident", previous=None)
    idx = store.read_index(uc)
    assert idx["champion"] == "1"


def test_overview_rows_trend_alerts_reviews_and_filters(uc):
    record_version(uc, make_version(2, "Approved", aliases=["champion"], approved_by="bob").to_dict())
    record_version(uc, make_version(4, "PendingManualApproval").to_dict())
    start = dt.date(2026, 10, 1)
    for i in range(35):
        day = (start + dt.timedelta(days=i)).isoformat()
        record_partition(uc, transform_report(rows=1000 + i), partition=day)
        record_monitor_run(uc, {"partition": day, "model_version": "2", "alert": i == 33,
                                "reasons": ["data drift: 40% of the features drifted"] if i == 33 else [],
                                "drifted_share": 0.4 if i == 33 else 0.05, "prediction_drift": False,
                                "model_quality": "no_ground_truth", "report_uri": "/r.html"})
    record_review(uc, {"routed": 5, "pending_review": 3, "reviewed": 1, "timed_out": 1}, partition="2026-11-04")
    data = overview([uc])
    u = data["usecases"][0]
    assert u["champion"]["version"] == "2" and u["pending_approvals"] == ["4"]
    assert u["last_partition"] == {"day": "2026-11-04", "rows": 1034, "scored_at": "2026-11-22T02:00:00+00:00",
                                   "model_version": "2", "status": "Completed"}
    assert len(u["trend"]) == 30 and u["trend"][0]["day"] == "2026-10-06"
    assert [a["day"] for a in u["alerts"]] == ["2026-11-03"] and "drifted" in u["alerts"][0]["text"]
    assert u["review"] == {"open": 3, "decided": 2}
    assert u["latest_verdict"]["day"] == "2026-11-04" and u["latest_verdict"]["alert"] is False
    assert [v["version"] for v in overview([uc], status="PendingManualApproval")["usecases"][0]["versions"]] == ["4"]
    with pytest.raises(ConfigError, match="unknown status"):
        overview([uc], status="Bogus")
    with pytest.raises(ConfigError, match="unknown use case"):
        overview([uc], usecase="nope")
    svg = trend_svg(u["trend"])
    assert svg.count("<circle") == 30 and svg.count('fill="#c62828"') == 1  # one red dot: the alert
    assert ">100%<" in svg and ">2026-10-06<" in svg and ">2026-11-04<" in svg


def test_bad_input_is_refused_with_a_fix(uc):
    with pytest.raises(ConfigError, match="not a date") as exc:
        record_partition(uc, transform_report(), partition="../../etc")
    assert exc.value.fix
    with pytest.raises(ConfigError, match="not a version number"):
        record_version(uc, {"version": "1/../../x", "tags": {}})
    with pytest.raises(ConfigError, match="unknown decision"):
        record_decision(uc, make_version(1, "Approved").to_dict(), action="delete", actor="x")
    assert safe_record(record_partition, uc, transform_report(), partition="bad") is None  # logged, not raised


def test_concurrent_writers_lose_no_partition(uc):
    days = [(dt.date(2026, 11, 1) + dt.timedelta(days=i)).isoformat() for i in range(12)]

    def write(day):
        record_partition(uc, transform_report(), partition=day)
        record_review(uc, {"routed": 1, "pending_review": 1}, partition=day)

    threads = [threading.Thread(target=write, args=(d,)) for d in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    idx = store.read_index(uc)
    assert sorted(idx["partitions"]) == days
    assert all(idx["partitions"][d]["rows"] == 1234 and idx["partitions"][d]["pending_review"] == 1 for d in days)


def test_a_stale_lock_expires(uc):
    from airsage import storage

    lock = storage.join(store.root(uc), store.LOCK_FILE)
    storage.write_bytes(lock, json.dumps({"token": "dead", "expires": 0}).encode())
    record_partition(uc, transform_report(), partition="2026-11-01")
    assert "2026-11-01" in store.read_index(uc)["partitions"] and not storage.exists(lock)
