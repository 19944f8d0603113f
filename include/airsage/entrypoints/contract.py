"""SageMaker's container contract, as seen from inside a job.

SageMaker mounts everything under ``/opt/ml``; the local backend maps that root to a job directory
and says where with ``AIRSAGE_OPT_ML``. The ``SM_*`` variables (set by SageMaker's framework
containers and by the local backend) win where present.
"""
from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any


def opt_ml() -> Path:
    return Path(os.environ.get("AIRSAGE_OPT_ML", "/opt/ml"))


def hyperparameters() -> dict[str, Any]:
    """Hyperparameters as SageMaker hands them over (all strings), JSON-decoded where possible."""
    raw: dict[str, Any]
    if os.environ.get("SM_HPS"):
        raw = json.loads(os.environ["SM_HPS"])
    else:
        path = opt_ml() / "input" / "config" / "hyperparameters.json"
        raw = json.loads(path.read_text()) if path.exists() else {}
    out = {}
    for k, v in raw.items():
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        out[k] = v
    return out


def channel(name: str) -> Path:
    return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}") or opt_ml() / "input" / "data" / name)


def model_dir() -> Path:
    return Path(os.environ.get("SM_MODEL_DIR") or opt_ml() / "model")


def output_data_dir() -> Path:
    return Path(os.environ.get("SM_OUTPUT_DATA_DIR") or opt_ml() / "output" / "data")


def processing_input(name: str) -> Path:
    return opt_ml() / "processing" / "input" / name


def processing_output() -> Path:
    return opt_ml() / "processing" / "output"


def write_failure(message: str) -> None:
    """SageMaker reads the first 1 KiB of /opt/ml/output/failure as the job's FailureReason."""
    path = opt_ml() / "output" / "failure"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(message[:1024])


def failure_text(exc: BaseException) -> str:
    """What a failed job reports: an ``AirsageError``'s message and ``Fix:`` line (no type name, no
    traceback: the error already says what to do); anything else as ``Type: message``."""
    from airsage.errors import AirsageError

    if isinstance(exc, AirsageError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def job_main(fn):
    """Run a job's ``main``: on error write the failure reason and exit 1 (SageMaker's convention).

    An ``AirsageError`` is printed as its message and ``Fix:`` line only; an unexpected exception also
    gets its traceback in the job log (a bug to find)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from airsage.errors import AirsageError

        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the job boundary: report, then fail
            if not isinstance(exc, AirsageError):
                traceback.print_exc()
            text = failure_text(exc)
            print(f"error: {text}", file=sys.stderr)
            write_failure(text)
            sys.exit(1)

    return wrapper
