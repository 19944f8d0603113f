"""Output safety at the compute layer (issue 14): the local backend refuses a bad output before a job
runs, the Clarify job checks its processing output before publishing, and a job prints an
``AirsageError`` as message + Fix (no traceback)."""
from __future__ import annotations

import json

import pytest

from airsage.compute.base import JobSpec
from airsage.compute.local import LocalBackend
from airsage.entrypoints import contract
from airsage.errors import ConfigError, OutputRefusedError


def _spec(tmp_path, output, kind="clarify"):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return JobSpec(kind=kind, name=f"uc-{kind}-r1", entrypoint="airsage.entrypoints.clarify",
                   inputs={"data": str(data)}, output_uri=str(output))


@pytest.mark.parametrize("where, words", [("inside", "the input"), ("foreign", "did not publish")])
def test_local_backend_refuses_a_bad_output_before_the_job_runs(tmp_path, where, words):
    backend = LocalBackend(jobs_dir=tmp_path / "jobs")
    out = tmp_path / "data" / "out" if where == "inside" else tmp_path / "elsewhere"
    if where == "foreign":
        out.mkdir()
        (out / "notes.txt").write_text("not Airsage's")
    spec = _spec(tmp_path, out)
    with pytest.raises(OutputRefusedError, match=words):
        backend.submit(spec)
    assert not (tmp_path / "jobs" / spec.name).exists()  # nothing started
    if where == "foreign":
        assert (out / "notes.txt").read_text() == "not Airsage's"


def test_clarify_job_publish_checks_its_output(tmp_path):
    from airsage.entrypoints.clarify import _publish

    stage, out = tmp_path / "stage", tmp_path / "output"
    stage.mkdir()
    (stage / "analysis.json").write_text("{}")
    (stage / "_SUCCESS").write_text(json.dumps({"format": "airsage-output/1", "kind": "clarify", "state": "complete",
                                                "inputs": [], "files": ["analysis.json"]}))
    out.mkdir()
    (out / "failure").write_text("an earlier attempt's reason")  # the job's own file: superseded
    _publish(stage, out, inputs=(str(tmp_path / "data"),))
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "analysis.json"]
    (out / "someone.txt").write_text("x")
    (stage / "analysis.json").write_text("{}")
    (stage / "_SUCCESS").write_text((out / "_SUCCESS").read_text())
    (out / "_SUCCESS").unlink()  # no marker: the folder is not Airsage's
    with pytest.raises(OutputRefusedError, match="did not publish"):
        _publish(stage, out)
    with pytest.raises(OutputRefusedError, match="the input"):
        _publish(stage, out, inputs=(str(out / "data"),))


def test_job_main_prints_an_airsage_error_without_traceback(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(tmp_path))

    @contract.job_main
    def main():
        raise ConfigError("bad setting", key="k", fix="set k")

    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: bad setting (key k)\nFix: set k\n"
    assert (tmp_path / "output" / "failure").read_text() == "bad setting (key k)\nFix: set k"


def test_job_main_keeps_the_traceback_of_a_bug(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(tmp_path))

    @contract.job_main
    def main():
        raise KeyError("oops")

    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: KeyError: 'oops'" in err
