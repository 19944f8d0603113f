"""Shared fixtures of the monitor tests: the example generator's feature spec and a baseline."""
from __future__ import annotations

import pytest

from airsage.data import generator


@pytest.fixture(scope="session")
def features() -> dict[str, str]:
    return {**{c: "numeric" for c in generator.NUMERIC}, **{c: "categorical" for c in generator.CATEGORICAL}}


@pytest.fixture(scope="session")
def non_features(features) -> list[str]:
    return [c for c in generator.generate(10).columns if c not in features]


@pytest.fixture(scope="session")
def small_baseline(features):
    """(statistics, constraints) of 100k undrifted rows."""
    from airsage.monitor.baseline import suggest_baseline

    return suggest_baseline(generator.generate(100_000, seed=101, day="2026-11-01"), features=features)
