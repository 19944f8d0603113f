"""Shared fixtures: a small use case (3 features, records app-1 … app-40) and its feature records."""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from airsage.config import UseCase, parse_usecase

FIXTURES = Path(__file__).parent / "fixtures"

TINY = {
    "name": "tiny_credit",
    "owner": "tests",
    "schema": {
        "record_id": "application_id", "event_time": "event_ts", "label": "default", "positive_labels": [1],
        "passthrough": ["sex"],
        "features": [{"name": "x1", "type": "numeric"}, {"name": "x2", "type": "numeric"},
                     {"name": "color", "type": "categorical"}],
    },
    "labeling": {
        "label_attribute": "default-label", "class_map": {"no_default": 0, "default": 1},
        "allowed_source_prefixes": ["s3://airsage-labels/credit/"], "min_confidence": 0.3,
        "low_confidence": "flag", "auto_labeled": "keep", "max_bad_share": 0.05, "min_minority_share": 0.1,
    },
}


def tiny_usecase(root: Path | str, **labeling) -> UseCase:
    data = copy.deepcopy(TINY)
    data["data"] = {"root": str(root)}
    data["labeling"].update(labeling)
    return parse_usecase(data, "<tiny test use case>")


def tiny_features_frame():
    import pandas as pd

    base = pd.Timestamp("2026-11-01", tz="UTC")
    ids = [f"app-{i}" for i in range(1, 41)]
    return pd.DataFrame({
        "application_id": ids,
        "event_ts": [base + pd.Timedelta(minutes=i) for i in range(1, 41)],
        "x1": [i / 100 for i in range(1, 41)],
        "x2": [i * 1.5 for i in range(1, 41)],
        "color": [("red", "green", "blue")[i % 3] for i in range(1, 41)],
        "sex": [("female", "male")[i % 2] for i in range(1, 41)],
    })


def write_tiny_features(uc: UseCase) -> str:
    """Two daily partitions; app-1 appears again on the second day with x1 = 0.15 (the later row wins)."""
    import pandas as pd

    df = tiny_features_frame()
    first, second = df.iloc[:20], df.iloc[20:]
    again = df.iloc[[0]].assign(x1=0.15, event_ts=pd.Timestamp("2026-11-02T12:00", tz="UTC"))
    root = uc.path("raw", "features")
    for day, part in ((dt.date(2026, 11, 1), first), (dt.date(2026, 11, 2), pd.concat([second, again]))):
        path = Path(root) / f"dt={day}" / "part-00000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(path, index=False)
    return root


@pytest.fixture
def tiny(tmp_path) -> UseCase:
    uc = tiny_usecase(tmp_path / "root")
    write_tiny_features(uc)
    return uc


def snapshot(root: Path | str) -> dict[str, int]:
    """Every file below ``root`` with its mtime (ns): what a re-run must leave unchanged."""
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(Path(root).rglob("*")) if p.is_file()}


# Test modules get these helpers through fixtures (a bare ``import conftest`` could pick another room's).
@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def make_tiny():
    """``make_tiny(root, **labeling_overrides) -> UseCase`` with feature records written below ``root``."""
    def make(root, **labeling) -> UseCase:
        uc = tiny_usecase(root, **labeling)
        write_tiny_features(uc)
        return uc
    return make


@pytest.fixture(scope="session")
def file_snapshot():
    return snapshot


@pytest.fixture(scope="session")
def tiny_frame():
    return tiny_features_frame
