"""``ModelBundle``: a trained model plus everything needed to score raw records with it.

A bundle is a directory (packed as ``model.tar.gz``, SageMaker's model artifact):

* ``airsage_model.json``: algorithm, feature order and types, categorical vocabularies, decision
  threshold, label and positive value, training lineage.
* ``xgboost-model.json`` (XGBoost) or ``sklearn-model.joblib`` (scikit-learn).

Encoding is fixed and explicit: numeric columns become float32; a categorical value becomes its index
in the training vocabulary, and an unseen value becomes missing (NaN). Every scorer — the local batch
transform, Clarify, the SageMaker inference module — goes through ``encode``, so they agree.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airsage.errors import DataValidationError

META_FILE = "airsage_model.json"
XGB_FILE = "xgboost-model.json"
SKLEARN_FILE = "sklearn-model.joblib"


@dataclass
class ModelBundle:
    algorithm: str
    feature_names: list[str]
    categorical: dict[str, list[str]]  # feature -> vocabulary (training order)
    threshold: float = 0.5
    label: str = "label"
    positive_label: Any = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    booster: Any = None  # xgboost.Booster
    estimator: Any = None  # sklearn estimator with predict_proba

    # ------------------------------------------------------------------ encoding
    @property
    def numeric_features(self) -> list[str]:
        return [f for f in self.feature_names if f not in self.categorical]

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.feature_names if f not in df.columns]
        if missing:
            raise DataValidationError("model input", [f"missing feature column(s) {missing}"],
                                      fix="Score data with the schema the model was trained on.")
        out = np.empty((len(df), len(self.feature_names)), dtype=np.float32)
        for j, name in enumerate(self.feature_names):
            col = df[name]
            if name in self.categorical:
                # the vocabulary holds strings: 3 and "3" are the same category
                values = col.astype(object).where(col.isna(), col.astype(str))
                codes = pd.Categorical(values, categories=self.categorical[name]).codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
        return out

    # ------------------------------------------------------------------ scoring
    def predict_proba_encoded(self, x: np.ndarray) -> np.ndarray:
        if self.booster is not None:
            return np.asarray(self.booster.inplace_predict(x), dtype=np.float64)
        return np.asarray(self.estimator.predict_proba(x)[:, 1], dtype=np.float64)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class, one per row."""
        return self.predict_proba_encoded(self.encode(df))

    def predict_label(self, proba: np.ndarray) -> np.ndarray:
        return (proba > self.threshold).astype(np.int64)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": "airsage-model/1",
            "algorithm": self.algorithm,
            "feature_names": self.feature_names,
            "categorical": self.categorical,
            "threshold": self.threshold,
            "label": self.label,
            "positive_label": self.positive_label,
            "metadata": self.metadata,
        }
        if self.booster is not None:
            self.booster.save_model(str(directory / XGB_FILE))
            meta["model_file"] = XGB_FILE
        elif self.estimator is not None:
            import joblib

            joblib.dump(self.estimator, directory / SKLEARN_FILE)
            meta["model_file"] = SKLEARN_FILE
        else:
            raise ValueError("a ModelBundle needs a booster or an estimator to be saved")
        (directory / META_FILE).write_text(json.dumps(meta, indent=2, default=str))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "ModelBundle":
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.exists():
            found = list(directory.rglob(META_FILE))
            if not found:
                raise DataValidationError(str(directory), [f"no {META_FILE} found: not an Airsage model"],
                                          fix="Point at a model directory or model.tar.gz produced by Airsage training.")
            directory, meta_path = found[0].parent, found[0]
        meta = json.loads(meta_path.read_text())
        bundle = cls(algorithm=meta["algorithm"], feature_names=meta["feature_names"],
                     categorical=meta["categorical"], threshold=meta["threshold"], label=meta["label"],
                     positive_label=meta["positive_label"], metadata=meta.get("metadata", {}))
        if meta["model_file"] == XGB_FILE:
            import xgboost as xgb

            bundle.booster = xgb.Booster()
            bundle.booster.load_model(str(directory / XGB_FILE))
            bundle.booster.set_param({"nthread": 0})
        else:
            import joblib

            bundle.estimator = joblib.load(directory / SKLEARN_FILE)
        return bundle

    @classmethod
    def load_uri(cls, uri: str) -> "ModelBundle":
        """Load from a model directory or a ``model.tar.gz`` at a local path or ``s3://`` URI."""
        import tempfile

        from airsage import storage

        if not storage.is_s3(uri) and Path(storage.normalize(uri)).is_dir():
            return cls.load(storage.normalize(uri))
        return cls.load(storage.unpack_tar(uri, tempfile.mkdtemp(prefix="airsage-model-")))


def vocabularies(df: pd.DataFrame, categorical: list[str]) -> dict[str, list[str]]:
    """Sorted vocabularies of the categorical columns (missing values excluded)."""
    return {c: sorted(str(v) for v in df[c].dropna().unique()) for c in categorical}
