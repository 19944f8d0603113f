"""A use case whose data root is a temp dir, and a registry stand-in with four versions."""
from __future__ import annotations

import pytest
from dashboard_support import registry_fixture

from airsage.config import get_usecase


@pytest.fixture
def uc(tmp_path):
    base = get_usecase("credit_risk")
    return base.model_copy(update={"data": base.data.model_copy(update={"root": str(tmp_path / "data")})})


@pytest.fixture
def registry():
    return registry_fixture()
