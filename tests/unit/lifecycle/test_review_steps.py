"""Human review as steps: route a scored partition, decide (a human override + timeouts), write A2I
output.json files, update the sidecar — and the label import reads the decisions back as labels."""
from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    import xgboost as xgb

    from airsage.config import get_usecase
    from airsage.data.generator import generate
    from airsage.model import ModelBundle, vocabularies
    from airsage.transform import TransformConfig, run_batch_transform

    uc = get_usecase("credit_risk")
    s = uc.schema_
    train = generate(3000, seed=11)
    bundle = ModelBundle("xgboost", s.feature_names, vocabularies(train, s.categorical_features), label=s.label)
    bundle.booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                               xgb.DMatrix(bundle.encode(train), label=train[s.label]), 20)
    root = tmp_path_factory.mktemp("review")
    (root / "in").mkdir()
    generate(400, seed=12, day="2026-11-21").drop(columns=[s.label]).to_parquet(root / "in" / "part-0.parquet")
    out = str(root / "predictions" / "dt=2026-11-21")
    run_batch_transform(bundle, str(root / "in"), out, TransformConfig.from_spec(uc.transform), model_name=uc.name,
                        model_version="7", run_key="r1", record_id_col=s.record_id)
    return uc, bundle, out


def test_route_decide_and_close_the_loop(scored, monkeypatch):
    from airsage.labeling.readers import read_labels
    from airsage.labeling.records import Annotation, ReaderOptions
    from airsage.review import feature_contributions, read_review_status
    from airsage.lifecycle import review

    uc, bundle, out = scored
    monkeypatch.setattr(review, "_contributions", lambda uc_, routed: feature_contributions(bundle, routed))
    queued = review.queue_reviews(uc, partition="2026-11-21", output_uri=out)
    tasks = queued["tasks"]
    assert 0 < len(tasks) <= uc.review.max_per_night
    assert queued["routing"]["records"] == 400
    first = tasks[0]["payload"]
    assert first["reasons"] and len(first["top_contributions"]) == 5
    assert "Why it is here" in tasks[0]["body"] and "v7" in tasks[0]["body"]
    status = read_review_status(out)
    assert set(status["status"]) == {"pending_review"} and len(status) == len(tasks)

    answer = {"chosen_options": ["Override"], "responded_by_user": {"id": "9", "name": "rita"},
              "params_input": {"comment": "income verified"}, "responded_at": "2026-11-22T08:00:00+00:00"}
    result = review.record_decisions(uc, queued=queued, answers=[answer] + [None] * (len(tasks) - 1))
    assert result["status"]["reviewed"] == 1 and result["status"]["timed_out"] == len(tasks) - 1
    status = read_review_status(out).set_index("inference_id")
    row = status.loc[first["inference_id"]]
    assert row["status"] == "reviewed" and row["reviewer"] == "rita"
    assert int(row["final_label"]) == 1 - int(first["model_label"])

    doc = json.loads(open(result["a2i_outputs"][0]).read())
    assert doc["humanLoopName"] and doc["inputContent"]["inference_id"] == first["inference_id"]
    assert doc["humanAnswers"][0]["answerContent"]["decision"] == "override"

    # the loop closes: the label import reads the reviewer's decision as a label for the record
    items = list(read_labels(result["a2i_outputs"][0], ReaderOptions.from_usecase(uc)))
    labels = [i for i in items if isinstance(i, Annotation)]
    assert labels and labels[0].record_id == first["record_id"]
    assert int(labels[0].label) == 1 - int(first["model_label"]) and labels[0].kind == "a2i"

    again = review.record_decisions(uc, queued=queued, answers=[answer] + [None] * (len(tasks) - 1))
    assert again["a2i_outputs"] == result["a2i_outputs"]  # a rerun rewrites the same keys, never duplicates
