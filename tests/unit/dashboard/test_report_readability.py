"""Model-card HTML says whose card it is, ticks and labels its axes and keeps long bar labels readable."""
from __future__ import annotations

from airsage.cards import render_model_card_html

LONG = "debt_to_income_ratio_over_the_last_twelve_months"
CARD = {
    "model_overview": {"model_name": "credit_risk", "model_version": 3},
    "evaluation_details": [{"name": "held-out", "metric_groups": [
        {"name": "roc_curve", "metric_data": [{"name": "roc", "type": "linear_graph", "value": [[0, 0], [0.2, 0.7], [1, 1]],
                                               "x_axis_name": ["false positive rate"], "y_axis_name": ["true positive rate"]}]},
        {"name": "shap", "metric_data": [{"name": "global_shap_values", "type": "bar_chart", "value": [0.4, 0.1],
                                          "x_axis_name": [LONG, "income"], "y_axis_name": ["mean |SHAP|"]}]}]}],
    "airsage": {"usecase": "credit_risk", "generated_at": "2026-12-05T10:00:00+00:00",
                "registry": {"name": "credit_risk", "version": "3", "run_id": "abc123", "approval_status": "Approved"},
                "lineage": {"dataset_version": "ds-0123456789ab", "dataset_hash": "f" * 64, "code_version": "deadbeef"}},
}


def test_identity_axes_and_labels():
    page = render_model_card_html(CARD)
    for text in ("<th>use case</th><td>credit_risk</td>", "<td>credit_risk v3</td>", "ds-0123456789ab (hash",
                 "MLflow run abc123", "<th>generated</th><td>2026-12-05T10:00:00+00:00</td>"):
        assert text in page, text
    for tick in (">0<", ">0.25<", ">0.5<", ">0.75<", ">1<"):  # both ROC axes are ticked 0 .. 1
        assert page.count(tick) >= 2, tick
    assert ">false positive rate<" in page and ">true positive rate<" in page and ">mean |SHAP|<" in page
    assert f"<title>{LONG}</title>" in page and LONG[:27] + "\u2026" in page  # shortened, full text as tooltip
    assert render_model_card_html(CARD, usecase="other").count("<td>other</td>") == 1
