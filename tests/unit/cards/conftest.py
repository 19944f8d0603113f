"""Card fixtures: one registered, approved version with a Clarify analysis, in a throwaway local registry."""
from __future__ import annotations

import pytest

GATES = [{"name": "min_auc", "passed": True, "value": 0.8, "threshold": 0.7, "detail": "auc 0.8 >= 0.7"},
         {"name": "max_bias.DPPL", "passed": True, "value": 0.03, "threshold": 0.1, "detail": "sex=female: 0.03"}]
ANALYSIS = {
    "version": "1.0",
    "pre_training_bias_metrics": {"label": "default", "label_value_or_threshold": "1", "facets": {
        "sex": [{"value_or_threshold": "female",
                 "metrics": [{"name": "CI", "description": "Class Imbalance", "value": 0.02}]}]}},
    "post_training_bias_metrics": {"label": "default", "label_value_or_threshold": "1", "facets": {
        "sex": [{"value_or_threshold": "female", "metrics": [{"name": "DPPL", "description": "...", "value": -0.03},
                                                              {"name": "DI", "description": "...", "value": "Infinity"}]}]}},
    "explanations": {"kernel_shap": {"label0": {"global_shap_values": {"credit_score": 0.08, "income": 0.05,
                                                                        "loan_amount": 0.02},
                                                 "expected_value": 0.21}}},
}


@pytest.fixture(scope="session")
def card_uc():
    from airsage.config import get_usecase

    uc = get_usecase("credit_risk")
    return uc.model_copy(update={"model_name": "card_model",
                                 "description": "Default risk <b>scores</b> & ranking"})  # HTML-escaping check


@pytest.fixture(scope="session")
def card_registry(tmp_path_factory, card_uc):
    """(registry, version) with v1 registered (with bias) and approved, v2 registered and pending."""
    from airsage.data.generator import generate
    from airsage.registry.testing import local_registry
    from airsage.training.testing import dataset_info, job_outputs
    from airsage.training.train import TrainingJobConfig

    frame = generate(2000, seed=9, bias_strength=0.4)
    cfg = TrainingJobConfig.from_usecase(card_uc, dataset_version="ds-card",
                                         hyperparameters={"max_depth": 3, "num_round": 15, "nthread": 1})
    job = job_outputs(frame, cfg, tmp_path_factory.mktemp("card-job"))
    reg = local_registry(tmp_path_factory.mktemp("card-registry"))
    ds = dataset_info(frame, str(tmp_path_factory.mktemp("ds") / "ds-card"), "ds-card")
    kw = dict(model_artifact_uri=job.model_artifact_uri, output_data_uri=job.output_data_uri, dataset=ds,
              gate_results=GATES, actor="airflow:credit_risk__train")
    v1 = reg.register_training(card_uc, run_key="card-1", bias=ANALYSIS, **kw)
    reg.approve(card_uc.registered_model_name, v1.version, approver="alice", comment="reviewed bias & metrics")
    v2 = reg.register_training(card_uc, run_key="card-2", **kw)
    return reg, v1.version, v2.version
