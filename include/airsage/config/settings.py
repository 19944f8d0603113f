"""``Settings``: where Airsage keeps its state (home, data root, MLflow), from ``AIRSAGE__*`` variables."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from airsage.config.base import REPO_ROOT, Frozen, _config_error


class MlflowSettings(Frozen):
    tracking_uri: str | None = None  # default: sqlite:///<home>/mlflow.db
    registry_uri: str | None = None
    artifact_root: str | None = None  # default: <home>/mlartifacts


class AwsSettings(Frozen):
    conn_id: str = "aws_default"
    region: str = "us-east-1"
    endpoint_url: str | None = None  # moto / MinIO; boto3 also reads AWS_ENDPOINT_URL


class Settings(Frozen):
    home: str = str(REPO_ROOT / ".airsage")
    data_root: str | None = None  # default: <home>/data ; may be s3://bucket/prefix
    usecases_dir: str = str(REPO_ROOT / "include" / "usecases")
    mlflow: MlflowSettings = MlflowSettings()
    aws: AwsSettings = AwsSettings()

    @property
    def resolved_data_root(self) -> str:
        return self.data_root or str(Path(self.home) / "data")

    @property
    def tracking_uri(self) -> str:
        return (self.mlflow.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
                or f"sqlite:///{Path(self.home) / 'mlflow.db'}")

    @property
    def artifact_root(self) -> str:
        return self.mlflow.artifact_root or str(Path(self.home) / "mlartifacts")

    @property
    def jobs_dir(self) -> Path:
        return Path(self.home) / "jobs"


def _env_overrides(prefix: str = "AIRSAGE__") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in os.environ.items():
        if not key.startswith(prefix):
            continue
        parts = [p.lower() for p in key[len(prefix):].split("__") if p]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def load_settings() -> Settings:
    """Settings from the environment (``AIRSAGE__*``). Cheap; call it where you need it."""
    try:
        return Settings.model_validate(_env_overrides())
    except ValidationError as exc:
        raise _config_error(exc, "environment (AIRSAGE__* variables)") from None
