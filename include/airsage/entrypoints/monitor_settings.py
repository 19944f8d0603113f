"""The monitor job's settings (``python -m airsage.entrypoints.monitor``): a variable from the environment,
else from the optional settings file (the ``monitor_config`` input channel, a JSON object of the same
names; it carries what exceeds SageMaker's 256-character limit on an environment value), the files an
input channel holds, and the use case named by ``AIRSAGE_USECASE``. The variables are listed in
``airsage.entrypoints.monitor``."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airsage.entrypoints import contract
from airsage.errors import ConfigError

CONFIG_CHANNEL = "monitor_config"
CONFIG_FILE = "monitor_config.json"


def env(name: str, default: str | None = None) -> str | None:
    """A setting: the environment variable, else the settings file's entry (JSON values re-encoded)."""
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    value = config_file_settings().get(name)
    if value is None or value == "":
        return default
    return value if isinstance(value, str) else json.dumps(value)


def channel_file(channel: str, name: str) -> Path | None:
    """The file an input channel holds: ``<channel>/<name>``, else its only ``*.json`` file."""
    d = contract.processing_input(channel)
    if d.is_file():
        return d
    if (d / name).is_file():
        return d / name
    files = sorted(p for p in d.glob("*.json") if not p.name.startswith((".", "_"))) if d.is_dir() else []
    return files[0] if len(files) == 1 else None


def config_file_settings() -> dict[str, Any]:
    """The optional settings file (``monitor_config`` input channel), ``{}`` without one."""
    path = channel_file(CONFIG_CHANNEL, CONFIG_FILE)
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}", key=CONFIG_CHANNEL,
                          fix="Write the settings file as a JSON object of AIRSAGE_MONITOR_* names.") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} holds a {type(doc).__name__}, not a JSON object", key=CONFIG_CHANNEL,
                          fix='Write {"AIRSAGE_MONITOR_FEATURES": {...}, ...}.')
    return doc


def json_env(name: str, default: Any = None) -> Any:
    raw = env(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} is not valid JSON: {raw[:80]!r}", key=name, fix="Pass a JSON value.") from exc


def usecase():
    name = env("AIRSAGE_USECASE")
    if not name:
        return None
    from airsage.config import get_usecase

    return get_usecase(name)


def read_json_file(path: Path, what: str, fix: str) -> Any:
    from airsage.monitor._data import read_json_file as read

    return read(path / "analysis.json" if path.is_dir() else path, what, fix)
