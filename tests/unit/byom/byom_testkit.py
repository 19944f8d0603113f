"""Helpers for the bring-your-own-model tests (a plain module: test files import it by name)."""
from __future__ import annotations


def approve_champion(reg, v, *, approver="carol"):
    """Approve through the facade (the audit log backs it) and return the served bundle."""
    reg.approve(v.name, v.version, approver=approver, comment="reviewed", source="test")
    resolved = reg.resolve(f"models:/{v.name}@champion")
    return resolved, resolved.load_bundle()
