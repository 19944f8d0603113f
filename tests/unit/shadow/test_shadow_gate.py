"""The shadow approval gate: one full-sentence reason per failed bound."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from airsage.config import ShadowGateSpec
from airsage.shadow.gate import evaluate_gate

NOW = dt.datetime(2026, 12, 5, 14, 0, tzinfo=dt.timezone.utc)


def summary(**over):
    doc = {
        "partitions": 3, "rows": 3000,
        "flips": {"to_positive": 120, "to_negative": 96, "total": 216, "rate": 0.072},
        "groups": {"age_group": [
            {"value": "18-25", "in_facet_group": True, "rows": 400, "flip_rate": 0.15},
            {"value": "26-40", "in_facet_group": False, "rows": 2600, "flip_rate": 0.06}]},
        "bias": {"age_group": {"champion": {"DPPL": 0.01, "DI": 0.9}, "challenger": {"DPPL": 0.09, "DI": 0.8},
                               "change": {"DPPL": 0.08, "DI": -0.1}}},
        "quality": None,
    }
    doc.update(over)
    return doc


def test_every_failed_bound_is_a_reason():
    gate = ShadowGateSpec(enabled=True, min_partitions=5, max_flip_rate=0.05, max_group_flip_rate=0.1,
                          max_bias_change=0.05, min_auc_delta=0.0)
    out = evaluate_gate(summary(), gate, now=NOW)
    json.dumps(out, allow_nan=False)
    assert out["enabled"] is True and out["passed"] is False and out["checked_at"] == "2026-12-05T14:00:00+00:00"
    r = out["reasons"]
    assert len(r) == 5
    assert r[0].startswith("3 shadow-scored partitions, fewer than shadow.gate.min_partitions 5: wait for 2 more")
    assert r[1].startswith("flip rate 0.072 exceeds shadow.gate.max_flip_rate 0.05 over 3 partitions")
    assert "age_group=18-25 (400 rows)" in r[2] and "shadow.gate.max_group_flip_rate 0.1" in r[2] and "0.15" in r[2]
    assert "DPPL of facet age_group changes by 0.08" in r[3] and "shadow.gate.max_bias_change 0.05" in r[3]
    assert r[4].startswith("no labelled rows yet") and "shadow.gate.min_auc_delta 0" in r[4]
    assert all(x.endswith(".") for x in r)


def test_within_bounds_passes():
    gate = {"enabled": True, "min_partitions": 3, "max_flip_rate": 0.1, "max_group_flip_rate": 0.2,
            "max_bias_change": 0.1, "min_auc_delta": None}
    assert evaluate_gate(summary(), gate, now=NOW) == {"enabled": True, "passed": True, "reasons": [],
                                                       "checked_at": "2026-12-05T14:00:00+00:00"}
    # unset bounds are not checked
    gate = {"enabled": True, "min_partitions": 1, "max_flip_rate": None, "max_group_flip_rate": None,
            "max_bias_change": None}
    assert evaluate_gate(summary(), gate)["passed"]


def test_disabled_gate_still_reports():
    out = evaluate_gate(summary(), ShadowGateSpec(), now=NOW)
    assert out["enabled"] is False and out["passed"] is False and len(out["reasons"]) == 3  # flip rate, group, bias


@pytest.mark.parametrize("quality,expected", [
    ({"labelled_rows": 12, "status": "insufficient", "reason": "12 labelled rows, fewer than the 30 needed"},
     "too few labelled rows yet to compare AUCs (12 labelled rows, fewer than the 30 needed)"),
    ({"labelled_rows": 800, "status": "ok", "auc_delta": -0.012, "delong": {"p_value": 0.21}},
     "AUC change -0.012 (challenger - champion) is below shadow.gate.min_auc_delta 0 over 800 labelled rows "
     "(DeLong p = 0.21)"),
    ({"labelled_rows": 800, "status": "ok", "auc_delta": 0.004, "delong": {"p_value": 0.5}}, None),
])
def test_auc_delta(quality, expected):
    gate = {"enabled": True, "min_partitions": 1, "min_auc_delta": 0.0}
    out = evaluate_gate(summary(quality=quality), gate)
    if expected is None:
        assert out["passed"] and out["reasons"] == []
    else:
        assert not out["passed"] and out["reasons"][0].startswith(expected)


def test_no_rows_yet():
    s = summary(partitions=0, rows=0, flips={"to_positive": 0, "to_negative": 0, "total": 0, "rate": None},
                groups={}, bias={})
    out = evaluate_gate(s, {"enabled": True, "min_partitions": 1, "max_flip_rate": 0.05})
    assert len(out["reasons"]) == 2 and out["reasons"][1].startswith("no shadow-scored rows yet")
