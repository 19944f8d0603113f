"""Deterministic train/test split by a hash of the record id.

A record's side depends only on its id, so the split is stable across re-runs, machines and data
growth (a new dataset version keeps old records on the side they were on).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def split_key(seed: int) -> str:
    """The 16-character hash key of a seed (pandas' hash_key must be 16 bytes); distinct per seed
    below 10**9 (an earlier form cut the last digit off, so seeds 0-9 all gave the same split)."""
    return f"airsage{seed % 10**9:09d}"


def test_mask(ids: pd.Series, test_size: float, seed: int = 0) -> np.ndarray:
    """True for the rows that belong to the held-out test set."""
    h = pd.util.hash_pandas_object(ids.astype(str), index=False, hash_key=split_key(seed))
    return (h.to_numpy() % 10_000) < int(round(test_size * 10_000))
