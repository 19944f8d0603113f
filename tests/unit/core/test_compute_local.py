"""The local backend under SageMaker's container contract (with a tiny entry point written by the test)."""
from __future__ import annotations

import json
import sys
import tarfile
import textwrap

import pytest

from airsage.compute import JobSpec, get_backend, job_name
from airsage.errors import JobFailedError

ENTRY = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from airsage.entrypoints import contract

    @contract.job_main
    def main():
        hps = contract.hyperparameters()
        data = sorted(p.name for p in contract.channel("train").iterdir())
        if hps.get("fail"):
            raise ValueError("asked to fail")
        time.sleep(float(hps.get("sleep", 0)))
        (contract.model_dir() / "model.json").write_text(json.dumps({"hps": hps, "data": data}))
        counter = Path(os.environ["COUNTER"])
        counter.write_text(counter.read_text() + "x" if counter.exists() else "x")

    main()
""")


@pytest.fixture()
def setup(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "toy_entry.py").write_text(ENTRY)
    monkeypatch.setenv("PYTHONPATH", f"{pkg}:{':'.join(sys.path)}")
    monkeypatch.setenv("COUNTER", str(tmp_path / "counter"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-0.parquet").write_text("not really parquet")
    backend = get_backend("local", jobs_dir=tmp_path / "jobs")

    def spec(**hps):
        return JobSpec(kind="train", name=job_name("toy", "train", "run-1"), entrypoint="toy_entry",
                       inputs={"train": str(tmp_path / "data")}, output_uri=str(tmp_path / "out"),
                       hyperparameters={k: json.dumps(v) for k, v in hps.items()})

    return backend, spec, tmp_path


def test_contract_and_model_artifact(setup):
    backend, spec, tmp = setup
    st = backend.run(spec(max_depth=3), poll_s=0.2)
    assert st.state == "Completed"
    assert st.outputs["model_artifact"] == str(tmp / "out" / "toy-train-run-1" / "output" / "model.tar.gz")
    with tarfile.open(st.outputs["model_artifact"]) as tar:
        model = json.load(tar.extractfile("model.json"))
    assert model == {"hps": {"max_depth": 3}, "data": ["part-0.parquet"]}


def test_resubmit_reattaches_instead_of_rerunning(setup):
    backend, spec, tmp = setup
    backend.run(spec(), poll_s=0.2)
    backend.run(spec(), poll_s=0.2)  # a retried task resubmits the same job
    assert (tmp / "counter").read_text() == "x"


def test_failure_reason_is_reported(setup):
    backend, spec, _ = setup
    with pytest.raises(JobFailedError, match="ValueError: asked to fail"):
        backend.run(spec(fail=True), poll_s=0.2)


def test_status_never_blocks_and_stop(setup):
    backend, spec, _ = setup
    h = backend.submit(spec(sleep=30))
    assert backend.status(h).state == "InProgress"
    backend.stop(h)
    assert backend.status(h).state == "Stopped"


def test_job_names_are_sagemaker_valid():
    long = job_name("credit_risk", "transform", "2026-11-21", "scheduled__2026-11-22T02:00:00+00:00" * 3)
    assert len(long) <= 63 and long[0].isalnum()
    assert long == job_name("credit_risk", "transform", "2026-11-21", "scheduled__2026-11-22T02:00:00+00:00" * 3)
    with pytest.raises(ValueError):
        JobSpec(kind="train", name="bad name!", entrypoint="x", inputs={}, output_uri="/tmp")
