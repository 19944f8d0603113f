from __future__ import annotations

import os

import pytest

from airsage import storage
from airsage.errors import StorageError


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "a" / "out.json"
    with pytest.raises(RuntimeError):
        with storage.atomic_open(str(target), "w") as fh:
            fh.write("half")
            raise RuntimeError("killed")
    assert not target.exists() and os.listdir(target.parent) == []
    storage.write_json(str(target), {"x": 1})
    assert storage.read_json(str(target)) == {"x": 1}


def test_atomic_dir_replaces_as_a_unit(tmp_path):
    out = str(tmp_path / "out")
    with storage.atomic_dir(out) as stage:
        (stage / "old.txt").write_text("1")
    with pytest.raises(RuntimeError):
        with storage.atomic_dir(out) as stage:
            (stage / "new.txt").write_text("2")
            raise RuntimeError("killed")
    assert sorted(os.listdir(out)) == ["_SUCCESS", "old.txt"]  # the failed run changed nothing
    with storage.atomic_dir(out) as stage:
        (stage / "new.txt").write_text("2")
    assert sorted(os.listdir(out)) == ["_SUCCESS", "new.txt"]  # no stale file survives a rerun
    assert storage.is_complete(out)
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_write_if_absent_is_create_once(tmp_path):
    uri = str(tmp_path / "e.json")
    assert storage.write_if_absent(uri, b"1") is True
    assert storage.write_if_absent(uri, b"2") is False
    assert storage.read_bytes(uri) == b"1"


def test_list_and_missing(tmp_path):
    (tmp_path / "d" / "x").mkdir(parents=True)
    (tmp_path / "d" / "x" / "a.csv").write_text("1")
    (tmp_path / "d" / ".hidden").write_text("1")
    (tmp_path / "d" / "_SUCCESS").write_text("")
    assert storage.list_files(str(tmp_path / "d")) == [str(tmp_path / "d" / "x" / "a.csv")]
    with pytest.raises(StorageError, match="does not exist"):
        storage.read_bytes(str(tmp_path / "nope"))


def test_join_and_split():
    assert storage.join("s3://b/p/", "x", "/y.json") == "s3://b/p/x/y.json"
    assert storage.split_s3("s3://b/k/e/y") == ("b", "k/e/y")
    with pytest.raises(StorageError):
        storage.split_s3("/local")


def test_sidecars_are_not_listed_and_stale_stages_are_swept(tmp_path):
    import time

    out = tmp_path / "p"
    (out / "_review").mkdir(parents=True)
    (out / "_review" / "status.parquet").write_text("x")
    (out / "a.out").write_text("x")
    assert storage.list_files(str(out)) == [str(out / "a.out")]
    stale = tmp_path / ".q.stage-deadbeef"
    stale.mkdir()
    old = time.time() - storage.STALE_AFTER_S - 10
    os.utime(stale, (old, old))
    fresh = tmp_path / ".q.stage-cafebabe"
    fresh.mkdir()
    with storage.atomic_dir(str(tmp_path / "q")) as stage:
        (stage / "f").write_text("1")
    assert not stale.exists() and fresh.exists()  # a live (recent) stage of another writer is left alone


@pytest.mark.moto
def test_an_s3_uri_may_name_one_object_as_a_local_path_may_name_one_file(aws, tmp_path):
    """A single-file input (Clarify's analysis_config, a monitor config) on an S3 data root reaches a local
    job like a folder does; a sibling whose key merely starts with the same characters is not taken."""
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bkt")
    for key in ("cfg/analysis_config.json", "cfg/analysis_config.json-old", "cfg/d/x.csv", "cfg/d/_SUCCESS",
                "cfg/dx/other.csv"):
        s3.put_object(Bucket="bkt", Key=key, Body=b"1")
    assert storage.list_files("s3://bkt/cfg/analysis_config.json") == ["s3://bkt/cfg/analysis_config.json"]
    assert storage.list_files("s3://bkt/cfg/d") == ["s3://bkt/cfg/d/x.csv"]
    assert storage.list_files("s3://bkt/cfg/d/") == ["s3://bkt/cfg/d/x.csv"]
    got = storage.download_dir("s3://bkt/cfg/analysis_config.json", tmp_path / "in")
    assert [p.name for p in got.iterdir()] == ["analysis_config.json"]
