"""analysis_config.json parsing/validation, the bias gate and the use-case config builder."""
from __future__ import annotations

import copy

import pytest

from airsage.clarify.analysis_config import AnalysisConfig
from airsage.clarify.gates import analysis_config_for_usecase
from airsage.training.gates import check_bias_thresholds  # the one bias gate
from airsage.errors import ConfigError

DG_EXAMPLE = {"dataset_type": "text/csv", "label": "Target", "label_values_or_threshold": [1],
              "facet": [{"name_or_index": "Gender", "value_or_threshold": [0]}],
              "methods": {"pre_training_bias": {"methods": "all"}, "post_training_bias": {"methods": "all"}},
              "predictor": {"endpoint_name": "your_endpoint", "label": 0}}


def test_parses_the_developer_guide_example_and_round_trips():
    cfg = AnalysisConfig.parse(DG_EXAMPLE)
    assert cfg.facet[0].name_or_index == "Gender" and cfg.facet[0].value_or_threshold == (0,)
    assert cfg.post_training_bias.methods == "all" and cfg.probability_threshold == 0.5
    assert cfg.predictor == {"endpoint_name": "your_endpoint", "label": 0}
    assert AnalysisConfig.parse(cfg.to_dict()) == cfg


def test_shap_section():
    cfg = AnalysisConfig.parse({"dataset_type": "application/x-parquet", "methods": {"shap": {
        "baseline": [[1, 2], [3, 4]], "num_samples": 100, "agg_method": "median", "use_logit": True,
        "save_local_shap_values": True, "seed": 7}, "report": {"name": "rep", "title": "T"}}})
    assert cfg.shap.baseline == ((1, 2), (3, 4)) and cfg.shap.agg_method == "median" and cfg.report_name == "rep"
    assert AnalysisConfig.parse(cfg.to_dict()) == cfg


@pytest.mark.parametrize("mutate,key,match", [
    (lambda c: c.update(lable="x"), "lable", "unknown key"),
    (lambda c: c.update(dataset_type="application/x-image"), "dataset_type", "not supported"),
    (lambda c: c.update(dataset_type="text/tsv"), "dataset_type", "unknown dataset_type"),
    (lambda c: c.pop("methods"), "methods", "required"),
    (lambda c: c.update(methods={}), "methods", "no analysis"),
    (lambda c: c["methods"].update(pdp={"grid_resolution": 5}), "methods.pdp", "does not support"),
    (lambda c: c["methods"].update(pre_training_bias={"methods": ["DI"]}), "methods.pre_training_bias.methods",
     "invalid"),
    (lambda c: c["methods"].update(shap={"agg_method": "max"}), "methods.shap.agg_method", "unknown agg_method"),
    (lambda c: c["methods"].update(shap={"baseline": [[1]], "num_clusters": 3}), "methods.shap.num_clusters",
     "mutually exclusive"),
    (lambda c: c["methods"].update(shap={"num_clusters": 20}), "methods.shap.num_clusters", "outside"),
    (lambda c: c["methods"].update(shap={"use_logit": "yes"}), "methods.shap.use_logit", "must be bool"),
    (lambda c: c.pop("label"), "label", "needs the label"),
    (lambda c: c.update(facet=[]), "facet", "at least one facet"),
    (lambda c: c.update(facet=[{"name": "Gender"}]), "facet[0].name", "unknown key"),
    (lambda c: c.update(label_values_or_threshold=[{"a": 1}]), "label_values_or_threshold", "numbers or strings"),
    (lambda c: c.update(segment_config=[]), "segment_config", "does not support"),
    (lambda c: c["predictor"].update(endpoint="x"), "predictor.endpoint", "unknown key"),
    (lambda c: c.update(dataset_type="application/jsonlines"), "features", "required"),
    (lambda c: c.update(version="2.0"), "version", "unsupported version"),
])
def test_invalid_configs_name_the_key_and_the_fix(mutate, key, match):
    cfg = copy.deepcopy(DG_EXAMPLE)
    mutate(cfg)
    with pytest.raises(ConfigError, match=match) as info:
        AnalysisConfig.parse(cfg, source="analysis_config.json")
    assert info.value.key == key
    assert info.value.fix and "analysis_config.json" in str(info.value)


def test_not_json():
    with pytest.raises(ConfigError, match="not valid JSON"):
        AnalysisConfig.parse("{oops")


# --------------------------------------------------------------------------- gates
ANALYSIS = {"version": "1.0",
            "pre_training_bias_metrics": {"label": "y", "label_value_or_threshold": "1", "facets": {"sex": [
                {"value_or_threshold": "female", "metrics": [
                    {"name": "CI", "description": "Class Imbalance (CI)", "value": 0.04},
                    {"name": "DPL", "description": "d", "value": -0.3}]}]}},
            "post_training_bias_metrics": {"label": "y", "label_value_or_threshold": "1", "facets": {"sex": [
                {"value_or_threshold": "female", "metrics": [
                    {"name": "DI", "description": "Disparate Impact (DI)", "value": 0.7},
                    {"name": "TE", "description": "t", "value": "Infinity"},
                    {"name": "FT", "description": "f", "value": None, "error": "FlipTest does not support"}]}]}}}


def test_bias_gate_checks_every_entry():
    checks = check_bias_thresholds(ANALYSIS, {"CI": 0.1, "DPL": 0.2, "DI": 0.2, "TE": 5, "FT": 0.1})
    by = {c["metric"]: c for c in checks}
    assert by["CI"]["passed"] and not by["DPL"]["passed"]
    assert by["DI"]["checked_value"] == pytest.approx(0.3) and not by["DI"]["passed"]  # |DI - 1| > 0.2
    assert not by["TE"]["passed"] and not by["FT"]["passed"] and by["FT"]["error"]
    assert by["CI"] == {"stage": "pre_training", "metric": "CI", "facet": "sex", "value_or_threshold": "female",
                        "value": 0.04, "checked_value": 0.04, "bound": 0.1, "passed": True}
    with pytest.raises(ConfigError, match="unknown bias metric"):
        check_bias_thresholds(ANALYSIS, {"XX": 1})


def test_analysis_config_for_the_bundled_use_case_is_valid():
    from airsage.config import get_usecase

    uc = get_usecase("credit_risk")
    cfg = analysis_config_for_usecase(uc, stage="all", shap=True)
    parsed = AnalysisConfig.parse(cfg)
    assert parsed.label == "default" and parsed.label_values_or_threshold == (1,)
    assert [f.name_or_index for f in parsed.facet] == ["sex", "age_group"]
    assert parsed.facet[0].value_or_threshold == ("female",) and parsed.group_variable == "region"
    assert parsed.joinsource_name_or_index == "application_id"
    assert set(parsed.excluded_columns) == {"event_ts", "sex", "age_group"}
    assert parsed.shap.save_local_shap_values and parsed.pre_training_bias and parsed.post_training_bias
    pre_only = AnalysisConfig.parse(analysis_config_for_usecase(uc, stage="pre", shap=False))
    assert pre_only.post_training_bias is None and pre_only.shap is None
