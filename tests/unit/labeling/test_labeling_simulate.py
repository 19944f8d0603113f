"""Simulated label sources read back through the real readers; S3 sources through moto."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from airsage.config import get_usecase
from airsage.data.generator import generate
from airsage.labeling import records as R
from airsage.labeling.readers import expand_sources, read_ground_truth_manifest, read_labels
from airsage.labeling.records import Annotation, ReaderOptions
from airsage.labeling.simulate import write_a2i_output, write_ground_truth_output_manifest


@pytest.fixture(scope="module")
def credit():
    uc = get_usecase("credit_risk")
    return uc, ReaderOptions.from_usecase(uc), {str(v): k for k, v in uc.labeling.class_map.items()}


def test_ground_truth_simulation_reads_back(tmp_path, credit):
    uc, opt, job_labels = credit
    df = generate(300, seed=3)
    uri = str(tmp_path / "output.manifest")
    res = write_ground_truth_output_manifest(  # the call the pipeline's example-data step makes
        df, uri, label_attribute="default-label", job_name="sim", class_map=job_labels, seed=5,
        record_id=uc.schema_.record_id, label=uc.schema_.label, low_confidence_share=0.1, auto_labeled_share=0.1,
        duplicate_annotation_share=0.1)
    items = list(read_ground_truth_manifest(uri, opt))
    assert len(items) == res.lines == 300 + res.duplicates and all(isinstance(i, Annotation) for i in items)
    first = items[:300]
    assert [a.label for a in first] == df["default"].tolist()
    assert [a.record_id for a in first] == df["application_id"].tolist()
    assert sum(not a.human_annotated for a in items) == res.auto_labeled > 0
    assert sum(a.confidence < 0.3 for a in items) == res.low_confidence > 0
    dup_labels = {a.record_id: a.label for a in items[300:]}
    truth = dict(zip(df["application_id"], df["default"]))
    assert sum(dup_labels[k] != truth[k] for k in dup_labels) == res.conflicting_duplicates
    line = json.loads(open(uri).readline())
    assert list(line) == ["source", "application_id", "default-label", "default-label-metadata"]
    assert "sex" not in json.loads(line["source"]) and "default" not in json.loads(line["source"])


def test_malformed_and_multilabel_simulation(tmp_path, credit):
    _, opt, job_labels = credit
    df = generate(200, seed=4)
    uri = str(tmp_path / "m.manifest")
    res = write_ground_truth_output_manifest(df, uri, label_attribute="default-label", job_name="sim",
                                             class_map=job_labels, seed=1, malformed_share=0.05, multilabel=True,
                                             duplicate_annotation_share=0.0)
    items = list(read_ground_truth_manifest(uri, opt))
    bad = [i for i in items if not isinstance(i, Annotation)]
    assert len(bad) == res.malformed > 0 and {b.reason for b in bad} == {R.MALFORMED_JSON}
    ok = [i for i in items if isinstance(i, Annotation)]
    truth = dict(zip(df["application_id"], df["default"]))
    assert all(a.label == truth[a.record_id] for a in ok)


def test_a2i_simulation_reads_back(tmp_path, credit):
    uc, opt, job_labels = credit
    df = generate(5, seed=2)
    res = write_a2i_output(df, str(tmp_path / "a2i"), class_map=job_labels, workers_per_loop=3, seed=1,
                           answer_key="category.label")
    assert len(res.files) == 5 and all(f.endswith("/output.json") for f in res.files)
    assert res.files[0].split("/a2i/")[1].startswith("airsage-review/2026/11/20/08/00/00/airsage-review-app-")
    nested = replace(opt, a2i_answer_key="category")
    got = [a for f in expand_sources([str(tmp_path / "a2i")]) for a in read_labels(f, nested)]
    assert len(got) == 15 and {(a.record_id, a.label) for a in got} == set(zip(df["application_id"], df["default"]))


def test_s3_sources(monkeypatch, fixtures_dir):
    moto = pytest.importorskip("moto")
    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        import boto3

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="gt-out")
        job = "gt-out/jobs/tiny"
        s3.put_object(Bucket="gt-out", Key="jobs/tiny/manifests/output/output.manifest",
                      Body=(fixtures_dir / "tiny_labels.manifest").read_bytes())
        s3.put_object(Bucket="gt-out", Key="jobs/tiny/annotations/worker-response/iteration-1/0/x.json", Body=b"{}")
        files = expand_sources([f"s3://{job}"])
        assert files == [f"s3://{job}/manifests/output/output.manifest"]
        opt = ReaderOptions(record_key="application_id", label_values=(0, 1),
                            class_map={"no_default": 0, "default": 1}, label_attribute="default-label")
        items = list(read_ground_truth_manifest(files[0], opt))
        assert len(items) == 13 and items[0].source == files[0]


def test_import_to_s3_is_idempotent(monkeypatch, tmp_path, make_tiny, fixtures_dir):
    moto = pytest.importorskip("moto")
    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from airsage.labeling import import_labels, latest_dataset, load_dataset

    uc = make_tiny(tmp_path, max_bad_share=1.0)
    with moto.mock_aws():
        import boto3

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lake")
        s3.put_object(Bucket="lake", Key="in/q.manifest", Body=(fixtures_dir / "quarantine_cases.manifest").read_bytes())
        first = import_labels(uc, ["s3://lake/in/q.manifest"], output_root="s3://lake/uc")
        assert first.uri.startswith("s3://lake/uc/datasets/ds-")
        assert first.quarantine_uri.startswith("s3://lake/uc/labeling/quarantine/q-")
        keys = lambda: {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}  # noqa: E731
        before = keys()
        assert {k.rsplit("/", 1)[-1] for k in before if "/datasets/ds-" in k} == {
            "data.parquet", "manifest.json", "validation.html", "_SUCCESS"}
        again = import_labels(uc, ["s3://lake/in/q.manifest"], output_root="s3://lake/uc")
        assert (again.version, again.created) == (first.version, False) and keys() == before
        assert latest_dataset(uc, output_root="s3://lake/uc")["version"] == first.version
        assert len(load_dataset("latest", uc, output_root="s3://lake/uc", verify=True)) == 2
