"""Lazy re-exports for room packages: ``import airsage.<room>`` stays cheap (no pandas, no GE) and a name
is imported from its module on first use (PEP 562 module ``__getattr__``). Stdlib only."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` serving ``name -> module`` from ``exports``."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
