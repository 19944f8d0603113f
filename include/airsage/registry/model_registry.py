"""``ModelRegistry``: MLflow's model registry with SageMaker's approval workflow on top (the facade).

* **State** lives in MLflow: each version's ``approval_status`` tag (``PendingManualApproval``,
  ``Approved``, ``Rejected``) and the aliases ``champion`` (what batch scoring serves) and
  ``previous`` (the champion it replaced, the rollback target). The deprecated stages are never used.
* **Registration** logs one MLflow run per training (``registry.lineage``) and registers it as a new
  version: ``PendingManualApproval`` when every quality gate passed, ``Rejected`` (with the failed
  checks) otherwise. ``Approved`` is only ever set by a person (``approve``), never the one who started
  the training run (four eyes, ``trained_by``). Registration is idempotent per ``run_key``.
* **Mutations** (register, approve, reject, promote, rollback) run under an exclusive per-model lock
  (``registry.lock``), re-read the state inside it, and append one event to the hash-chained audit log
  (``registry.audit``) naming the actor and the source (UI, API, CLI). The audit event is written last:
  an event means the change is complete. A step interrupted before its event is finished by re-running
  the same call.
* **Serving** goes through ``resolve``, which refuses anything that is not ``Approved`` *and backed by
  the audit log* (``registry.integrity``): a tag flipped or an alias moved in MLflow by hand is refused.
* **SageMaker Model Registry mirror** (``sagemaker.mirror_model_registry: true``): after the MLflow
  change and its audit event, ``register_training`` / ``approve`` / ``reject`` copy the version into a
  SageMaker model package (``registry.sagemaker_mirror.sync_version``); the package ARN and the last
  mirrored status are version tags, not audit events. MLflow is the record: a mirror failure fails the
  call *after* the change is complete, and re-running the same call finishes the mirror.
  ``promote`` / ``rollback`` only move aliases, so there is nothing to mirror.

The MLflow calls are in ``registry.store``, artifacts and checksums in ``registry.artifacts``, how a
decision is recorded (tags, champion move, audit event) in ``registry.approval``, the URI resolution and
the serving guard in ``registry.serving``. MLflow is imported inside the methods (~8 s), so importing this
module stays cheap.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airsage import storage
from airsage.errors import ModelNotApprovedError, ModelNotFoundError
from airsage.registry import approval, integrity, lineage, serving
from airsage.registry import sagemaker_mirror as smm
from airsage.registry import types as t
from airsage.registry.artifacts import MODEL_ARTIFACT_DIR, load_bundle, local_model, sha256  # noqa: F401
from airsage.registry._mlflow import mlflow_module as _mlflow_module
from airsage.registry.audit import AuditLog
from airsage.registry.lineage import CLARIFY_DIR, EVALUATION_DIR, EVALUATION_FILES
from airsage.registry.lock import registry_lock
from airsage.registry.approval import cli_source, register_reason  # noqa: F401 - their former home
from airsage.registry.approval import same_person as _same_person  # noqa: F401
from airsage.registry.store import (MlflowStore, check_name, check_version, is_local_store, now,
                                    scalar_metrics)
from airsage.registry.types import (ApprovalNotBackedError, ApprovalStatus, FourEyesError,  # noqa: F401
                                    RegisteredVersion, RegistryTransitionError, ResolvedModel)

CARD_DIR = "model_card"
OUTPUT_FILES = tuple(EVALUATION_FILES)
log = logging.getLogger(__name__)


class ModelRegistry:
    """The registry of every use case's models (one MLflow tracking/registry server + an audit root)."""

    def __init__(self, *, tracking_uri: str, audit_root: str, lock_dir: str | os.PathLike,
                 registry_uri: str | None = None, artifact_root: str | None = None, lock_timeout_s: float = 300.0,
                 mirror_factory=None):
        """``mirror_factory(uc) -> SageMakerRegistryMirror`` (default ``SageMakerRegistryMirror.from_usecase``,
        a boto3 client for ``sagemaker.region``) is used only for use cases with ``mirror_model_registry``."""
        self.store = MlflowStore(tracking_uri, registry_uri, artifact_root)
        self.audit = AuditLog(audit_root)
        self.lock_dir = Path(lock_dir)
        self.lock_timeout_s = lock_timeout_s
        self.mirror_factory = mirror_factory

    @classmethod
    def from_settings(cls, settings=None) -> "ModelRegistry":
        """The registry configured by ``airsage.config.Settings`` (tracking URI, data root, home)."""
        from airsage.config import load_settings

        settings = settings or load_settings()
        uri = settings.tracking_uri
        artifact_root = settings.artifact_root if (settings.mlflow.artifact_root or is_local_store(uri)) else None
        return cls(tracking_uri=uri, registry_uri=settings.mlflow.registry_uri,
                   audit_root=storage.join(settings.resolved_data_root, "_audit"),
                   lock_dir=Path(settings.home) / "locks", artifact_root=artifact_root)

    tracking_uri = property(lambda self: self.store.tracking_uri)
    registry_uri = property(lambda self: self.store.registry_uri)
    artifact_root = property(lambda self: self.store.artifact_root)
    client = property(lambda self: self.store.client)

    @contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        with registry_lock(self.lock_dir, name, timeout_s=self.lock_timeout_s):
            yield

    # ================================================================== reading
    def get_version(self, name: str, version: str | int) -> RegisteredVersion:
        """One version, with its aliases (``ModelNotFoundError``; ``ConfigError`` for a malformed version)."""
        return self.store.get_version(name, version)

    def list_versions(self, name: str) -> list[RegisteredVersion]:
        """Every version of ``name``, oldest first (empty when the model does not exist)."""
        return self.store.list_versions(name)

    def champion(self, name: str) -> RegisteredVersion | None:
        """The version the ``champion`` alias points to, or None."""
        version = self.store.alias_version(name, t.CHAMPION)
        return self.get_version(name, version) if version else None

    def audit_events(self, name: str) -> list[dict[str, Any]]:
        """The model's audit events, oldest first."""
        return self.audit.events(name)

    def mlflow_version_url(self, name: str, version: str | int) -> str | None:
        """The MLflow UI page of a version (``AIRSAGE__MLFLOW_UI_URL`` or an http(s) tracking URI), or None."""
        return self.store.ui_url(name, str(version))

    def _ensure_register_event(self, v: RegisteredVersion, actor: str, source: str | None = None) -> None:
        """Write the registration's audit event unless it exists (a retry after a crash completes it)."""
        approval.ensure_register_event(self.store, self.audit, v, actor, source)

    # ================================================================== registration
    def register_training(self, uc, *, model_artifact_uri: str, output_data_uri: str, dataset: dict[str, Any],
                          run_key: str, gate_results: list[dict[str, Any]], actor: str, code_version: str | None = None,
                          bias: dict[str, Any] | None = None,
                          tuning_trials: list[dict[str, Any]] | dict[str, Any] | None = None,
                          mirror: bool = True, trained_by: str | None = None, source: str | None = None,
                          clarify_report_uri: str | None = None, imported_from: str | None = None) -> RegisteredVersion:
        """Log a finished training as an MLflow run and register it as a new version of
        ``uc.registered_model_name``: ``PendingManualApproval`` when every gate passed, else ``Rejected``.

        ``dataset``: ``{"version", "uri", "hash", "rows", "name"}`` (any may be missing).
        ``tuning_trials``: the ``trials`` list of ``trials.json`` (or the whole document); read from the
        output data when None. ``trained_by``: the person who started the training run (tag
        ``airsage.trained_by``; four eyes: they may not approve it). ``source``: where the registration came
        from (default ``cli:<os user>``). ``clarify_report_uri``: the Clarify report, linked from the summary.
        ``imported_from``: the outside artifact an import came from (``lifecycle.importer``; version tag
        ``airsage.imported_from``, the version's description and its registration event).
        Idempotent per ``run_key``: the version registered for it before is returned as it is (its
        SageMaker mirror, when on, is completed: a retry after a mirror failure creates nothing twice).
        ``mirror=False`` leaves the SageMaker model package to a later ``sync_mirror`` (the training DAG
        mirrors once the version's monitoring baseline exists, so the package's DriftCheckBaselines hold it:
        they cannot be changed after CreateModelPackage); an approval or rejection creates it if missing.
        """
        from airsage.provenance import code_version as current_code_version
        from airsage.training.outputs import read_job_outputs

        sync = self._sync_mirror if mirror else (lambda _uc, v: v)
        name = uc.registered_model_name
        existing = self.store.find_by_run_key(name, run_key)
        if existing is not None:
            with self._lock(name):
                self._ensure_register_event(existing, actor, source)
                return sync(uc, existing)
        code_version = code_version or current_code_version()
        with tempfile.TemporaryDirectory(prefix="airsage-register-") as tmp:
            outputs = read_job_outputs(output_data_uri, Path(tmp) / "output")
            bundle_dir, tarball = local_model(model_artifact_uri, Path(tmp) / "model")
            sha = sha256(tarball)
            if isinstance(tuning_trials, dict):  # a whole trials.json
                tuning_trials = tuning_trials.get("trials")
            if tuning_trials is None and isinstance(outputs.get("trials"), dict):
                tuning_trials = outputs["trials"].get("trials")
            run_id, model_uri, model_id = lineage.log_training_run(
                self.store, uc, run_key=run_key, actor=actor, code_version=code_version, dataset=dataset,
                outputs=outputs, bundle_dir=bundle_dir, tarball=tarball, model_artifact_uri=model_artifact_uri,
                output_data_uri=output_data_uri, bias=bias, trials=tuning_trials or [], tmp=Path(tmp),
                extra_tags={t.TAG_TRAINED_BY: trained_by} if trained_by else None)
        failed = [g["name"] for g in gate_results if not g.get("passed")]
        status = ApprovalStatus.REJECTED if failed else ApprovalStatus.PENDING
        metrics_doc = outputs.get("metrics") or {}
        evaluation = metrics_doc.get("evaluation") or {}
        baseline = (metrics_doc.get("baseline") or {}).get("evaluation") or {}
        tags = {
            t.TAG_STATUS: status.value,
            t.TAG_RUN_KEY: run_key,
            t.TAG_DATASET_VERSION: dataset.get("version"),
            t.TAG_DATASET_HASH: dataset.get("hash") or dataset.get("digest"),
            "dataset_uri": dataset.get("uri"),
            "dataset_rows": dataset.get("rows"),
            t.TAG_CODE_VERSION: code_version,
            t.TAG_METRICS: json.dumps({**scalar_metrics(evaluation), **scalar_metrics(baseline, "baseline_")}),
            t.TAG_GATES: json.dumps(gate_results, default=str),
            t.TAG_FAILED_CHECKS: ",".join(failed) if failed else None,
            t.TAG_MODEL_ARTIFACT: model_artifact_uri,
            t.TAG_MODEL_SHA256: sha,
            t.TAG_TRAINED_BY: trained_by,
            t.TAG_CLARIFY_REPORT: clarify_report_uri,
            t.TAG_IMPORTED_FROM: imported_from,
            "airsage.usecase": uc.name,
            "baseline_algorithm": (metrics_doc.get("baseline") or {}).get("algorithm"),
            "output_data_uri": output_data_uri,
            "registered_by": actor,
            "registered_at": now(),
        }
        tags = {k: str(v) for k, v in tags.items() if v is not None}
        with self._lock(name):
            existing = self.store.find_by_run_key(name, run_key)  # re-read inside the lock: a racing retry won
            if existing is not None:
                self.client.set_tag(run_id, "airsage.duplicate_of", f"{name}/{existing.version}")
                self._ensure_register_event(existing, actor, source)
                return sync(uc, existing)
            self.store.ensure_registered_model(uc)
            mv = self.client.create_model_version(name, source=model_uri, run_id=run_id, tags=tags,
                                                  description=f"{uc.name} imported from {imported_from}" if imported_from
                                                  else f"{uc.name} trained for {run_key}", model_id=model_id)
            version = self.get_version(name, mv.version)
            self._ensure_register_event(version, actor, source)
            sync(uc, version)  # after the event: MLflow is the record, the mirror a copy
        return self.get_version(name, mv.version)

    def register_model(self, usecase, model_uri: str, *, actor: str, trained_by: str | None = None,
                       source: str | None = None, threshold: float | None = None,
                       categories: dict[str, list[str]] | None = None, run_key: str | None = None,
                       gate_results: list[dict[str, Any]] | None = None, metrics: dict[str, float] | None = None,
                       mirror: bool = True) -> RegisteredVersion:
        """Register a model logged the standard MLflow way (``mlflow.xgboost.log_model``,
        ``mlflow.sklearn.log_model``, a pyfunc …) as a new version of ``usecase`` (a ``UseCase`` or a bare
        registered-model name): ``PendingManualApproval``, or ``Rejected`` when ``gate_results`` has a failed
        check. From there it is governed like a trained version (approve, champion, serving guard, audit).

        The model is downloaded and loaded by flavor first (``registry.flavors``), so a model Airsage cannot
        serve (multiclass, regressor, no signature …) is refused here with a ``ConfigError`` naming the fix.
        Version tags record its source, flavor, the digest of its files (checked again when it is served),
        the decision ``threshold`` (default: the use case's, else 0.5) and ``categories`` (vocabularies of
        string features, ``{feature: [values]}``). ``model_uri``: ``models:/<model id>``, ``runs:/<run>/<path>``,
        ``models:/<name>/<version>`` or an artifact location. ``trained_by``: four eyes, as for a training.
        Idempotent per ``run_key`` (default: one per logged model, i.e. per model files).
        """
        from airsage.registry import flavors

        uc = None if isinstance(usecase, str) else usecase
        name = check_name(usecase if uc is None else uc.registered_model_name)
        location, run_id, model_id = self.store.model_location(model_uri)
        load_tags = {}
        if threshold is not None:
            load_tags[flavors.THRESHOLD_TAG] = str(float(threshold))
        if categories:
            load_tags[flavors.CATEGORIES_TAG] = json.dumps(categories)
        mlflow = _mlflow_module()
        with tempfile.TemporaryDirectory(prefix="airsage-register-model-") as tmp:
            try:
                local = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=tmp,
                                                            tracking_uri=self.tracking_uri)
            except (mlflow.exceptions.MlflowException, OSError) as exc:
                raise ModelNotFoundError(model_uri, f"cannot download it from {location}: "
                                                    f"{getattr(exc, 'message', exc)}") from None
            digest = flavors.dir_digest(local)
            bundle = flavors.load_model_dir(local, tags=load_tags, usecase=uc, uri=model_uri)
        run_key = run_key or f"mlflow-{model_id or digest[:24]}"
        existing = self.store.find_by_run_key(name, run_key)
        if existing is not None:
            with self._lock(name):
                self._ensure_register_event(existing, actor, source)
                return existing
        failed = [g["name"] for g in gate_results or [] if not g.get("passed")]
        tags = {
            t.TAG_STATUS: (ApprovalStatus.REJECTED if failed else ApprovalStatus.PENDING).value,
            t.TAG_RUN_KEY: run_key,
            t.TAG_MODEL_SOURCE: model_uri,
            flavors.FLAVOR_TAG: bundle.algorithm,
            flavors.DIGEST_TAG: digest,
            flavors.THRESHOLD_TAG: str(bundle.threshold),
            flavors.CATEGORIES_TAG: json.dumps(bundle.categorical) if bundle.categorical else None,
            t.TAG_GATES: json.dumps(gate_results, default=str) if gate_results is not None else None,
            t.TAG_FAILED_CHECKS: ",".join(failed) if failed else None,
            t.TAG_METRICS: json.dumps(scalar_metrics(metrics)) if metrics else None,
            t.TAG_TRAINED_BY: trained_by,
            "airsage.usecase": uc.name if uc is not None else None,
            "airsage.features": json.dumps(bundle.feature_names),
            "registered_by": actor,
            "registered_at": now(),
        }
        tags = {k: str(v) for k, v in tags.items() if v is not None}
        with self._lock(name):
            existing = self.store.find_by_run_key(name, run_key)
            if existing is not None:
                self._ensure_register_event(existing, actor, source)
                return existing
            self.store.ensure_registered_model(uc if uc is not None else name)
            mv = self.client.create_model_version(name, source=location, run_id=run_id, tags=tags, model_id=model_id,
                                                  description=f"MLflow model {model_uri} ({bundle.algorithm})")
            version = self.get_version(name, mv.version)
            self._ensure_register_event(version, actor, source)
            if uc is not None and mirror:
                self._sync_mirror(uc, version)
        return self.get_version(name, mv.version)

    def sync_mirror(self, uc, version: str | int) -> RegisteredVersion:
        """Create or update the SageMaker model package of ``version`` (``sagemaker.mirror_model_registry``;
        nothing when off, no call when already in line). Under the model's lock, like every decision."""
        name = uc.registered_model_name
        with self._lock(name):
            return self._sync_mirror(uc, self.get_version(name, str(version)))

    def _sync_mirror(self, uc, v: RegisteredVersion) -> RegisteredVersion:
        return smm.sync_version(self.store, uc, v, self.mirror_factory)

    def log_dataset_import(self, uc, lineage_: dict[str, dict[str, Any]]) -> str:
        """One MLflow run per imported dataset version (see ``airsage.registry.tracking``)."""
        return lineage.log_dataset_import(self.store, uc, lineage_)

    # ================================================================== approval workflow
    def _has_event(self, name: str, version: str, action: str) -> bool:
        return approval.has_event(self.audit, name, version, action)

    def _move_champion(self, name: str, version: str) -> tuple[str | None, str | None]:
        """champion -> ``version``; the replaced champion -> ``previous``. Returns (old champion, previous)."""
        return approval.move_champion(self.store, name, version)

    def approve(self, name: str, version: str | int, *, approver: str, comment: str, usecase=None,
                source: str | None = None, four_eyes: bool = True) -> RegisteredVersion:
        """PendingManualApproval -> Approved; the version becomes champion, the old champion ``previous``.

        Approving an Approved version again is a no-op (a retried task never approves twice) except that
        it completes the SageMaker mirror. ``usecase``: the version's use case; with
        ``sagemaker.mirror_model_registry`` its model package is set to Approved (who + why).
        ``source``: where the decision came from (``airflow-ui``, ``airflow-api``; default ``cli:<os user>``).
        ``four_eyes`` (default on): refuse (``FourEyesError``) when ``approver`` started the training run.
        """
        version = check_version(version)
        with self._lock(name):
            v = self.get_version(name, version)
            status = v.status
            if status == ApprovalStatus.APPROVED and self._has_event(name, version, "approve"):
                return self._sync_mirror(usecase, v)
            approval.check_approvable(name, version, v, approver, four_eyes=four_eyes)
            approval.record_approval(self.store, self.audit, name, version, approver=approver, comment=comment,
                                     source=source, four_eyes=four_eyes)
            return self._sync_mirror(usecase, self.get_version(name, version))

    def reject(self, name: str, version: str | int, *, approver: str, comment: str, usecase=None,
               source: str | None = None) -> RegisteredVersion:
        """PendingManualApproval -> Rejected; the champion is unchanged. Rejecting again is a no-op (but
        completes the SageMaker mirror). ``usecase``, ``source``: as for ``approve``."""
        version = check_version(version)
        with self._lock(name):
            v = self.get_version(name, version)
            status = v.status
            if status == ApprovalStatus.REJECTED:  # already rejected (by a person or by the gates)
                if v.tags.get("rejected_by") and not self._has_event(name, version, "reject"):
                    self._append_reject(name, version, v.tags["rejected_by"], v.tags.get("rejection_comment", ""),
                                        source)
                return self._sync_mirror(usecase, v)
            approval.check_rejectable(name, version, v)
            approval.record_rejection(self.store, self.audit, name, version, approver=approver, comment=comment,
                                      source=source)
            return self._sync_mirror(usecase, self.get_version(name, version))

    def _append_reject(self, name: str, version: str, approver: str, comment: str, source: str | None) -> None:
        approval.append_reject(self.store, self.audit, name, version, approver, comment, source)

    def promote(self, name: str, version: str | int, *, actor: str, reason: str,
                source: str | None = None) -> RegisteredVersion:
        """Make an Approved version the champion (the replaced champion becomes ``previous``)."""
        version = check_version(version)
        with self._lock(name):
            v = self.get_version(name, version)
            status = v.status
            if status != ApprovalStatus.APPROVED:
                raise ModelNotApprovedError(name, version, str(status) if status else None)
            if t.CHAMPION in v.aliases:
                return v
            old, previous = self._move_champion(name, version)
            approval.record_move(self.audit, "promote", name, version, status, actor=actor, reason=reason,
                                 from_version=old, previous=previous, source=source)
            return self.get_version(name, version)

    def rollback(self, name: str, *, actor: str, reason: str, to_version: str | int | None = None,
                 source: str | None = None) -> RegisteredVersion:
        """champion <- ``previous`` (or ``to_version``), which must be Approved.

        ``previous`` then points at the version just replaced (the champion rolled back from), as after
        every champion move: rolling back twice returns to where it started; go further back with
        ``to_version`` (the audit log lists every champion).
        """
        to_version = None if to_version is None else check_version(to_version)
        with self._lock(name):
            current = self.store.alias_version(name, t.CHAMPION)
            target = to_version if to_version is not None else self.store.alias_version(name, t.PREVIOUS)
            if target is None:
                raise RegistryTransitionError(
                    name, current, "no previous version", "roll back",
                    fix="Name the target: rollback(..., to_version=N) with an Approved version "
                        "(airsage registry list NAME shows them).")
            v = self.get_version(name, target)
            status = v.status
            if status != ApprovalStatus.APPROVED:
                raise ModelNotApprovedError(name, target, str(status) if status else None)
            if current == target:
                return v
            _, previous = self._move_champion(name, target)
            approval.record_move(self.audit, "rollback", name, target, status, actor=actor, reason=reason,
                                 from_version=current, previous=previous, source=source)
            return self.get_version(name, target)

    # ================================================================== serving
    def resolve(self, uri: str, *, require_approved: bool = True) -> ResolvedModel:
        """``models:/name@alias``, ``models:/name/<version>`` or ``models:/name/latest`` -> the version.

        With ``require_approved`` (the serving guard) refuses, with ``ModelNotApprovedError``, anything not
        Approved, and (``ApprovalNotBackedError``, a subclass) an approval or a ``champion``/``previous``
        alias that the audit log does not back. ``ModelNotFoundError`` when the model, version or alias
        does not exist. (``registry.serving``)
        """
        return serving.resolve(self.store, self.audit, uri, require_approved=require_approved)

    def _guard(self, v: RegisteredVersion, alias: str | None) -> None:
        """Refuse a version whose approval (or the alias it was resolved through) the audit log does not back."""
        serving.guard(self.audit, v, alias)

    _parse_uri = staticmethod(serving.parse_uri)

    # ================================================================== integrity
    def verify(self, usecase) -> integrity.VerifyReport:
        """``registry.integrity.check`` for ``usecase`` on this registry (see ``airsage.registry.verify``)."""
        return integrity.check(self, usecase)

    # ================================================================== documents and model cards
    def read_run_json(self, name: str, version: str | int, artifact_path: str) -> Any | None:
        """A JSON artifact of the version's run (e.g. ``evaluation/metrics.json``), or None."""
        return self.store.read_run_json(self.get_version(name, version).run_id, artifact_path)

    def version_documents(self, name: str, version: str | int) -> dict[str, Any]:
        """The evidence logged with a version: metrics, model quality, trials, Clarify analysis."""
        run_id = self.get_version(name, version).run_id
        docs = {f.removesuffix(".json"): self.store.read_run_json(run_id, f"{EVALUATION_DIR}/{f}")
                for f in OUTPUT_FILES}
        docs["clarify_analysis"] = self.store.read_run_json(run_id, f"{CLARIFY_DIR}/analysis.json")
        return docs

    def attach_model_card(self, name: str, version: str | int, card: dict[str, Any], html: str) -> RegisteredVersion:
        """Log the card (JSON + HTML) as artifacts of the version's run; record its URI in a version tag."""
        v = self.get_version(name, version)
        if not v.run_id:
            raise ModelNotFoundError(v.uri, "the version has no MLflow run to attach the model card to")
        self.client.log_dict(v.run_id, card, f"{CARD_DIR}/model_card.json")
        self.client.log_text(v.run_id, html, f"{CARD_DIR}/model_card.html")
        self.store.set_tags(name, v.version, {t.TAG_MODEL_CARD: f"runs:/{v.run_id}/{CARD_DIR}/model_card.json",
                                              "model_card_html_uri": f"runs:/{v.run_id}/{CARD_DIR}/model_card.html",
                                              "model_card_generated_at": now()})
        return self.get_version(name, v.version)
