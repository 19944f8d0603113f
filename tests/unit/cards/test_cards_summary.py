"""The approval summary: links to the evidence, the labelled baseline column, the two warnings."""
from __future__ import annotations

import pytest

from airsage.cards.summary import approval_summary_markdown
from airsage.registry.types import RegisteredVersion


def version(n, metrics, aliases=(), **tags):
    return RegisteredVersion(name="m", version=str(n), status="PendingManualApproval", aliases=list(aliases),
                             run_id=f"run{n}", tags={"registered_by": "airflow", **tags}, metrics=metrics,
                             created_at="2026-01-01T00:00:00+00:00")


class FakeRegistry:
    def __init__(self, versions, champion=None, base="http://mlflow.example:5000"):
        self.versions, self._champion, self.base = {v.version: v for v in versions}, champion, base

    def get_version(self, name, v):
        return self.versions[str(v)]

    def champion(self, name):
        return self.versions.get(self._champion) if self._champion else None

    def mlflow_version_url(self, name, v):
        return f"{self.base}/#/models/{name}/versions/{v}" if self.base else None


@pytest.fixture(scope="module")
def uc():
    from airsage.config import get_usecase

    return get_usecase("credit_risk").model_copy(update={"model_name": "m"})


def test_links_to_mlflow_model_card_and_clarify_report(uc):
    reg = FakeRegistry([version(1, {"auc": 0.8, "baseline_auc": 0.7}, model_card_html_uri="https://cards/1.html",
                                clarify_report_uri="s3://b/reports/clarify/r1/post_training/report.html")])
    md = approval_summary_markdown(uc, 1, reg)
    assert "[MLflow version 1](http://mlflow.example:5000/#/models/m/versions/1)" in md
    assert "[model card](https://cards/1.html)" in md
    assert "Clarify report: `s3://b/reports/clarify/r1/post_training/report.html`" in md
    md = approval_summary_markdown(uc, 1, reg, clarify_report_url="http://ui/clarify.html")
    assert "[Clarify report](http://ui/clarify.html)" in md


def test_no_mlflow_url_says_how_to_get_one(uc):
    md = approval_summary_markdown(uc, 1, FakeRegistry([version(1, {"auc": 0.8})], base=None))
    assert "AIRSAGE__MLFLOW_UI_URL" in md


def test_baseline_column_is_labelled_and_a_losing_candidate_is_flagged(uc):
    reg = FakeRegistry([version(1, {"auc": 0.71, "baseline_auc": 0.74, "recall": 0.6, "baseline_recall": 0.5})])
    md = approval_summary_markdown(uc, 1, reg)
    assert "| metric | this version | logistic-regression baseline |" in md
    assert "does not beat the logistic-regression baseline on AUC** (0.7100 vs 0.7400)" in md
    winner = FakeRegistry([version(1, {"auc": 0.80, "baseline_auc": 0.74})])
    assert "does not beat" not in approval_summary_markdown(uc, 1, winner)


def test_a_challenger_equal_to_the_champion_is_flagged(uc):
    same = {"auc": 0.8, "baseline_auc": 0.7, "recall": 0.6}
    reg = FakeRegistry([version(1, same, aliases=["champion"]), version(2, dict(same))], champion="1")
    md = approval_summary_markdown(uc, 2, reg)
    assert "every metric equals champion v1's" in md and "| champion v1 |" in md
    differs = FakeRegistry([version(1, same, aliases=["champion"]), version(2, {**same, "recall": 0.61})],
                           champion="1")
    assert "equals champion" not in approval_summary_markdown(uc, 2, differs)
