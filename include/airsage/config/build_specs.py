"""The use-case sections that build a model version: ``schema``, ``data``, ``generator``, ``labeling``,
``training`` (with ``tuning``) and ``gates``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from airsage.config.base import Frozen

Action = Literal["keep", "flag", "drop"]


class FeatureSpec(Frozen):
    name: str
    type: Literal["numeric", "categorical"]
    description: str = ""


class FacetSpec(Frozen):
    """A sensitive attribute. ``value_or_threshold`` follows Clarify: the listed values form the
    facet group *d* (a continuous facet takes one exclusive lower bound); empty = one-vs-rest."""

    name: str
    value_or_threshold: list[str | int | float] = Field(default_factory=list)


class SchemaSpec(Frozen):
    record_id: str
    event_time: str
    label: str
    positive_labels: list[str | int] = Field(min_length=1)
    features: list[FeatureSpec] = Field(min_length=1)
    facets: list[FacetSpec] = Field(default_factory=list)
    group_variable: str | None = None  # for Clarify's CDDL / CDDPL
    passthrough: list[str] = Field(default_factory=list)  # carried along, never a model input

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def numeric_features(self) -> list[str]:
        return [f.name for f in self.features if f.type == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [f.name for f in self.features if f.type == "categorical"]

    @model_validator(mode="after")
    def _unique(self) -> "SchemaSpec":
        names = self.feature_names
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate feature names {dup}")
        for col in (self.record_id, self.label, self.event_time):
            if col in names:
                raise ValueError(f"column {col!r} is both a feature and the id/label/time column")
        return self


class DataSpec(Frozen):
    """Where the use case's data lives. ``root`` defaults to ``<settings.data_root>/<name>``."""

    root: str | None = None


class GeneratorSpec(Frozen):
    """Knobs of the bundled synthetic data generator (``airsage.data.generator``)."""

    seed: int = 42
    rows_per_day: int = Field(2000, gt=0)
    history_days: int = Field(30, gt=0)
    bias_strength: float = 0.0  # extra default log-odds for the facet group
    drift: Literal["none", "shift", "new_category", "missing"] = "none"
    label_delay_days: int = Field(0, ge=0)


class LabelingSpec(Frozen):
    """How labels are imported (``airsage.labeling``): Ground Truth manifests, A2I outputs, CSV/Parquet.

    * ``class_map`` maps a worker-facing class name (Ground Truth ``class-name``, an A2I answer, a label
      file's value) to the use case's label value. A Ground Truth class *index* is the position in that
      job's label list, unknown to the use case, so the class name decides.
    * ``label_values`` is the label domain; default: the ``class_map`` values, else
      ``schema.positive_labels`` + ``[0]`` (binary 0/1 labels).
    * ``low_confidence`` / ``auto_labeled``: ``drop`` removes such annotations before the vote (they go to
      the quarantine file as a policy reason), ``flag`` marks the consolidated row in ``label_flag``,
      ``keep`` keeps it silently. Single-worker Ground Truth jobs report confidence 0.00.
    * ``max_bad_share``: share of input lines quarantined for data reasons (policy drops excluded) above
      which the import fails.
    """

    label_attribute: str | None = None  # Ground Truth attribute name; detected when unambiguous
    join_key: Literal["record_id", "source-ref"] = "record_id"
    # source-ref joins: regex searched in the source-ref; group "id" (else the whole match) is the record
    # id. Default: the object's file name without its extension.
    source_ref_id_pattern: str = r"(?P<id>[^/]+?)(?:\.[^./]*)?$"
    allowed_source_prefixes: list[str] = Field(default_factory=list)  # empty = any (record_id joins only)
    min_confidence: float = Field(0.0, ge=0, le=1)
    low_confidence: Action = "flag"
    auto_labeled: Action = "keep"
    max_bad_share: float = Field(0.05, ge=0, le=1)
    class_map: dict[str, str | int] = Field(default_factory=dict)  # class-name -> label value
    label_values: list[str | int] = Field(default_factory=list)  # label domain; see above
    a2i_answer_key: str = "label"  # dotted path in answerContent, e.g. "category.label" (crowd-classifier)
    a2i_confidence_key: str | None = None  # dotted path in answerContent; None = each answer weighs 1.0
    a2i_record_key: str | None = None  # key of inputContent holding the record id; None = schema.record_id
    features_uri: str | None = None  # feature records; None = <data_root>/raw/features
    # validation (great-expectations suite, airsage.labeling.validation.generate_suite)
    min_rows: int = Field(1, ge=1)
    min_minority_share: float = Field(0.01, ge=0, le=0.5)  # class-balance floor (0 = off)
    max_conflict_share: float = Field(0.1, ge=0, le=1)  # rows whose annotations disagreed
    min_feature_completeness: float = Field(0.5, ge=0, le=1)  # non-null share per feature column
    active_learning_batch: int = Field(100, gt=0)

    @field_validator("source_ref_id_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        import re

        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class TuningSpec(Frozen):
    """Hyperparameter search for the XGBoost model (``python -m airsage.entrypoints.tune``).

    ``search_space`` maps a hyperparameter to ``[low, high]`` (ints: inclusive integer range; floats:
    uniform, log-uniform when ``low > 0`` and ``high / low >= 10``). For ``strategy: grid`` a list of
    more than two values is taken as the explicit grid levels. An empty space uses a default space.
    Trials are scored on a validation split carved out of the training side (never the test set); a
    trial whose validation objective after ``prune_after_fraction`` of its rounds trails the best
    trial's (at the same round) by more than ``prune_margin`` is stopped early ("Pruned").
    """

    enabled: bool = False
    max_trials: int = Field(8, gt=0)
    objective: Literal["auc", "pr_auc", "f1", "log_loss"] = "auc"
    strategy: Literal["random", "grid"] = "random"
    early_stopping_rounds: int = Field(20, gt=0)
    search_space: dict[str, list[float | int]] = Field(default_factory=dict)  # name -> [low, high]
    validation_size: float = Field(0.2, gt=0, lt=1)  # share of the training side used to score trials
    prune_after_fraction: float = Field(0.3, gt=0, lt=1)
    prune_margin: float | None = Field(0.05, ge=0)  # None: never prune
    seed: int | None = None  # sampling seed; default: training.seed


class TrainingSpec(Frozen):
    algorithm: Literal["xgboost", "logistic_regression"] = "xgboost"
    baseline_algorithm: Literal["logistic_regression", "none"] = "logistic_regression"
    hyperparameters: dict[str, float | int | str] = Field(default_factory=dict)
    test_size: float = Field(0.2, gt=0, lt=1)
    seed: int = 7
    decision_threshold: float = Field(0.5, gt=0, lt=1)
    handle_imbalance: bool = True
    tuning: TuningSpec = TuningSpec()
    schedule: str | None = None  # cron; None = triggered by the dataset Asset / by hand


class GatesSpec(Frozen):
    """Quality gates a new version must pass to wait for approval (else it is registered Rejected).

    ``max_bias`` maps a Clarify metric (``DPPL``, ``DI``, ``CI``, ...) to the largest allowed deviation
    from its ideal value over every facet: ``|value|`` for difference metrics, ``|1 - value|`` for the
    ratio metric ``DI`` (ideal 1). A configured bias gate fails when no Clarify analysis is given.
    """

    min_auc: float | None = Field(0.7, ge=0, le=1)
    min_pr_auc: float | None = Field(None, ge=0, le=1)
    min_recall: float | None = Field(None, ge=0, le=1)
    max_bias: dict[str, float] = Field(default_factory=dict)  # Clarify metric -> max |deviation|
    champion_max_auc_drop: float | None = 0.01  # challenger may be at most this much worse

