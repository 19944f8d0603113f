"""The MLflow pyfunc flavour of an Airsage model: a thin wrapper around ``ModelBundle``.

``mlflow.pyfunc.load_model("models:/credit_risk@champion").predict(df)`` returns a DataFrame with
``score`` (probability of the positive class) and ``predicted_label`` — the same numbers as the batch
transform, because both go through ``ModelBundle``. The wrapper is pickled by reference; the ``airsage``
package is logged with the model (``code_paths``) and its runtime needs are the model's pinned pip
requirements, so a clean environment built from them (``mlflow models serve``, ``spark_udf``,
``uv pip install -r requirements.txt``) loads it without Airsage installed.
"""
from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

BUNDLE_ARTIFACT = "bundle"


class AirsageBundleModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from airsage.model import ModelBundle

        self.bundle = ModelBundle.load(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scores = self.bundle.predict_proba(model_input)
        return pd.DataFrame({"score": scores, "predicted_label": self.bundle.predict_label(scores)})
