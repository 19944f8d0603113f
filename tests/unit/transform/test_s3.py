"""The same engine on s3:// prefixes (moto in-process): relative paths, exact replacement on rerun."""
from __future__ import annotations

import pytest

from airsage.transform import TransformConfig, run_batch_transform


@pytest.fixture
def s3(monkeypatch):
    moto = pytest.importorskip("moto")
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        import boto3

        client = boto3.client("s3")
        client.create_bucket(Bucket="bkt")
        yield client


def _keys(client, prefix):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket="bkt", Prefix=prefix).get("Contents", []))


def test_s3_prefix_in_and_out(model, s3):
    s3.put_object(Bucket="bkt", Key="in/dt=2026-11-20/a.csv", Body=b"1,2,red\n")
    s3.put_object(Bucket="bkt", Key="in/dt=2026-11-20/sub/b.csv", Body=b"2,4,red\n8,0,blue\n")
    config = TransformConfig(content_type="text/csv", inference_fields=("score",))
    kwargs = dict(model_name="m", model_version="1", run_key="r")
    report = run_batch_transform(model, "s3://bkt/in/dt=2026-11-20", "s3://bkt/out/dt=2026-11-20", config,
                                 capture_uri="s3://bkt/capture", partition_date="2026-11-20", **kwargs)
    assert _keys(s3, "out/") == ["out/dt=2026-11-20/_SUCCESS", "out/dt=2026-11-20/a.csv.out",
                                 "out/dt=2026-11-20/sub/b.csv.out"]
    body = s3.get_object(Bucket="bkt", Key="out/dt=2026-11-20/sub/b.csv.out")["Body"].read()
    assert body == b"0.75\n1.0\n"
    assert report.capture_file == "s3://bkt/capture/dt=2026-11-20/r.parquet"
    assert _keys(s3, "capture/") == ["capture/dt=2026-11-20/r.parquet"]

    s3.delete_object(Bucket="bkt", Key="in/dt=2026-11-20/sub/b.csv")  # the rerun must drop b's stale output
    run_batch_transform(model, "s3://bkt/in/dt=2026-11-20", "s3://bkt/out/dt=2026-11-20", config, **kwargs)
    assert _keys(s3, "out/") == ["out/dt=2026-11-20/_SUCCESS", "out/dt=2026-11-20/a.csv.out"]
