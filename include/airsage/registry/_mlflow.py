"""``import mlflow`` with the platform's defaults, on first use (~8 s): a leaf every registry module may use."""
from __future__ import annotations

import os


def mlflow_module():
    """The ``mlflow`` module, with no telemetry and no progress bars in task logs."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    return mlflow
