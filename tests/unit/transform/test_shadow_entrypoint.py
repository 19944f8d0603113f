"""The transform job with challengers: their model artifacts are extra job inputs (``shadow_<version>``)."""
from __future__ import annotations

import json
import tarfile

import pandas as pd
import pytest

from airsage.data import generator as g
from airsage.entrypoints import transform as entry
from airsage.errors import ConfigError
from airsage.model import ModelBundle, vocabularies


def _challenger(tmp_path):
    xgb = pytest.importorskip("xgboost")
    df = g.generate(1000, seed=31)
    b = ModelBundle("xgboost", g.NUMERIC + g.CATEGORICAL, vocabularies(df, g.CATEGORICAL), threshold=0.4)
    b.booster = xgb.train({"max_depth": 2, "objective": "binary:logistic", "nthread": 1},
                          xgb.DMatrix(b.encode(df), label=df["default"]), 5)
    b.save(tmp_path / "challenger")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for p in sorted((tmp_path / "challenger").rglob("*")):
            tar.add(p, arcname=p.relative_to(tmp_path / "challenger").as_posix())
    return b


def test_job_scores_challengers_from_their_inputs(monkeypatch, tmp_path, bundle):
    (tmp_path / "in").mkdir()
    g.generate(400, seed=1).to_parquet(tmp_path / "in" / "part.parquet", index=False)
    challenger = _challenger(tmp_path)
    opt_ml = tmp_path / "opt_ml"
    bundle.save(opt_ml / "model")
    for k, v in {"AIRSAGE_OPT_ML": str(opt_ml), "AIRSAGE_INPUT_DATA": str(tmp_path / "in"),
                 "AIRSAGE_OUTPUT_URI": str(tmp_path / "out"), "AIRSAGE_JOB_NAME": "credit-transform-1",
                 "AIRSAGE_INPUT_SHADOW_2": str(tmp_path / "model.tar.gz"),
                 "AIRSAGE_INPUT_OTHER": str(tmp_path / "challenger"),
                 "AIRSAGE_JOB_PARAMETERS": json.dumps({
                     "content_type": "application/x-parquet", "join_source": "Input", "model_name": "credit",
                     "model_version": "1", "record_id_col": "application_id", "shadow_columns": ["age_group", "sex"],
                     "shadow": [{"model_version": "2", "output_uri": str(tmp_path / "shadow2")},
                                {"model_version": "4", "output_uri": str(tmp_path / "shadow4"), "input": "other",
                                 "model_tags": {}},
                                {"model_version": "3", "output_uri": str(tmp_path / "shadow3")}]})}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("SM_MODEL_DIR", raising=False)
    monkeypatch.delenv("SM_OUTPUT_DATA_DIR", raising=False)
    entry.main()
    report = json.loads((opt_ml / "output" / "data" / "report.json").read_text())
    assert report["status"] == "Completed" and report["records_out"] == 400
    shadow = {s["model_version"]: s for s in report["shadow"]}
    assert shadow["2"]["status"] == shadow["4"]["status"] == "Completed" and shadow["2"]["records_out"] == 400
    assert shadow["3"]["status"] == "Failed" and "shadow_3" in shadow["3"]["error"]
    out = pd.read_parquet(tmp_path / "shadow2" / "part.parquet.out")
    assert list(out.columns) == ["inference_id", "age_group", "sex", "champion_score", "champion_label", "score",
                                 "predicted_label"]
    expected = challenger.predict_proba(pd.read_parquet(tmp_path / "in" / "part.parquet"))
    assert out["score"].to_numpy() == pytest.approx(expected, abs=1e-6)
    pd.testing.assert_frame_equal(out, pd.read_parquet(tmp_path / "shadow4" / "part.parquet.out"))
    assert not (tmp_path / "shadow3").exists()


def test_shadow_parameters_are_checked():
    _, run = entry.split_parameters({"model_name": "m", "shadow": [], "shadow_columns": ["sex"]})
    assert run["shadow_columns"] == ["sex"]
    with pytest.raises(ConfigError) as err:
        entry._shadow_specs([{"model_version": "2"}])
    assert "output_uri" in str(err.value)
    assert entry.shadow_channel({"model_version": "2"}) == "shadow_2"
