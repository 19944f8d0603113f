"""Fidelity on the shapes of real Model Monitor inputs, and bad inputs that must end in an error with a
fix (never a traceback) or in a finding (never silence)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airsage.errors import DataValidationError
from airsage.entrypoints import monitor as job
from airsage.monitor.baseline import suggest_baseline
from airsage.monitor.checks import analyze

ENV = ("AIRSAGE_MONITOR_MODE", "analysis_type", "dataset_format", "dataset_source", "output_path",
       "baseline_statistics", "baseline_constraints", "AIRSAGE_MONITOR_FEATURES", "AIRSAGE_MONITOR_EXCLUDE",
       "AIRSAGE_USECASE", "AIRSAGE_MONITOR_COLUMNS", "AIRSAGE_MONITOR_CLARIFY_BASELINE")


@pytest.fixture()
def opt_ml(tmp_path, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(tmp_path))
    return tmp_path


def _baseline_frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    # the shape of Model Monitor's sample data: numeric columns, a small integer column, no header in the capture
    return pd.DataFrame({"age": rng.integers(18, 80, n), "income": np.round(rng.lognormal(10, 0.5, n), 2),
                         "balance": np.round(rng.random(n), 4), "n_cards": rng.integers(0, 6, n)})


def _install_baseline(opt_ml, df):
    stats, cons = suggest_baseline(df)
    base = opt_ml / "processing" / "baseline"
    for kind, doc in (("statistics", stats), ("constraints", cons)):
        (base / kind).mkdir(parents=True, exist_ok=True)
        (base / kind / f"{kind}.json").write_text(json.dumps(doc))
    return stats, cons


def _write_dataset(opt_ml, text: str | bytes, name="part-0.csv"):
    d = opt_ml / "processing" / "input" / "dataset"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return d


def _violations(opt_ml):
    return json.loads((opt_ml / "processing" / "output" / "constraint_violations.json").read_text())["violations"]


def _failure(opt_ml) -> str:
    with pytest.raises(SystemExit) as exc:
        job.main()
    assert exc.value.code == 1
    return (opt_ml / "output" / "failure").read_text()


def test_headerless_csv_is_read_with_the_baseline_column_names(opt_ml, monkeypatch):
    df = _baseline_frame()
    _install_baseline(opt_ml, df)
    _write_dataset(opt_ml, _baseline_frame(2000, seed=1).to_csv(index=False, header=False))
    monkeypatch.setenv("dataset_format", '{"csv": {"header": false}}')
    job.main()
    assert _violations(opt_ml) == []  # no false missing/extra columns, no drift
    stats = json.loads((opt_ml / "processing" / "output" / "statistics.json").read_text())
    assert [f["name"] for f in stats["features"]] == list(df.columns)
    assert stats["dataset"]["item_count"] == 2000  # the first row is data, not a header


def test_a_header_that_does_not_match_is_refused_never_read_as_data(opt_ml, monkeypatch):
    _install_baseline(opt_ml, _baseline_frame())
    _write_dataset(opt_ml, _baseline_frame(50, seed=1).to_csv(index=False, header=False))  # no header row...
    monkeypatch.setenv("dataset_format", '{"csv": {"header": true}}')  # ...but declared with one
    text = _failure(opt_ml)
    assert "does not name the baseline's columns" in text and "Fix:" in text and '"header": false' in text
    assert not (opt_ml / "processing" / "output" / "constraint_violations.json").exists()


def test_a_header_row_declared_headerless_is_refused(opt_ml, monkeypatch):
    _install_baseline(opt_ml, _baseline_frame())
    _write_dataset(opt_ml, _baseline_frame(50, seed=1).to_csv(index=False))
    monkeypatch.setenv("dataset_format", '{"csv": {"header": false}}')
    assert "the first row is the header" in _failure(opt_ml)


def test_headerless_csv_with_another_column_count_is_refused(opt_ml, monkeypatch):
    _install_baseline(opt_ml, _baseline_frame())
    _write_dataset(opt_ml, _baseline_frame(50, seed=1).drop(columns=["n_cards"]).to_csv(index=False, header=False))
    monkeypatch.setenv("dataset_format", '{"csv": {"header": false}}')
    text = _failure(opt_ml)
    assert "has 3 columns, the baseline 4" in text and "Fix:" in text


def test_non_numeric_value_counts_once_as_a_type_violation():
    base = _baseline_frame()
    stats, cons = suggest_baseline(base)
    cur = _baseline_frame(1000, seed=2).astype({"income": object})
    cur.loc[cur.index[:300], "income"] = "n/a"  # 30 % text in a numeric column
    rep = analyze(cur, stats, cons)
    kinds = [(v.feature_name, v.constraint_check_type) for v in rep.violations if v.feature_name == "income"]
    assert ("income", "data_type_check") in kinds and ("income", "completeness_check") not in kinds
    (fc,) = [f for f in rep.features if f.name == "income"]
    assert fc.completeness == 1.0 and fc.type_match == pytest.approx(0.7)
    common = [f for f in rep.statistics["features"] if f["name"] == "income"][0]["numerical_statistics"]["common"]
    assert common == {"num_present": 1000, "num_missing": 0}


def test_inferred_type_agrees_with_the_fractional_share_of_the_same_run():
    base = _baseline_frame()
    stats, cons = suggest_baseline(base)
    cur = _baseline_frame(1000, seed=3).astype({"n_cards": float})
    cur.loc[cur.index[:900], "n_cards"] += 0.5  # 90 % fractional
    rep = analyze(cur, stats, cons)
    (feat,) = [f for f in rep.statistics["features"] if f["name"] == "n_cards"]
    (fc,) = [f for f in rep.features if f.name == "n_cards"]
    assert feat["inferred_type"] == "Fractional"
    assert fc.type_match == pytest.approx(0.1)
    # whole numbers in a float column (a NaN made pandas promote them) are Integral, as the check counts them
    whole = _baseline_frame(1000, seed=4).astype({"n_cards": float})
    whole.loc[whole.index[0], "n_cards"] = np.nan
    rep2 = analyze(whole, stats, cons)
    (feat2,) = [f for f in rep2.statistics["features"] if f["name"] == "n_cards"]
    assert feat2["inferred_type"] == "Integral"
    assert "data_type_check" not in {v.constraint_check_type for v in rep2.violations}


# ---------------------------------------------------------------------------------------------- bad inputs
def test_zero_byte_csv_is_an_error_with_a_fix(opt_ml, monkeypatch):
    _install_baseline(opt_ml, _baseline_frame())
    _write_dataset(opt_ml, b"")
    monkeypatch.setenv("dataset_format", '{"csv": {"header": true}}')
    text = _failure(opt_ml)
    # job_main writes an AirsageError as its message and Fix: line, without the type name
    assert text.startswith("Validation of") and "0 bytes" in text and "Fix:" in text


def test_missing_dataset_is_an_error_with_a_fix(opt_ml, monkeypatch):
    _install_baseline(opt_ml, _baseline_frame())
    monkeypatch.setenv("dataset_source", str(opt_ml / "nowhere"))
    text = _failure(opt_ml)
    assert "does not exist" in text and "Fix:" in text


def test_truncated_constraints_is_an_error_with_a_fix(opt_ml, monkeypatch):
    _install_baseline(opt_ml, _baseline_frame())
    cons = opt_ml / "processing" / "baseline" / "constraints" / "constraints.json"
    cons.write_text(cons.read_text()[:100])
    _write_dataset(opt_ml, _baseline_frame(50).to_parquet(index=False), name="part-0.parquet")
    text = _failure(opt_ml)
    assert "not valid JSON" in text and "Fix:" in text and "suggest-baseline" in text


def test_ragged_csv_is_an_error_with_a_fix():
    from airsage.monitor._data import csv_chunks

    import tempfile, os  # noqa: E401

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.csv")
        with open(path, "w") as fh:
            fh.write("a,b\n1,2\n3,4,5,6\n")
        with pytest.raises(DataValidationError, match="not a readable CSV") as exc:
            list(csv_chunks([path], columns=["a", "b"]))
        assert exc.value.fix


def test_zero_row_partition_is_a_finding():
    stats, cons = suggest_baseline(_baseline_frame())
    rep = analyze(_baseline_frame().iloc[:0], stats, cons)
    assert [v.constraint_check_type for v in rep.violations] == ["empty_dataset_check"]
    assert rep.violations[0].feature_name == "(dataset)"


def test_infinite_values_are_a_finding():
    stats, cons = suggest_baseline(_baseline_frame())
    cur = _baseline_frame(2000, seed=5).astype({"income": float})
    cur.loc[cur.index[:100], "income"] = np.inf  # 5 %
    rep = analyze(cur, stats, cons)
    (v,) = [v for v in rep.violations if v.constraint_check_type == "non_finite_check"]
    assert v.feature_name == "income" and "100 of 2000 values (5.0%)" in v.description
    json.dumps(rep.statistics, allow_nan=False)


def test_monitor_data_alerts_on_an_empty_partition_and_on_infinities():
    from airsage.monitor.data_monitor import monitor_data

    stats, cons = suggest_baseline(_baseline_frame())
    assert monitor_data(_baseline_frame().iloc[:0], stats, cons).alert
    cur = _baseline_frame(2000, seed=6).astype({"income": float})
    cur.loc[cur.index[:100], "income"] = -np.inf
    report = monitor_data(cur, stats, cons)
    assert report.alert and report.summary()["violations_by_type"].get("non_finite_check") == 1


def test_read_baseline_of_a_truncated_constraints_file_names_the_fix(tmp_path):
    from airsage.monitor.baseline import read_baseline, write_baseline

    write_baseline(str(tmp_path / "b"), *suggest_baseline(_baseline_frame(200)))
    (tmp_path / "b" / "constraints.json").write_text('{"version": 0.0, "features": [{"na')
    with pytest.raises(DataValidationError, match="not valid JSON") as exc:
        read_baseline(str(tmp_path / "b"))
    assert "suggest-baseline" in exc.value.fix
