"""The SageMaker serving functions (model_fn / input_fn / predict_fn / output_fn), run locally.

The golden scores come from the XGBoost booster on a matrix encoded by hand (vocabulary index for
the categorical feature, NaN for missing or unseen values), not from the bundle's own encoding.
"""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from airsage.compute.packaging import add_inference_code
from airsage.entrypoints import inference as inf
from airsage.errors import DataValidationError
from airsage.model import ModelBundle

FEATURES = ["x1", "x2", "color"]
VOCAB = ["blue", "red"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=300), rng.normal(size=300), rng.integers(0, 2, 300)]).astype(np.float32)
    y = ((x[:, 0] + 0.8 * x[:, 2] + rng.normal(scale=0.5, size=300)) > 0.5).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.3, "nthread": 1},
                        xgb.DMatrix(x, label=y, feature_names=FEATURES), 15)
    bundle = ModelBundle(algorithm="xgboost", feature_names=FEATURES, categorical={"color": VOCAB}, threshold=0.5,
                         label="y", positive_label=1, booster=booster)
    return bundle.save(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def model(model_dir):
    return inf.model_fn(model_dir)


def _golden(rows: list[list[float]]) -> np.ndarray:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(_golden.model_dir / "xgboost-model.json"))
    return booster.predict(xgb.DMatrix(np.array(rows, dtype=np.float32), feature_names=FEATURES, missing=np.nan))


@pytest.fixture(autouse=True)
def _golden_model(model_dir, monkeypatch):
    _golden.model_dir = model_dir
    for var in (inf.FIELDS_ENV, inf.MODEL_NAME_ENV, inf.MODEL_VERSION_ENV, inf.RECORD_ID_ENV):
        monkeypatch.delenv(var, raising=False)


NAN = float("nan")
# rows as a client sends them -> the same rows encoded by hand (blue=0, red=1; empty/unseen -> NaN)
CSV_BODY = "1.5,2,red\n0.2,,blue\n-1,0.5,green\n\n"
ENCODED = [[1.5, 2.0, 1.0], [0.2, NAN, 0.0], [-1.0, 0.5, NAN]]


def _parse_csv(text: str) -> list[tuple[float, int]]:
    return [(float(s), int(lab)) for s, lab in (line.split(",") for line in text.strip().splitlines())]


def test_csv_round_trip_matches_the_booster(model):
    out = inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY.encode(), "text/csv"), model), "text/csv")
    got = _parse_csv(out)
    golden = _golden(ENCODED)
    assert len(got) == 3  # the blank line is not a record
    assert [s for s, _ in got] == pytest.approx(golden.tolist(), abs=1e-7)
    assert [lab for _, lab in got] == [int(g > 0.5) for g in golden]


def test_jsonlines_objects_and_arrays(model):
    body = "\n".join([json.dumps({"x1": 1.5, "x2": 2, "color": "red", "application_id": "a1"}),
                      json.dumps({"x1": 0.2, "x2": None, "color": "blue"}),
                      json.dumps([-1, 0.5, "green"])])
    pred = inf.predict_fn(inf.input_fn(body, "application/jsonlines; charset=utf-8"), model)
    out = [json.loads(line) for line in inf.output_fn(pred, None).splitlines()]  # Accept unset: as the request
    assert [o["score"] for o in out] == pytest.approx(_golden(ENCODED).tolist(), abs=1e-7)
    assert set(out[0]) == {"score", "predicted_label"}


def test_json_instances_and_parquet(model):
    import pandas as pd

    body = json.dumps({"instances": [{"x1": 1.5, "x2": 2, "color": "red"}, {"x1": 0.2, "x2": None, "color": "blue"}]})
    out = json.loads(inf.output_fn(inf.predict_fn(inf.input_fn(body, "application/json"), model), "application/json"))
    assert [p["score"] for p in out["predictions"]] == pytest.approx(_golden(ENCODED[:2]).tolist(), abs=1e-7)
    buf = io.BytesIO()
    pd.DataFrame({"x1": [1.5, 0.2], "x2": [2.0, None], "color": ["red", "blue"], "id": ["a", "b"]}).to_parquet(buf)
    pred = inf.predict_fn(inf.input_fn(buf.getvalue(), "application/x-parquet"), model)
    assert _parse_csv(inf.output_fn(pred, "*/*"))[1][0] == pytest.approx(float(_golden(ENCODED[1:2])[0]), abs=1e-7)


def test_inference_fields_from_the_environment(model, monkeypatch):
    monkeypatch.setenv(inf.FIELDS_ENV, "inference_id,model_name,model_version,predicted_label,score")
    monkeypatch.setenv(inf.MODEL_NAME_ENV, "credit_risk")
    monkeypatch.setenv(inf.MODEL_VERSION_ENV, "7")
    out = inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY, "text/csv"), model), "text/csv").splitlines()
    cells = out[0].split(",")
    assert cells[0].endswith("-0") and cells[1:3] == ["credit_risk", "7"]
    assert float(cells[4]) == pytest.approx(float(_golden(ENCODED[:1])[0]), abs=1e-7)
    monkeypatch.setenv(inf.FIELDS_ENV, "score,confidence")
    with pytest.raises(DataValidationError, match="confidence"):
        inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY, "text/csv"), model), "text/csv")


def test_record_ids_by_name_like_the_local_engine(model, monkeypatch):
    monkeypatch.setenv(inf.FIELDS_ENV, "inference_id,score")
    monkeypatch.setenv(inf.RECORD_ID_ENV, "application_id")
    body = "\n".join([json.dumps({"application_id": "app-7", "x1": 1.5, "x2": 2, "color": "red"}),
                      json.dumps({"x1": 0.2, "x2": None, "color": "blue"})])
    out = [json.loads(line) for line in inf.output_fn(inf.predict_fn(inf.input_fn(body, inf.JSONLINES), model),
                                                       inf.JSONLINES).splitlines()]
    assert out[0]["inference_id"] == "app-7"
    assert re.fullmatch(r"[0-9a-f]{16}-1", out[1]["inference_id"])  # no id in the record: generated
    csv_out = inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY, "text/csv"), model), "text/csv")
    assert all(re.fullmatch(r"[0-9a-f]{16}-\d", line.split(",")[0]) for line in csv_out.splitlines())


@pytest.mark.parametrize("body, ctype, needle", [
    ("1.5,2\n", "text/csv", "2 value(s)"),
    ("abc,2,red\n", "text/csv", "not a number"),
    ('{"x1": 1}\n', "application/jsonlines", "x2"),
    ("1,2,red", "application/x-npy", "unsupported content type"),
    ("{not json", "application/json", "not JSON"),
])
def test_bad_requests_name_the_problem_and_the_fix(model, body, ctype, needle):
    with pytest.raises(DataValidationError) as err:
        inf.predict_fn(inf.input_fn(body, ctype), model)
    assert needle in str(err.value)
    assert err.value.fix


def test_unsupported_accept(model):
    with pytest.raises(DataValidationError, match="accept"):
        inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY, "text/csv"), model), "application/x-recordio-protobuf")


def test_same_bytes_as_the_local_batch_transform(model, model_dir, tmp_path, monkeypatch):
    """The twin check: SageMaker's per-request output == the local engine's .out file, line for line."""
    from airsage.transform import TransformConfig, run_batch_transform

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "part-0.csv").write_text(CSV_BODY)
    fields = ("predicted_label", "score")
    cfg = TransformConfig(content_type="text/csv", split_type="Line", join_source="None", inference_fields=fields)
    run_batch_transform(model, str(tmp_path / "in"), str(tmp_path / "out"), cfg, model_name="m", model_version="1",
                        run_key="r1")
    local = (tmp_path / "out" / "part-0.csv.out").read_text()
    monkeypatch.setenv(inf.FIELDS_ENV, ",".join(fields))
    served = inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY, "text/csv"), model), "text/csv")
    assert served == local


def test_model_fn_reads_an_artifact_that_carries_its_code(model_dir, tmp_path):
    import shutil

    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    code = add_inference_code(target)
    assert (code / "inference.py").exists() and (code / "airsage" / "entrypoints" / "inference.py").exists()
    assert "from airsage.entrypoints.inference import" in (code / "inference.py").read_text()
    bundle = inf.model_fn(target)
    assert bundle.feature_names == FEATURES
    add_inference_code(target)  # idempotent
    assert sorted(p.name for p in target.iterdir()) == ["airsage_model.json", "code", "xgboost-model.json"]


# ------------------------------------------------------------------ Parquet: the local engine's .out, whole file
def _parquet_input(path, n=700, row_group_size=256):
    """Mixed types, missing values, an unseen category and several row groups (the engine writes one
    output row group per input row group, so the layout is part of the identity)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(5)
    x2 = rng.normal(size=n)
    table = pa.table({"application_id": [f"app-{i:04d}" for i in range(n)], "x1": rng.normal(size=n),
                      "x2": pa.array([None if i % 11 == 0 else v for i, v in enumerate(x2)], pa.float64()),
                      "color": [["red", "blue", "green", None][i % 4] for i in range(n)],
                      "note": [f"n{i % 7}" for i in range(n)]})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _serve_parquet(model, body: bytes, monkeypatch, env: dict[str, str]) -> bytes:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return inf.output_fn(inf.predict_fn(inf.input_fn(body, "application/x-parquet"), model), "application/x-parquet")


@pytest.mark.parametrize("settings", [
    {"join_source": "Input", "input_filter": "$", "output_filter": "$"},
    {"join_source": "None", "input_filter": "$[1:4]", "output_filter": "$"},
    {"join_source": "Input", "input_filter": "$", "output_filter": "$['application_id','score','predicted_label']"},
], ids=["join-input", "join-none-filtered", "join-input-output-filter"])
def test_parquet_response_is_the_local_engines_out_file(model, tmp_path, monkeypatch, settings):
    """SageMaker sends the whole file; the container answers with the exact bytes of the local .out."""
    from airsage.transform import TransformConfig, run_batch_transform

    (tmp_path / "in").mkdir()
    src = _parquet_input(tmp_path / "in" / "part-0.parquet")
    cfg = TransformConfig(content_type="application/x-parquet", **settings)
    run_batch_transform(model, str(tmp_path / "in"), str(tmp_path / "out"), cfg, model_name="credit_risk",
                        model_version="3", run_key="dt-2026-11-20", record_id_col="application_id")
    local = (tmp_path / "out" / "part-0.parquet.out").read_bytes()
    served = _serve_parquet(model, src.read_bytes(), monkeypatch, {
        inf.INPUT_FILTER_ENV: settings["input_filter"], inf.JOIN_SOURCE_ENV: settings["join_source"],
        inf.OUTPUT_FILTER_ENV: settings["output_filter"], inf.FIELDS_ENV: ",".join(cfg.inference_fields),
        inf.MODEL_NAME_ENV: "credit_risk", inf.MODEL_VERSION_ENV: "3", inf.RECORD_ID_ENV: "application_id"})
    assert served == local


def test_parquet_scores_match_the_booster_and_ids_are_generated_without_a_record_id(model, tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = _parquet_input(tmp_path / "part-0.parquet", n=40, row_group_size=16)
    body = src.read_bytes()
    served = _serve_parquet(model, body, monkeypatch, {inf.JOIN_SOURCE_ENV: "Input", inf.MODEL_NAME_ENV: "m",
                                                       inf.MODEL_VERSION_ENV: "2",
                                                       inf.FIELDS_ENV: "inference_id,score,predicted_label"})
    out = pq.read_table(pa.BufferReader(served))
    assert out.column_names == ["application_id", "x1", "x2", "color", "note", "inference_id", "score",
                                "predicted_label"]
    inp = pq.read_table(src).to_pandas()
    code = {"blue": 0.0, "red": 1.0}
    golden = _golden([[r.x1, NAN if r.x2 != r.x2 or r.x2 is None else r.x2, code.get(r.color, NAN)]
                      for r in inp.itertuples()])
    assert out.column("score").to_pylist() == pytest.approx(golden.tolist(), abs=1e-7)
    assert out.column("predicted_label").to_pylist() == [int(g > 0.5) for g in golden]
    import hashlib

    digest = hashlib.sha1(body).hexdigest()[:16]
    assert out.column("inference_id").to_pylist() == [f"{digest}-{i}" for i in range(40)]
    assert pq.ParquetFile(pa.BufferReader(served)).metadata.num_row_groups == 3


@pytest.mark.parametrize("env, needle", [
    ({inf.OUTPUT_FILTER_ENV: "$.a.b"}, "one level"),
    ({inf.INPUT_FILTER_ENV: "$['x1','nope']"}, "nope"),
    ({inf.JOIN_SOURCE_ENV: "Both"}, "join_source"),
])
def test_parquet_settings_errors_name_the_setting(model, tmp_path, monkeypatch, env, needle):
    src = _parquet_input(tmp_path / "part-0.parquet", n=8)
    with pytest.raises(DataValidationError) as err:
        _serve_parquet(model, src.read_bytes(), monkeypatch, env)
    assert needle in str(err.value) and err.value.fix


def test_parquet_answer_needs_a_parquet_request(model):
    with pytest.raises(DataValidationError, match="Parquet request"):
        inf.output_fn(inf.predict_fn(inf.input_fn(CSV_BODY, "text/csv"), model), "application/x-parquet")
