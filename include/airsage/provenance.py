"""Which code produced an artifact: the one definition of ``code_version`` (stdlib only).

``AIRSAGE_CODE_VERSION`` wins (set it in images built from a commit); otherwise the git commit of the
checkout, with ``-dirty`` when tracked files have changes; ``airsage-<package version>`` when neither is
known (an installed package outside a checkout).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def code_version() -> str:
    """The version of the code that is running now (see the module docstring for the order)."""
    if os.environ.get("AIRSAGE_CODE_VERSION"):
        return os.environ["AIRSAGE_CODE_VERSION"]
    try:
        sha = subprocess.run(["git", "-C", str(_REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        if sha:
            dirty = subprocess.run(["git", "-C", str(_REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    from airsage import __version__

    return f"airsage-{__version__}"
