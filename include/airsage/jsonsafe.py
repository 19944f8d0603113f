"""JSON numbers that JSON cannot spell: the one home of the "Infinity" convention (stdlib only).

SageMaker Clarify's ``analysis.json`` (and Model Monitor's statistics) write an infinite metric as the
*strings* ``"Infinity"`` / ``"-Infinity"`` and a metric that could not be computed as ``null``; Python's
``json`` module would instead write the non-standard bare tokens ``Infinity`` / ``NaN``. Every reader and
writer of those documents goes through these two functions, so the convention is decided once:

* ``number(v)`` reads: a number, ``"Infinity"`` / ``"-Infinity"`` / ``"inf"`` / ``"NaN"`` strings (any
  case, as ``float`` accepts them) and numeric strings become a ``float``; ``None``, booleans and
  anything else become ``None`` (missing evidence, never a crash);
* ``encode(v)`` writes: +/-inf become ``"Infinity"`` / ``"-Infinity"``, NaN becomes ``"NaN"``, numpy
  scalars become plain Python numbers, other values are returned unchanged.
"""
from __future__ import annotations

import math
from typing import Any

INFINITY = "Infinity"
NEG_INFINITY = "-Infinity"


def number(value: Any) -> float | None:
    """``value`` as a float (``"Infinity"`` -> inf), or ``None`` when it is missing or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    item = getattr(value, "item", None)  # numpy scalars, without importing numpy
    if callable(item):
        try:
            return number(item())
        except (TypeError, ValueError):
            return None
    return None


def finite(value: Any) -> float | None:
    """``number(value)`` when it is finite, else ``None`` (for documents that allow no infinities)."""
    v = number(value)
    return v if v is not None and math.isfinite(v) else None


def encode(value: Any) -> Any:
    """``value`` ready for ``json.dumps(..., allow_nan=False)``: infinities and NaN as Clarify's strings."""
    item = getattr(value, "item", None)
    if not isinstance(value, (int, float, str, bool)) and value is not None and callable(item):
        try:
            value = item()
        except (TypeError, ValueError):
            return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return INFINITY if value > 0 else NEG_INFINITY
    return value
