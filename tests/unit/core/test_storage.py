from __future__ import annotations

import json
import os
from pathlib import Path

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


# ------------------------------------------------------------------ output safety (issue 14)
from airsage.errors import OutputRefusedError  # noqa: E402


def _publish(uri, files=None, **kwargs):
    with storage.atomic_dir(str(uri), **kwargs) as stage:
        for name, text in (files or {"a.txt": "1"}).items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_text(text)


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("out, inp", [("d", "d"), ("d", "d/in"), ("d/in/out", "d/in"), ("d/x/../in", "d/in")])
def test_output_overlapping_an_input_is_refused_and_nothing_changes(tmp_path, out, inp):
    (tmp_path / "d" / "in").mkdir(parents=True)
    (tmp_path / "d" / "in" / "data.csv").write_text("1")
    (tmp_path / "d" / "unrelated.txt").write_text("keep me")
    before = _tree(tmp_path)
    with pytest.raises(OutputRefusedError) as exc:
        _publish(tmp_path / out, inputs=[str(tmp_path / inp)], force=True)  # force never overrides this rule
    assert "Fix:" in str(exc.value)
    assert _tree(tmp_path) == before


def test_overlap_resolves_symlinks(tmp_path):
    (tmp_path / "real" / "in").mkdir(parents=True)
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert storage.overlap(str(tmp_path / "link"), str(tmp_path / "real" / "in")) == "contains"
    assert storage.overlap(str(tmp_path / "real" / "in" / "o"), str(tmp_path / "link" / "in")) == "lies inside"
    assert storage.overlap(str(tmp_path / "real" / "o"), str(tmp_path / "real" / "in")) is None
    assert storage.overlap("s3://b/p/in", "s3://b/p") == "lies inside"
    assert storage.overlap("s3://b/p-2", "s3://b/p") is None and storage.overlap("s3://b/p", "/b/p") is None


def test_foreign_directory_is_refused_and_force_moves_it_aside(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "_SUCCESS").write_text("")  # an empty marker (Spark, Hadoop) is not Airsage's
    with pytest.raises(OutputRefusedError, match="did not publish"):
        _publish(out)
    assert (out / "notes.txt").read_text() == "mine"
    _publish(out, force=True)
    assert sorted(os.listdir(out)) == ["_SUCCESS", "a.txt"]
    (aside,) = [p for p in tmp_path.iterdir() if p.name.startswith("out.replaced-")]
    assert (aside / "notes.txt").read_text() == "mine"  # moved, never deleted


def test_airsage_output_is_replaced_but_not_by_another_kind_or_with_a_foreign_file(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"a.txt": "1", "sub/b.txt": "2"}, kind="transform", inputs=["/data/in"])
    marker = json.loads((out / "_SUCCESS").read_text())
    assert (marker["format"], marker["kind"], marker["files"], marker["inputs"]) == (
        "airsage-output/1", "transform", ["a.txt", "sub/b.txt"], ["/data/in"])
    assert storage.is_complete(str(out))
    _publish(out, {"c.txt": "3"}, kind="transform")
    assert sorted(os.listdir(out)) == ["_SUCCESS", "c.txt"]
    with pytest.raises(OutputRefusedError, match="'transform' output"):
        _publish(out, kind="dataset")
    (out / "_review").mkdir()
    (out / "_review" / "status.parquet").write_text("sidecar")  # a published directory is Airsage's as a whole
    _publish(out, {"d.txt": "4"}, kind="transform")
    assert sorted(os.listdir(out)) == ["_SUCCESS", "d.txt"]
    # a folder without a marker is Airsage's only if everything in it is (e.g. a run folder holding a staging output)
    parent = tmp_path / "run"
    _publish(parent / "_staging", {"x": "1"})
    _publish(parent, {"y": "2"})
    assert sorted(os.listdir(parent)) == ["_SUCCESS", "y"]
    _publish(parent / "_staging", {"x": "1"})
    (parent / "_staging" / ".." / "dropped-in.csv").write_text("someone's file")
    (parent / "_SUCCESS").unlink()
    with pytest.raises(OutputRefusedError, match="dropped-in.csv"):
        _publish(parent)


def test_dangerous_locations_are_refused(tmp_path):
    for where in ("/", "/usr", "/tmp", str(Path.home())):
        with pytest.raises(OutputRefusedError):
            storage.check_output(where, force=True)
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x").write_text("1")
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(OutputRefusedError, match="symbolic link"):
        _publish(tmp_path / "link", force=True)
    (tmp_path / "file").write_text("1")
    with pytest.raises(OutputRefusedError, match="existing file"):
        _publish(tmp_path / "file")
    with pytest.raises(OutputRefusedError, match="bucket root"):
        storage.check_output("s3://bucket")
    with pytest.raises(OutputRefusedError, match="existing directory"):
        storage.write_text(str(tmp_path / "real"), "x")
    with pytest.raises(OutputRefusedError, match="lies inside"):
        with storage.atomic_path(str(tmp_path / "real" / "y"), inputs=[str(tmp_path / "real")]):
            pass


def test_a_killed_runs_stage_is_removed_by_the_next_run_whatever_its_age(tmp_path):
    import fcntl

    dead = tmp_path / ".q.stage-0000aaaa"
    dead.mkdir()
    (dead / "half.out").write_text("x")
    (tmp_path / ".q.stage-0000aaaa.lock").write_text("")  # its writer died: nobody holds the lock
    live = tmp_path / ".q.stage-0000bbbb"
    live.mkdir()
    lock = tmp_path / ".q.stage-0000bbbb.lock"
    fd = os.open(lock, os.O_CREAT | os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live concurrent writer
    try:
        _publish(tmp_path / "q")
        assert not dead.exists() and not (tmp_path / ".q.stage-0000aaaa.lock").exists()
        assert live.exists()
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".q.stage-0000bbbb", ".q.stage-0000bbbb.lock", "q"]


def test_killed_between_the_two_renames_the_previous_output_comes_back(tmp_path):
    out = tmp_path / "q"
    _publish(out, {"v1.txt": "1"})
    os.rename(out, tmp_path / ".q.old-0000cccc")  # the state a kill right after the first rename leaves
    (tmp_path / ".q.stage-0000cccc.lock").write_text("")
    storage._sweep_stale(out)
    assert sorted(os.listdir(out)) == ["_SUCCESS", "v1.txt"] and storage.is_complete(str(out))


def test_private_workdir_of_a_killed_run_is_swept_by_the_next_one(tmp_path, monkeypatch):
    monkeypatch.setenv(storage.WORK_ROOT_ENV, str(tmp_path))
    with storage.private_workdir("capture", "s3://b/capture/x.parquet") as first:
        (first / "part.parquet").write_text("1")
    assert not first.exists()
    leftover = first  # what a kill -9 leaves: the folder and an unheld lock
    leftover.mkdir()
    (leftover.parent / (leftover.name + ".lock")).write_text("")
    with storage.private_workdir("capture", "s3://b/capture/other.parquet"):
        assert leftover.exists()  # another target's scratch is not touched
    with storage.private_workdir("capture", "s3://b/capture/x.parquet") as second:
        assert not leftover.exists() and second.exists()
    assert list((tmp_path / "airsage-work").iterdir()) == []


def test_readers_do_not_follow_symlinks_out_of_a_folder(tmp_path):
    (tmp_path / "secret.txt").write_text("password")
    d = tmp_path / "d"
    (d / "x").mkdir(parents=True)
    (d / "x" / "a.csv").write_text("1")
    os.symlink(tmp_path / "secret.txt", d / "link.csv")
    os.symlink(d / "x" / "a.csv", d / "inner.csv")  # inside the folder: fine
    os.symlink(tmp_path, d / "loop")
    escaped: list[str] = []
    assert storage.list_files(str(d), escaped=escaped) == [str(d / "inner.csv"), str(d / "x" / "a.csv")]
    assert escaped == [str(d / "link.csv")]
    got = storage.download_dir(str(d), tmp_path / "copy")
    assert not (got / "link.csv").exists() and (got / "x" / "a.csv").read_text() == "1"


@pytest.mark.moto
def test_s3_output_rules(aws):
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="data/in/a.csv", Body=b"1")
    s3.put_object(Bucket="bkt", Key="foreign/report.pdf", Body=b"theirs")
    with pytest.raises(OutputRefusedError, match="contains the input"):
        _publish("s3://bkt/data", inputs=["s3://bkt/data/in"])
    with pytest.raises(OutputRefusedError, match="did not publish"):
        _publish("s3://bkt/foreign")
    _publish("s3://bkt/foreign", force=True)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="bkt")["Contents"])
    aside = [k for k in keys if k.startswith("foreign.replaced-")]
    assert len(aside) == 1 and aside[0].endswith("/report.pdf")
    assert s3.get_object(Bucket="bkt", Key=aside[0])["Body"].read() == b"theirs"
    assert storage.is_complete("s3://bkt/foreign") and storage.read_marker("s3://bkt/foreign")["files"] == ["a.txt"]
    # a killed publish leaves the "publishing" marker: not complete, still ours, replaced by the rerun
    s3.put_object(Bucket="bkt", Key="foreign/_SUCCESS", Body=json.dumps(
        storage.marker_document(None, ["a.txt", "half.txt"], state="publishing")).encode())
    s3.put_object(Bucket="bkt", Key="foreign/half.txt", Body=b"x")
    assert not storage.is_complete("s3://bkt/foreign")
    _publish("s3://bkt/foreign", {"b.txt": "2"})
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="bkt", Prefix="foreign/")["Contents"]) == [
        "foreign/_SUCCESS", "foreign/b.txt"]
    assert storage.is_complete("s3://bkt/foreign")
