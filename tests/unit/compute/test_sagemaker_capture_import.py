"""SageMaker batch transform -> Airsage's capture table and report (``airsage.transform.sagemaker_capture``).

The S3 layouts are built by hand as the AWS guide documents them ("Capture data from batch transform
job": ``<dest>/input|output/yyyy/mm/dd/hh/<manifest>`` listing ``{"prefix": ...}`` + keys); the
``.out`` files are what the serving module answers (Parquet) or what SageMaker writes for CSV / JSON
(the container's records, joined, with ``GenerateInferenceId``'s two values appended). The golden
capture is the local engine's own capture of the same files (a separate code path: it captures while
scoring), compared column by column except ``captured_at``.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from airsage import storage
from airsage.entrypoints import inference as inf
from airsage.errors import ConfigError, DataValidationError
from airsage.transform import TransformConfig, capture_schema, run_batch_transform
from airsage.transform.sagemaker_capture import import_sagemaker_capture, parse_manifest

BUCKET = "airsage-capture-test"
FEATURES = ["x1", "x2", "color"]
PARTITION = "2026-11-20"
RUN_KEY = f"dt-{PARTITION}"
HOUR = "2026/11/21/02"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import xgboost as xgb

    from airsage.model import ModelBundle

    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(size=200), rng.normal(size=200), rng.integers(0, 2, 200)]).astype(np.float32)
    y = (x[:, 0] + x[:, 2] > 0.6).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(x, label=y, feature_names=FEATURES), 10)
    return ModelBundle(algorithm="xgboost", feature_names=FEATURES, categorical={"color": ["blue", "red"]},
                       threshold=0.5, label="y", positive_label=1, booster=booster)


@pytest.fixture(autouse=True)
def _clean_serving_env(monkeypatch):
    for var in (inf.FIELDS_ENV, inf.MODEL_NAME_ENV, inf.MODEL_VERSION_ENV, inf.RECORD_ID_ENV, inf.INPUT_FILTER_ENV,
                inf.JOIN_SOURCE_ENV, inf.OUTPUT_FILTER_ENV):
        monkeypatch.delenv(var, raising=False)


def _parquet(path: Path, n: int, seed: int) -> Path:
    import pandas as pd

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"application_id": [f"s{seed}-{i}" for i in range(n)], "x1": rng.normal(size=n),
                  "x2": [None if i % 5 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))],
                  "color": [["red", "blue", None, "green"][i % 4] for i in range(n)]}).to_parquet(path, index=False)
    return path


def _manifest(prefix: str, keys: list[str], *, lines: bool = False) -> bytes:
    """The guide's example is one JSON array; ``lines`` writes one JSON value per line instead."""
    items = [{"prefix": prefix}, *keys]
    return ("\n".join(json.dumps(i) for i in items) if lines else json.dumps(items)).encode()


def _read(uri: str):
    import pyarrow.parquet as pq

    with storage.local_copy(uri) as local:
        return pq.read_table(local)


def _assert_same_capture(imported_uri: str, local_uri: str) -> None:
    got, want = _read(imported_uri), _read(local_uri)
    assert got.schema == want.schema == capture_schema(FEATURES, {"color": ["blue", "red"]})
    assert got.num_rows == want.num_rows > 0
    _assert_same_rows(got, want)


def _assert_same_rows(got, want) -> None:
    """Every column but captured_at, value for value (NaN equal to NaN)."""
    import pandas as pd

    pd.testing.assert_frame_equal(got.drop(["captured_at"]).to_pandas(), want.drop(["captured_at"]).to_pandas(),
                                  check_exact=True)


def _serve(model, body: bytes, env: dict[str, str], monkeypatch) -> bytes:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return inf.output_fn(inf.predict_fn(inf.input_fn(body, "application/x-parquet"), model), "application/x-parquet")


# ------------------------------------------------------------------ Parquet on S3 (moto)
@pytest.fixture
def parquet_job(aws, model, tmp_path, monkeypatch):
    """Two input files (one in a sub-folder), scored whole by the serving module, uploaded with both manifests."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    local_in = tmp_path / "in"
    files = {"part-0.parquet": _parquet(local_in / "part-0.parquet", 37, 1),
             "sub/part-1.parquet": _parquet(local_in / "sub" / "part-1.parquet", 12, 2)}
    in_prefix, out_prefix = f"s3://{BUCKET}/scoring/dt={PARTITION}", f"s3://{BUCKET}/predictions/dt={PARTITION}"
    dest = f"s3://{BUCKET}/capture/sagemaker/job-1"
    env = {inf.JOIN_SOURCE_ENV: "Input", inf.MODEL_NAME_ENV: "credit_risk", inf.MODEL_VERSION_ENV: "3",
           inf.RECORD_ID_ENV: "application_id",
           inf.FIELDS_ENV: "inference_id,model_name,model_version,predicted_label,score"}
    for rel, path in files.items():
        storage.write_bytes(f"{in_prefix}/{rel}", path.read_bytes())
        storage.write_bytes(f"{out_prefix}/{rel}.out", _serve(model, path.read_bytes(), env, monkeypatch))
    storage.write_bytes(f"{dest}/input/{HOUR}/job-1.jsonl", _manifest(in_prefix + "/", list(files)))
    storage.write_bytes(f"{dest}/output/{HOUR}/job-1.jsonl",
                        _manifest(out_prefix + "/", [f"{k}.out" for k in files], lines=True))
    cfg = TransformConfig(content_type="application/x-parquet", join_source="Input")
    return {"dest": dest, "local_in": local_in, "in": in_prefix, "out": out_prefix, "config": cfg, "files": files}


def _import(model, job, **kw):
    args = {"capture_uri": f"s3://{BUCKET}/capture", "partition_date": PARTITION, "run_key": RUN_KEY,
            "model_name": "credit_risk", "model_version": "3", "record_id_col": "application_id", "job_name": "job-1"}
    return import_sagemaker_capture(model, job["dest"], job["config"], **{**args, **kw})


def test_parquet_capture_is_the_local_engines_capture(parquet_job, model, tmp_path):
    report = _import(model, parquet_job)
    assert report["capture_file"] == f"s3://{BUCKET}/capture/dt={PARTITION}/{RUN_KEY}.parquet"
    local = run_batch_transform(model, str(parquet_job["local_in"]), str(tmp_path / "local_out"), parquet_job["config"],
                                model_name="credit_risk", model_version="3", run_key=RUN_KEY,
                                record_id_col="application_id", capture_uri=str(tmp_path / "cap"),
                                partition_date=PARTITION)
    _assert_same_capture(report["capture_file"], local.capture_file)
    # the .out files SageMaker got from the container are the local engine's, byte for byte
    for rel in parquet_job["files"]:
        assert storage.read_bytes(f"{parquet_job['out']}/{rel}.out") == (tmp_path / "local_out" / f"{rel}.out").read_bytes()
    # the capture time is the job's start hour from the manifest path (Parquet records carry none)
    assert set(_read(report["capture_file"]).column("captured_at").to_pylist()) == {
        dt.datetime(2026, 11, 21, 2, tzinfo=dt.timezone.utc)}
    # the report has the local report's shape and counts
    assert set(local.to_dict()) <= set(report)
    assert {k: report[k] for k in ("status", "files_in", "files_out", "files_failed", "records_in", "records_out",
                                   "records_failed")} == \
        {"status": "Completed", "files_in": 2, "files_out": 2, "files_failed": 0, "records_in": 49,
         "records_out": 49, "records_failed": 0}
    assert [f["relative_path"] for f in report["files"]] == ["part-0.parquet", "sub/part-1.parquet"]
    assert report["backend"] == "sagemaker" and report["input_uri"] == parquet_job["in"]


def test_a_rerun_replaces_the_capture_file(parquet_job, model):
    first = _import(model, parquet_job)["capture_file"]
    second = _import(model, parquet_job, captured_at=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc))
    assert second["capture_file"] == first
    assert storage.list_files(f"s3://{BUCKET}/capture/dt={PARTITION}") == [first]
    assert set(_read(first).column("captured_at").to_pylist()) == {dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)}


def test_a_row_count_mismatch_names_the_file(parquet_job, model, monkeypatch):
    # the .out of part-1 replaced by a shorter one: SageMaker's output does not belong to its input
    short = _parquet(Path(str(parquet_job["local_in"])) / "short.parquet", 5, 9)
    storage.write_bytes(f"{parquet_job['out']}/sub/part-1.parquet.out",
                        _serve(model, short.read_bytes(), {inf.JOIN_SOURCE_ENV: "Input"}, monkeypatch))
    with pytest.raises(DataValidationError) as err:
        _import(model, parquet_job)
    assert "sub/part-1.parquet" in str(err.value) and "12 record(s)" in str(err.value) and "has 5" in str(err.value)
    assert err.value.fix
    assert not storage.list_files(f"s3://{BUCKET}/capture/dt={PARTITION}")  # nothing half-written


def test_a_missing_manifest_is_an_error(parquet_job, model):
    storage.delete(f"{parquet_job['dest']}/output/{HOUR}/job-1.jsonl")
    with pytest.raises(DataValidationError, match="no output capture manifest") as err:
        _import(model, parquet_job)
    assert "DataCaptureConfig" in err.value.fix


def test_a_partial_manifest_is_an_error(parquet_job, model):
    key = f"{parquet_job['dest']}/output/{HOUR}/job-1.jsonl"
    storage.write_bytes(key, storage.read_bytes(key)[:-9])  # cut off mid-line
    with pytest.raises(DataValidationError, match="partial manifest"):
        _import(model, parquet_job)
    storage.write_bytes(key, _manifest(parquet_job["out"] + "/", ["part-0.parquet.out"]))  # one output missing
    with pytest.raises(DataValidationError, match=r"no \.out listed for input file\(s\) \['sub/part-1.parquet'\]"):
        _import(model, parquet_job)


def test_a_listed_object_that_is_gone_is_an_error(parquet_job, model):
    storage.delete(f"{parquet_job['out']}/part-0.parquet.out")
    with pytest.raises(DataValidationError, match="not found"):
        _import(model, parquet_job)


def test_manifest_forms():
    a = parse_manifest('[{"prefix":"s3://b/in/"}, "dummy_0.csv", "dummy_1.csv"]', "m")
    b = parse_manifest('{"prefix":"s3://b/in/"}\n"dummy_0.csv"\n\n"dummy_1.csv"\n', "m")
    assert a == b and [e.uri for e in a] == ["s3://b/in/dummy_0.csv", "s3://b/in/dummy_1.csv"]
    for bad, needle in (("", "empty"), ('[{"prefix":"s3://b/"}]', "lists no files"), ('["x.csv"]', "before any"),
                        ("[1, 2]", "neither")):
        with pytest.raises(DataValidationError, match=needle):
            parse_manifest(bad, "m")


# ------------------------------------------------------------------ CSV / JSON Lines (local paths: same code)
CSV_ROWS = ["a1,1.5,2,red", "a2,0.2,,blue", "a3,-1,0.5,green", "a4,0.7,1.25,red"]


def _text_job(tmp_path, model, cfg: TransformConfig, body: str, name: str, record_id_col, sagemaker_suffix):
    """Local engine .out (what the container + SageMaker's join/filters produce), plus what
    GenerateInferenceId appends; manifests as the guide shows them."""
    in_dir, local_out = tmp_path / "in", tmp_path / "local_out"
    in_dir.mkdir()
    (in_dir / name).write_text(body)
    local = run_batch_transform(model, str(in_dir), str(local_out), cfg, model_name="m", model_version="1",
                                run_key=RUN_KEY, record_id_col=record_id_col, capture_uri=str(tmp_path / "local_cap"),
                                partition_date=PARTITION)
    sm_out = tmp_path / "sm_out"
    sm_out.mkdir()
    lines = (local_out / f"{name}.out").read_text().splitlines()
    (sm_out / f"{name}.out").write_text("".join(sagemaker_suffix(line, i) + "\n" for i, line in enumerate(lines)))
    dest = tmp_path / "sm_capture"
    storage.write_bytes(str(dest / "input" / HOUR / "j.jsonl"), _manifest(f"{in_dir}/", [name]))
    storage.write_bytes(str(dest / "output" / HOUR / "j.jsonl"), _manifest(f"{sm_out}/", [f"{name}.out"]))
    return local, str(dest)


def test_csv_join_input_with_sagemaker_inference_ids(model, tmp_path):
    cfg = TransformConfig(content_type="text/csv", input_filter="$[1:]", join_source="Input")
    local, dest = _text_job(tmp_path, model, cfg, "\n".join(CSV_ROWS) + "\n", "part-0.csv", 0,
                            lambda line, i: f"{line},0b7c1f0e-{i:04d}-4c3e-9b1a-3f2d5c6e7a8b,2026-11-21T02:15:03Z")
    report = import_sagemaker_capture(model, dest, cfg, capture_uri=str(tmp_path / "cap"), partition_date=PARTITION,
                                      run_key=RUN_KEY, model_name="m", model_version="1", record_id_col=0)
    _assert_same_capture(report["capture_file"], local.capture_file)
    table = _read(report["capture_file"])
    assert table.column("inference_id").to_pylist() == ["a1", "a2", "a3", "a4"]  # the record ids, as locally
    assert set(table.column("captured_at").to_pylist()) == {dt.datetime(2026, 11, 21, 2, 15, 3, tzinfo=dt.timezone.utc)}
    assert report["records_out"] == 4 and report["files"][0]["relative_path"] == "part-0.csv"


def test_jsonlines_without_a_record_id_takes_the_out_files_inference_id(model, tmp_path):
    body = "\n".join(json.dumps(r) for r in [{"x1": 1.5, "x2": 2, "color": "red"}, {"x1": 0.2, "x2": None},
                                             {"x1": -1, "x2": 0.5, "color": "green"}]) + "\n"
    body = body.replace('{"x1": 0.2, "x2": null}', '{"x1": 0.2, "x2": null, "color": "blue"}')
    cfg = TransformConfig(content_type="application/jsonlines", join_source="Input")

    def generated(line, i):
        obj = json.loads(line)
        obj.update({"SageMakerInferenceId": f"uuid-{i}", "SageMakerInferenceTime": "2026-11-21T02:15:03Z"})
        return json.dumps(obj)

    local, dest = _text_job(tmp_path, model, cfg, body, "part-0.jsonl", None, generated)
    report = import_sagemaker_capture(model, dest, cfg, capture_uri=str(tmp_path / "cap"), partition_date=PARTITION,
                                      run_key=RUN_KEY, model_name="m", model_version="1")
    _assert_same_capture(report["capture_file"], local.capture_file)
    assert all(i.endswith(f"-{n}") for n, i in enumerate(_read(report["capture_file"]).column("inference_id").to_pylist()))


def test_text_count_mismatch_and_a_dropped_score(model, tmp_path):
    cfg = TransformConfig(content_type="text/csv", input_filter="$[1:]", join_source="Input")
    _, dest = _text_job(tmp_path, model, cfg, "\n".join(CSV_ROWS) + "\n", "part-0.csv", 0, lambda line, i: line)
    out = tmp_path / "sm_out" / "part-0.csv.out"
    out.write_text("\n".join(out.read_text().splitlines()[:3]) + "\n")
    args = {"capture_uri": str(tmp_path / "cap"), "partition_date": PARTITION, "run_key": RUN_KEY,
            "model_name": "m", "model_version": "1", "record_id_col": 0}
    with pytest.raises(DataValidationError, match=r"part-0.csv: the input has 4 record\(s\) but its output .* has 3"):
        import_sagemaker_capture(model, dest, cfg, **args)
    dropped = TransformConfig(content_type="text/csv", input_filter="$[1:]", join_source="Input", output_filter="$[0]")
    with pytest.raises(ConfigError, match="score and predicted_label"):
        import_sagemaker_capture(model, dest, dropped, **args)


# ------------------------------------------------------------------ the one-line switch, through the pipeline
def test_finish_transform_imports_a_sagemaker_job_of_credit_risk(aws, tmp_path, monkeypatch):
    """credit_risk with compute.transform.backend: sagemaker. The real requests (build_requests) drive a
    hand-run of SageMaker's documented behaviour; the DAG's publish step then yields the local engine's
    .out bytes, its capture table and a report."""
    import boto3
    import xgboost as xgb
    from sagemaker_specs import SOURCEDIR, compute, settings

    from airsage.lifecycle import transform as pipeline
    from airsage.compute.sagemaker_requests import build_requests, status_from_describe
    from airsage.config import get_usecase
    from airsage.data.generator import generate
    from airsage.model import ModelBundle, vocabularies
    from airsage.lifecycle.monitoring_data import CAPTURE_META

    boto3.client("s3").create_bucket(Bucket=BUCKET)
    shipped = get_usecase("credit_risk")
    uc = shipped.model_copy(update={
        "data": shipped.data.model_copy(update={"root": f"s3://{BUCKET}/data/credit_risk"}),
        "compute": shipped.compute.model_copy(update={
            "transform": shipped.compute.transform.model_copy(update={"backend": "sagemaker"})})})
    s = uc.schema_
    train = generate(600, seed=4)
    bundle = ModelBundle("xgboost", s.feature_names, vocabularies(train, s.categorical_features), label=s.label)
    bundle.booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                               xgb.DMatrix(bundle.encode(train), label=train[s.label]), 10)
    model_dir = bundle.save(tmp_path / "model")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(model_dir.iterdir()):
            tar.add(f, arcname=f.name)
    artifact = storage.write_bytes(f"s3://{BUCKET}/models/v3/model.tar.gz", buf.getvalue())
    local_in = tmp_path / "scoring"
    local_in.mkdir()
    generate(150, seed=5, day=PARTITION).drop(columns=[s.label, "label_available_at"]).to_parquet(
        local_in / "part-00000.parquet", index=False)
    storage.write_bytes(uc.path("scoring", f"dt={PARTITION}", "part-00000.parquet"),
                        (local_in / "part-00000.parquet").read_bytes())

    model_info = {"name": "credit_risk", "version": "3", "model_artifact_uri": artifact}
    spec = pipeline.transform_spec(uc, model_info, dt.date(2026, 11, 20), "manual-1")
    reqs = dict(build_requests(spec, settings(), compute(), sourcedir_uri=SOURCEDIR, usecase=uc.name))
    req, env = reqs["CreateTransformJob"], reqs["CreateModel"]["PrimaryContainer"]["Environment"]
    # --- SageMaker, as documented: SplitType None -> one request per S3 object, <S3OutputPath>/<rel>.out
    assert req["TransformInput"]["SplitType"] == "None" and req["DataProcessing"]["JoinSource"] == "None"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    src = req["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    out_path = req["TransformOutput"]["S3OutputPath"]
    keys = [storage.relative(u, src) for u in storage.list_files(src)]
    for key in keys:
        body = storage.read_bytes(f"{src}/{key}")
        response = inf.output_fn(inf.predict_fn(inf.input_fn(body, req["TransformInput"]["ContentType"]),
                                                inf.model_fn(model_dir)), req["TransformOutput"]["Accept"])
        storage.write_bytes(f"{out_path}/{key}.out", response)
    dest = req["DataCaptureConfig"]["DestinationS3Uri"]
    storage.write_bytes(f"{dest}/input/2026/11/21/02/{spec.name}.jsonl", _manifest(src + "/", keys))
    storage.write_bytes(f"{dest}/output/2026/11/21/02/{spec.name}.jsonl", _manifest(out_path + "/", [f"{k}.out" for k in keys]))
    status = status_from_describe("transform", {"TransformJobStatus": "Completed", "TransformOutput": req["TransformOutput"],
                                                "DataCaptureConfig": req["DataCaptureConfig"]})
    job = {"job_name": spec.name, "kind": "transform", "state": status.state, "outputs": dict(status.outputs)}
    plan = {"model": model_info, "partition": PARTITION, "input_uri": "", "output_uri": ""}

    report = pipeline.finish_transform(uc, job, plan)

    # --- the local backend on the same data and settings
    local = run_batch_transform(bundle, str(local_in), str(tmp_path / "local_out"),
                                TransformConfig.from_spec(uc.transform), model_name="credit_risk", model_version="3",
                                run_key=RUN_KEY, record_id_col=s.record_id, capture_uri=str(tmp_path / "cap"),
                                partition_date=PARTITION)
    assert storage.read_bytes(uc.path("predictions", f"dt={PARTITION}", "part-00000.parquet.out")) == \
        (tmp_path / "local_out" / "part-00000.parquet.out").read_bytes()
    assert report["capture_file"] == uc.path("capture", f"dt={PARTITION}", f"{RUN_KEY}.parquet")
    got, want = _read(report["capture_file"]), _read(local.capture_file)
    assert got.schema == want.schema and set(CAPTURE_META) <= set(got.column_names)
    _assert_same_rows(got, want)
    assert report["records_out"] == local.records_out == 150 and report["files_out"] == 1
    assert report["report_uri"] == uc.path("reports", "transform", f"dt={PARTITION}", f"{spec.name}.json")
    stored = pipeline.read_transform_report({"outputs": {"report": report["report_uri"]}})
    assert stored["records_out"] == 150 and stored["capture_file"] == report["capture_file"]


def test_without_capture_the_report_counts_the_out_files(model, tmp_path):
    from airsage.transform.sagemaker_capture import report_from_outputs

    cfg = TransformConfig(content_type="application/x-parquet", join_source="Input")
    _parquet(tmp_path / "in" / "a.parquet", 7, 1)
    _parquet(tmp_path / "in" / "b.parquet", 4, 2)
    run_batch_transform(model, str(tmp_path / "in" / "a.parquet"), str(tmp_path / "out"), cfg, model_name="m",
                        model_version="1", run_key="r")
    report = report_from_outputs(str(tmp_path / "in"), str(tmp_path / "out"), cfg, run_key="r", model_name="m",
                                 model_version="1", job_name="j")
    assert {k: report[k] for k in ("status", "files_in", "files_out", "files_failed", "records_in", "records_out")} == \
        {"status": "Failed", "files_in": 2, "files_out": 1, "files_failed": 1, "records_in": 11, "records_out": 7}
    assert report["failures"][0]["relative_path"] == "b.parquet" and report["capture_file"] is None
