from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airsage.data.generator import CATEGORICAL, NEW_CATEGORIES, NUMERIC, generate
from airsage.model import ModelBundle, vocabularies


def test_shape_and_determinism():
    a, b = generate(500, seed=1, day="2026-11-02"), generate(500, seed=1, day="2026-11-02")
    pd.testing.assert_frame_equal(a, b)
    assert len(NUMERIC) == 30 and len(CATEGORICAL) == 5
    assert a["application_id"].is_unique and set(a["default"].unique()) <= {0, 1}
    assert not generate(500, seed=1, day="2026-11-03")["income"].equals(a["income"])


def test_knobs_change_what_they_say():
    base = generate(20000, seed=3)
    biased = generate(20000, seed=3, bias_strength=1.0)
    gap = lambda d: d.loc[d.sex == "female", "default"].mean() - d.loc[d.sex == "male", "default"].mean()
    assert gap(biased) > gap(base) + 0.05
    shifted = generate(20000, seed=3, drift="shift")
    assert shifted["income"].median() < 0.8 * base["income"].median()
    new = generate(20000, seed=3, drift="new_category")
    assert (new["loan_purpose"] == NEW_CATEGORIES["loan_purpose"]).mean() > 0.2
    missing = generate(20000, seed=3, drift="missing")
    assert missing["income"].isna().mean() > 0.25 and base["income"].isna().sum() == 0
    delayed = generate(10, label_delay_days=5)
    assert (delayed["label_available_at"] - delayed["event_ts"]).dt.days.eq(5).all()
    with pytest.raises(ValueError, match="unknown drift"):
        generate(10, drift="sideways")


def test_bundle_encoding_and_roundtrip(tmp_path):
    import xgboost as xgb

    df = generate(3000, seed=5)
    feats = NUMERIC + CATEGORICAL
    bundle = ModelBundle("xgboost", feats, vocabularies(df, CATEGORICAL), label="default")
    x = bundle.encode(df)
    assert x.dtype == np.float32 and x.shape == (3000, 35)
    bundle.booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=df["default"]), 10)
    unseen = df.head(3).copy()
    unseen["region"] = "offshore"
    assert np.isnan(bundle.encode(unseen)[:, feats.index("region")]).all()  # unseen category -> missing
    bundle.save(tmp_path / "m")
    again = ModelBundle.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(df), bundle.predict_proba(df), rtol=1e-6)
    with pytest.raises(Exception, match="missing feature"):
        bundle.encode(df.drop(columns=["income"]))


def test_numeric_looking_categories_match_their_string_vocabulary():
    df = pd.DataFrame({"x": [1.0, 2.0], "c": [3, 4]})
    bundle = ModelBundle("xgboost", ["x", "c"], {"c": ["3", "4"]})
    assert bundle.encode(df)[:, 1].tolist() == [0.0, 1.0]
