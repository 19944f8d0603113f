"""A version's artifacts: the job's ``model.tar.gz`` (downloaded, checksummed, unpacked) and the
``ModelBundle`` a serving caller loads.

The SHA-256 of the ``model.tar.gz`` is recorded at registration (version tag ``model_artifact_sha256``);
``load_bundle`` uses the job's archive when it is still there and matches, else the copy logged with the
MLflow run (which must match too). A version registered from an outside MLflow model (no model.tar.gz)
is downloaded from its MLflow source and loaded by flavor (``registry.flavors``); the digest of its files
(version tag ``airsage.model_digest``) is checked the same way.
"""
from __future__ import annotations

import hashlib
import tarfile
import tempfile
from pathlib import Path

from airsage import storage
from airsage.errors import DataValidationError, ModelNotFoundError, StorageError
from airsage.registry._mlflow import mlflow_module
from airsage.registry.tags import TAG_MODEL_SHA256

MODEL_ARTIFACT_DIR = "model_artifact"  # run artifact dir holding the job's model.tar.gz


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def local_model(model_artifact_uri: str, dest: Path) -> tuple[Path, Path]:
    """(unpacked bundle directory, local model.tar.gz) for a model.tar.gz or a bundle directory URI."""
    dest.mkdir(parents=True)
    try:
        if model_artifact_uri.endswith((".tar.gz", ".tgz")):
            tarball = dest / "model.tar.gz"
            with storage.local_copy(model_artifact_uri) as local:
                tarball.write_bytes(Path(local).read_bytes())
        else:
            staged = storage.download_dir(model_artifact_uri, dest / "staged")
            tarball = dest / "model.tar.gz"
            with tarfile.open(tarball, "w:gz") as tar:
                for p in sorted(staged.rglob("*")):
                    tar.add(p, arcname=p.relative_to(staged).as_posix(), recursive=False)
        bundle = storage.unpack_tar(str(tarball), dest / "bundle")
    except (StorageError, FileNotFoundError, tarfile.TarError) as exc:
        raise DataValidationError(model_artifact_uri, [f"cannot read the model artifact: {exc}"],
                                  fix="Pass the model_artifact URI the training job reported (model.tar.gz).") from exc
    metas = list(bundle.rglob("airsage_model.json"))
    if not metas:
        raise DataValidationError(model_artifact_uri, ["no airsage_model.json: not an Airsage model bundle"],
                                  fix="Pass the model.tar.gz of an Airsage training or tuning job.")
    return metas[0].parent, tarball


def is_airsage_version(resolved) -> bool:
    """Registered from an Airsage training or import (it has the job's model.tar.gz), not an outside MLflow model."""
    return bool(resolved.model_artifact_uri or resolved.tags.get(TAG_MODEL_SHA256))


def load_bundle(resolved, *, usecase=None):
    """The model a serving caller scores with (a ``ModelBundle``) for a resolved version.

    An Airsage version: the job's model.tar.gz when it is still there and its SHA-256 matches the one
    recorded at registration, else the copy logged with the MLflow run. Any other MLflow model (an
    xgboost / sklearn / lightgbm / pyfunc flavor): loaded by its flavor (``registry.flavors``), with its
    content checked against the digest recorded at registration. MLflow and file-system failures are
    ``AirsageError``s naming the fix. ``resolved``: a ``registry.types.ResolvedModel``; ``usecase``: its
    use case (default: the ``airsage.usecase`` tag's, when it names one)."""
    if not is_airsage_version(resolved):
        return load_mlflow_version(resolved, usecase=usecase)
    from airsage.model import ModelBundle

    expected = resolved.tags.get(TAG_MODEL_SHA256)
    with tempfile.TemporaryDirectory(prefix="airsage-bundle-") as tmp:
        tmp = Path(tmp)
        uri = resolved.model_artifact_uri
        if uri and uri.endswith((".tar.gz", ".tgz")):
            try:
                with storage.local_copy(uri) as local:
                    if expected is None or sha256(local) == expected:
                        return ModelBundle.load(storage.unpack_tar(str(local), tmp / "fast"))
            except (StorageError, FileNotFoundError, OSError, tarfile.TarError):
                pass  # moved, deleted or damaged: fall back to the logged copy
        if not resolved.run_id:
            raise ModelNotFoundError(resolved.uri, "the model artifact is unreadable and there is no MLflow run")
        local = Path(_download(resolved, lambda client: client.download_artifacts(
            resolved.run_id, f"{MODEL_ARTIFACT_DIR}/model.tar.gz", str(tmp)), what="the logged model.tar.gz"))
        if expected is not None and sha256(local) != expected:
            raise StorageError(f"the model artifact of {resolved.uri} does not match the SHA-256 recorded at registration",
                               fix="The artifact was altered after registration: re-register from the training output.")
        return ModelBundle.load(storage.unpack_tar(str(local), tmp / "logged"))


def _download(resolved, fetch, *, what: str) -> str:
    """Run an MLflow download; MLflow and OS failures become an ``AirsageError`` with a fix."""
    mlflow = mlflow_module()
    try:
        return fetch(mlflow.MlflowClient(tracking_uri=resolved.tracking_uri))
    except mlflow.exceptions.MlflowException as exc:
        raise StorageError(f"cannot download {what} of {resolved.uri}: {getattr(exc, 'message', exc)}",
                           fix="Check that the MLflow tracking server and its artifact store are reachable from here "
                               "(AIRSAGE__MLFLOW__TRACKING_URI, artifact credentials) and that the version's artifacts "
                               "were not deleted; re-register the model if they were.") from None
    except OSError as exc:
        raise StorageError(f"cannot download {what} of {resolved.uri}: {exc}",
                           fix="Check free disk space and permissions of the temporary directory (TMPDIR).") from None


def model_location(source: str | None, tracking_uri: str | None) -> str | None:
    """Where a version's MLflow model lives: a ``models:/<model id>`` source becomes the logged model's
    artifact location (resolved on this registry's tracking server, not the process-global one)."""
    if source and source.startswith("models:/m-"):
        mlflow = mlflow_module()
        client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        return client.get_logged_model(source.removeprefix("models:/").split("/", 1)[0]).artifact_location
    return source


def load_mlflow_version(resolved, *, usecase=None):
    """Download the version's MLflow model and load it by flavor (``registry.flavors.load_model_dir``)."""
    from airsage.registry import flavors

    if not resolved.source:
        raise ModelNotFoundError(resolved.uri, "the version has neither an Airsage model artifact nor an MLflow source")
    if usecase is None and resolved.tags.get("airsage.usecase"):
        from airsage.config import get_usecase
        from airsage.errors import ConfigError

        try:
            usecase = get_usecase(resolved.tags["airsage.usecase"])
        except ConfigError:
            usecase = None  # the use case file is gone: serve with the version's own settings
    mlflow = mlflow_module()
    with tempfile.TemporaryDirectory(prefix="airsage-mlflow-model-") as tmp:
        local = _download(resolved, lambda client: mlflow.artifacts.download_artifacts(
            artifact_uri=model_location(resolved.source, resolved.tracking_uri), dst_path=tmp,
            tracking_uri=resolved.tracking_uri), what="the MLflow model")
        expected = resolved.tags.get(flavors.DIGEST_TAG)
        if expected and flavors.dir_digest(local) != expected:
            raise StorageError(f"the MLflow model of {resolved.uri} does not match the digest recorded at registration",
                               fix="The model files were altered after registration: register the model again and "
                                   "have it approved.")
        return flavors.load_model_dir(local, tags=resolved.tags, usecase=usecase, uri=resolved.uri)
