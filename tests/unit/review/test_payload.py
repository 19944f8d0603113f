"""Review task payloads: JSON-serialisable, small, record id included."""
from __future__ import annotations

import json

import numpy as np

from airsage.data import generator as g
from airsage.review import build_task_payload, payload_size
from airsage.review.payload import MAX_PAYLOAD_BYTES

FEATURES = g.NUMERIC + g.CATEGORICAL


def _record():
    row = g.generate(1, seed=4).iloc[0].to_dict()
    row.update(inference_id="app-20261101-00000000", score=np.float64(0.5012345678), predicted_label=np.int64(1),
               model_name="credit_risk", model_version="3")
    row["income"] = np.nan
    return row


def test_raw_feature_payload_is_small_and_serialisable():
    p = build_task_payload(_record(), feature_names=FEATURES, reasons=["low confidence: score 0.501 within [0.45, 0.55]"],
                           threshold=0.5, usecase="credit_risk")
    text = json.dumps(p)  # no numpy types, no NaN
    assert "NaN" not in text and p["features"]["income"] is None
    assert p["record_id"] == p["inference_id"] == "app-20261101-00000000"
    assert p["score"] == 0.501235 and p["model_label"] == 1 and p["model"] == {"name": "credit_risk", "version": "3"}
    assert len(p["features"]) == 35
    assert payload_size(p) < 2500 < MAX_PAYLOAD_BYTES


def test_contributions_show_the_top_k_by_magnitude():
    contributions = {f: 0.01 * i for i, f in enumerate(FEATURES)}
    contributions["credit_score"] = -2.0
    contributions["loan_amount"] = 1.5
    p = build_task_payload(_record(), feature_names=FEATURES, reasons=["r"], contributions=contributions, top_k=3,
                           record_id="A-1")
    assert [c["feature"] for c in p["top_contributions"]] == ["credit_score", "loan_amount", "education"]
    assert p["top_contributions"][0]["contribution"] == -2.0
    assert "features" not in p and p["record_id"] == "A-1"


def test_oversized_payloads_are_cut_and_marked():
    record = _record()
    names = [f"f{i}" for i in range(400)]
    record.update({n: "x" * 500 for n in names})
    p = build_task_payload(record, feature_names=names, reasons=["r"])
    assert p["truncated"] is True and payload_size(p) <= MAX_PAYLOAD_BYTES
    assert all(len(v) <= 200 for v in p["features"].values())
