"""A realistic ShadowSummary (challenger v2 beside champion v1 on three partitions), shared by the shadow
rendering tests (cards, dashboard, browser): ``summary_fixture()`` returns a fresh copy each call."""
from __future__ import annotations

import copy

EDGES = [round(i * 0.05, 2) for i in range(21)]
_SUMMARY = {
    "kind": "airsage.shadow.summary", "schema_version": 1,
    "usecase": "credit_risk", "model_name": "credit_risk", "challenger_version": "2",
    "status": "active", "stopped_reason": None, "stopped_at": None,
    "partitions": 3, "first_partition": "2026-11-18", "last_partition": "2026-11-20",
    "history": [
        {"partition": "2026-11-18", "champion_version": "1", "rows": 5000, "agreement_rate": 0.966,
         "flip_rate": 0.034, "to_positive": 105, "to_negative": 65, "max_group_flip_rate": 0.052, "psi": 0.011,
         "max_abs_bias_change": 0.018, "auc_delta": None, "labelled_rows": 0},
        {"partition": "2026-11-19", "champion_version": "1", "rows": 5000, "agreement_rate": 0.96,
         "flip_rate": 0.04, "to_positive": 125, "to_negative": 75, "max_group_flip_rate": 0.061, "psi": 0.014,
         "max_abs_bias_change": 0.022, "auc_delta": 0.012, "labelled_rows": 400},
        {"partition": "2026-11-20", "champion_version": "1", "rows": 5000, "agreement_rate": 0.96,
         "flip_rate": 0.04, "to_positive": 130, "to_negative": 70, "max_group_flip_rate": 0.058, "psi": 0.012,
         "max_abs_bias_change": 0.021, "auc_delta": 0.016, "labelled_rows": 400},
    ],
    "rows": 15000,
    "agreement": {"agree": 14430, "rate": 0.962},
    "flips": {"to_positive": 360, "to_negative": 210, "total": 570, "rate": 0.038},
    "positive_rate": {"champion": 0.081, "challenger": 0.091},
    "groups": {
        "age_group": [
            {"value": "18-25", "in_facet_group": True, "rows": 2100, "agree": 1980, "to_positive": 75,
             "to_negative": 45, "flip_rate": 0.0571, "champion_positive": 180, "challenger_positive": 210},
            {"value": "26-60", "in_facet_group": False, "rows": 12900, "agree": 12450, "to_positive": 285,
             "to_negative": 165, "flip_rate": 0.0349, "champion_positive": 1035, "challenger_positive": 1155},
        ],
        "sex": [
            {"value": "female", "in_facet_group": True, "rows": 7200, "agree": 6920, "to_positive": 170,
             "to_negative": 110, "flip_rate": 0.0389, "champion_positive": 560, "challenger_positive": 620},
            {"value": "male <b>|x", "in_facet_group": False, "rows": 7800, "agree": 7510, "to_positive": 190,
             "to_negative": 100, "flip_rate": 0.0372, "champion_positive": 655, "challenger_positive": 745},
        ],
    },
    "scores": {"edges": EDGES, "champion_hist": [2800, 2600, 2100, 1700, 1300, 1000, 800, 600, 450, 350, 300,
                                                  250, 200, 150, 120, 100, 80, 50, 30, 20],
               "challenger_hist": [2620, 2550, 2100, 1720, 1330, 1020, 820, 620, 470, 360, 310, 260, 210, 160,
                                   130, 110, 90, 60, 40, 20],
               "champion_sum": 1218.0, "challenger_sum": 1372.5, "abs_diff_sum": 480.0, "max_abs_diff": 0.41,
               "mean_champion": 0.0812, "mean_challenger": 0.0915, "mean_abs_diff": 0.032, "psi": 0.0123,
               "ks": 0.031},
    "bias": {
        "age_group": {"facet_values": ["18-25"],
                      "counts": {"champion": {"n_a": 12900, "pos_a": 1035, "n_d": 2100, "pos_d": 180},
                                 "challenger": {"n_a": 12900, "pos_a": 1155, "n_d": 2100, "pos_d": 210}},
                      "champion": {"DPPL": -0.0055, "DI": 1.0683}, "challenger": {"DPPL": -0.0105, "DI": 1.1170},
                      "change": {"DPPL": -0.005, "DI": 0.0487}},
        "sex": {"facet_values": ["female"],
                "counts": {"champion": {"n_a": 7800, "pos_a": 655, "n_d": 7200, "pos_d": 560},
                           "challenger": {"n_a": 7800, "pos_a": 745, "n_d": 7200, "pos_d": 620}},
                "champion": {"DPPL": 0.0062, "DI": 0.9262}, "challenger": {"DPPL": 0.0094, "DI": "Infinity"},
                "change": {"DPPL": 0.0032, "DI": "NaN"}},
    },
    "quality": {"labelled_rows": 800, "positives": 70,
                "champion": {"auc": 0.7812, "accuracy": 0.91, "precision": 0.52, "recall": 0.41, "f1": 0.46},
                "challenger": {"auc": 0.7950, "accuracy": 0.915, "precision": 0.55, "recall": 0.44, "f1": 0.49},
                "auc_delta": 0.0138, "delong": {"z": 1.25, "p_value": 0.2113, "ci95": [-0.0078, 0.0354]},
                "status": "ok"},
    "gate": {"enabled": True, "passed": False,
             "reasons": ["flip rate in age_group=18-25 is 5.71% > max_group_flip_rate 5.00%"],
             "checked_at": "2026-11-21T03:10:00+00:00"},
}


def summary_fixture(**changes) -> dict:
    """A deep copy of the fixture summary with top-level ``changes`` applied."""
    return {**copy.deepcopy(_SUMMARY), **changes}


def test_the_fixture_is_consistent():
    s = summary_fixture()
    assert s["flips"]["total"] == s["flips"]["to_positive"] + s["flips"]["to_negative"] == s["rows"] - s["agreement"]["agree"]
    assert sum(h["rows"] for h in s["history"]) == s["rows"] == sum(g["rows"] for g in s["groups"]["sex"])
    assert sum(s["scores"]["champion_hist"]) == sum(s["scores"]["challenger_hist"]) == s["rows"]
    assert len(s["scores"]["edges"]) == 21 and len(s["scores"]["champion_hist"]) == 20
    assert summary_fixture(status="stopped")["status"] == "stopped" and s["status"] == "active"
