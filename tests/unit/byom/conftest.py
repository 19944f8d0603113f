"""Bring-your-own-model fixtures: a throwaway registry whose MLflow store also receives the models the
tests log the standard MLflow way (``mlflow.<flavor>.log_model``), and small generated data."""
from __future__ import annotations

import itertools

import pytest

_names = itertools.count()


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    from airsage.registry.testing import local_registry

    return local_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def mlflow_on_reg(reg, tmp_path_factory):
    """``mlflow`` with the global tracking URI and experiment set to the test registry's store (restored after)."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(reg.tracking_uri)
    art = tmp_path_factory.mktemp("byom-artifacts")
    exp = reg.client.create_experiment(f"byom-{next(_names)}", artifact_location=art.as_uri())
    mlflow.set_experiment(experiment_id=exp)
    yield mlflow
    mlflow.set_tracking_uri(previous)


@pytest.fixture
def name():
    return f"byom_{next(_names)}"


@pytest.fixture(scope="session")
def credit_uc():
    from airsage.config import get_usecase

    return get_usecase("credit_risk")


@pytest.fixture
def uc(credit_uc):
    """The bundled use case under its own registered-model name, without bias gates (no Clarify run here)."""
    gates = credit_uc.gates.model_copy(update={"max_bias": {}})
    return credit_uc.model_copy(update={"model_name": f"imported_{next(_names)}", "gates": gates})


@pytest.fixture(scope="session")
def frame():
    from airsage.data.generator import generate

    return generate(1500, seed=11, bias_strength=0.3)


@pytest.fixture(scope="session")
def numeric():
    """A float32-representable numeric frame (so the engine's float32 encoding loses nothing) and a 0/1 label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    x = pd.DataFrame({f"f{i}": rng.normal(size=600).astype(np.float32).astype(np.float64) for i in range(4)})
    y = ((x.f0 + 0.5 * x.f1 - 0.3 * x.f2 + rng.normal(scale=0.5, size=600)) > 0).astype(int)
    return x, y.to_numpy()

