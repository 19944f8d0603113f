"""run_analysis: Clarify's output layout, the report, dataset formats, and the processing-job entry point."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from airsage.clarify.runner import run_analysis
from airsage.errors import ConfigError
from clarify_testkit import TinyModel, mixed_frame, smclarify_report

FEATURES = ["f1", "f2", "age", "cnt"]


@pytest.fixture(scope="module")
def data():
    df = mixed_frame(600, seed=11)
    df.insert(0, "rid", [f"r{i:04d}" for i in range(len(df))])
    return df.drop(columns=["score", "yhat"])


@pytest.fixture(scope="module")
def model(data):
    return TinyModel(data, FEATURES, "y", rounds=15)


def config(**extra):
    cfg = {"dataset_type": "application/x-parquet", "label": "y", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "cat", "value_or_threshold": ["p"]}, {"name_or_index": "age",
                                                                             "value_or_threshold": [40]}],
           "group_variable": "grp", "joinsource_name_or_index": "rid", "excluded_columns": ["cat", "grp"],
           "probability_threshold": 0.4,
           "methods": {"pre_training_bias": {"methods": "all"}, "post_training_bias": {"methods": "all"},
                       "shap": {"save_local_shap_values": True}, "report": {"name": "report", "title": "Test"}}}
    cfg.update(extra)
    return cfg


class _Html(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.stack, self.errors = {}, [], []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag not in ("meta", "line", "rect", "circle", "br", "img"):
            self.stack.append(tag)
        if tag in ("script", "link", "img") or any(k in ("src", "href") for k, _ in attrs):
            self.errors.append(f"external asset: {tag} {attrs}")

    def handle_endtag(self, tag):
        if tag in ("line", "rect", "circle"):
            return
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")


def test_layout_keys_and_values(tmp_path, data, model):
    out = tmp_path / "out"
    res = run_analysis(config(), data, str(out), model=model)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "_SUCCESS", "analysis.json", "explanations_shap/out.csv", "report.html"]
    analysis = json.loads((out / "analysis.json").read_text())
    assert list(analysis) == ["version", "pre_training_bias_metrics", "post_training_bias_metrics", "explanations",
                              "airsage"]
    pre = analysis["pre_training_bias_metrics"]
    assert pre["label"] == "y" and pre["label_value_or_threshold"] == "1"
    assert list(pre["facets"]) == ["cat", "age"] and pre["facets"]["age"][0]["value_or_threshold"] == "(40, 79]"
    # the pre-training block is smclarify's report for the same inputs
    ref = smclarify_report(data.drop(columns=["grp", "rid"]), "cat", ["p"], "y", [1], "pre", group=data["grp"])
    assert pre["facets"]["cat"] == ref
    # post-training with the model's scores > probability_threshold; FT on the numeric features
    pred = data.assign(yhat=(model.predict_proba(data) > 0.4).astype(int))
    ref = smclarify_report(pred[FEATURES + ["y", "yhat"]], "age", [40], "y", [1], "post", "yhat", data["grp"])
    assert analysis["post_training_bias_metrics"]["facets"]["age"] == ref
    label0 = analysis["explanations"]["kernel_shap"]["label0"]
    assert list(label0) == ["global_shap_values", "expected_value"] and list(label0["global_shap_values"]) == FEATURES
    assert analysis["airsage"]["shap_method"] == "tree_shap" and analysis["airsage"]["shap_records"] == len(data)
    local = pd.read_csv(out / "explanations_shap" / "out.csv")
    assert list(local.columns) == ["rid"] + [f"{f}_label0" for f in FEATURES]
    assert local.rid.tolist() == data.rid.tolist()  # one row per record, input order
    margin = np.log(model.predict_proba(data) / (1 - model.predict_proba(data)))
    np.testing.assert_allclose(local.iloc[:, 1:].sum(axis=1) + label0["expected_value"], margin, atol=1e-4)
    assert np.mean(np.abs(local.iloc[:, 1:]), axis=0).to_numpy() == pytest.approx(
        list(label0["global_shap_values"].values()))
    assert res.to_dict()["records"] == len(data) and res.shap_method == "tree_shap"


def test_report_html_is_valid_and_self_contained(tmp_path, data, model):
    out = tmp_path / "out"
    run_analysis(config(), data, str(out), model=model)
    parser = _Html()
    text = (out / "report.html").read_text()
    parser.feed(text)
    assert parser.errors == [] and parser.stack == []
    assert parser.tags["svg"] >= 4 and parser.tags["circle"] > 100  # bars per facet, importance, beeswarm
    assert "Disparate impact" in text and "four-fifths" in text and "Top contributions" in text


def test_rerun_replaces_output_and_predicted_label_needs_no_model(tmp_path, data):
    out = tmp_path / "out"
    frame = data.assign(yhat=(data.f1 > 0).astype(int))
    cfg = config(predicted_label="yhat")
    cfg["methods"] = {"post_training_bias": {"methods": ["DI", "DPPL"]}}
    run_analysis(config(), data, str(out), model=TinyModel(data, FEATURES, "y", rounds=2))
    res = run_analysis(cfg, frame, str(out))
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["_SUCCESS", "analysis.json"]
    assert res.shap_method is None
    ref = smclarify_report(frame[["cat", "y", "yhat"]], "cat", ["p"], "y", [1], "post", "yhat", metrics=["DI", "DPPL"])
    assert res.analysis["post_training_bias_metrics"]["facets"]["cat"] == ref


def test_missing_model_is_a_config_error(tmp_path, data):
    with pytest.raises(ConfigError, match="need a model"):
        run_analysis(config(), data, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_csv_with_headers_and_jsonlines(tmp_path, data):
    cols = ["rid", "f1", "cat", "y"]
    (tmp_path / "csv").mkdir()
    data[cols].to_csv(tmp_path / "csv" / "part-0.csv", header=False, index=False)
    cfg = {"dataset_type": "text/csv", "headers": cols, "label": 3, "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "cat"}], "joinsource_name_or_index": "rid",
           "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]}}}
    res = run_analysis(cfg, str(tmp_path / "csv"), str(tmp_path / "o1"))
    assert [e["value_or_threshold"] for e in res.analysis["pre_training_bias_metrics"]["facets"]["cat"]] == \
        list(data.cat.unique())
    lines = [json.dumps({"data": {"features": [r.f1, r.cat]}, "target": int(r.y)}) for r in data.itertuples()]
    (tmp_path / "jl").mkdir()
    (tmp_path / "jl" / "part.jsonl").write_text("\n".join(lines) + "\n")
    cfg_jl = {"dataset_type": "application/jsonlines", "features": "data.features", "headers": ["f1", "cat"],
              "label": "target", "label_values_or_threshold": [1], "facet": [{"name_or_index": "cat"}],
              "methods": {"pre_training_bias": {"methods": ["CI", "DPL"]}}}
    res_jl = run_analysis(cfg_jl, str(tmp_path / "jl"), str(tmp_path / "o2"))
    assert res_jl.analysis["pre_training_bias_metrics"]["facets"] == res.analysis["pre_training_bias_metrics"][
        "facets"]


def test_kernel_explainer_and_sampled_rows(tmp_path, data, model):
    cfg = config(excluded_columns=["cat", "grp"])
    cfg["methods"] = {"shap": {"explainer": "kernel", "num_clusters": 3, "num_samples": 40, "seed": 1,
                               "save_local_shap_values": True, "agg_method": "mean_sq"}}
    res = run_analysis(cfg, data, str(tmp_path / "out"), model=model, max_shap_rows=5)
    local = pd.read_csv(tmp_path / "out" / "explanations_shap" / "out.csv")
    assert len(local) == 5 and local.rid.is_monotonic_increasing
    assert res.analysis["airsage"]["shap_method"] == "kernel_shap"
    assert res.analysis["airsage"]["shap_output_space"] == "probability"
    proba = model.predict_proba(data.set_index("rid").loc[local.rid].reset_index())
    np.testing.assert_allclose(local.iloc[:, 1:].sum(axis=1)
                               + res.analysis["explanations"]["kernel_shap"]["label0"]["expected_value"], proba,
                               atol=1e-6)


def test_processing_job_entry_point(tmp_path, monkeypatch, data):
    from airsage.entrypoints import clarify as job

    opt = tmp_path / "opt_ml"
    (opt / "processing" / "input" / "config").mkdir(parents=True)
    (opt / "processing" / "input" / "data").mkdir(parents=True)
    cfg = {"dataset_type": "application/x-parquet", "label": "y", "label_values_or_threshold": [1],
           "facet": [{"name_or_index": "cat"}], "methods": {"pre_training_bias": {"methods": "all"}}}
    (opt / "processing" / "input" / "config" / "analysis_config.json").write_text(json.dumps(cfg))
    data.to_parquet(opt / "processing" / "input" / "data" / "part-0.parquet")
    monkeypatch.setenv("AIRSAGE_OPT_ML", str(opt))
    assert job.main() == 0
    analysis = json.loads((opt / "processing" / "output" / "analysis.json").read_text())
    assert len(analysis["pre_training_bias_metrics"]["facets"]["cat"]) == 4
    assert not any(p.name.startswith(".clarify-stage") for p in (opt / "processing").iterdir())
    # a bad config: exit 1, the reason in both failure files
    (opt / "processing" / "input" / "config" / "analysis_config.json").write_text(json.dumps({**cfg, "lable": 1}))
    assert job.main() == 1
    for failure in (opt / "output" / "failure", opt / "processing" / "output" / "failure"):
        assert "unknown key 'lable'" in failure.read_text()
