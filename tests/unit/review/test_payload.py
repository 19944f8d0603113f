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


# ------------------------------------------------------------------------------ what identifies a task
NAMES = {0: "no default", 1: "default"}


def _credit_payload(**kw):
    record = _record()
    record.update(sex="female", age_group="18-25", credit_score=512.0, score=np.float64(0.934))
    contributions = {f: 0.0 for f in FEATURES}
    contributions.update(credit_score=1.2, loan_amount=-0.4)
    args = dict(feature_names=FEATURES, reasons=["high risk: score 0.934 >= 0.9", "rule: large loan (loan_amount=70000)"],
                contributions=contributions, top_k=2, passthrough=["sex", "age_group"], record_key="application_id",
                record_id="A-17", label_names=NAMES, reason_codes=["high_risk", "rule"], threshold=0.5,
                usecase="credit_risk")
    args.update(kw)
    return build_task_payload(record, **args)


def test_payload_carries_the_whole_record_and_label_names():
    p = _credit_payload()
    assert list(p["record"]) == FEATURES + ["sex", "age_group"]  # every input, then the passthrough fields
    assert p["record"]["sex"] == "female" and p["record"]["income"] is None
    assert p["application_id"] == "A-17"  # where the label import looks for the record id
    assert (p["model_label_name"], p["label_names"]) == ("default", {"0": "no default", "1": "default"})
    assert p["reason_codes"] == ["high_risk", "rule"] and p["passthrough"] == ["sex", "age_group"]
    json.dumps(p)


def test_subject_names_record_score_label_and_reasons():
    from airsage.review import task_subject

    assert task_subject(_credit_payload()) == "A-17 · score 0.934 → default · high risk, large loan"
    long = _credit_payload(reasons=[f"rule: reason number {i} (x=1)" for i in range(30)])
    assert len(task_subject(long)) <= 120 and task_subject(long).endswith("…")


def test_body_shows_record_highlights_and_what_each_answer_sets():
    from airsage.review import task_body

    body = task_body(_credit_payload())
    assert "the model predicted **default** (score 0.934)" in body
    assert "**Confirm**: the label stays **default** (label 1)" in body
    assert "**Override**: the label becomes **no default** (label 0). An override needs a comment" in body
    assert "| ★ **credit_score** | **512** |" in body and "| ★ **loan_amount** |" in body
    assert "| income | — |" in body  # a missing value is shown, not dropped
    assert "| sex *(passthrough, not a model input)* | female |" in body
    assert body.count("\n| ") == 2 + 2 + len(FEATURES) + 2  # 2 table heads, 2 contributions, 35 inputs + 2 passthrough


def test_label_names_from_the_use_case():
    from airsage.config import parse_usecase
    from airsage.review import label_names_for, other_label

    base = {"name": "lr", "owner": "o", "schema": {"record_id": "id", "event_time": "t", "label": "y",
                                                    "positive_labels": [1], "features": [{"name": "x", "type": "numeric"}]}}
    assert label_names_for(parse_usecase(base)) == {0: "label 0", 1: "label 1"}
    mapped = parse_usecase({**base, "labeling": {"class_map": {"no_default": 0, "default": 1}}})
    assert label_names_for(mapped) == {0: "no default", 1: "default"}
    named = parse_usecase({**base, "review": {"label_names": {0: "good", 1: "bad"}}})
    assert label_names_for(named) == {0: "good", 1: "bad"}
    assert (other_label(1, NAMES), other_label(0, None), other_label(1, {"0": "a", "1": "b"})) == (0, 1, 0)
