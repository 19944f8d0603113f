"""``ModelRegistry``: MLflow's model registry with SageMaker's approval workflow on top.

* **State** lives in MLflow: each version's ``approval_status`` tag (``PendingManualApproval``,
  ``Approved``, ``Rejected``) and the aliases ``champion`` (what batch scoring serves) and
  ``previous`` (the champion before it, the rollback target). The deprecated stages are never used.
* **Registration** logs one MLflow run per training (params, metrics, dataset lineage, code version,
  the model as a pyfunc wrapping the ``ModelBundle``, the job's ``model.tar.gz``, tuning trials as
  child runs) and registers it as a new version: ``PendingManualApproval`` when every quality gate
  passed, ``Rejected`` (with the failed checks) otherwise. ``Approved`` is only ever set by a person
  (``approve``). Registration is idempotent per ``run_key``.
* **Mutations** (register, approve, reject, promote, rollback) run under an exclusive per-model lock
  (``registry.lock``), re-read the state inside it, and append one event to the audit log
  (``registry.audit``). The audit event is written last: an event means the change is complete.
  A step interrupted before its event is finished by re-running the same call.
* **Serving** goes through ``resolve``, which refuses anything that is not ``Approved``.
* **SageMaker Model Registry mirror** (``sagemaker.mirror_model_registry: true``): after the MLflow
  change and its audit event, ``register_training`` / ``approve`` / ``reject`` copy the version into a
  SageMaker model package (``registry.sagemaker_mirror``); the package ARN and the last mirrored status
  are version tags, not audit events (the audit log records decisions, not their copies). MLflow is the
  record: a mirror failure fails the call *after* the change is complete, and re-running the same call
  finishes the mirror without a second version, event or package. ``promote`` / ``rollback`` only move
  aliases, so there is nothing to mirror.

MLflow is imported inside the methods (~8 s), so importing this module stays cheap.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tarfile
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airsage import storage
from airsage.errors import ConfigError, DataValidationError, ModelNotApprovedError, ModelNotFoundError, StorageError
from airsage.registry import sagemaker_mirror as smm
from airsage.registry import types as t
from airsage.registry.audit import AuditLog, safe_name
from airsage.registry.lock import registry_lock
from airsage.registry.types import ApprovalStatus, RegisteredVersion, RegistryTransitionError, ResolvedModel

EXPERIMENT_PREFIX = "airsage/"
MODEL_ARTIFACT_DIR = "model_artifact"  # run artifact dir holding the job's model.tar.gz
EVALUATION_DIR = "evaluation"  # metrics.json, model_quality*.json, trials.json
CLARIFY_DIR = "clarify"  # analysis.json
CARD_DIR = "model_card"
OUTPUT_FILES = ("metrics.json", "model_quality.json", "model_quality_constraints.json", "trials.json")
RUN_KEY_TAG = "airsage.run_key"
_MODELS_URI = re.compile(r"^models:/(?P<rest>.+)$")
log = logging.getLogger(__name__)


def _mlflow():
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no network calls from the platform
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no progress bars in task logs
    import mlflow

    return mlflow


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _not_found(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def _already_exists(exc: Exception) -> bool:
    return getattr(exc, "error_code", "") == "RESOURCE_ALREADY_EXISTS"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _quoted(value: str, what: str) -> str:
    if "'" in value or "\\" in value:
        raise DataValidationError(what, [f"{value!r} contains a quote or backslash"],
                                  fix=f"Use a {what} without quotes or backslashes.")
    return value


def _is_local_store(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "databricks"))


def _scalar_metrics(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "threshold":
            out[f"{prefix}{k}"] = float(v)
    return out


class ModelRegistry:
    """The registry of every use case's models (one MLflow tracking/registry server + an audit root)."""

    def __init__(self, *, tracking_uri: str, audit_root: str, lock_dir: str | os.PathLike,
                 registry_uri: str | None = None, artifact_root: str | None = None, lock_timeout_s: float = 300.0,
                 mirror_factory=None):
        """``mirror_factory(uc) -> SageMakerRegistryMirror`` (default ``SageMakerRegistryMirror.from_usecase``,
        a boto3 client for ``sagemaker.region``) is used only for use cases with ``mirror_model_registry``."""
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_root = artifact_root
        self.audit = AuditLog(audit_root)
        self.lock_dir = Path(lock_dir)
        self.lock_timeout_s = lock_timeout_s
        self.mirror_factory = mirror_factory
        self._client = None

    @classmethod
    def from_settings(cls, settings=None) -> "ModelRegistry":
        """The registry configured by ``airsage.config.Settings`` (tracking URI, data root, home)."""
        from airsage.config import load_settings

        settings = settings or load_settings()
        uri = settings.tracking_uri
        artifact_root = settings.artifact_root if (settings.mlflow.artifact_root or _is_local_store(uri)) else None
        return cls(tracking_uri=uri, registry_uri=settings.mlflow.registry_uri,
                   audit_root=storage.join(settings.resolved_data_root, "_audit"),
                   lock_dir=Path(settings.home) / "locks", artifact_root=artifact_root)

    @property
    def client(self):
        if self._client is None:
            self._client = _mlflow().MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri)
        return self._client

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with registry_lock(self.lock_dir, name, timeout_s=self.lock_timeout_s):
            yield

    # ================================================================== reading
    def _to_version(self, mv, aliases: list[str] | None = None) -> RegisteredVersion:
        tags = dict(mv.tags or {})
        try:
            metrics = json.loads(tags.get(t.TAG_METRICS) or "{}")
        except ValueError:
            metrics = {}
        created = dt.datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, dt.UTC).isoformat(timespec="seconds")
        return RegisteredVersion(name=mv.name, version=str(mv.version), status=t.status_of(tags),
                                 aliases=sorted(aliases if aliases is not None else (mv.aliases or [])),
                                 run_id=mv.run_id, tags=tags, metrics=metrics, created_at=created)

    def get_version(self, name: str, version: str | int) -> RegisteredVersion:
        """One version, with its aliases (raises ``ModelNotFoundError``)."""
        mlflow = _mlflow()
        try:
            mv = self.client.get_model_version(name, str(version))
        except mlflow.exceptions.MlflowException as exc:
            if _not_found(exc):
                raise ModelNotFoundError(f"models:/{name}/{version}", "no such registered model version") from None
            raise
        return self._to_version(mv)

    def _aliases_by_version(self, name: str) -> dict[str, list[str]]:
        rm = self.client.get_registered_model(name)
        out: dict[str, list[str]] = {}
        for alias, version in (rm.aliases or {}).items():
            out.setdefault(str(version), []).append(alias)
        return out

    def _search(self, filter_string: str) -> list:
        out, token = [], None
        while True:
            page = self.client.search_model_versions(filter_string, max_results=1000, page_token=token)
            out += list(page)
            token = page.token
            if not token:
                return out

    def list_versions(self, name: str) -> list[RegisteredVersion]:
        """Every version of ``name``, oldest first (empty when the model does not exist)."""
        mlflow = _mlflow()
        versions = self._search(f"name='{_quoted(name, 'model name')}'")
        if not versions:
            return []
        try:
            aliases = self._aliases_by_version(name)
        except mlflow.exceptions.MlflowException as exc:
            if _not_found(exc):
                return []
            raise
        # search results carry no aliases: take them from the registered model
        return sorted((self._to_version(mv, aliases.get(str(mv.version), [])) for mv in versions),
                      key=lambda v: int(v.version))

    def _alias_version(self, name: str, alias: str) -> str | None:
        mlflow = _mlflow()
        try:
            return str(self.client.get_model_version_by_alias(name, alias).version)
        except mlflow.exceptions.MlflowException as exc:
            if _not_found(exc) or getattr(exc, "error_code", "") == "INVALID_PARAMETER_VALUE":
                return None
            raise

    def champion(self, name: str) -> RegisteredVersion | None:
        """The version the ``champion`` alias points to, or None."""
        version = self._alias_version(name, t.CHAMPION)
        return self.get_version(name, version) if version else None

    def audit_events(self, name: str) -> list[dict[str, Any]]:
        """The model's audit events, oldest first."""
        return self.audit.events(name)

    def _find_by_run_key(self, name: str, run_key: str) -> RegisteredVersion | None:
        hits = self._search(f"name='{_quoted(name, 'model name')}' "
                            f"and tags.{t.TAG_RUN_KEY}='{_quoted(run_key, 'run_key')}'")
        if not hits:
            return None
        first = min(hits, key=lambda mv: int(mv.version))
        return self.get_version(name, first.version)

    # ================================================================== registration
    def register_training(self, uc, *, model_artifact_uri: str, output_data_uri: str, dataset: dict[str, Any],
                          run_key: str, gate_results: list[dict[str, Any]], actor: str, code_version: str | None = None,
                          bias: dict[str, Any] | None = None,
                          tuning_trials: list[dict[str, Any]] | dict[str, Any] | None = None,
                          mirror: bool = True) -> RegisteredVersion:
        """Log a finished training as an MLflow run and register it as a new version of
        ``uc.registered_model_name``: ``PendingManualApproval`` when every gate passed, else ``Rejected``.

        ``dataset``: ``{"version", "uri", "hash", "rows", "name"}`` (any may be missing).
        ``tuning_trials``: the ``trials`` list of ``trials.json`` (or the whole document); read from the
        output data when None.
        Idempotent per ``run_key``: the version registered for it before is returned as it is (its
        SageMaker mirror, when on, is completed: a retry after a mirror failure creates nothing twice).
        ``mirror=False`` leaves the SageMaker model package to a later ``sync_mirror`` (the training DAG
        mirrors once the version's monitoring baseline exists, so the package's DriftCheckBaselines hold it:
        they cannot be changed after CreateModelPackage); an approval or rejection creates it if missing.
        """
        sync = self._sync_mirror if mirror else (lambda _uc, v: v)
        name = uc.registered_model_name
        existing = self._find_by_run_key(name, run_key)
        if existing is not None:
            with self._lock(name):
                self._ensure_register_event(existing, actor)
                return sync(uc, existing)
        code_version = code_version or os.environ.get("AIRSAGE_CODE_VERSION") or _default_code_version()
        with tempfile.TemporaryDirectory(prefix="airsage-register-") as tmp:
            outputs = _read_outputs(output_data_uri, Path(tmp) / "output")
            bundle_dir, tarball = _local_model(model_artifact_uri, Path(tmp) / "model")
            sha = _sha256(tarball)
            if isinstance(tuning_trials, dict):  # a whole trials.json
                tuning_trials = tuning_trials.get("trials")
            if tuning_trials is None and outputs.get("trials.json"):
                tuning_trials = outputs["trials.json"].get("trials")
            run_id, model_uri, model_id = self._log_run(
                uc, run_key=run_key, actor=actor, code_version=code_version, dataset=dataset, outputs=outputs,
                bundle_dir=bundle_dir, tarball=tarball, model_artifact_uri=model_artifact_uri,
                output_data_uri=output_data_uri, bias=bias, trials=tuning_trials or [], tmp=Path(tmp))
        failed = [g["name"] for g in gate_results if not g.get("passed")]
        status = ApprovalStatus.REJECTED if failed else ApprovalStatus.PENDING
        evaluation = (outputs.get("metrics.json") or {}).get("evaluation") or {}
        baseline = ((outputs.get("metrics.json") or {}).get("baseline") or {}).get("evaluation") or {}
        tags = {
            t.TAG_STATUS: status.value,
            t.TAG_RUN_KEY: run_key,
            t.TAG_DATASET_VERSION: dataset.get("version"),
            t.TAG_DATASET_HASH: dataset.get("hash") or dataset.get("digest"),
            "dataset_uri": dataset.get("uri"),
            "dataset_rows": dataset.get("rows"),
            t.TAG_CODE_VERSION: code_version,
            t.TAG_METRICS: json.dumps({**_scalar_metrics(evaluation), **_scalar_metrics(baseline, "baseline_")}),
            t.TAG_GATES: json.dumps(gate_results, default=str),
            t.TAG_FAILED_CHECKS: ",".join(failed) if failed else None,
            t.TAG_MODEL_ARTIFACT: model_artifact_uri,
            t.TAG_MODEL_SHA256: sha,
            "output_data_uri": output_data_uri,
            "registered_by": actor,
            "registered_at": _now(),
        }
        tags = {k: str(v) for k, v in tags.items() if v is not None}
        with self._lock(name):
            existing = self._find_by_run_key(name, run_key)  # re-read inside the lock: a racing retry won
            if existing is not None:
                self.client.set_tag(run_id, "airsage.duplicate_of", f"{name}/{existing.version}")
                self._ensure_register_event(existing, actor)
                return sync(uc, existing)
            self._ensure_registered_model(uc)
            mv = self.client.create_model_version(name, source=model_uri, run_id=run_id, tags=tags,
                                                  description=f"{uc.name} trained for {run_key}", model_id=model_id)
            version = self.get_version(name, mv.version)
            self._ensure_register_event(version, actor)
            sync(uc, version)  # after the event: MLflow is the record, the mirror a copy
        return self.get_version(name, mv.version)

    def sync_mirror(self, uc, version: str | int) -> RegisteredVersion:
        """Create or update the SageMaker model package of ``version`` (``sagemaker.mirror_model_registry``;
        nothing when off, no call when already in line). Under the model's lock, like every decision."""
        name = uc.registered_model_name
        with self._lock(name):
            return self._sync_mirror(uc, self.get_version(name, str(version)))

    def _ensure_register_event(self, v: RegisteredVersion, actor: str) -> None:
        """Write the registration's audit event unless it exists (a retry after a crash completes it)."""
        if any(e["action"] == "register" and e["version"] == v.version for e in self.audit.events(v.name)):
            return
        champion = self._alias_version(v.name, t.CHAMPION)
        failed = v.failed_checks
        self.audit.append(v.name, action="register", actor=actor, version=v.version, from_version=champion,
                          to_version=champion, from_status=None, to_status=str(v.status),
                          reason="quality gates failed: " + ", ".join(failed) if failed else "all quality gates passed",
                          extra={"run_key": v.tags.get(t.TAG_RUN_KEY), "run_id": v.run_id,
                                 "dataset_version": v.tags.get(t.TAG_DATASET_VERSION),
                                 "failed_checks": failed, "metrics": v.metrics})

    def _ensure_registered_model(self, uc) -> None:
        mlflow = _mlflow()
        try:
            self.client.create_registered_model(uc.registered_model_name, description=uc.description or None,
                                                tags={"airsage.usecase": uc.name, "owner": uc.owner})
        except mlflow.exceptions.MlflowException as exc:
            if not _already_exists(exc):
                raise

    def _experiment_id(self, uc) -> str:
        mlflow = _mlflow()
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
            if _already_exists(exc):
                return self.client.get_experiment_by_name(name).experiment_id
            raise

    def _log_run(self, uc, *, run_key, actor, code_version, dataset, outputs, bundle_dir, tarball, model_artifact_uri,
                 output_data_uri, bias, trials, tmp: Path) -> tuple[str, str, str]:
        mlflow = _mlflow()
        from mlflow.entities import Metric, Param

        exp_id = self._experiment_id(uc)
        metrics_doc = outputs.get("metrics.json") or {}
        run_tags = {RUN_KEY_TAG: run_key, "airsage.usecase": uc.name, "airsage.kind": "training",
                    "mlflow.user": actor, "airsage.code_version": code_version,
                    "airsage.model_artifact_uri": model_artifact_uri, "airsage.output_data_uri": output_data_uri}
        if re.fullmatch(r"[0-9a-f]{40}", code_version or ""):
            run_tags["mlflow.source.git.commit"] = code_version
        run = self.client.create_run(exp_id, run_name=f"{uc.name}-{safe_name(run_key)}"[:250], tags=run_tags)
        run_id = run.info.run_id
        try:
            params = {"algorithm": metrics_doc.get("algorithm"), "threshold": metrics_doc.get("threshold"),
                      "test_size": metrics_doc.get("test_size"), "seed": metrics_doc.get("seed"),
                      "handle_imbalance": metrics_doc.get("handle_imbalance"),
                      "dataset_version": dataset.get("version"), "dataset_rows": dataset.get("rows"),
                      "baseline_algorithm": (metrics_doc.get("baseline") or {}).get("algorithm"),
                      **{f"hp.{k}": v for k, v in (metrics_doc.get("hyperparameters") or {}).items()}}
            ts = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
            metrics = {**_scalar_metrics(metrics_doc.get("evaluation") or {}),
                       **_scalar_metrics(((metrics_doc.get("baseline") or {}).get("evaluation")) or {}, "baseline_"),
                       **_scalar_metrics({"train_rows": metrics_doc.get("train_rows")})}
            self._log_batch(run_id, [Param(k, str(v)) for k, v in params.items() if v is not None],
                            [Metric(k, v, ts, 0) for k, v in metrics.items()])
            self._log_dataset(run_id, uc, dataset)
            model_uri, model_id = self._log_model(exp_id, run_id, uc, bundle_dir, outputs, tmp)
            self.client.log_artifact(run_id, str(tarball), MODEL_ARTIFACT_DIR)
            eval_dir = tmp / "evaluation-artifacts"
            eval_dir.mkdir()
            for fname in OUTPUT_FILES:
                if outputs.get(fname) is not None:
                    (eval_dir / fname).write_text(json.dumps(outputs[fname], indent=2))
            if any(eval_dir.iterdir()):
                self.client.log_artifacts(run_id, str(eval_dir), EVALUATION_DIR)
            if bias is not None:
                self.client.log_dict(run_id, bias, f"{CLARIFY_DIR}/analysis.json")
            for trial in trials:
                self._log_trial(exp_id, run_id, run_key, trial, (outputs.get("trials.json") or {}).get("objective"))
            self.client.set_terminated(run_id, "FINISHED")
        except BaseException:
            self.client.set_terminated(run_id, "FAILED")
            raise
        return run_id, model_uri, model_id

    def _log_batch(self, run_id: str, params: list, metrics: list) -> None:
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100])
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def _log_dataset(self, run_id: str, uc, dataset: dict[str, Any], context: str = "training") -> None:
        """Dataset lineage (``mlflow.log_input``): the dataset URI, its hash as the digest, its version."""
        if not dataset.get("uri"):
            return
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        digest = str(dataset.get("hash") or dataset.get("digest") or dataset.get("version") or "")[:36] or None
        with warnings.catch_warnings():  # "can be interpreted in multiple ways": both are the local source
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(dataset["uri"])
        ds = MetaDataset(source=source, name=str(dataset.get("name") or f"{uc.name}-training"), digest=digest)
        tags = [InputTag("mlflow.data.context", context)]
        for k in ("version", "rows", "hash"):
            if dataset.get(k) is not None:
                tags.append(InputTag(f"airsage.dataset_{k}", str(dataset[k])))
        self.client.log_inputs(run_id, [DatasetInput(ds._to_mlflow_entity(), tags)])

    def _log_model(self, exp_id: str, run_id: str, uc, bundle_dir: Path, outputs: dict[str, Any],
                   tmp: Path) -> tuple[str, str]:
        """Log the bundle as an MLflow 3 LoggedModel (pyfunc flavour); return (artifact location, model id)."""
        mlflow = _mlflow()
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus
        from mlflow.models import Model

        from airsage.registry.pyfunc import BUNDLE_ARTIFACT, AirsageBundleModel

        meta = json.loads((bundle_dir / "airsage_model.json").read_text())
        signature, example = _signature(meta, outputs.get("eval_predictions.parquet"))
        lm = self.client.create_logged_model(experiment_id=exp_id, name="model", source_run_id=run_id,
                                             model_type="airsage-bundle",
                                             tags={"airsage.usecase": uc.name, "airsage.algorithm": meta["algorithm"]})
        local = tmp / "mlflow-model"
        with _quiet("mlflow.pyfunc"):  # the wrapper is pickled by reference: the CloudPickle caveat is moot
            mlflow.pyfunc.save_model(
                path=str(local), python_model=AirsageBundleModel(), artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
                signature=signature, input_example=example, pip_requirements=_pip_requirements(meta["algorithm"]),
                mlflow_model=Model(artifact_path=lm.artifact_location, run_id=run_id, model_uuid=lm.model_id,
                                   model_id=lm.model_id))
        self.client.log_model_artifacts(lm.model_id, str(local))
        self.client.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
        self.client.log_outputs(run_id, [LoggedModelOutput(lm.model_id, step=0)])
        # the version's source is the storage location: MLflow 3.17 resolves a models:/<id> source
        # through a client on the *global* tracking URI, not this registry's
        return lm.artifact_location, lm.model_id

    def _log_trial(self, exp_id: str, parent_run_id: str, run_key: str, trial: dict[str, Any],
                   objective: str | None) -> None:
        from mlflow.entities import Metric, Param

        status = str(trial.get("status", "Completed"))
        child = self.client.create_run(exp_id, run_name=f"trial-{int(trial.get('trial', 0)):03d}",
                                       tags={"mlflow.parentRunId": parent_run_id, "airsage.kind": "tuning-trial",
                                             "airsage.parent_run_key": run_key, "airsage.trial_status": status,
                                             "airsage.trial_detail": str(trial.get("detail", ""))[:5000]})
        metrics = []
        if isinstance(trial.get("metric"), (int, float)):
            metrics.append(Metric(f"validation_{objective or 'objective'}", float(trial["metric"]),
                                  int(dt.datetime.now(dt.UTC).timestamp() * 1000), 0))
        for k in ("rounds", "best_iteration"):
            if isinstance(trial.get(k), (int, float)):
                metrics.append(Metric(k, float(trial[k]), int(dt.datetime.now(dt.UTC).timestamp() * 1000), 0))
        self._log_batch(child.info.run_id, [Param(k, str(v)) for k, v in (trial.get("params") or {}).items()], metrics)
        self.client.set_terminated(child.info.run_id,
                                   {"Completed": "FINISHED", "Pruned": "KILLED"}.get(status, "FAILED"))

    def log_dataset_import(self, uc, lineage: dict[str, dict[str, Any]]) -> str:
        """One MLflow run per imported dataset version (see ``airsage.registry.tracking``)."""
        from mlflow.entities import Metric, Param

        tags = {str(k): str(v) for k, v in (lineage.get("tags") or {}).items()}
        params = {str(k): str(v) for k, v in (lineage.get("params") or {}).items()}
        version = params.get("dataset_version") or tags.get("airsage.dataset.version") or "unknown"
        exp_id = self._experiment_id(uc)
        version_filter = f"tags.`airsage.dataset.version` = '{_quoted(version, 'dataset version')}'"
        runs = self.client.search_runs([exp_id], filter_string=f"tags.`airsage.kind` = 'dataset-import' and {version_filter}",
                                       max_results=1)
        if runs:
            return runs[0].info.run_id
        run = self.client.create_run(exp_id, run_name=f"import-{version}"[:250],
                                     tags={**tags, "airsage.kind": "dataset-import", "airsage.usecase": uc.name,
                                           "airsage.dataset.version": version})
        ts = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        self._log_batch(run.info.run_id, [Param(k, v[:6000]) for k, v in params.items()],
                        [Metric(k, float(v), ts, 0) for k, v in (lineage.get("metrics") or {}).items()
                         if isinstance(v, (int, float))])
        self._log_dataset(run.info.run_id, uc, {"uri": params.get("dataset_uri") or tags.get("airsage.dataset.uri"),
                                                "hash": params.get("dataset_hash") or tags.get("airsage.dataset.hash"),
                                                "version": version, "rows": params.get("dataset_rows")},
                          context="import")
        self.client.set_terminated(run.info.run_id, "FINISHED")
        return run.info.run_id

    # ================================================================== approval workflow
    def _status(self, name: str, version: str) -> tuple[RegisteredVersion, ApprovalStatus | str | None]:
        v = self.get_version(name, version)
        return v, v.status

    def _has_event(self, name: str, version: str, action: str) -> bool:
        return any(e["action"] == action and e["version"] == str(version) for e in self.audit.events(name))

    def _move_champion(self, name: str, version: str) -> str | None:
        """champion -> ``version``; the old champion -> ``previous``. Returns the old champion."""
        old = self._alias_version(name, t.CHAMPION)
        if old == str(version):
            return old
        if old is not None:
            self.client.set_registered_model_alias(name, t.PREVIOUS, old)
        self.client.set_registered_model_alias(name, t.CHAMPION, str(version))
        return old

    def approve(self, name: str, version: str | int, *, approver: str, comment: str,
                usecase=None) -> RegisteredVersion:
        """PendingManualApproval -> Approved; the version becomes champion, the old champion ``previous``.

        Approving an Approved version again is a no-op (a retried task never approves twice) except that
        it completes the SageMaker mirror. ``usecase``: the version's use case; with
        ``sagemaker.mirror_model_registry`` its model package is set to Approved (who + why).
        """
        version = str(version)
        with self._lock(name):
            v, status = self._status(name, version)
            if status == ApprovalStatus.APPROVED and self._has_event(name, version, "approve"):
                return self._sync_mirror(usecase, v)
            if status not in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED):
                raise RegistryTransitionError(
                    name, version, str(status), "approve",
                    fix="Only a PendingManualApproval version can be approved; a Rejected version failed its "
                        "gates or review: retrain (or fix the gates) to get a new version.")
            self._set_tags(name, version, {t.TAG_STATUS: ApprovalStatus.APPROVED.value, "approved_by": approver,
                                           "approval_comment": comment, "approval_ts": _now()})
            old = self._move_champion(name, version)
            self.audit.append(name, action="approve", actor=approver, version=version, from_version=old,
                              to_version=version, from_status=ApprovalStatus.PENDING.value,
                              to_status=ApprovalStatus.APPROVED.value, reason=comment)
            return self._sync_mirror(usecase, self.get_version(name, version))

    def reject(self, name: str, version: str | int, *, approver: str, comment: str,
               usecase=None) -> RegisteredVersion:
        """PendingManualApproval -> Rejected; the champion is unchanged. Rejecting again is a no-op (but
        completes the SageMaker mirror). ``usecase``: as for ``approve``."""
        version = str(version)
        with self._lock(name):
            v, status = self._status(name, version)
            if status == ApprovalStatus.REJECTED:  # already rejected (by a person or by the gates)
                if v.tags.get("rejected_by") and not self._has_event(name, version, "reject"):
                    self._append_reject(name, version, v.tags["rejected_by"], v.tags.get("rejection_comment", ""))
                return self._sync_mirror(usecase, v)
            if status != ApprovalStatus.PENDING:
                raise RegistryTransitionError(
                    name, version, str(status), "reject",
                    fix="Only a PendingManualApproval version can be rejected. To retire an approved champion, "
                        "roll back (airsage registry rollback) or promote another approved version.")
            self._set_tags(name, version, {t.TAG_STATUS: ApprovalStatus.REJECTED.value, "rejected_by": approver,
                                           "rejection_comment": comment, "rejection_ts": _now()})
            self._append_reject(name, version, approver, comment)
            return self._sync_mirror(usecase, self.get_version(name, version))

    def _append_reject(self, name: str, version: str, approver: str, comment: str) -> None:
        champion = self._alias_version(name, t.CHAMPION)
        self.audit.append(name, action="reject", actor=approver, version=version, from_version=champion,
                          to_version=champion, from_status=ApprovalStatus.PENDING.value,
                          to_status=ApprovalStatus.REJECTED.value, reason=comment)

    def promote(self, name: str, version: str | int, *, actor: str, reason: str) -> RegisteredVersion:
        """Make an Approved version the champion (the old one becomes ``previous``)."""
        version = str(version)
        with self._lock(name):
            v, status = self._status(name, version)
            if status != ApprovalStatus.APPROVED:
                raise ModelNotApprovedError(name, version, str(status) if status else None)
            if t.CHAMPION in v.aliases:
                return v
            old = self._move_champion(name, version)
            self.audit.append(name, action="promote", actor=actor, version=version, from_version=old,
                              to_version=version, from_status=str(status), to_status=str(status), reason=reason)
            return self.get_version(name, version)

    def rollback(self, name: str, *, actor: str, reason: str, to_version: str | int | None = None) -> RegisteredVersion:
        """champion <- ``previous`` (or ``to_version``), which must be Approved.

        ``previous`` then points to the champion *before* the new champion (the rollback walks back
        the champion history recorded in the audit log), so rolling back twice goes two steps back
        and never returns to the version just rolled back from.
        """
        with self._lock(name):
            current = self._alias_version(name, t.CHAMPION)
            target = str(to_version) if to_version is not None else self._alias_version(name, t.PREVIOUS)
            if target is None:
                raise RegistryTransitionError(
                    name, current, "no previous version", "roll back",
                    fix="Name the target: rollback(..., to_version=N) with an Approved version "
                        "(airsage registry list NAME shows them).")
            v, status = self._status(name, target)
            if status != ApprovalStatus.APPROVED:
                raise ModelNotApprovedError(name, target, str(status) if status else None)
            if current == target:
                return v
            before = self._champion_before(name, target, exclude={target, current})
            self.client.set_registered_model_alias(name, t.CHAMPION, target)
            if before is not None:
                self.client.set_registered_model_alias(name, t.PREVIOUS, before)
            else:
                self._delete_alias(name, t.PREVIOUS)
            self.audit.append(name, action="rollback", actor=actor, version=target, from_version=current,
                              to_version=target, from_status=str(status), to_status=str(status), reason=reason,
                              extra={"previous": before})
            return self.get_version(name, target)

    def _champion_before(self, name: str, version: str, exclude: set[str | None]) -> str | None:
        """The champion that ``version`` last replaced (from the audit log), if it is still Approved."""
        before = None
        for e in self.audit.events(name):
            if e["to_version"] == version and e["from_version"] != version and e["action"] != "register":
                before = e["from_version"]
        if before is None or before in exclude:
            return None
        try:
            return before if self.get_version(name, before).status == ApprovalStatus.APPROVED else None
        except ModelNotFoundError:
            return None

    def _delete_alias(self, name: str, alias: str) -> None:
        mlflow = _mlflow()
        try:
            self.client.delete_registered_model_alias(name, alias)
        except mlflow.exceptions.MlflowException as exc:
            if not _not_found(exc):
                raise

    # ================================================================== SageMaker Model Registry mirror
    def _sync_mirror(self, uc, v: RegisteredVersion) -> RegisteredVersion:
        """Bring the version's SageMaker model package in line with MLflow (caller holds the lock).

        No package yet (tag ``sagemaker_model_package_arn``): create it with the version's status and the
        reports found on S3; the ARN tag is written right after, and ``CreateModelPackage``'s ClientToken
        covers a crash in between. Package there and ``sagemaker_model_package_status`` equal to the
        status: nothing to do (no call). Otherwise ``UpdateModelPackage`` (ApprovalDescription: who + why).
        """
        if uc is None:
            if v.tags.get(smm.TAG_PACKAGE_ARN) and v.tags.get(smm.TAG_PACKAGE_STATUS) != str(v.status):
                log.warning("%s is mirrored in SageMaker (%s) but no use case was given: its model package keeps "
                            "status %s", v.uri, v.tags[smm.TAG_PACKAGE_ARN], v.tags.get(smm.TAG_PACKAGE_STATUS))
            return v
        if not uc.sagemaker.mirror_model_registry:
            return v
        if uc.registered_model_name != v.name:
            raise ConfigError(f"use case {uc.name} registers {uc.registered_model_name}, not {v.name}",
                              key="model_name", fix="Pass the use case the model belongs to.")
        status = smm.approval_status(str(v.status))
        arn = v.tags.get(smm.TAG_PACKAGE_ARN)
        if arn and v.tags.get(smm.TAG_PACKAGE_STATUS) == status:
            return v
        mirror = (self.mirror_factory or smm.SageMakerRegistryMirror.from_usecase)(uc)
        why = _approval_description(v)
        if not arn:
            reports, baselines = self._mirror_reports(uc, v)
            failed = v.failed_checks
            meta = {"mlflow:model_name": v.name, "mlflow:version": v.version, "mlflow:run_id": v.run_id,
                    "airsage:usecase": uc.name, "airsage:run_key": v.tags.get(t.TAG_RUN_KEY),
                    "airsage:dataset_version": v.tags.get(t.TAG_DATASET_VERSION),
                    "airsage:code_version": v.tags.get(t.TAG_CODE_VERSION),
                    "airsage:model_sha256": v.tags.get(t.TAG_MODEL_SHA256),
                    "airsage:failed_checks": " ".join(failed) if failed else None}
            desc = f"MLflow {v.uri} ({uc.name}, run_key {v.tags.get(t.TAG_RUN_KEY)})"
            if failed:
                desc += f"; quality gates failed: {', '.join(failed)}"
            arn = mirror.register(version=v.version, model_data_url=v.tags.get(t.TAG_MODEL_ARTIFACT) or "",
                                  approval=status, description=desc[:1024], reports=reports, baselines=baselines,
                                  metadata={k: smm.metadata_value(x) for k, x in meta.items() if x is not None},
                                  token_key=f"{v.name}/{v.version}")
            self._set_tags(v.name, v.version, {smm.TAG_PACKAGE_ARN: arn})
            log.info("%s mirrored to SageMaker model package %s (%s; %d report(s), %d baseline(s))", v.uri, arn,
                     status, len(reports), len(baselines))
            if v.tags.get("approved_by") or v.tags.get("rejected_by"):  # a person decided before the mirror ran
                mirror.sync_approval(arn, status, why)
        else:
            mirror.sync_approval(arn, status, why)
            log.info("%s: SageMaker model package %s set to %s", v.uri, arn, status)
        self._set_tags(v.name, v.version, {smm.TAG_PACKAGE_STATUS: status, smm.TAG_SYNCED_AT: _now()})
        return self.get_version(v.name, v.version)

    def _mirror_reports(self, uc, v: RegisteredVersion) -> tuple[dict[str, str], dict[str, str]]:
        """(ModelMetrics, DriftCheckBaselines) entries for ``v`` that exist on S3 (``sagemaker_mirror.report_candidates``):
        the training run's Clarify outputs (``pipeline.clarify_plan``), the version's monitoring baseline
        (``steps.monitoring.baseline_uri``) and the MLflow run's evaluation files."""
        run_key = v.tags.get(t.TAG_RUN_KEY)
        run_root = self.client.get_run(v.run_id).info.artifact_uri if v.run_id else None
        reports, baselines = smm.report_candidates(
            clarify_root=uc.path("reports", "clarify", run_key) if run_key else None,
            baseline_root=uc.path("monitor", "baselines", f"v{v.version}"), run_artifact_uri=run_root)
        found_reports, found_baselines = smm.existing_s3(reports, baselines)
        return found_reports, found_baselines

    def _set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for k, v in tags.items():
            self.client.set_model_version_tag(name, version, k, str(v))

    # ================================================================== serving
    def resolve(self, uri: str, *, require_approved: bool = True) -> ResolvedModel:
        """``models:/name@alias``, ``models:/name/<version>`` or ``models:/name/latest`` -> the version.

        Raises ``ModelNotApprovedError`` for anything not Approved (unless ``require_approved=False``)
        and ``ModelNotFoundError`` when the model, version or alias does not exist.
        """
        name, version, alias = self._parse_uri(uri)
        if alias is not None:
            version = self._alias_version(name, alias)
            if version is None:
                raise ModelNotFoundError(uri, f"model {name} has no alias {alias!r}")
        elif version == "latest":
            versions = self._search(f"name='{_quoted(name, 'model name')}'")
            if not versions:
                raise ModelNotFoundError(uri, f"model {name} has no versions")
            version = str(max(int(mv.version) for mv in versions))
        try:
            v = self.get_version(name, version)
        except ModelNotFoundError:
            raise ModelNotFoundError(uri, f"model {name} has no version {version}") from None
        if require_approved and v.status != ApprovalStatus.APPROVED:
            raise ModelNotApprovedError(name, v.version, str(v.status) if v.status is not None else None)
        return ResolvedModel(name=name, version=v.version, status=v.status, alias=alias, run_id=v.run_id,
                             model_artifact_uri=v.tags.get(t.TAG_MODEL_ARTIFACT), tags=v.tags,
                             tracking_uri=self.tracking_uri)

    @staticmethod
    def _parse_uri(uri: str) -> tuple[str, str | None, str | None]:
        m = _MODELS_URI.match(uri or "")
        if not m:
            raise ModelNotFoundError(uri, "not a models:/ URI (use models:/NAME@ALIAS, models:/NAME/VERSION "
                                          "or models:/NAME/latest)")
        rest = m.group("rest")
        if "@" in rest:
            name, alias = rest.rsplit("@", 1)
            return name, None, alias
        name, _, suffix = rest.rpartition("/")
        if not name:
            raise ModelNotFoundError(uri, "a bare models:/<id> (MLflow LoggedModel) is not a registered version")
        if suffix.isdigit():
            return name, suffix, None
        if suffix.lower() == "latest":
            return name, "latest", None
        raise ModelNotFoundError(uri, f"{suffix!r} is a stage or unknown suffix; stages are not used, "
                                      "use an alias (models:/NAME@champion) or a version number")

    # ================================================================== documents and model cards
    def read_run_json(self, name: str, version: str | int, artifact_path: str) -> Any | None:
        """A JSON artifact of the version's run (e.g. ``evaluation/metrics.json``), or None."""
        v = self.get_version(name, version)
        if not v.run_id:
            return None
        mlflow = _mlflow()
        with tempfile.TemporaryDirectory(prefix="airsage-artifact-") as tmp:
            try:
                local = self.client.download_artifacts(v.run_id, artifact_path, tmp)
            except (mlflow.exceptions.MlflowException, OSError):
                return None
            try:
                return json.loads(Path(local).read_text())
            except (OSError, ValueError):
                return None

    def version_documents(self, name: str, version: str | int) -> dict[str, Any]:
        """The evidence logged with a version: metrics, model quality, trials, Clarify analysis."""
        docs = {f.removesuffix(".json"): self.read_run_json(name, version, f"{EVALUATION_DIR}/{f}") for f in OUTPUT_FILES}
        docs["clarify_analysis"] = self.read_run_json(name, version, f"{CLARIFY_DIR}/analysis.json")
        return docs

    def attach_model_card(self, name: str, version: str | int, card: dict[str, Any], html: str) -> RegisteredVersion:
        """Log the card (JSON + HTML) as artifacts of the version's run; record its URI in a version tag."""
        v = self.get_version(name, version)
        if not v.run_id:
            raise ModelNotFoundError(v.uri, "the version has no MLflow run to attach the model card to")
        self.client.log_dict(v.run_id, card, f"{CARD_DIR}/model_card.json")
        self.client.log_text(v.run_id, html, f"{CARD_DIR}/model_card.html")
        self._set_tags(name, v.version, {t.TAG_MODEL_CARD: f"runs:/{v.run_id}/{CARD_DIR}/model_card.json",
                                         "model_card_html_uri": f"runs:/{v.run_id}/{CARD_DIR}/model_card.html",
                                         "model_card_generated_at": _now()})
        return self.get_version(name, v.version)


# ====================================================================== helpers
def _approval_description(v: RegisteredVersion) -> str:
    """SageMaker's ApprovalDescription for the version's status: who decided, and why."""
    tags = v.tags
    if v.status == ApprovalStatus.APPROVED:
        return f"Approved by {tags.get('approved_by', 'unknown')}: {tags.get('approval_comment', '')}".strip()
    if v.status == ApprovalStatus.REJECTED:
        if tags.get("rejected_by"):
            return f"Rejected by {tags['rejected_by']}: {tags.get('rejection_comment', '')}".strip()
        return f"Rejected by the quality gates: {', '.join(v.failed_checks)}"
    return ""


def _default_code_version() -> str:
    from airsage import __version__

    return f"airsage-{__version__}"


def _read_outputs(output_data_uri: str, dest: Path) -> dict[str, Any]:
    """The training job's output data (``output.tar.gz`` or a directory): parsed JSON files and the
    local path of ``eval_predictions.parquet``."""
    try:
        storage.unpack_tar(output_data_uri, dest)
    except (StorageError, FileNotFoundError, tarfile.TarError) as exc:
        raise DataValidationError(output_data_uri, [f"cannot read the training output: {exc}"],
                                  fix="Pass the output_data URI the training job reported (output.tar.gz).") from exc
    found = {p.name: p for p in dest.rglob("*") if p.is_file()}
    if "metrics.json" not in found:
        raise DataValidationError(output_data_uri, ["no metrics.json in the training output"],
                                  fix="Pass the output_data URI of an Airsage training or tuning job.")
    out: dict[str, Any] = {f: json.loads(found[f].read_text()) for f in OUTPUT_FILES if f in found}
    out["eval_predictions.parquet"] = found.get("eval_predictions.parquet")
    return out


def _local_model(model_artifact_uri: str, dest: Path) -> tuple[Path, Path]:
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


def _signature(meta: dict[str, Any], predictions: Path | None):
    """Model signature from the bundle's feature list (numeric: double, categorical: string; all optional,
    as the bundle maps missing and unseen values to NaN) and a 5-row input example from the held-out rows."""
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    features = meta["feature_names"]
    categorical = set(meta.get("categorical") or {})
    inputs = Schema([ColSpec("string" if f in categorical else "double", f, required=False) for f in features])
    outputs = Schema([ColSpec("double", "score"), ColSpec("long", "predicted_label")])
    example = None
    if predictions is not None:
        import pyarrow.parquet as pq

        cols = [f for f in features if f in pq.read_schema(predictions).names]
        if len(cols) == len(features):
            frame = pq.read_table(predictions, columns=cols).slice(0, 5).to_pandas()
            example = pd.DataFrame({f: (frame[f].astype(object).where(frame[f].notna(), None).map(
                lambda x: None if x is None else str(x)) if f in categorical else frame[f].astype("float64"))
                                    for f in features})
    return ModelSignature(inputs=inputs, outputs=outputs), example


def _pip_requirements(algorithm: str) -> list[str]:
    """Pinned to the versions installed here, so MLflow never infers them (slow; loads the model)."""
    from importlib.metadata import PackageNotFoundError, version

    pkgs = ["mlflow", "pandas", "numpy", "pyarrow", "scikit-learn", "cloudpickle"]
    if algorithm == "xgboost":
        pkgs.insert(1, "xgboost")
    out = []
    for p in pkgs:
        try:
            out.append(f"{p}=={version(p)}")
        except PackageNotFoundError:
            out.append(p)
    return out


def load_bundle(resolved: ResolvedModel):
    """Load a resolved version's ``ModelBundle``: the job's model.tar.gz when it is still there and its
    SHA-256 matches the one recorded at registration, else the copy logged with the MLflow run."""
    from airsage.model import ModelBundle

    expected = resolved.tags.get(t.TAG_MODEL_SHA256)
    with tempfile.TemporaryDirectory(prefix="airsage-bundle-") as tmp:
        tmp = Path(tmp)
        uri = resolved.model_artifact_uri
        if uri and uri.endswith((".tar.gz", ".tgz")):
            try:
                with storage.local_copy(uri) as local:
                    if expected is None or _sha256(local) == expected:
                        return ModelBundle.load(storage.unpack_tar(str(local), tmp / "fast"))
            except (StorageError, FileNotFoundError, OSError):
                pass  # moved or deleted: fall back to the logged copy
        if not resolved.run_id:
            raise ModelNotFoundError(resolved.uri, "the model artifact is unreadable and there is no MLflow run")
        mlflow = _mlflow()
        client = mlflow.MlflowClient(tracking_uri=resolved.tracking_uri)
        local = Path(client.download_artifacts(resolved.run_id, f"{MODEL_ARTIFACT_DIR}/model.tar.gz", str(tmp)))
        if expected is not None and _sha256(local) != expected:
            raise StorageError(f"the model artifact of {resolved.uri} does not match the SHA-256 recorded at registration",
                               fix="The artifact was altered after registration: re-register from the training output.")
        return ModelBundle.load(storage.unpack_tar(str(local), tmp / "logged"))
