"""Serve any MLflow model: load an MLflow model directory by its flavor into a ``ModelBundle``.

Airsage's batch transform, Clarify and the review workflow score through one interface, that of
``airsage.model.ModelBundle`` (``feature_names``, ``categorical``, ``threshold``, ``encode(df)``,
``predict_proba_encoded(x)``, ``predict_proba(df)``, ``predict_label(p)``, ``metadata``). This module
fills that interface from a model logged the standard MLflow way, so the engine needs no special case:

* an Airsage version (pyfunc with the bundle as an artifact): the bundle itself;
* ``xgboost`` flavor: the ``Booster`` (an ``XGBClassifier``'s booster too) on the bundle's ``booster``
  slot, i.e. the same ``Booster.inplace_predict`` on a float32 matrix as an Airsage model;
* ``lightgbm`` flavor (when LightGBM is installed): the booster's ``predict``;
* ``sklearn`` flavor: the estimator's ``predict_proba`` column of the positive class;
* anything else with a ``python_function`` flavor: ``pyfunc.predict`` on a DataFrame (the fallback; it
  must return the probability of the positive class).

Feature order and types come from the model signature (numeric types become float32 features, ``string``
columns categorical). A categorical feature needs its vocabulary (the engine encodes a category as its
index in it): the version tag ``airsage.categories`` (JSON ``{feature: [values]}``) or, for a
scikit-learn model, the ``categories_`` of its ``OneHotEncoder`` / ``OrdinalEncoder``. The decision
threshold is the version tag ``airsage.threshold``, else the use case's ``training.decision_threshold``,
else 0.5. Only binary classifiers are served; anything else is refused with a ``ConfigError`` naming the fix.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from airsage.errors import ConfigError, DataValidationError

THRESHOLD_TAG = "airsage.threshold"
CATEGORIES_TAG = "airsage.categories"
FLAVOR_TAG = "airsage.flavor"
DIGEST_TAG = "airsage.model_digest"  # SHA-256 over the MLflow model directory, recorded at registration
NUMERIC_TYPES = {"double", "float", "long", "integer", "boolean"}
XGB_PROBABILITY_OBJECTIVES = {"binary:logistic", "reg:logistic"}


def _refuse(message: str, fix: str, key: str = "model") -> ConfigError:
    return ConfigError(message, key=key, fix=fix)


# =========================================================================== digest
def dir_digest(directory: str | Path) -> str:
    """SHA-256 over every file of a directory (relative path and content, in path order)."""
    root = Path(directory)
    h = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file() and "__pycache__" not in q.parts):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


# =========================================================================== signature and settings
def signature_features(mlmodel) -> list[tuple[str, str]] | None:
    """``[(name, type)]`` of the model signature's named input columns, or None without a signature."""
    sig = getattr(mlmodel, "signature", None)
    if sig is None or sig.inputs is None:
        return None
    if sig.inputs.is_tensor_spec():
        raise _refuse("the model signature is a tensor, not named columns",
                      "Log the model with a column signature: mlflow.models.infer_signature(X_train_dataframe, ...).")
    out = []
    for col in sig.inputs.inputs:
        typ = getattr(getattr(col, "type", None), "name", None)
        if not col.name or typ not in NUMERIC_TYPES | {"string"}:
            raise _refuse(f"input column {col.name!r} has type {getattr(col, 'type', None)}: only numeric and "
                          "string columns can be served", "Log the model with numeric (double/float/long/integer/"
                          "boolean) and string input columns.")
        out.append((col.name, typ))
    return out


def parse_threshold(tags: dict[str, str], usecase=None) -> float:
    """``airsage.threshold`` tag, else the use case's decision threshold, else 0.5."""
    raw = tags.get(THRESHOLD_TAG)
    if raw not in (None, ""):
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not 0.0 < value < 1.0:
            raise _refuse(f"version tag {THRESHOLD_TAG}={raw!r} is not a probability strictly between 0 and 1",
                          f"Set the tag {THRESHOLD_TAG} to the decision threshold, e.g. 0.5.", key=THRESHOLD_TAG)
        return value
    if usecase is not None:
        return float(usecase.training.decision_threshold)
    return 0.5


def parse_categories(tags: dict[str, str]) -> dict[str, list[str]]:
    raw = tags.get(CATEGORIES_TAG)
    if raw in (None, ""):
        return {}
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not all(isinstance(v, list) for v in doc.values()):
            raise ValueError("not an object of lists")
    except ValueError as exc:
        raise _refuse(f"version tag {CATEGORIES_TAG} is not JSON {{feature: [values]}}: {exc}",
                      f"Set {CATEGORIES_TAG} to e.g. {{\"region\": [\"north\", \"south\"]}}.", key=CATEGORIES_TAG) from None
    return {str(k): [str(x) for x in v] for k, v in doc.items()}


def sklearn_categories(estimator) -> dict[str, list[str]]:
    """Vocabularies of the string columns a scikit-learn model one-hot / ordinal encodes by name."""
    found: dict[str, list[str]] = {}

    def visit(obj, columns=None):
        steps = getattr(obj, "steps", None)
        if steps:  # a Pipeline: its first step sees the columns
            for i, (_, step) in enumerate(steps):
                visit(step, columns if i == 0 else None)
            return
        for _, trans, cols in getattr(obj, "transformers_", None) or []:  # a fitted ColumnTransformer
            if isinstance(cols, (list, tuple)) and all(isinstance(c, str) for c in cols):
                visit(trans, list(cols))
        cats = getattr(obj, "categories_", None)
        if cats is not None and columns is not None and len(columns) == len(cats):
            for name, values in zip(columns, cats):
                found[name] = [str(v) for v in values if not (isinstance(v, float) and math.isnan(v)) and v is not None]

    visit(estimator)
    return found


# =========================================================================== adapters (the bundle's "estimator")
class _Decoder:
    """Turns the engine's float32 matrix back into the frame a model fitted on raw columns expects."""

    def __init__(self, features: list[tuple[str, str]], categorical: dict[str, list[str]]):
        self.features = features
        self.lookup = {f: np.array(list(v) + [None], dtype=object) for f, v in categorical.items()}

    def frame(self, x: np.ndarray):
        import pandas as pd

        cols = {}
        for j, (name, typ) in enumerate(self.features):
            col = x[:, j]
            if name in self.lookup:
                lut = self.lookup[name]
                idx = np.where(np.isnan(col), len(lut) - 1, col).astype(np.intp)
                cols[name] = lut[idx]
            elif typ in ("long", "integer") and not np.isnan(col).any():
                cols[name] = col.astype(np.int64 if typ == "long" else np.int32)
            elif typ == "boolean" and not np.isnan(col).any():
                cols[name] = col.astype(bool)
            elif typ == "float":
                cols[name] = col
            else:
                cols[name] = col.astype(np.float64)
        return pd.DataFrame(cols)


class SklearnProba:
    """``predict_proba`` of a scikit-learn classifier as (n, 2) [negative, positive] on the engine's matrix."""

    def __init__(self, estimator, positive_index: int, decoder: _Decoder | None, columns: list[str] | None):
        self.estimator, self.positive_index, self.decoder, self.columns = estimator, positive_index, decoder, columns

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.decoder is not None:
            data = self.decoder.frame(x)
        elif self.columns is not None:
            import pandas as pd

            data = pd.DataFrame(x, columns=self.columns, copy=False)
        else:
            data = x
        p = np.asarray(self.estimator.predict_proba(data))[:, self.positive_index]
        return np.column_stack([1.0 - p, p])


class LightGBMProba:
    def __init__(self, booster):
        self.booster = booster

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = np.asarray(self.booster.predict(x), dtype=np.float64)
        return np.column_stack([1.0 - p, p])


class PyfuncProba:
    """The pyfunc fallback: ``predict`` on a DataFrame; the output must be the positive-class probability
    (one column / a 1-d array, or two columns [negative, positive])."""

    def __init__(self, model, decoder: _Decoder, uri: str):
        self.model, self.decoder, self.uri = model, decoder, uri

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = self.model.predict(self.decoder.frame(x))
        arr = np.asarray(getattr(out, "to_numpy", lambda: out)(), dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim == 2 and arr.shape[1] == 2:
            arr = arr[:, 1]
        try:
            p = arr.astype(np.float64)
        except (TypeError, ValueError):
            p = None
        if p is None or p.ndim != 1 or (len(p) and (np.nanmin(p) < 0.0 or np.nanmax(p) > 1.0)):
            raise DataValidationError(self.uri, [f"the pyfunc model returned {arr.shape} values that are not "
                                                 "probabilities of the positive class"],
                                      fix="Serve a binary classifier whose pyfunc predict returns the positive-class "
                                          "probability (e.g. log the native xgboost/sklearn flavor instead).")
        return np.column_stack([1.0 - p, p])


# =========================================================================== per flavor
def _xgboost(local: Path, sig: list[tuple[str, str]] | None):
    import mlflow.xgboost
    import xgboost as xgb

    model = mlflow.xgboost.load_model(str(local))
    booster = model if isinstance(model, xgb.Booster) else model.get_booster()
    check_xgboost_objective(booster)
    names = list(booster.feature_names or [])
    if sig is None:
        if not names:
            raise _refuse("the xgboost model has neither a signature nor feature names",
                          "Log it with a signature (mlflow.xgboost.log_model(..., signature=infer_signature(X, p))) "
                          "or train it on a DataFrame so the booster records its feature names.")
        sig = [(n, "double") for n in names]
    elif names and names != [n for n, _ in sig]:
        if sorted(names) != sorted(n for n, _ in sig):
            raise _refuse(f"the booster's features {names} differ from the signature's {[n for n, _ in sig]}",
                          "Log the model with the signature of the data it was trained on.")
        types = dict(sig)
        sig = [(n, types[n]) for n in names]  # the booster's order is the column order it predicts with
    booster.set_param({"nthread": 0})
    return booster, sig


def check_xgboost_objective(booster) -> None:
    """Refuse a booster that does not output the probability of the positive class."""
    cfg = json.loads(booster.save_config())
    learner = cfg.get("learner", {})
    objective = learner.get("objective", {}).get("name", "?")
    n_classes = int(float(learner.get("learner_model_param", {}).get("num_class", "0") or 0))
    if objective.startswith("multi:") or n_classes > 2:
        raise _refuse(f"the xgboost model is a multiclass classifier (objective {objective}, {n_classes} classes)",
                      "Airsage serves binary classifiers: train with objective binary:logistic on a 0/1 label.")
    if objective not in XGB_PROBABILITY_OBJECTIVES:
        kind = "a regressor" if objective.startswith(("reg:", "count:", "survival:")) else "not a probability model"
        raise _refuse(f"the xgboost model is {kind} (objective {objective})",
                      "Airsage serves binary classifiers that output the positive-class probability: train with "
                      "objective binary:logistic.")


def positive_index(classes, usecase=None) -> int:
    """Which ``predict_proba`` column is the positive class: the use case's positive label when it is one
    of the classes, else the second (scikit-learn's convention for 0/1 labels)."""
    if usecase is not None:
        for pos in usecase.schema_.positive_labels:
            for i, c in enumerate(classes):
                if str(c) == str(pos):
                    return i
    return 1


def _sklearn(local: Path, sig, usecase, categories: dict[str, list[str]]):
    import mlflow.sklearn
    from sklearn.base import is_regressor

    est = mlflow.sklearn.load_model(str(local))
    classes = getattr(est, "classes_", None)
    if is_regressor(est) or (classes is None and not hasattr(est, "predict_proba")):
        raise _refuse(f"the scikit-learn model {type(est).__name__} is a regressor, not a classifier",
                      "Airsage serves binary classifiers: register a classifier with predict_proba.")
    if not hasattr(est, "predict_proba"):
        raise _refuse(f"the scikit-learn model {type(est).__name__} has no predict_proba",
                      "Use a classifier that outputs probabilities (e.g. SVC(probability=True) or a calibrated one).")
    if classes is None or len(classes) != 2:
        raise _refuse(f"the scikit-learn model has {0 if classes is None else len(classes)} classes "
                      f"({list(classes) if classes is not None else '?'})",
                      "Airsage serves binary classifiers: register a model trained on two classes.")
    names = [str(n) for n in getattr(est, "feature_names_in_", [])]
    if sig is None:
        if not names:
            raise _refuse("the scikit-learn model has neither a signature nor feature_names_in_",
                          "Log it with a signature (mlflow.sklearn.log_model(..., signature=infer_signature(X, p))).")
        sig = [(n, "double") for n in names]
    found = {**sklearn_categories(est), **categories}
    return est, sig, positive_index(classes, usecase), found, bool(names)


# =========================================================================== entry point
def load_model_dir(local: str | Path, *, tags: dict[str, str] | None = None, usecase=None, uri: str = "model"):
    """A ``ModelBundle`` for an unpacked MLflow model directory (see the module docstring).

    ``tags``: the version's tags (``airsage.threshold``, ``airsage.categories``); ``usecase``: its use case
    (threshold, label, positive label), when it has one."""
    from mlflow.models import Model

    from airsage.model import META_FILE, ModelBundle

    local, tags = Path(local), dict(tags or {})
    if not (local / "MLmodel").exists():
        metas = sorted(local.rglob(META_FILE))
        if metas:
            return ModelBundle.load(metas[0].parent)
        raise DataValidationError(uri, ["no MLmodel file: not an MLflow model (and no Airsage bundle)"],
                                  fix="Register a model logged with mlflow.<flavor>.log_model, or an Airsage training output.")
    mlmodel = Model.load(str(local))
    flavors = dict(mlmodel.flavors or {})
    metas = sorted(local.rglob(META_FILE))
    if metas:  # an Airsage version logged as pyfunc: its bundle is an artifact
        return ModelBundle.load(metas[0].parent)
    sig = signature_features(mlmodel)
    categories = parse_categories(tags)
    threshold = parse_threshold(tags, usecase)
    label = usecase.schema_.label if usecase is not None else "label"
    positive = usecase.schema_.positive_labels[0] if usecase is not None else 1
    meta = {"flavor": None, "mlflow_model_uri": uri, "run_id": getattr(mlmodel, "run_id", None),
            "model_id": getattr(mlmodel, "model_id", None)}

    def bundle(algorithm, sig, vocab, **model):
        strings = [n for n, typ in sig if typ == "string"]
        missing = [n for n in strings if n not in vocab]
        if missing:
            raise _refuse(f"the string input column(s) {missing} have no known vocabulary",
                          f"Tag the version with {CATEGORIES_TAG} = JSON {{feature: [categories in training order]}}, "
                          "or encode the categories inside a scikit-learn pipeline (OneHotEncoder).", key=CATEGORIES_TAG)
        meta["flavor"] = algorithm
        return ModelBundle(algorithm=algorithm, feature_names=[n for n, _ in sig],
                           categorical={n: list(vocab[n]) for n in strings}, threshold=threshold, label=label,
                           positive_label=positive, metadata=meta, **model)

    if "xgboost" in flavors:
        booster, sig = _xgboost(local, sig)
        return bundle("xgboost", sig, categories, booster=booster)
    if "lightgbm" in flavors:
        try:
            import mlflow.lightgbm
        except ImportError:  # LightGBM is not installed here: fall through to pyfunc (which needs it too)
            pass
        else:
            if sig is None:
                raise _refuse("the LightGBM model has no signature", "Log it with a signature.")
            model = mlflow.lightgbm.load_model(str(local))
            booster = getattr(model, "booster_", model)
            objective = str((getattr(booster, "params", None) or {}).get("objective", "binary"))
            if objective not in ("binary", "cross_entropy", "xentropy"):
                raise _refuse(f"the LightGBM model's objective is {objective}",
                              "Airsage serves binary classifiers: train with objective binary.")
            return bundle("lightgbm", sig, categories, estimator=LightGBMProba(booster))
    if "sklearn" in flavors:
        est, sig, pos, vocab, named = _sklearn(local, sig, usecase, categories)
        strings = {n for n, typ in sig if typ == "string"}
        if not strings and pos == 1 and not named:
            return bundle("sklearn", sig, vocab, estimator=est)  # numeric, unnamed: the model itself
        decoder = _Decoder(sig, {n: vocab[n] for n in strings if n in vocab}) if strings else None
        return bundle("sklearn", sig, vocab, estimator=SklearnProba(est, pos, decoder,
                                                                  [n for n, _ in sig] if named else None))
    if "python_function" in flavors:
        if sig is None:
            raise _refuse("the pyfunc model has no signature: its feature order is unknown",
                          "Log it with a signature (mlflow.pyfunc.log_model(..., signature=...)).")
        outputs = getattr(mlmodel.signature, "outputs", None)
        if outputs is not None and not outputs.is_tensor_spec():
            types = [getattr(getattr(c, "type", None), "name", None) for c in outputs.inputs]
            if types and all(t in ("long", "integer", "string", "boolean") for t in types):
                raise _refuse("the pyfunc model returns class labels, not probabilities",
                              "Serve a model whose predict returns the positive-class probability, or log the native "
                              "xgboost / sklearn flavor (Airsage uses predict_proba there).")
        import mlflow.pyfunc

        model = mlflow.pyfunc.load_model(str(local))
        vocab = categories
        decoder = _Decoder(sig, {n: vocab[n] for n, typ in sig if typ == "string" and n in vocab})
        return bundle("pyfunc", sig, vocab, estimator=PyfuncProba(model, decoder, uri))
    raise _refuse(f"the model has no flavor Airsage can serve ({sorted(flavors)})",
                  "Log the model with mlflow.xgboost, mlflow.sklearn, mlflow.lightgbm or mlflow.pyfunc.")
