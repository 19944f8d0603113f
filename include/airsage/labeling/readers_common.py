"""What every label reader shares: the item type and the checks of a record id and a confidence value."""
from __future__ import annotations

import math
from typing import Any

from airsage.labeling.records import Annotation, Rejection

Item = Annotation | Rejection


def _record_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None
