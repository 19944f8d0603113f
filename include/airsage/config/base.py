"""The base of every config model (``Frozen``), the repository root and the one ConfigError built from a
pydantic ValidationError (naming the source, each key, its line when known, and the fix)."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from airsage.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[3]  # include/airsage/config/base.py -> repo root


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _config_error(exc: ValidationError, source: str, line_of=None) -> ConfigError:
    lines = []
    first_key = None
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<top level>"
        first_key = first_key or key
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (a typo?)"
        line = line_of(tuple(err["loc"])) if line_of else None
        lines.append(f"{key}" + (f" (line {line})" if line else "") + f": {msg}")
    return ConfigError("invalid configuration:\n  " + "\n  ".join(lines), source=source, key=first_key,
                       fix="Correct the key(s) named above; the allowed keys and types are in the README "
                           "(section 'Use cases') and in airsage/config/ (build_specs.py, operate_specs.py).")
