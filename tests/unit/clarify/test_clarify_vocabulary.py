"""One bias-metric vocabulary (names, ideal values) and one "Infinity" convention (``airsage.jsonsafe``)."""
from __future__ import annotations

import json
import math

import pytest

from airsage import jsonsafe
from airsage.clarify import vocabulary


def test_every_metric_has_a_name_a_meaning_and_an_ideal():
    assert len(vocabulary.ALL) == 21 and set(vocabulary.DESCRIPTIONS) == set(vocabulary.METRIC_INFO) == vocabulary.ALL
    assert vocabulary.ideal("DI") == 1.0 and vocabulary.ideal("DPPL") == 0.0
    assert vocabulary.deviation("DI", 0.7) == pytest.approx(0.3) and vocabulary.deviation("DPL", -0.3) == 0.3


@pytest.mark.parametrize("raw, expected", [("Infinity", math.inf), ("-Infinity", -math.inf), (2, 2.0),
                                           ("0.25", 0.25), (None, None), (True, None), ("oops", None), ([], None)])
def test_number_reads_clarifys_json(raw, expected):
    assert jsonsafe.number(raw) == expected


def test_nan_is_read_as_nan_and_finite_drops_it():
    assert math.isnan(jsonsafe.number("NaN")) and jsonsafe.finite("NaN") is None and jsonsafe.finite("Infinity") is None


def test_encode_writes_strict_json():
    import numpy as np

    values = [math.inf, -math.inf, math.nan, np.float64(0.5), 3, "x", None]
    text = json.dumps([jsonsafe.encode(v) for v in values], allow_nan=False)
    assert json.loads(text) == ["Infinity", "-Infinity", "NaN", 0.5, 3, "x", None]
    assert jsonsafe.number(jsonsafe.encode(-math.inf)) == -math.inf  # round trip
