"""Model cards: SageMaker content keys, values from the registry, bias/explainability, approval history, HTML."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from airsage.cards import (CONTENT_KEYS, approval_summary_markdown, build_model_card, render_model_card_html,
                           sagemaker_content)


@pytest.fixture(scope="module")
def card(card_registry, card_uc):
    reg, v1, _ = card_registry
    return build_model_card(reg, card_uc.registered_model_name, v1, card_uc)


def test_content_follows_the_sagemaker_layout(card):
    assert list(CONTENT_KEYS) == ["model_overview", "intended_uses", "business_details", "training_details",
                                  "evaluation_details", "additional_information"]
    assert set(card) == set(CONTENT_KEYS) | {"airsage"}
    assert set(sagemaker_content(card)) == set(CONTENT_KEYS)
    assert set(card["model_overview"]) <= {"model_id", "model_name", "model_description", "model_version",
                                           "problem_type", "algorithm_type", "model_creator", "model_owner",
                                           "model_artifact", "inference_environment"}
    assert set(card["intended_uses"]) <= {"purpose_of_model", "intended_uses", "factors_affecting_model_efficiency",
                                          "risk_rating", "explanations_for_risk_rating"}
    assert set(card["training_details"]) <= {"objective_function", "training_observations", "training_job_details"}
    for ev in card["evaluation_details"]:
        assert set(ev) <= {"name", "evaluation_observation", "evaluation_job_arn", "datasets", "metadata",
                           "metric_groups"}
        for g in ev["metric_groups"]:
            assert len(g["name"]) <= 63
            for m in g["metric_data"]:
                assert m["type"] in {"number", "string", "boolean", "matrix", "bar_chart", "linear_graph"}
    json.dumps(sagemaker_content(card), allow_nan=False)  # strict JSON: no NaN/inf
    assert all(isinstance(v, str) for v in card["additional_information"]["custom_details"].values())


def test_values_come_from_the_use_case_and_the_registry(card, card_registry, card_uc):
    reg, v1, _ = card_registry
    version = reg.get_version(card_uc.registered_model_name, v1)
    ov = card["model_overview"]
    assert ov["model_name"] == "card_model" and ov["model_version"] == 1 and ov["model_owner"] == "risk-ml-team"
    assert ov["model_creator"] == "airflow:credit_risk__train" and ov["algorithm_type"].startswith("XGBoost")
    assert ov["model_artifact"] == [version.tags["model_artifact_uri"]]
    assert card["intended_uses"]["risk_rating"] == "High"
    assert card["intended_uses"]["intended_uses"].startswith("Rank consumer loan applications")
    td = card["training_details"]
    assert "ds-card" in td["training_observations"] and "2000 rows" in td["training_observations"]
    assert {"name": "num_round", "value": "15"} in td["training_job_details"]["hyper_parameters"]
    held_out = card["evaluation_details"][0]
    metrics = {m["name"]: m["value"] for m in held_out["metric_groups"][0]["metric_data"]}
    assert metrics["auc"] == pytest.approx(version.metrics["auc"])
    groups = {g["name"]: g for g in held_out["metric_groups"]}
    cm = groups["confusion_matrix"]["metric_data"][0]
    assert cm["type"] == "matrix" and sum(map(sum, cm["value"])) == int(version.metrics["n"])
    assert "baseline_logistic_regression" in groups and groups["roc_curve"]["metric_data"][0]["type"] == "linear_graph"
    assert groups["quality_gates"]["metric_data"][0] == {"name": "min_auc", "type": "boolean", "value": True,
                                                         "notes": "auc 0.8 >= 0.7"}


def test_bias_and_explainability_from_the_logged_clarify_analysis(card):
    names = [e["name"] for e in card["evaluation_details"]]
    assert names == ["held-out test split", "bias (SageMaker Clarify)", "explainability (global SHAP)"]
    bias = card["evaluation_details"][1]["metric_groups"]
    post = next(g for g in bias if g["name"] == "post-training sex=female")
    assert {m["name"]: m["value"] for m in post["metric_data"]} == {"DPPL": -0.03}  # DI "Infinity": no number
    summary = card["airsage"]["bias_summary"]
    assert {"stage": "post-training", "facet": "sex", "value_or_threshold": "female",
            "metrics": {"DPPL": -0.03, "DI": None}} in summary
    shap = card["evaluation_details"][2]["metric_groups"][0]["metric_data"][0]
    assert shap["type"] == "bar_chart" and shap["x_axis_name"] == ["credit_score", "income", "loan_amount"]
    assert shap["value"] == [0.08, 0.05, 0.02]


def test_airsage_block_has_status_lineage_and_approval_history(card, card_registry):
    reg, v1, v2 = card_registry
    air = card["airsage"]
    assert air["model_card_status"] == "Approved" and air["registry"]["aliases"] == ["champion"]
    assert [(e["action"], e["actor"]) for e in air["approval_history"]] == [
        ("register", "airflow:credit_risk__train"), ("approve", "alice")]
    assert air["approval_history"][1]["reason"] == "reviewed bias & metrics"
    assert air["lineage"]["dataset_version"] == "ds-card" and len(air["lineage"]["model_artifact_sha256"]) == 64
    assert air["gate_results"][1]["name"] == "max_bias.DPPL"


class _Checker(HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
    SELF_CLOSING_OK = {"line", "polyline", "rect"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags, self.decl = [], [], set(), None

    def handle_decl(self, decl):
        self.decl = decl

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for k, v in attrs:
            if k in ("src", "href") or (v and "url(" in v):
                self.errors.append(f"external reference {k}={v}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
        else:
            self.stack.pop()


def test_html_is_self_contained_balanced_and_escaped(card):
    page = render_model_card_html(card)
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.decl == "DOCTYPE html"
    assert checker.errors == [] and checker.stack == []
    assert {"html", "head", "title", "style", "body", "table", "svg"} <= checker.tags
    assert "script" not in checker.tags
    assert "Default risk &lt;b&gt;scores&lt;/b&gt; &amp; ranking" in page and "<b>scores</b>" not in page
    assert "Approval history" in page and "reviewed bias &amp; metrics" in page


def test_attach_model_card_logs_artifacts_and_tags_the_version(card, card_registry, card_uc):
    reg, v1, _ = card_registry
    html = render_model_card_html(card)
    v = reg.attach_model_card(card_uc.registered_model_name, v1, card, html)
    assert v.tags["model_card_uri"] == f"runs:/{v.run_id}/model_card/model_card.json"
    assert reg.read_run_json(v.name, v1, "model_card/model_card.json")["model_overview"]["model_version"] == 1
    assert v.status == "Approved"  # attaching a card changes no approval state


def test_pending_version_card_and_the_approval_summary(card_registry, card_uc):
    reg, v1, v2 = card_registry
    card = build_model_card(reg, card_uc.registered_model_name, v2, card_uc)
    assert card["airsage"]["model_card_status"] == "PendingReview"
    assert [e["name"] for e in card["evaluation_details"]] == ["held-out test split"]  # no bias logged for v2
    assert "No Clarify bias analysis" in card["additional_information"]["ethical_considerations"]
    md = approval_summary_markdown(card_uc, v2, reg)
    assert md.startswith(f"### card_model version {v2}: PendingManualApproval")
    assert f"champion v{v1} |" in md and "| AUC |" in md and "All quality gates passed." in md
    assert f"v{v1} becomes `previous`" in md
