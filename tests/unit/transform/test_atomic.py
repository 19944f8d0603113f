"""Atomic, idempotent output: a killed run shows nothing partial; a rerun replaces the output exactly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from airsage import storage
from airsage.transform import TransformConfig, run_batch_transform

CHILD = textwrap.dedent("""
    import pathlib, sys, time
    import numpy as np
    from airsage.model import ModelBundle
    from airsage.transform import TransformConfig, run_batch_transform

    class Exact:
        def predict_proba(self, x):
            x = np.nan_to_num(np.asarray(x, float))
            p = x[:, 0] / 8 + x[:, 1] / 16 + x[:, 2] / 4
            return np.column_stack([1 - p, p])

    marker = pathlib.Path(sys.argv[3])

    def progress(event):
        if event.files_done >= 1:  # one .out is complete (in the stage): now get killed
            marker.write_text("ready")
            time.sleep(120)

    model = ModelBundle("exact", ["x1", "x2", "color"], {"color": ["blue", "red"]}, estimator=Exact())
    run_batch_transform(model, sys.argv[1], sys.argv[2], TransformConfig(content_type="text/csv"),
                        model_name="m", model_version="1", run_key="r", progress=progress)
""")


def _visible(out: Path) -> dict[str, str]:
    return {storage.relative(f, str(out)): Path(f).read_text() for f in storage.list_files(str(out))}


def _run(model, src, out):
    return run_batch_transform(model, str(src), str(out), TransformConfig(content_type="text/csv", inference_fields=("score",)),
                               model_name="m", model_version="1", run_key="r")


def test_killed_run_leaves_previous_output_and_rerun_replaces_it_exactly(model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for name, row in (("a.csv", "1,2,red"), ("b.csv", "2,4,red"), ("c.csv", "8,0,blue")):
        (src / name).write_text(row + "\n")
    _run(model, src, out)
    before = _visible(out)
    assert before == {"a.csv.out": "0.5\n", "b.csv.out": "0.75\n", "c.csv.out": "1.0\n"}

    # the next night's input: c is gone, a changed, d is new
    (src / "c.csv").unlink()
    (src / "a.csv").write_text("0,0,blue\n")
    (src / "d.csv").write_text("0,16,blue\n")
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(out), str(marker)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.time() < deadline, "the child never finished its first file"
            time.sleep(0.05)
        assert _visible(out) == before  # mid-run: the new a.csv.out exists only in the hidden stage
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert _visible(out) == before  # killed: no partial or new .out is visible
    visible_names = {p.name for p in tmp_path.iterdir() if not p.name.startswith(".")}
    assert visible_names == {"in", "out", "marker"}

    report = _run(model, src, out)
    assert _visible(out) == {"a.csv.out": "0.0\n", "b.csv.out": "0.75\n", "d.csv.out": "1.0\n"}  # c's output is gone
    assert report.files_out == 3
    assert sorted(p.name for p in out.iterdir()) == ["_SUCCESS", "a.csv.out", "b.csv.out", "d.csv.out"]


def test_rerun_is_idempotent(model, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.csv").write_text("1,2,red\n2,4,red\n")
    _run(model, src, out)
    first = _visible(out)
    _run(model, src, out)
    assert _visible(out) == first == {"a.csv.out": "0.5\n0.75\n"}
