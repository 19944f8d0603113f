"""Registry fixtures: tiny training-job outputs (session) and a throwaway local registry (module).

The MLflow store is a sqlite file in a temp dir, copied from a migrated template
(``airsage.registry.testing``), artifacts and the audit log live beside it. Each test registers under its
own model name, so tests share the store without seeing each other.
"""
from __future__ import annotations

import itertools

import pytest
from registry_testkit import PASS

_names = itertools.count()


@pytest.fixture(scope="session")
def credit_uc():
    from airsage.config import get_usecase

    return get_usecase("credit_risk")


@pytest.fixture(scope="session")
def frame():
    from airsage.data.generator import generate

    return generate(2500, seed=5, bias_strength=0.4)


@pytest.fixture(scope="session")
def train_cfg(credit_uc):
    from airsage.training.train import TrainingJobConfig

    return TrainingJobConfig.from_usecase(credit_uc, dataset_version="ds-0001",
                                          hyperparameters={"max_depth": 3, "eta": 0.3, "num_round": 20, "nthread": 1})


@pytest.fixture(scope="session")
def job(tmp_path_factory, frame, train_cfg):
    from airsage.training.testing import job_outputs

    return job_outputs(frame, train_cfg, tmp_path_factory.mktemp("job"))


@pytest.fixture(scope="session")
def tuned_job(tmp_path_factory, frame, train_cfg):
    from airsage.training.testing import job_outputs
    from airsage.training.tuning import TuningConfig

    tuning = TuningConfig(max_trials=3, early_stopping_rounds=5, search_space={"max_depth": [2, 4]}, seed=1)
    return job_outputs(frame, train_cfg, tmp_path_factory.mktemp("tuned"), tuning=tuning)


@pytest.fixture(scope="session")
def dataset(frame, tmp_path_factory):
    from airsage.training.testing import dataset_info

    uri = str(tmp_path_factory.mktemp("datasets") / "ds-0001")
    return dataset_info(frame, uri, "ds-0001")


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    from airsage.registry.testing import local_registry

    return local_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture
def uc(credit_uc):
    """The bundled use case under a registered-model name of its own."""
    return credit_uc.model_copy(update={"model_name": f"model_{next(_names)}"})


@pytest.fixture
def register(reg, job, dataset):
    """register(uc, run_key, gates=PASS, **kw) -> RegisteredVersion, with the session's job outputs."""

    def _register(uc, run_key, gates=PASS, source=None, **kw):
        src = source or job
        return reg.register_training(uc, model_artifact_uri=src.model_artifact_uri,
                                     output_data_uri=src.output_data_uri, dataset=dataset, run_key=run_key,
                                     gate_results=gates, actor=kw.pop("actor", "airflow:test__train"), **kw)

    return _register


@pytest.fixture(scope="module")
def seed_version(reg, credit_uc, job, dataset):
    """One fully registered (pending) version, the source of ``clone_versions`` copies."""
    uc = credit_uc.model_copy(update={"model_name": f"seed_{next(_names)}"})
    return reg.register_training(uc, model_artifact_uri=job.model_artifact_uri, output_data_uri=job.output_data_uri,
                                 dataset=dataset, run_key="seed", gate_results=PASS, actor="airflow:test__train")


@pytest.fixture
def three(reg, uc, seed_version):
    """A fresh model with three pending versions (clones of the seed version): (name, [v1, v2, v3])."""
    from airsage.registry.testing import clone_versions

    name = uc.registered_model_name
    return name, clone_versions(reg, seed_version, name, 3)
