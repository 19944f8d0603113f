"""Import a model trained on SageMaker (or anywhere) into Airsage's governance.

``import_model(uc, model_data_uri, framework=..., actor=...)`` takes an existing model artifact,

* ``framework="xgboost"``: the built-in XGBoost algorithm's ``model.tar.gz``, which holds one file,
  ``xgboost-model``: a Booster saved with ``save_model`` (JSON or UBJSON; SageMaker's documentation on
  using its XGBoost models with open-source XGBoost describes this, and a pickled Booster for the
  algorithm's versions before 1.3, which is read too);
* ``framework="sklearn"``: a scikit-learn script-mode ``model.tar.gz`` holding ``model.joblib`` (a
  fitted binary classifier saved with ``joblib.dump``);

(a ``model.tar.gz``, an unpacked directory, or the model file itself; local or ``s3://``), evaluates it on
the use case's held-out rows exactly as a training job evaluates what it trained (the same deterministic
split, encoding and ``training.evaluate``), and writes what a training job leaves behind: an Airsage
``model.tar.gz`` and an ``output.tar.gz`` with ``metrics.json``, the held-out predictions and the model
quality baseline. It then registers them through the registry facade (``ModelRegistry.register_training``)
with the use case's quality gates: a ``PendingManualApproval`` version (``Rejected`` when a gate fails),
whose lineage says "imported from <uri>". From there approval, the serving guard, batch transform, Clarify
and monitoring treat it like any trained version.

**The input contract.** The model must score rows in the use case's feature order with Airsage's
encoding: numeric features as numbers, a categorical feature as its index in the sorted vocabulary of the
training side of the split (``airsage.model``), missing as NaN. A Booster that records feature names
must name exactly the use case's features (its order wins); otherwise its feature count must match.
Bad input (an unreadable archive, a multiclass or regression model, a feature mismatch) is an
``AirsageError`` naming the fix.

Note: this module reads the use case's dataset and reuses the training evaluation
(``airsage.labeling``, ``airsage.training``): it is the one registry module that depends on the domain.
"""
from __future__ import annotations

import copy
import hashlib
import pickle
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airsage import storage
from airsage.errors import ConfigError, DataValidationError, StorageError

FRAMEWORKS = ("xgboost", "sklearn")
XGB_FILE = "xgboost-model"
SKLEARN_FILE = "model.joblib"
_FIX_ARTIFACT = ("Pass the S3 or local URI of the model.tar.gz that the SageMaker training job reported "
                 "(ModelArtifacts.S3ModelArtifacts), with --framework matching how it was trained.")


@dataclass(frozen=True)
class ImportReport:
    """What an import did; ``to_dict()`` is the command line's JSON, ``render()`` its text."""

    usecase: str
    model: str
    version: str
    status: str
    framework: str
    imported_from: str
    run_key: str
    dataset_version: str | None
    metrics: dict[str, float]
    gates: list[dict[str, Any]]
    failed_checks: list[str]
    model_artifact_uri: str
    output_data_uri: str
    features: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "uri": self.uri}

    def render(self) -> str:
        head = (f"Imported {self.imported_from} ({self.framework}) as {self.uri}: {self.status}"
                + (f" (failed checks: {', '.join(self.failed_checks)})" if self.failed_checks else ""))
        auc = self.metrics.get("auc")
        lines = [head, f"  held-out evaluation on {self.dataset_version}: "
                       + (f"AUC {auc:.4f}" if isinstance(auc, float) else "AUC n/a")
                       + f", {int(self.metrics.get('n', 0))} rows"]
        if not self.failed_checks and self.status == "PendingManualApproval":
            lines.append(f"  next: review and approve it (airsage registry approve {self.model} {self.version})")
        return "\n".join(lines)


# =========================================================================== reading the artifact
def _unpacked(model_data_uri: str, dest: Path) -> Path:
    """A local directory holding the artifact's files."""
    try:
        if model_data_uri.endswith((".tar.gz", ".tgz")):
            return storage.unpack_tar(model_data_uri, dest)
        if storage.is_s3(model_data_uri) or Path(storage.normalize(model_data_uri)).is_file():
            target = dest / Path(model_data_uri.rstrip("/")).name
            dest.mkdir(parents=True, exist_ok=True)
            with storage.local_copy(model_data_uri) as local:
                target.write_bytes(Path(local).read_bytes())
            return dest
        path = Path(storage.normalize(model_data_uri))
        if path.is_dir():
            return path
        raise FileNotFoundError(model_data_uri)
    except (StorageError, OSError, tarfile.TarError, EOFError) as exc:
        raise DataValidationError(model_data_uri, [f"cannot read the model artifact: {exc}"], fix=_FIX_ARTIFACT) from None


def _find(root: Path, names: tuple[str, ...], model_data_uri: str, framework: str) -> Path:
    for name in names:
        found = sorted(root.rglob(name), key=lambda p: len(p.parts))
        if found:
            return found[0]
    listing = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())[:10]
    raise DataValidationError(model_data_uri, [f"no {' or '.join(names)} in the artifact (it holds {listing})"],
                              fix=f"--framework {framework} expects {names[0]}; " + _FIX_ARTIFACT)


def load_xgboost_file(path: Path, source: str):
    """A Booster from SageMaker's ``xgboost-model`` (JSON / UBJSON, or a pickled Booster)."""
    import xgboost as xgb

    raw = path.read_bytes()
    if raw[:1] == b"\x80":  # a pickle: the algorithm's versions before 1.3 pickled the Booster
        try:
            booster = pickle.loads(raw)  # noqa: S301 - the artifact is the team's own model, imported on purpose
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means the same thing
            raise DataValidationError(source, [f"{path.name} is a pickle that cannot be read here: {exc}"],
                                      fix="Re-save the model with booster.save_model('xgboost-model.json') using the "
                                          "XGBoost version it was trained with, and import that file.") from None
        if not isinstance(booster, xgb.Booster):
            booster = getattr(booster, "get_booster", lambda: booster)()
        if not isinstance(booster, xgb.Booster):
            raise DataValidationError(source, [f"{path.name} holds a {type(booster).__name__}, not an XGBoost Booster"],
                                      fix="Use --framework sklearn for scikit-learn models.")
        return booster
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as exc:
        raise DataValidationError(source, [f"{path.name} is not an XGBoost model this XGBoost can read: "
                                           f"{str(exc).splitlines()[0]}"],
                                  fix="XGBoost 3 reads JSON and UBJSON models only: load the old model with the XGBoost "
                                      "version that trained it and save it again as xgboost-model.json.") from None
    return booster


def load_sklearn_file(path: Path, source: str):
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - a broken pickle raises anything
        raise DataValidationError(source, [f"{path.name} cannot be loaded with joblib: {exc}"],
                                  fix="Import the model.joblib that the training script saved with joblib.dump, in an "
                                      "environment with the scikit-learn version it was trained with.") from None


def read_model_artifact(model_data_uri: str, framework: str, dest: Path):
    """The model object of an artifact: an ``xgboost.Booster`` or a scikit-learn estimator."""
    if framework not in FRAMEWORKS:
        raise ConfigError(f"unknown framework {framework!r}", key="--framework",
                          fix=f"Use one of {', '.join(FRAMEWORKS)}.")
    root = _unpacked(model_data_uri, dest)
    if framework == "xgboost":
        return load_xgboost_file(_find(root, (XGB_FILE, "xgboost-model.json", "xgboost-model.ubj"),
                                       model_data_uri, framework), model_data_uri)
    return load_sklearn_file(_find(root, (SKLEARN_FILE,), model_data_uri, framework), model_data_uri)


# =========================================================================== the model in Airsage's bundle
def _feature_order(booster, features: list[str], source: str) -> list[str]:
    names = list(booster.feature_names or [])
    if names:
        if sorted(names) != sorted(features):
            raise DataValidationError(source, [f"the booster's features {names} are not the use case's {features}"],
                                      fix="Import a model trained on the use case's features (schema.features), or "
                                          "change the use case's feature list to the model's.")
        return names
    if booster.num_features() != len(features):
        raise DataValidationError(source, [f"the booster expects {booster.num_features()} features, the use case "
                                           f"has {len(features)} ({features})"],
                                  fix="Import a model trained on the use case's features, in schema order, encoded "
                                      "the Airsage way (categories as vocabulary indexes).")
    return list(features)


def attach_model(bundle, model, framework: str, uc, source: str):
    """Put ``model`` into a copy of the prepared bundle (feature order, vocabularies, threshold); refuse a
    model that is not a binary classifier of the positive-class probability."""
    from airsage.registry import flavors

    out = copy.copy(bundle)
    out.metadata = {**bundle.metadata, "imported_from": source, "framework": framework, "hyperparameters": {}}
    if framework == "xgboost":
        flavors.check_xgboost_objective(model)
        order = _feature_order(model, bundle.feature_names, source)
        out.feature_names, out.booster, out.algorithm = order, model, "xgboost"
        model.set_param({"nthread": 0})
        return out
    from sklearn.base import is_regressor

    classes = getattr(model, "classes_", None)
    if is_regressor(model) or not hasattr(model, "predict_proba"):
        raise ConfigError(f"the scikit-learn model {type(model).__name__} is not a probabilistic classifier",
                          key="--model-data", fix="Import a binary classifier with predict_proba.")
    if classes is None or len(classes) != 2:
        raise ConfigError(f"the scikit-learn model has {0 if classes is None else len(classes)} classes",
                          key="--model-data", fix="Airsage serves binary classifiers: import a two-class model.")
    named = [str(n) for n in getattr(model, "feature_names_in_", [])]
    if named and sorted(named) != sorted(bundle.feature_names):
        raise DataValidationError(source, [f"the model's features {named} are not the use case's {bundle.feature_names}"],
                                  fix="Import a model trained on the use case's features.")
    n_in = getattr(model, "n_features_in_", len(bundle.feature_names))
    if n_in != len(bundle.feature_names):
        raise DataValidationError(source, [f"the model expects {n_in} features, the use case has "
                                           f"{len(bundle.feature_names)}"],
                                  fix="Import a model trained on the use case's features, in schema order.")
    pos = flavors.positive_index(classes, uc)
    out.feature_names = named or list(bundle.feature_names)
    out.estimator = model if (pos == 1 and not named) else flavors.SklearnProba(model, pos, None, named or None)
    out.algorithm = "sklearn"
    return out


# =========================================================================== the import
def _dataset(uc, dataset) -> tuple[Any, dict[str, Any]]:
    """(rows, registration dataset dict) for ``dataset``: ``latest``, a version ``ds-…``, a URI or a DataFrame."""
    import pandas as pd

    if isinstance(dataset, pd.DataFrame):
        digest = hashlib.sha256(pd.util.hash_pandas_object(dataset, index=False).to_numpy().tobytes()).hexdigest()
        return dataset, {"version": f"frame-{digest[:12]}", "hash": digest, "rows": int(len(dataset)),
                         "name": f"{uc.name}-import-evaluation"}
    from airsage.labeling.dataset import load_dataset, read_manifest, resolve_dataset

    uri = resolve_dataset(str(dataset), uc)
    df = load_dataset(uri, uc, verify=True)
    manifest = read_manifest(uri)
    version = manifest.get("version") or uri.rstrip("/").rsplit("/", 1)[-1]
    return df, {"version": version, "uri": uri, "hash": manifest.get("hash"), "rows": int(len(df)),
                "name": f"{uc.name}-{version}"}


def _pack(src: Path, target: Path) -> None:
    with tarfile.open(target, "w:gz") as tar:
        for p in sorted(src.rglob("*")):
            tar.add(p, arcname=p.relative_to(src).as_posix(), recursive=False)


def stage_import(uc, model_data_uri: str, *, framework: str, output_uri: str, dataset="latest") -> dict[str, Any]:
    """Evaluate an outside model on the use case's held-out rows and publish what a training job would:
    ``<output_uri>/model.tar.gz`` (an Airsage bundle) and ``<output_uri>/output.tar.gz`` (metrics.json,
    eval_predictions.parquet, the model-quality baseline). Returns ``{model_artifact_uri, output_data_uri,
    dataset, evaluation, features, sha256}``. What ``import_model`` registers; the training DAG's Clarify and
    baseline steps accept the same two URIs."""
    from airsage.registry.artifacts import sha256
    from airsage.training.evaluate import evaluate
    from airsage.training.outputs import write_job_outputs
    from airsage.training.train import TrainingJobConfig, TrainResult, prepare

    df, ds = _dataset(uc, dataset)
    cfg = TrainingJobConfig.from_usecase(uc, dataset_version=ds["version"], baseline_algorithm="none")
    data = prepare(df, cfg)
    with tempfile.TemporaryDirectory(prefix="airsage-import-") as tmp:
        tmp = Path(tmp)
        model = read_model_artifact(model_data_uri, framework, tmp / "artifact")
        bundle = attach_model(data.bundle, model, framework, uc, model_data_uri)
        x_te, y_te = data.test
        if bundle.feature_names != data.bundle.feature_names:  # the booster's own order
            x_te = bundle.encode(df.loc[data.is_test])
        scores = bundle.predict_proba_encoded(x_te)
        evaluation = evaluate(y_te, scores, cfg.threshold)
        keep = [c for c in dict.fromkeys([cfg.record_id, cfg.label, *cfg.passthrough, *cfg.features]) if c in df.columns]
        eval_frame = df.loc[data.is_test, keep].reset_index(drop=True)
        eval_frame["score"] = scores
        eval_frame["predicted_label"] = bundle.predict_label(scores)
        bundle.metadata.update({"train_rows": int((~data.is_test).sum()), "test_rows": int(len(y_te))})
        result = TrainResult(bundle, evaluation, eval_frame, int((~data.is_test).sum()))
        bundle.save(tmp / "model")
        write_job_outputs(result, cfg, tmp / "data", imported_from=model_data_uri, framework=framework)
        _pack(tmp / "model", tmp / "model.tar.gz")
        _pack(tmp / "data", tmp / "output.tar.gz")
        model_uri = storage.upload_file(tmp / "model.tar.gz", storage.join(output_uri, "model.tar.gz"))
        data_uri = storage.upload_file(tmp / "output.tar.gz", storage.join(output_uri, "output.tar.gz"))
        digest = sha256(tmp / "model.tar.gz")
    return {"model_artifact_uri": model_uri, "output_data_uri": data_uri, "dataset": ds,
            "evaluation": evaluation.to_dict(), "features": list(bundle.feature_names), "sha256": digest}


def import_model(uc, model_data_uri: str, *, framework: str = "xgboost", actor: str, source: str | None = None,
                 dataset="latest", output_uri: str | None = None, trained_by: str | None = None,
                 bias: dict[str, Any] | None = None, registry=None, mirror: bool = True) -> ImportReport:
    """Import ``model_data_uri`` as a new version of ``uc`` (see the module docstring); return the report.

    ``dataset``: the held-out data to evaluate on (``latest``, a version ``ds-…``, a dataset URI, or a
    DataFrame). ``output_uri``: where the Airsage artifacts go (default
    ``<use case>/training/import-<sha>/output``). ``bias``: a Clarify ``analysis.json`` of the imported
    model (the ``max_bias`` gates fail without one, as for ``airsage train``). ``trained_by``: who built
    the model (four eyes). Idempotent per artifact content and dataset: importing the same artifact
    again returns the version registered the first time.
    """
    from airsage.registry.model_registry import ModelRegistry
    from airsage.training.gates import evaluate_gates

    reg = registry or ModelRegistry.from_settings()
    with tempfile.TemporaryDirectory(prefix="airsage-import-key-") as tmp:
        root = _unpacked(model_data_uri, Path(tmp) / "a")
        h = hashlib.sha256()
        for p in sorted(q for q in root.rglob("*") if q.is_file()):
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes())
        content = h.hexdigest()
    if output_uri is None:
        from airsage import layout

        output_uri = storage.join(layout.training_outputs(uc), f"import-{content[:16]}", "output")
    staged = stage_import(uc, model_data_uri, framework=framework, output_uri=output_uri, dataset=dataset)
    champion = reg.champion(uc.registered_model_name)
    gates = evaluate_gates(uc, staged["evaluation"], champion=champion.metrics if champion else None,
                           bias_analysis=bias)
    run_key = f"import-{content[:16]}-{staged['dataset']['version']}"[:64]
    v = reg.register_training(uc, model_artifact_uri=staged["model_artifact_uri"],
                              output_data_uri=staged["output_data_uri"], dataset=staged["dataset"], run_key=run_key,
                              gate_results=gates, actor=actor, bias=bias, mirror=mirror, trained_by=trained_by,
                              source=source, imported_from=model_data_uri)
    return ImportReport(usecase=uc.name, model=v.name, version=v.version, status=str(v.status), framework=framework,
                        imported_from=model_data_uri, run_key=run_key, dataset_version=staged["dataset"]["version"],
                        metrics={k: float(x) for k, x in staged["evaluation"].items()
                                 if isinstance(x, (int, float)) and not isinstance(x, bool)},
                        gates=gates, failed_checks=v.failed_checks, model_artifact_uri=staged["model_artifact_uri"],
                        output_data_uri=staged["output_data_uri"], features=staged["features"])
