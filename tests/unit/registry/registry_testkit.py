"""Gate results used by the registry tests (a plain module: test files import it by name)."""
from __future__ import annotations

PASS = [{"name": "min_auc", "passed": True, "value": 0.8, "threshold": 0.7, "detail": "auc 0.8 >= 0.7"}]
FAIL = [{"name": "min_auc", "passed": False, "value": 0.8, "threshold": 1.0, "detail": "auc 0.8 < 1.0"},
        {"name": "champion_max_auc_drop", "passed": True, "value": None, "threshold": 0.01, "detail": "no champion"}]
