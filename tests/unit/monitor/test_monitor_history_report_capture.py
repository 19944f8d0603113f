"""Run history (idempotent re-runs), the HTML report, and reading captured data by time window."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsage.data import generator
from airsage.monitor import capture, history
from airsage.monitor.bias_drift import check_attribution_drift
from airsage.monitor.data_monitor import monitor_data
from airsage.monitor.model_quality import binary_classification_metrics
from airsage.monitor.report import render_report, write_report


def test_history_rerun_replaces_and_reads_sorted(tmp_path):
    root = str(tmp_path)
    history.append_run(root, "3", "scheduled__2026-11-02T02:00:00+00:00", {"alert": False, "n_violations": 0},
                       run_time="2026-11-02T02:00:00Z")
    history.append_run(root, "3", "scheduled__2026-11-01T02:00:00+00:00", {"alert": True, "n_violations": 4},
                       run_time="2026-11-01T02:00:00Z")
    history.append_run(root, "4", "manual__x", {"alert": False, "n_violations": 1}, run_time="2026-11-03")
    # the same run again, with new results: replaced, never duplicated
    history.append_run(root, "3", "scheduled__2026-11-02T02:00:00+00:00", {"alert": True, "n_violations": 7},
                       run_time="2026-11-02T02:00:00Z")
    h3 = history.read_history(root, "3")
    assert list(h3["n_violations"]) == [4, 7]
    assert list(h3["run_time"]) == [pd.Timestamp("2026-11-01T02:00Z"), pd.Timestamp("2026-11-02T02:00Z")]
    assert len(list((tmp_path / "monitor" / "history" / "3").iterdir())) == 2
    assert list(history.read_history(root)["model_version"]) == ["3", "3", "4"]
    assert history.read_history(str(tmp_path / "nowhere")).empty


def test_report_is_self_contained_wellformed_html(tmp_path, small_baseline, non_features):
    stats, cons = small_baseline
    current = generator.generate(20_000, seed=41, day="2026-11-12", drift="new_category")
    rep = monitor_data(current, stats, cons, exclude_columns=non_features)
    root = str(tmp_path)
    for i, (alert, share) in enumerate([(False, 0.0), (True, 0.3)]):
        history.append_run(root, "1", f"run{i}", {"alert": alert, "n_violations": i, "drifted_share": share},
                           run_time=f"2026-11-0{i + 1}")
    y = np.r_[np.zeros(150), np.ones(150)]
    mq = binary_classification_metrics(y, np.linspace(0, 1, 300))
    attr = check_attribution_drift({"explanations": {"kernel_shap": {"label0": {"global_shap_values": {"a": 1, "b": 2}}}}},
                                   {"explanations": {"kernel_shap": {"label0": {"global_shap_values": {"a": 2, "b": 1}}}}})
    page = render_report(rep, title="credit_risk <monitor>", history=history.read_history(root, "1"),
                         model_quality=mq, attribution_drift=attr)
    assert page.startswith("<!DOCTYPE html>")
    doc = ET.fromstring(page.split("\n", 1)[1])  # well-formed XML (XHTML-style) after the doctype
    ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
    assert doc.find("h:head/h:title", ns).text == "credit_risk <monitor>"  # escaped, then parsed back
    assert len(doc.findall(".//s:svg", ns)) >= 35 + 1  # one chart per feature + the trend
    assert "ALERT" in page and "loan_purpose" in page and "categorical_values_check" in page
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in page
    uri = write_report(str(tmp_path / "report.html"), page)
    assert open(uri, encoding="utf-8").read() == page


def _write_capture(root, day: str, run_key: str, times: list[str], **cols):
    n = len(times)
    df = pd.DataFrame({"inference_id": [f"{run_key}-{i}" for i in range(n)],
                       "captured_at": pd.to_datetime(times, utc=True),
                       "income": np.arange(n, dtype=float), "score": np.linspace(0, 1, n),
                       "predicted_label": np.arange(n) % 2, "model_name": "m", "model_version": "1", **cols})
    path = root / f"dt={day}" / f"{run_key}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=2)


def test_load_capture_reads_only_the_window(tmp_path):
    _write_capture(tmp_path, "2026-11-01", "r1", ["2026-11-01T01:00", "2026-11-01T23:00", "2026-11-01T23:30"])
    _write_capture(tmp_path, "2026-11-02", "r2", ["2026-11-02T00:00", "2026-11-02T12:00"])
    _write_capture(tmp_path, "2026-11-03", "r3", ["2026-11-03T00:00"])
    (tmp_path / "dt=2026-11-03" / "r3.parquet").write_bytes(b"not parquet")  # never opened: outside the window
    df = capture.load_capture(str(tmp_path), "2026-11-01T23:00", pd.Timestamp("2026-11-03T00:00Z"))
    assert list(df["inference_id"]) == ["r1-1", "r1-2", "r2-0", "r2-1"]
    assert str(df["captured_at"].dt.tz) == "UTC"
    assert capture.partition_days("2026-11-01T23:00", "2026-11-03T00:00") == [
        pd.Timestamp("2026-11-01").date(), pd.Timestamp("2026-11-02").date()]
    cols = capture.load_capture(str(tmp_path), "2026-11-02", "2026-11-03", columns=["inference_id", "score"])
    assert list(cols.columns) == ["inference_id", "score"] and len(cols) == 2
    assert capture.load_capture(str(tmp_path), "2026-12-01", "2026-12-02").empty


def test_capture_stream_feeds_the_monitor(tmp_path, small_baseline):
    stats, cons = small_baseline
    frame = generator.generate(4000, seed=42, day="2026-11-05")
    frame = frame[generator.NUMERIC + generator.CATEGORICAL].assign(
        inference_id=[f"i{i}" for i in range(4000)],
        captured_at=pd.Timestamp("2026-11-05T03:00Z") + pd.to_timedelta(np.arange(4000), unit="s"))
    path = tmp_path / "dt=2026-11-05" / "run.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=1000)
    chunks = capture.iter_capture(str(tmp_path), "2026-11-05", "2026-11-06")
    rep = monitor_data(chunks, stats, cons, exclude_columns=capture.META_COLUMNS)
    assert rep.quality.item_count == 4000 and not rep.alert


@pytest.mark.parametrize("key", ["", "::"])
def test_history_refuses_empty_keys(tmp_path, key):
    from airsage.errors import ConfigError

    with pytest.raises(ConfigError):
        history.append_run(str(tmp_path), "1", key, {})


def _svg(markup: str):
    return ET.fromstring(markup)


def test_bar_chart_has_full_label_tooltips_ticks_and_axis_names():
    from airsage.monitor.report import bar_chart_svg

    svg = bar_chart_svg(["debt_consolidation", "car"], [0.2, 0.4], [0.1, 0.3], title="loan_purpose",
                        x_name="category")
    doc = _svg(svg)
    ns = "{http://www.w3.org/2000/svg}"
    texts = ["".join(t.itertext()) for t in doc.iter(f"{ns}text")]
    assert any(t.startswith("debt_co…") and t.endswith("debt_consolidation") for t in texts)  # short + tooltip
    assert {"0%", "20%", "40%"} <= set(texts)  # 0, 50 % and 100 % of the axis top (the largest share, 40 %)
    assert "category" in texts and "share of rows" in texts


def test_line_chart_has_intermediate_x_ticks_y_ticks_axis_names_and_a_reference():
    from airsage.monitor.report import line_chart_svg

    times = [f"2026-11-{d:02d}" for d in range(1, 21)]
    svg = line_chart_svg(times, {"NDCG": [0.99 - 0.01 * i for i in range(20)]}, title="t", y_name="NDCG",
                         reference=("alert below", 0.9), y_range=(0.0, 1.0))
    ns = "{http://www.w3.org/2000/svg}"
    texts = ["".join(t.itertext()) for t in _svg(svg).iter(f"{ns}text")]
    shown = [t for t in texts if t in times]
    assert shown[0] == times[0] and shown[-1] == times[-1] and 4 <= len(shown) <= 6  # first, last, between
    assert {"0", "0.25", "0.5", "0.75", "1"} <= set(texts) and "NDCG" in texts and "partition (run)" in texts
    assert "alert below: 0.9" in svg


def test_report_header_and_clarify_monitor_sections(tmp_path, small_baseline, non_features):
    stats, cons = small_baseline
    rep = monitor_data(generator.generate(3000, seed=41, day="2026-11-12"), stats, cons, exclude_columns=non_features)
    bias = {"violations": [{"facet": "sex", "facet_value": "female", "metric_name": "DPPL"}], "compared": 2,
            "rows": 3000, "labelled_rows": 0, "bounds": {"DPPL": 0.1},
            "metrics": [{"facet": "sex", "facet_value": "female", "metric": "DPPL", "value": -0.3, "baseline": 0.01,
                         "ideal": 0.0, "limit": 0.1, "violation": True},
                        {"facet": "sex", "facet_value": "female", "metric": "DI", "value": 1.1, "baseline": 1.0,
                         "ideal": 1.0, "limit": None, "violation": False}]}
    attribution = {"ndcg": 0.8, "ndcg_by_label": {"label0": 0.8}, "threshold": 0.9, "shap_records": 2000,
                   "current": {"a": 0.1, "b": 0.5}, "baseline": {"a": 0.6, "b": 0.2}}
    history.append_run(str(tmp_path), "1", "d1", {"alert": True, "n_violations": 1, "attribution_ndcg": 0.8,
                                                  "bias_drift_violations": 1}, run_time="2026-11-01")
    page = render_report(rep, title="t", header={"use case": "credit_risk", "model": "credit-risk version 3",
                                                 "baseline dataset": "ds-abc", "monitor run": "manual__1",
                                                 "partition": "2026-11-21", "date": "2026-11-22 02:00 UTC"},
                         bias_drift=bias, attribution_drift=attribution, history=history.read_history(str(tmp_path)),
                         clarify_skipped={})
    doc = ET.fromstring(page.split("\n", 1)[1])
    ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
    header = {r.find("h:th", ns).text: r.find("h:td", ns).text for r in doc.find(".//h:table", ns).iter(f"{{{ns['h']}}}tr")}
    assert header["baseline dataset"] == "ds-abc" and header["partition"] == "2026-11-21"
    assert "Bias metrics: baseline" in page and "#1 b (was #2)" in page and "#2 a (was #1)" in page
    titles = [t.text for t in doc.iter(f"{{{ns['s']}}}title")]
    assert "Feature attribution drift" in titles and "Violations" in titles  # the trend charts
    skipped = render_report(rep, clarify_skipped={"bias": "no facets"})
    assert "Not run: no facets." in skipped
