"""Shadow scoring in the engine: challengers scored on the champion's rows in the same pass."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsage.data import generator as g
from airsage.errors import DataValidationError
from airsage.model import ModelBundle, vocabularies
from airsage.transform import TransformConfig, run_batch_transform
from airsage.transform.shadow import ShadowTarget, shadow_from_outputs

FACETS = ["age_group", "sex"]
SHADOW_COLUMNS = ["inference_id", "age_group", "sex", "champion_score", "champion_label", "score", "predicted_label"]


def _xgb_bundle(features, seed, depth, threshold, rounds=10):
    xgb = pytest.importorskip("xgboost")
    df = g.generate(1500, seed=seed)
    cats = [f for f in features if f in g.CATEGORICAL]
    b = ModelBundle("xgboost", list(features), vocabularies(df, cats), threshold=threshold)
    b.booster = xgb.train({"max_depth": depth, "objective": "binary:logistic", "nthread": 1},
                          xgb.DMatrix(b.encode(df), label=df["default"]), rounds)
    return b


@pytest.fixture(scope="module")
def challenger():
    """Same features and vocabularies as the champion (the conftest ``bundle``), other trees and threshold."""
    return _xgb_bundle(g.NUMERIC + g.CATEGORICAL, seed=11, depth=4, threshold=0.5)


@pytest.fixture(scope="module")
def other_features():
    """A challenger on other features (a subset, another order): it encodes the rows itself."""
    return _xgb_bundle(["region", "income", "age", "credit_score", "loan_purpose", "debt_to_income"], seed=12,
                       depth=3, threshold=0.2)


class Broken:
    """Loads, then fails on its first prediction."""

    def __init__(self, model):
        self.feature_names, self.categorical, self.threshold = model.feature_names, model.categorical, 0.5

    def encode(self, df):
        raise RuntimeError("boom")

    def predict_proba_encoded(self, x):
        raise RuntimeError("boom")


def _input(tmp_path, files=2, rows=700):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for i in range(files):
        df = g.generate(rows, seed=20 + i, day="2026-11-20")
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False),
                       src / ("sub" if i else "") / f"part-{i}.parquet", row_group_size=250,
                       use_dictionary=g.CATEGORICAL)
    return src


def _run(model, src, out, shadow=(), config=None, **kw):
    kw.setdefault("record_id_col", "application_id")
    return run_batch_transform(model, str(src), str(out), config or TransformConfig(join_source="Input"),
                               model_name="credit", model_version="1", run_key="run-1", shadow=shadow,
                               shadow_columns=FACETS + ["not_a_column"], **kw)


def _outs(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.out"))


def test_shadow_scores_equal_a_separate_run_of_the_challenger(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    report = _run(bundle, src, tmp_path / "champ", [ShadowTarget(challenger, "2", str(tmp_path / "shadow"))],
                  capture_uri=str(tmp_path / "cap"), partition_date="2026-11-20")
    alone = _run(challenger, src, tmp_path / "chall")
    assert report.status == "Completed" and len(report.shadow) == 1
    result = report.shadow[0]
    assert (result.status, result.model_version, result.records_out, result.error) == ("Completed", "2", 1400, None)
    assert result.output_uri == str(tmp_path / "shadow")
    assert {"shadow_predict", "shadow_write"} <= set(report.stage_seconds)
    assert json.loads(json.dumps(report.to_dict()))["shadow"][0]["status"] == "Completed"
    assert _outs(tmp_path / "shadow") == _outs(tmp_path / "champ") == ["part-0.parquet.out", "sub/part-1.parquet.out"]
    assert (tmp_path / "shadow" / "_SUCCESS").exists()
    assert json.loads((tmp_path / "shadow" / "_SUCCESS").read_text())["kind"] == "shadow"
    for rel in _outs(tmp_path / "shadow"):
        sh = pd.read_parquet(tmp_path / "shadow" / rel)
        champ = pd.read_parquet(tmp_path / "champ" / rel)
        other = pd.read_parquet(tmp_path / "chall" / rel)
        assert list(sh.columns) == SHADOW_COLUMNS
        assert sh["inference_id"].tolist() == champ["inference_id"].tolist()
        np.testing.assert_array_equal(sh["champion_score"].to_numpy(), champ["score"].to_numpy())
        np.testing.assert_array_equal(sh["champion_label"].to_numpy(), champ["predicted_label"].to_numpy())
        np.testing.assert_array_equal(sh["score"].to_numpy(), other["score"].to_numpy())
        np.testing.assert_array_equal(sh["predicted_label"].to_numpy(), (other["score"] > 0.5).astype(int).to_numpy())
        assert sh["age_group"].tolist() == champ["age_group"].tolist() and sh["sex"].tolist() == champ["sex"].tolist()
        assert sh.dtypes["champion_label"] == np.int64 and sh.dtypes["score"] == np.float64
    assert not (sh["score"] == sh["champion_score"]).all()  # really another model


def test_the_champion_output_is_unchanged_by_shadow(bundle, challenger, tmp_path):
    src = _input(tmp_path, files=1)
    _run(bundle, src, tmp_path / "with", [ShadowTarget(challenger, "2", str(tmp_path / "shadow"))])
    _run(bundle, src, tmp_path / "without")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "with" / "part-0.parquet.out"),
                                  pd.read_parquet(tmp_path / "without" / "part-0.parquet.out"))


def test_a_challenger_on_other_features_encodes_the_rows_itself(bundle, other_features, challenger, tmp_path):
    src = _input(tmp_path)
    config = TransformConfig(join_source="None")  # the champion alone reads only its features and the id
    report = _run(bundle, src, tmp_path / "champ", [ShadowTarget(other_features, "3", str(tmp_path / "s3")),
                                                    ShadowTarget(challenger, "2", str(tmp_path / "s2"))], config=config)
    _run(other_features, src, tmp_path / "alone", config=config)
    assert [r.status for r in report.shadow] == ["Completed", "Completed"]
    for rel in _outs(tmp_path / "champ"):
        sh = pd.read_parquet(tmp_path / "s3" / rel)
        alone = pd.read_parquet(tmp_path / "alone" / rel)
        assert list(sh.columns) == SHADOW_COLUMNS  # facets read for the shadow although the champion skips them
        np.testing.assert_array_equal(sh["score"].to_numpy(), alone["score"].to_numpy())
        np.testing.assert_array_equal(sh["predicted_label"].to_numpy(), (alone["score"] > 0.2).astype(int).to_numpy())
        assert sh["inference_id"].tolist() == alone["inference_id"].tolist()


def test_failing_challengers_do_not_touch_the_champion(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    lacking = _xgb_bundle(["income", "age"], seed=4, depth=2, threshold=0.5, rounds=2)
    lacking.feature_names = ["income", "age", "no_such_column"]
    targets = [ShadowTarget(Broken(bundle), "5", str(tmp_path / "s5")),
               ShadowTarget(lacking, "6", str(tmp_path / "s6")),
               ShadowTarget(None, "7", str(tmp_path / "s7"), error="model.tar.gz not found"),
               ShadowTarget(challenger, "8", str(tmp_path / "champ" / "inside")),
               ShadowTarget(challenger, "2", str(tmp_path / "s2"))]
    report = _run(bundle, src, tmp_path / "champ", targets, capture_uri=str(tmp_path / "cap"),
                  partition_date="2026-11-20")
    baseline = _run(bundle, src, tmp_path / "base", capture_uri=str(tmp_path / "cap2"), partition_date="2026-11-20")
    assert report.status == "Completed" and report.records_out == baseline.records_out == 1400
    by = {r.model_version: r for r in report.shadow}
    assert [by[v].status for v in "56782"] == ["Failed"] * 4 + ["Completed"]
    assert "boom" in by["5"].error and "no_such_column" in by["6"].error
    assert by["7"].error == "model.tar.gz not found" and "champion's output" in by["8"].error
    for v in "567":
        assert not (tmp_path / f"s{v}").exists() and by[v].records_out == 0
    assert _outs(tmp_path / "champ") == _outs(tmp_path / "base")  # nothing written into the champion's output
    for rel in _outs(tmp_path / "champ"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "champ" / rel), pd.read_parquet(tmp_path / "base" / rel))
    cap = pd.read_parquet(next((tmp_path / "cap").rglob("*.parquet")))
    assert len(cap) == 1400 and set(cap["model_version"]) == {"1"}


def test_a_rerun_replaces_the_shadow_output_and_a_failed_one_keeps_it(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    target = ShadowTarget(challenger, "2", str(tmp_path / "shadow"))
    _run(bundle, src, tmp_path / "champ", [target])
    (src / "sub" / "part-1.parquet").unlink()
    report = _run(bundle, src, tmp_path / "champ", [target])
    assert report.shadow[0].status == "Completed" and report.shadow[0].records_out == 700
    assert _outs(tmp_path / "shadow") == ["part-0.parquet.out"]  # the stale file is gone
    before = (tmp_path / "shadow" / "part-0.parquet.out").read_bytes()
    report = _run(bundle, src, tmp_path / "champ", [ShadowTarget(Broken(bundle), "2", str(tmp_path / "shadow"))])
    assert report.shadow[0].status == "Failed"
    assert (tmp_path / "shadow" / "part-0.parquet.out").read_bytes() == before  # the previous output stays
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".shadow")] == []  # no stage left


def test_a_bad_input_file_is_left_out_of_the_shadow_too(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    (src / "bad.parquet").write_text("garbage")
    report = _run(bundle, src, tmp_path / "champ", [ShadowTarget(challenger, "2", str(tmp_path / "shadow"))],
                  fail_on_file_error=False)
    assert report.files_failed == 1 and report.shadow[0].status == "Completed"
    assert _outs(tmp_path / "shadow") == _outs(tmp_path / "champ") == ["part-0.parquet.out", "sub/part-1.parquet.out"]


def test_csv_path_writes_parquet_shadow_files(model, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("r1,1,2,red\nr2,2,4,red\nr3,0,1,green\n")
    (tmp_path / "in" / "empty.csv").write_text("")
    other = ModelBundle(algorithm="exact", feature_names=["x2", "color", "x1"], categorical={"color": ["red", "blue"]},
                        threshold=0.1, estimator=model.estimator)
    report = run_batch_transform(
        model, str(tmp_path / "in"), str(tmp_path / "out"),
        TransformConfig(content_type="text/csv", input_filter="$[1:]", join_source="Input"),
        model_name="credit", model_version="1", run_key="run-1", record_id_col=0,
        feature_columns=["x1", "x2", "color"], shadow_columns=["color", "sex"],
        shadow=[ShadowTarget(model, "2", str(tmp_path / "same")), ShadowTarget(other, "3", str(tmp_path / "other"))])
    assert [r.status for r in report.shadow] == ["Completed", "Completed"]
    same = pd.read_parquet(tmp_path / "same" / "a.csv.out")
    assert list(same.columns) == ["inference_id", "color", "champion_score", "champion_label", "score", "predicted_label"]
    assert same["inference_id"].tolist() == ["r1", "r2", "r3"] and same["color"].tolist() == ["red", "red", "green"]
    assert same["champion_score"].tolist() == same["score"].tolist() == [0.5, 0.75, 0.0625]
    assert same["champion_label"].tolist() == [0, 1, 0]
    # other: x = (x2, code(color) in [red, blue], x1) through the same estimator: x2/8 + code/16 + x1/4
    got = pd.read_parquet(tmp_path / "other" / "a.csv.out")
    assert got["score"].tolist() == [2 / 8 + 0 + 1 / 4, 4 / 8 + 0 + 2 / 4, 1 / 8 + 0 + 0]
    assert got["predicted_label"].tolist() == [1, 1, 1]
    empty = pq.read_table(tmp_path / "same" / "empty.csv.out")
    assert empty.num_rows == 0 and empty.column_names == list(same.columns)


def test_shadow_from_outputs_pairs_two_jobs_by_inference_id(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    _run(bundle, src, tmp_path / "engine_champ", [ShadowTarget(challenger, "2", str(tmp_path / "engine_shadow"))])
    _run(bundle, src, tmp_path / "champ")
    _run(challenger, src, tmp_path / "chall")
    # the challenger's job wrote its rows in another order: they are paired by id
    path = tmp_path / "chall" / "part-0.parquet.out"
    pq.write_table(pq.read_table(path).take(np.arange(699, -1, -1)), path)
    result = shadow_from_outputs(str(tmp_path / "champ"), str(tmp_path / "chall"), str(tmp_path / "paired"),
                                 shadow_columns=FACETS, challenger_threshold=0.5)
    assert result == {"files": 2, "rows": 1400, "output_uri": str(tmp_path / "paired")}
    for rel in _outs(tmp_path / "engine_shadow"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "paired" / rel),
                                      pd.read_parquet(tmp_path / "engine_shadow" / rel))
    assert json.loads((tmp_path / "paired" / "_SUCCESS").read_text())["kind"] == "shadow"


def test_shadow_from_outputs_pairs_generated_ids_by_record_number(bundle, challenger, tmp_path):
    src = _input(tmp_path, files=1)
    config = TransformConfig(join_source="None")
    _run(bundle, src, tmp_path / "champ", config=config, record_id_col=None)
    run_batch_transform(challenger, str(src), str(tmp_path / "chall"), config, model_name="credit",
                        model_version="2", run_key="another-job")
    shadow_from_outputs(str(tmp_path / "champ"), str(tmp_path / "chall"), str(tmp_path / "paired"))
    got = pd.read_parquet(tmp_path / "paired" / "part-0.parquet.out")
    assert got["inference_id"].tolist() == pd.read_parquet(tmp_path / "champ" / "part-0.parquet.out")["inference_id"].tolist()
    assert list(got.columns) == ["inference_id", "champion_score", "champion_label", "score", "predicted_label"]


def test_shadow_from_outputs_names_missing_files_and_rows(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    _run(bundle, src, tmp_path / "champ")
    _run(challenger, src, tmp_path / "chall")
    (tmp_path / "chall" / "sub" / "part-1.parquet.out").unlink()
    with pytest.raises(DataValidationError) as err:
        shadow_from_outputs(str(tmp_path / "champ"), str(tmp_path / "chall"), str(tmp_path / "paired"))
    assert "sub/part-1.parquet.out" in str(err.value) and not (tmp_path / "paired").exists()
    _run(challenger, src, tmp_path / "chall")
    path = tmp_path / "chall" / "part-0.parquet.out"
    pq.write_table(pq.read_table(path).slice(0, 600), path)
    with pytest.raises(DataValidationError) as err:
        shadow_from_outputs(str(tmp_path / "champ"), str(tmp_path / "chall"), str(tmp_path / "paired"))
    assert "100 of the champion's 700 row(s)" in str(err.value) and "part-0.parquet.out" in str(err.value)


def test_csv_challenger_lacking_a_column_fails_alone(model, tmp_path):
    (tmp_path / "a.csv").write_text("1,2,red\n2,4,red\n")
    lacking = ModelBundle(algorithm="exact", feature_names=["x1", "x3", "color"], categorical={"color": ["blue", "red"]},
                          threshold=0.5, estimator=model.estimator)
    report = run_batch_transform(model, str(tmp_path / "a.csv"), str(tmp_path / "out"),
                                 TransformConfig(content_type="text/csv"), model_name="credit", model_version="1",
                                 run_key="run-1", shadow=[ShadowTarget(lacking, "2", str(tmp_path / "shadow"))])
    assert report.status == "Completed" and report.records_out == 2
    assert report.shadow[0].status == "Failed" and "'x3'" in report.shadow[0].error
    assert not (tmp_path / "shadow").exists()


def test_a_file_failing_mid_stream_stops_its_shadow_file_too(bundle, challenger, tmp_path):
    src = _input(tmp_path)
    df = g.generate(700, seed=40, day="2026-11-20")
    df.loc[600, "application_id"] = None  # the third row group fails once the first two are scored
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), src / "late.parquet", row_group_size=250)
    report = _run(bundle, src, tmp_path / "champ", [ShadowTarget(challenger, "2", str(tmp_path / "shadow"))],
                  fail_on_file_error=False)
    assert [f.relative_path for f in report.failures] == ["late.parquet"] and report.failures[0].record == 600
    assert report.shadow[0].status == "Completed" and report.shadow[0].records_out == 1400
    assert _outs(tmp_path / "shadow") == _outs(tmp_path / "champ") == ["part-0.parquet.out", "sub/part-1.parquet.out"]
