"""Shared, session-scoped inputs for the training tests: the bundled use case and a small frame.

Models train with nthread=1: on a loaded 2-core machine multi-threaded XGBoost was ~10x slower."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def credit_uc():
    from airsage.config import get_usecase

    return get_usecase("credit_risk")


@pytest.fixture(scope="session")
def small_frame():
    from airsage.data.generator import generate

    return generate(3000, seed=11, bias_strength=0.4)


@pytest.fixture(scope="session")
def tiny_cfg(credit_uc):
    from airsage.training.train import TrainingJobConfig

    return TrainingJobConfig.from_usecase(credit_uc,
                                          hyperparameters={"max_depth": 3, "eta": 0.3, "num_round": 25, "nthread": 1},
                                          dataset_version="ds-test")


@pytest.fixture(scope="session")
def tiny_result(small_frame, tiny_cfg):
    from airsage.training.train import fit

    return fit(small_frame, tiny_cfg)


@pytest.fixture
def run_job(monkeypatch, tmp_path):
    """Run a job entry point's ``main`` in-process under the SageMaker training contract; return
    (model dir, output data dir)."""
    import json

    def run(module_main, frame, hyperparameters):
        opt = tmp_path / "opt_ml"
        (opt / "input" / "data" / "train").mkdir(parents=True)
        (opt / "input" / "config").mkdir(parents=True)
        frame.to_parquet(opt / "input" / "data" / "train" / "part-0.parquet", index=False)
        (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
        for var in ("SM_HPS", "SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_CHANNEL_TRAIN"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("AIRSAGE_OPT_ML", str(opt))
        module_main()
        return opt / "model", opt / "output" / "data"

    return run
