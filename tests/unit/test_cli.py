"""``airsage`` in-process (``cli.main([...])``): exit codes, the error / Fix / report output, the identity a
registry decision records, the new commands' wiring, ``--force`` and the standalone transform.

The lifecycle functions behind registry / lineage / dashboard commands are replaced by recorders (their
own rooms test them); the transform runs for real on a tiny CSV with an exact model.
"""
from __future__ import annotations

import contextlib
import getpass
import io
import json
from pathlib import Path

import numpy as np
import pytest

from airsage import cli
from airsage.errors import ConfigError, PartialFailureError, TransientError


def run(argv, monkeypatch=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(argv)
        except SystemExit as exc:  # argparse
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)


# ------------------------------------------------------------------ exit codes and error output
class _Report:
    def to_dict(self):
        return {"files_failed": 1, "failures": [{"relative_path": "b.csv"}]}


@pytest.mark.parametrize("exc, code", [
    (ConfigError("bad key", key="k", fix="do this"), 2),
    (TransientError("throttled", fix="retry"), 1),
    (PartialFailureError("1 of 2 input file(s) failed", failures=["b.csv, line 2: not a number"], fix="fix b.csv"), 3),
])
def test_errors_exit_with_their_code_and_print_error_and_fix(monkeypatch, exc, code):
    def boom(uc, version, decision, **kw):
        raise exc

    _fake_governance(monkeypatch, boom)
    rc, out, err = run(["registry", "reject", "3", "--usecase", "credit_risk", "--comment", "no"])
    assert rc == code
    assert err.startswith(f"error: {exc.message}") and f"\nFix: {exc.fix}\n" in err
    assert "Traceback" not in out + err
    if code == 3:
        assert "  failed: b.csv, line 2: not a number" in err


def test_an_error_with_a_report_prints_it_as_json(monkeypatch):
    exc = PartialFailureError("partial", fix="f")
    exc.report = _Report()

    def boom(uc, version, decision, **kw):
        raise exc

    _fake_governance(monkeypatch, boom)
    rc, out, err = run(["registry", "approve", "3", "--usecase", "credit_risk", "--comment", "ok"])
    assert rc == 3 and json.loads(out) == {"files_failed": 1, "failures": [{"relative_path": "b.csv"}]}


@pytest.mark.parametrize("exc, code, words", [
    (PermissionError(13, "Permission denied", "/data/out"), 2, ("Permission denied", "/data/out", "Fix: Check that the path")),
    (ConnectionRefusedError(111, "Connection refused"), 1, ("Connection refused", "Fix: A network problem")),
    (KeyError("surprise"), 2, ("unexpected KeyError", "AIRSAGE_DEBUG=1")),
])
def test_unexpected_exceptions_become_errors_with_a_fix(monkeypatch, exc, code, words):
    def boom(uc, version, decision, **kw):
        raise exc

    _fake_governance(monkeypatch, boom)
    rc, out, err = run(["registry", "promote", "3", "--usecase", "credit_risk", "--comment", "go"])
    assert rc == code and "Traceback" not in err
    for w in words:
        assert w in err


def test_an_mlflow_exception_becomes_an_error_with_a_fix(monkeypatch):
    from mlflow.exceptions import MlflowException

    def boom(uc, version, decision, **kw):
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: Registered Model with name=x not found",
                              error_code="RESOURCE_DOES_NOT_EXIST")

    _fake_governance(monkeypatch, boom)
    rc, _, err = run(["registry", "promote", "3", "--usecase", "credit_risk", "--comment", "go"])
    assert rc == 2 and "MLflow: RESOURCE_DOES_NOT_EXIST" in err and "Fix: Check MLFLOW_TRACKING_URI" in err


def test_debug_env_re_raises(monkeypatch):
    def boom(uc, version, decision, **kw):
        raise KeyError("surprise")

    _fake_governance(monkeypatch, boom)
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(KeyError):
        cli.main(["registry", "promote", "3", "--usecase", "credit_risk", "--comment", "go"])


# ------------------------------------------------------------------ identity
def _fake_governance(monkeypatch, fn):
    from airsage.lifecycle import governance

    monkeypatch.setattr(governance, "decide", fn)


@pytest.mark.parametrize("decision, argv", [
    ("approve", ["registry", "approve", "7", "--usecase", "credit_risk", "--comment", "looks good"]),
    ("reject", ["registry", "reject", "7", "--usecase", "credit_risk", "--reason", "looks bad"]),
    ("promote", ["registry", "promote", "7", "--usecase", "credit_risk", "--comment", "go"]),
    ("rollback", ["registry", "rollback", "--usecase", "credit_risk", "--comment", "back"]),
])
def test_decisions_record_the_os_user_and_the_cli_source(monkeypatch, decision, argv):
    calls = []
    _fake_governance(monkeypatch, lambda uc, version, d, **kw: calls.append((uc.name, version, d, kw)) or {"ok": 1})
    monkeypatch.setattr(getpass, "getuser", lambda: "alice")
    rc, out, err = run(argv)
    assert rc == 0, err
    (name, version, d, kw), = calls
    assert (name, d, kw["actor"], kw["source"]) == ("credit_risk", decision, "alice", "cli:alice")
    assert version == ("" if decision == "rollback" else "7")


@pytest.mark.parametrize("flag", ["--approver", "--actor"])
def test_identity_flags_are_gone(monkeypatch, flag):
    _fake_governance(monkeypatch, lambda *a, **k: pytest.fail("must not decide"))
    rc, _, err = run(["registry", "approve", "7", "--usecase", "credit_risk", flag, "bob", "--comment", "x"])
    assert rc == 2 and f"unrecognized arguments: {flag} bob" in err
    rc, _, err = run(["train", "--usecase", "credit_risk", "--actor", "bob"])
    assert rc == 2 and "unrecognized arguments: --actor bob" in err


def test_train_records_the_os_user(monkeypatch):
    from airsage.lifecycle import training

    seen = {}
    monkeypatch.setattr(training, "train_and_register", lambda uc, **kw: seen.update(kw) or {"version": "1"})
    monkeypatch.setattr(getpass, "getuser", lambda: "carol")
    assert run(["train", "--usecase", "credit_risk", "--dataset-version", "ds-000000000001"])[0] == 0
    assert seen["actor"] == "carol" and seen["dataset_version"] == "ds-000000000001"


# ------------------------------------------------------------------ new commands
class _Verify:
    def __init__(self, findings):
        self.findings = findings

    @property
    def ok(self):
        return not self.findings

    def render(self):
        return "registry of credit_risk\n" + "\n".join(f"FINDING: {f}" for f in self.findings)

    def to_dict(self):
        return {"ok": self.ok, "findings": self.findings}


@pytest.mark.parametrize("findings, code", [([], 0), (["v3 is Approved but the log has no approval of v3"], 4)])
def test_registry_verify(monkeypatch, findings, code):
    import airsage.registry as registry

    seen = []
    monkeypatch.setattr(registry, "verify", lambda uc: seen.append(uc.name) or _Verify(findings))
    rc, out, err = run(["registry", "verify", "--usecase", "credit_risk"])
    assert (rc, seen) == (code, ["credit_risk"])
    assert out.startswith("registry of credit_risk")
    if findings:
        assert "FINDING: v3 is Approved but the log has no approval of v3" in out
        assert "v3 is Approved" in err and "\nFix: " in err
    rc, out, _ = run(["registry", "verify", "--usecase", "credit_risk", "--json"])
    assert rc == code and json.loads(out) == {"ok": not findings, "findings": findings}


def test_registry_import(monkeypatch):
    from airsage.lifecycle import importer

    class Rep:
        def render(self):
            return "Imported s3://b/model.tar.gz (xgboost) as models:/credit_risk/9: PendingManualApproval"

        def to_dict(self):
            return {"version": "9"}

    calls = []
    monkeypatch.setattr(importer, "import_model", lambda uc, uri, **kw: calls.append((uc.name, uri, kw)) or Rep())
    monkeypatch.setattr(getpass, "getuser", lambda: "dave")
    rc, out, _ = run(["registry", "import", "--usecase", "credit_risk", "--model-data", "s3://b/model.tar.gz",
                      "--framework", "sklearn", "--dataset", "ds-000000000001"])
    assert rc == 0 and out.startswith("Imported s3://b/model.tar.gz")
    assert calls == [("credit_risk", "s3://b/model.tar.gz", {"framework": "sklearn", "actor": "dave",
                                                             "source": "cli:dave", "dataset": "ds-000000000001"})]
    rc, out, _ = run(["registry", "import", "--usecase", "credit_risk", "--model-data", "m.tar.gz", "--json"])
    assert rc == 0 and json.loads(out) == {"version": "9"} and calls[-1][2]["framework"] == "xgboost"


def test_lineage_and_dashboard_rebuild(monkeypatch):
    import sys

    import airsage.dashboard as dashboard

    lineage_mod = sys.modules["airsage.dashboard.lineage"]  # the package's `lineage` is the function

    calls = []
    monkeypatch.setattr(lineage_mod, "lineage",
                        lambda uc, iid, partition=None: calls.append((uc.name, iid, partition)) or {"partition": "d"})
    monkeypatch.setattr(dashboard, "rebuild", lambda uc: calls.append(uc.name) or {"versions": 2})
    rc, out, _ = run(["lineage", "--usecase", "credit_risk", "--inference-id", "app-1", "--partition", "2026-11-21"])
    assert rc == 0 and json.loads(out) == {"partition": "d"}
    rc, out, _ = run(["dashboard", "rebuild", "--usecase", "credit_risk"])
    assert rc == 0 and json.loads(out) == {"versions": 2}
    assert calls == [("credit_risk", "app-1", "2026-11-21"), "credit_risk"]


# ------------------------------------------------------------------ transform: standalone, partial, --force
class _Exact:
    """P(positive) = x1 / 10: the golden scores are computed by hand below."""

    def predict_proba(self, x):
        p = np.clip(np.asarray(x, dtype=np.float64)[:, 0] / 10, 0, 1)
        return np.column_stack([1 - p, p])


@pytest.fixture
def served(monkeypatch, tmp_path):
    """A registry that serves ``models:/no_such_usecase/1`` (a model with no use-case file) and no use cases."""
    from airsage.model import ModelBundle
    from airsage.registry import ModelRegistry

    bundle = ModelBundle(algorithm="exact", feature_names=["x1", "x2"], categorical={}, threshold=0.5,
                         estimator=_Exact())

    class Resolved:
        name, version = "no_such_usecase", "1"

        def load_bundle(self):
            return bundle

    class Registry:
        def resolve(self, uri, require_approved=True):
            assert require_approved
            return Resolved()

    monkeypatch.setattr(ModelRegistry, "from_settings", classmethod(lambda cls, *a, **k: Registry()))
    (tmp_path / "ucs").mkdir()
    monkeypatch.setenv("AIRSAGE__USECASES_DIR", str(tmp_path / "ucs"))
    return tmp_path


TX = ["transform", "--model-uri", "models:/no_such_usecase/1", "--content-type", "text/csv"]


def test_standalone_transform_needs_no_usecase_file(served):
    src = served / "in"
    src.mkdir()
    (src / "a.csv").write_text("2,0\n7,1\n")
    rc, out, err = run([*TX, "--input", str(src), "--output", str(served / "out")])
    assert rc == 0, err
    report = json.loads(out)
    assert (report["files_in"], report["files_out"], report["records_out"]) == (1, 1, 2)
    rows = (served / "out" / "a.csv.out").read_text().splitlines()
    cells = [r.split(",") for r in rows]  # inference_id, model_name, model_version, predicted_label, score
    assert [c[1:4] for c in cells] == [["no_such_usecase", "1", "0"], ["no_such_usecase", "1", "1"]]
    assert [float(c[4]) for c in cells] == pytest.approx([0.2, 0.7])  # x1 / 10
    assert cells[0][0] != cells[1][0] and all(c[0].endswith(f"-{i}") for i, c in enumerate(cells))  # derived ids


def test_transform_with_a_failed_file_exits_3_naming_it_after_publishing_the_good_one(served):
    src = served / "in"
    src.mkdir()
    (src / "a.csv").write_text("2,0\n")
    (src / "b.csv").write_text("1,1\nnot,a number\n")
    rc, out, err = run([*TX, "--input", str(src), "--output", str(served / "out")])
    assert rc == 3, err
    assert "1 of 2 input file(s) failed" in err and "failed: b.csv, line 2" in err and "\nFix: " in err
    report = json.loads(out)
    assert report["files_failed"] == 1 and report["failures"][0]["relative_path"] == "b.csv"
    assert (served / "out" / "a.csv.out").exists() and not (served / "out" / "b.csv.out").exists()


def test_transform_force_moves_a_foreign_output_aside(served):
    src = served / "in"
    src.mkdir()
    (src / "a.csv").write_text("2,0\n")
    out_dir = served / "out"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("someone's")
    rc, _, err = run([*TX, "--input", str(src), "--output", str(out_dir)])
    assert rc == 2 and "did not publish" in err and "--force" in err
    rc, _, err = run([*TX, "--input", str(src), "--output", str(out_dir), "--force"])
    assert rc == 0, err
    (aside,) = [p for p in served.iterdir() if p.name.startswith("out.replaced-")]
    assert (aside / "notes.txt").read_text() == "someone's" and (out_dir / "a.csv.out").exists()
    rc, _, err = run([*TX, "--input", str(src), "--output", str(src / "x"), "--force"])  # overlap: never
    assert rc == 2 and "the input" in err


def test_an_explicit_unknown_usecase_is_still_refused(served):
    (served / "in").mkdir()
    (served / "in" / "a.csv").write_text("2,0\n")
    rc, _, err = run([*TX, "--usecase", "nope", "--input", str(served / "in"), "--output", str(served / "out")])
    assert rc == 2 and "unknown use case 'nope'" in err and "\nFix: " in err


def test_monitor_and_clarify_take_force(served):
    data = served / "data"
    data.mkdir()
    (data / "d.csv").write_text("x1,x2\n" + "".join(f"{i},{i % 3}\n" for i in range(30)))
    keep = served / "keep"
    keep.mkdir()
    (keep / "mine.txt").write_text("keep")
    rc, _, err = run(["monitor", "suggest-baseline", "--dataset", str(data), "--output", str(keep)])
    assert rc == 2 and "did not publish" in err
    rc, out, err = run(["monitor", "suggest-baseline", "--dataset", str(data), "--output", str(keep), "--force"])
    assert rc == 0, err
    assert Path(json.loads(out)["constraints"]) == keep / "constraints.json" and (keep / "constraints.json").exists()
    assert json.loads((keep / "_SUCCESS").read_text())["kind"] == "baseline"
    rc, _, err = run(["monitor", "analyze", "--dataset", str(data), "--baseline", str(keep), "--output",
                      str(keep / "run"), "--force"])
    assert rc == 2 and "the input" in err  # inside the baseline: refused even with --force
    rc, _, err = run(["clarify", "--analysis-config", str(served / "none.json"), "--dataset", str(data),
                      "--output", str(data), "--force"])
    assert rc == 2 and "the input" in err  # checked before the config is read
