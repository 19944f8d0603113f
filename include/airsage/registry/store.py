"""The MLflow side of the registry: one ``MlflowStore`` owns every MLflow call that reads or changes a
registered model, a version, an alias or an experiment. The facade (``ModelRegistry``) decides; this
module only talks to MLflow.

MLflow is imported on first use (~8 s), so importing this module stays cheap.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airsage import identifiers, storage
from airsage.errors import ConfigError, ModelNotFoundError
from airsage.registry import types as t
from airsage.registry._mlflow import mlflow_module
from airsage.registry.audit import safe_name
from airsage.registry.types import RegisteredVersion

EXPERIMENT_PREFIX = "airsage/"


@contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def already_exists(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def quoted(value: str, what: str) -> str:
    """``value`` for an MLflow search filter; a quote or backslash (an injection attempt) is a ConfigError."""
    if "'" in value or "\\" in value or "\n" in value:
        raise ConfigError(f"{what} {value!r} contains a quote, backslash or newline", key=what.replace(" ", "_"),
                          fix=f"Use a {what} without quotes or backslashes (e.g. the name shown by "
                              "`airsage registry list`).")
    return value


def check_name(name: str) -> str:
    """A registered-model name safe to put in an MLflow search filter."""
    return quoted("" if name is None else str(name), "model name")


def check_version(version: str | int) -> str:
    """A version number (``identifiers.model_version``: a positive integer), else a ConfigError with a fix."""
    return identifiers.model_version(str(version).strip() if version is not None else version)


def scalar_metrics(d: dict[str, Any] | None, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "threshold":
            out[f"{prefix}{k}"] = float(v)
    return out


def is_local_store(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "databricks"))


class MlflowStore:
    """Registered models, versions, aliases and experiments of one MLflow tracking/registry server."""

    def __init__(self, tracking_uri: str, registry_uri: str | None = None, artifact_root: str | None = None):
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_root = artifact_root
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = mlflow_module().MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        return self._client

    # ------------------------------------------------------------------ versions
    def to_version(self, mv, aliases: list[str] | None = None) -> RegisteredVersion:
        tags = dict(mv.tags or {})
        try:
            metrics = json.loads(tags.get(t.TAG_METRICS) or "{}")
        except ValueError:
            metrics = {}
        created = dt.datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, dt.UTC).isoformat(timespec="seconds")
        return RegisteredVersion(name=mv.name, version=str(mv.version), status=t.status_of(tags),
                                 aliases=sorted(aliases if aliases is not None else (mv.aliases or [])),
                                 run_id=mv.run_id, tags=tags, metrics=metrics, created_at=created,
                                 source=getattr(mv, "source", None))

    def get_version(self, name: str, version: str | int) -> RegisteredVersion:
        mlflow = mlflow_module()
        version = check_version(version)
        try:
            mv = self.client.get_model_version(name, version)
        except mlflow.exceptions.MlflowException as exc:
            if not_found(exc):
                raise ModelNotFoundError(f"models:/{name}/{version}", "no such registered model version") from None
            raise
        return self.to_version(mv)

    def aliases_by_version(self, name: str) -> dict[str, list[str]]:
        rm = self.client.get_registered_model(name)
        out: dict[str, list[str]] = {}
        for alias, version in (rm.aliases or {}).items():
            out.setdefault(str(version), []).append(alias)
        return out

    def search(self, filter_string: str) -> list:
        out, token = [], None
        while True:
            page = self.client.search_model_versions(filter_string, max_results=1000, page_token=token)
            out += list(page)
            token = page.token
            if not token:
                return out

    def versions_of(self, name: str) -> list:
        return self.search(f"name='{check_name(name)}'")

    def list_versions(self, name: str) -> list[RegisteredVersion]:
        mlflow = mlflow_module()
        versions = self.versions_of(name)
        if not versions:
            return []
        try:
            aliases = self.aliases_by_version(name)
        except mlflow.exceptions.MlflowException as exc:
            if not_found(exc):
                return []
            raise
        # search results carry no aliases: take them from the registered model
        return sorted((self.to_version(mv, aliases.get(str(mv.version), [])) for mv in versions),
                      key=lambda v: int(v.version))

    def alias_version(self, name: str, alias: str) -> str | None:
        mlflow = mlflow_module()
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except mlflow.exceptions.MlflowException as exc:
            if not_found(exc) or getattr(exc, "error_code", "") == "INVALID_PARAMETER_VALUE":
                return None
            raise

    def find_by_run_key(self, name: str, run_key: str) -> RegisteredVersion | None:
        hits = self.search(f"name='{check_name(name)}' and tags.{t.TAG_RUN_KEY}='{quoted(run_key, 'run_key')}'")
        if not hits:
            return None
        first = min(hits, key=lambda mv: int(mv.version))
        return self.get_version(name, first.version)

    def set_tags(self, name: str, version: str, tags: dict[str, Any]) -> None:
        for k, v in tags.items():
            self.client.set_model_version_tag(name, version, k, str(v))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(name, alias, str(version))

    def delete_alias(self, name: str, alias: str) -> None:
        mlflow = mlflow_module()
        try:
            self.client.delete_registered_model_alias(name, alias)
        except mlflow.exceptions.MlflowException as exc:
            if not not_found(exc):
                raise

    def ensure_registered_model(self, uc) -> None:
        """Create the registered model of a use case (or of a bare model name) unless it exists."""
        mlflow = mlflow_module()
        try:
            if isinstance(uc, str):
                self.client.create_registered_model(uc)
            else:
                self.client.create_registered_model(uc.registered_model_name, description=uc.description or None,
                                                    tags={"airsage.usecase": uc.name, "owner": uc.owner})
        except mlflow.exceptions.MlflowException as exc:
            if not already_exists(exc):
                raise

    def model_location(self, model_uri: str) -> tuple[str, str | None, str | None]:
        """(artifact location, run id, logged model id) of an MLflow model URI: ``models:/<model id>``
        (MLflow 3's LoggedModel), ``runs:/<run id>/<path>``, ``models:/<name>/<version>`` (another
        registered version) or a plain artifact location (``file://``, ``s3://``, a local path)."""
        import re

        mlflow = mlflow_module()
        client = self.client
        try:
            if m := re.fullmatch(r"models:/(m-[0-9a-f]+)/?", model_uri):
                lm = client.get_logged_model(m.group(1))
                return lm.artifact_location, lm.source_run_id, lm.model_id
            if m := re.fullmatch(r"runs:/([^/]+)/(.+)", model_uri):
                run_id, path = m.group(1), m.group(2).strip("/")
                run = client.get_run(run_id)
                found = client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                                    filter_string=f"source_run_id = '{quoted(run_id, 'run id')}' "
                                                                  f"AND name = '{quoted(path, 'model path')}'")
                if found:
                    return found[0].artifact_location, run_id, found[0].model_id
                return f"{run.info.artifact_uri.rstrip('/')}/{path}", run_id, None
            if m := re.fullmatch(r"models:/([^@]+)/(\d+)", model_uri):
                mv = client.get_model_version(m.group(1), m.group(2))
                source = mv.source
                if source.startswith("models:/m-"):
                    lm = client.get_logged_model(source.removeprefix("models:/").split("/", 1)[0])
                    return lm.artifact_location, mv.run_id, lm.model_id
                return source, mv.run_id, getattr(mv, "model_id", None)
        except mlflow.exceptions.MlflowException as exc:
            raise ModelNotFoundError(model_uri, f"MLflow cannot find it: {getattr(exc, 'message', exc)}") from None
        if model_uri.startswith(("models:/", "runs:/")):
            raise ModelNotFoundError(model_uri, "use models:/<model id>, runs:/<run id>/<path>, models:/<name>/<version> "
                                                "or the model's artifact location")
        return model_uri, None, None

    # ------------------------------------------------------------------ runs and experiments
    def experiment_id(self, uc) -> str:
        mlflow = mlflow_module()
        name = f"{EXPERIMENT_PREFIX}{uc.name}"
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None
        if self.artifact_root:
            root = self.artifact_root
            location = storage.join(root, safe_name(name))
            location = location if storage.is_s3(root) else Path(location).as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location, tags={"airsage.usecase": uc.name})
        except mlflow.exceptions.MlflowException as exc:
            if already_exists(exc):
                return self.client.get_experiment_by_name(name).experiment_id
            raise

    def log_batch(self, run_id: str, params: list, metrics: list) -> None:
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def read_run_json(self, run_id: str | None, artifact_path: str) -> Any | None:
        """A JSON artifact of a run, or None when the run, the artifact or its JSON is missing."""
        import tempfile

        if not run_id:
            return None
        mlflow = mlflow_module()
        with tempfile.TemporaryDirectory(prefix="airsage-artifact-") as tmp:
            try:
                local = self.client.download_artifacts(run_id, artifact_path, tmp)
            except (mlflow.exceptions.MlflowException, OSError):
                return None
            try:
                return json.loads(Path(local).read_text())
            except (OSError, ValueError):
                return None

    def ui_url(self, name: str, version: str) -> str | None:
        """The MLflow UI page of a version: ``AIRSAGE__MLFLOW_UI_URL`` or an http(s) tracking URI as the base."""
        base = os.environ.get("AIRSAGE__MLFLOW_UI_URL") or (
            self.tracking_uri if self.tracking_uri.startswith(("http://", "https://")) else None)
        return version_page(base, name, version) if base else None


def version_page(base_url: str, name: str, version: str | int) -> str:
    """MLflow UI's page of one registered model version (``#/models/<name>/versions/<n>``)."""
    from urllib.parse import quote

    return f"{base_url.rstrip('/')}/#/models/{quote(str(name), safe='')}/versions/{version}"
