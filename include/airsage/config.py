"""Typed, frozen settings and use-case specs.

* ``Settings``: where Airsage keeps its state (home, data root, MLflow). Defaults are the embedded
  laptop setup; every key can be overridden by an environment variable ``AIRSAGE__<KEY>`` (nested
  keys with ``__``: ``AIRSAGE__MLFLOW__TRACKING_URI``). ``MLFLOW_TRACKING_URI`` is honoured too.
* ``UseCase``: one YAML file in ``include/usecases/``. Unknown keys are errors (``extra="forbid"``),
  and every error names the file, the key and the fix.

Only stdlib, pydantic and PyYAML are imported here: DAG files import this module at parse time.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from airsage.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]  # include/airsage/config.py -> repo root


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# =========================================================================== settings
class MlflowSettings(Frozen):
    tracking_uri: str | None = None  # default: sqlite:///<home>/mlflow.db
    registry_uri: str | None = None
    artifact_root: str | None = None  # default: <home>/mlartifacts


class AwsSettings(Frozen):
    conn_id: str = "aws_default"
    region: str = "us-east-1"
    endpoint_url: str | None = None  # moto / MinIO; boto3 also reads AWS_ENDPOINT_URL


class Settings(Frozen):
    home: str = str(REPO_ROOT / ".airsage")
    data_root: str | None = None  # default: <home>/data ; may be s3://bucket/prefix
    usecases_dir: str = str(REPO_ROOT / "include" / "usecases")
    mlflow: MlflowSettings = MlflowSettings()
    aws: AwsSettings = AwsSettings()

    @property
    def resolved_data_root(self) -> str:
        return self.data_root or str(Path(self.home) / "data")

    @property
    def tracking_uri(self) -> str:
        return (self.mlflow.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
                or f"sqlite:///{Path(self.home) / 'mlflow.db'}")

    @property
    def artifact_root(self) -> str:
        return self.mlflow.artifact_root or str(Path(self.home) / "mlartifacts")

    @property
    def jobs_dir(self) -> Path:
        return Path(self.home) / "jobs"


def _env_overrides(prefix: str = "AIRSAGE__") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in os.environ.items():
        if not key.startswith(prefix):
            continue
        parts = [p.lower() for p in key[len(prefix):].split("__") if p]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def load_settings() -> Settings:
    """Settings from the environment (``AIRSAGE__*``). Cheap; call it where you need it."""
    try:
        return Settings.model_validate(_env_overrides())
    except ValidationError as exc:
        raise _config_error(exc, "environment (AIRSAGE__* variables)") from None


# =========================================================================== use case
Backend = Literal["local", "sagemaker"]
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


TransformContentType = Literal["text/csv", "application/jsonlines", "application/x-parquet"]
InferenceField = Literal["inference_id", "model_name", "model_version", "predicted_label", "score"]


class WaitForDataSpec(Frozen):
    """How the nightly transform waits for late upstream data: it checks at once, then every
    ``poke_minutes`` (the task sleeps in between, freeing its worker slot), and after ``timeout_minutes``
    alerts through ``monitor.notifiers`` and fails. ``marker``: a file upstream writes last (e.g.
    ``_SUCCESS``); None = the partition is ready when any input file is there. ``timeout_minutes: 0`` =
    do not wait (fail at once when nothing is there)."""

    timeout_minutes: int = Field(360, ge=0, le=7 * 24 * 60)
    poke_minutes: float = Field(5, gt=0, le=24 * 60)
    marker: str | None = Field(None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # a file name, not a path


class TransformTriggerSpec(Frozen):
    """Schedule the transform by an upstream Asset instead of the cron: each event of ``asset`` (its URI)
    starts a run, which scores the partition named in the event's extra (``partition``) or else the day
    the run was queued."""

    asset: str = Field(min_length=1, max_length=1500)


class TransformSpec(Frozen):
    """Batch transform settings, named like ``CreateTransformJob`` (SageMaker API reference); the engine's
    ``airsage.transform.TransformConfig.from_spec`` validates the JSONPath filters in full."""

    schedule: str | None = "0 2 * * *"
    timezone: str = "UTC"
    content_type: TransformContentType = "application/x-parquet"
    accept: TransformContentType | None = None  # None = content_type
    split_type: Literal["None", "Line"] = "Line"
    batch_strategy: Literal["MultiRecord", "SingleRecord"] = "MultiRecord"
    max_payload_mb: int = Field(6, ge=0, le=100)
    input_filter: str = Field("$", max_length=63)
    join_source: Literal["None", "Input"] = "Input"
    output_filter: str = Field("$", max_length=63)
    assemble_with: Literal["None", "Line"] = "Line"
    inference_fields: list[InferenceField] = Field(
        default_factory=lambda: ["inference_id", "model_name", "model_version", "predicted_label", "score"],
        min_length=1)
    # a partition where some input file failed (its .out is missing): False = the publish task fails
    # (after publishing the good files and the report), True = it succeeds and the event says partial
    allow_partial: bool = False
    wait_for_data: WaitForDataSpec = Field(default_factory=WaitForDataSpec)
    trigger: TransformTriggerSpec | None = None  # set: scheduled by this upstream Asset, not by `schedule`
    capture: bool = True
    model_alias: str = "champion"

    @model_validator(mode="after")
    def _sagemaker_rules(self) -> "TransformSpec":
        for key in ("input_filter", "output_filter"):
            if not getattr(self, key).startswith("$"):
                raise ValueError(f"transform.{key} must be a JSONPath starting with '$' (e.g. '$', '$[1:]', '$.features')")
        if self.join_source == "Input":
            if (self.accept or self.content_type) != self.content_type:
                raise ValueError("transform.join_source Input needs accept == content_type (SageMaker's rule)")
            if self.assemble_with != self.split_type or self.split_type != "Line":
                raise ValueError("transform.join_source Input needs split_type and assemble_with both 'Line'")
        if len(set(self.inference_fields)) != len(self.inference_fields):
            raise ValueError("transform.inference_fields lists a field twice")
        return self


#: an access-list entry: an Airflow user name, or ``role:<Role>`` (every user with that role)
ACCESS_ENTRY = r"^(role:[A-Za-z][A-Za-z0-9_-]{0,63}|[A-Za-z0-9][A-Za-z0-9_.@-]{0,127})$"


class ReviewRule(Frozen):
    """Route a record to human review when ``<feature> <op> <value>`` holds (a missing value never matches)."""

    feature: str
    op: Literal[">", ">=", "<", "<=", "==", "!=", "in"]
    value: Any
    reason: str = ""

    @model_validator(mode="after")
    def _value_fits_op(self) -> "ReviewRule":
        if self.op == "in" and not isinstance(self.value, (list, tuple)):
            raise ValueError(f"review rule on {self.feature!r}: op 'in' needs a list value, e.g. [a, b]")
        if self.op != "in" and isinstance(self.value, (list, tuple, dict)):
            raise ValueError(f"review rule on {self.feature!r}: op {self.op!r} needs a single value")
        return self


ReviewReason = Literal["high_risk", "rule", "low_confidence"]


class ReviewSpec(Frozen):
    """Human review (A2I-style). A record is routed when its score is inside ``probability_band``
    (inclusive), when ``score >= high_risk_threshold``, or when a rule matches. At most
    ``max_per_night`` records are routed per nightly partition, taken in ``priority`` order of their
    most important reason (see ``airsage.review.routing``). ``quotas`` reserves a share of that cap per
    reason (``{low_confidence: 0.3}``: 30 % of the cap, rounded down, for low-confidence records, the
    ones whose labels teach the next model most); unused reserved places and the rest of the cap are
    filled in ``priority`` order. On timeout ``default_decision`` applies: ``accept_model`` keeps the
    model's label, ``flag_high_risk`` sets the positive (high-risk) label. ``label_names`` names the
    label values for the reviewer (``{0: no default, 1: default}``; default: the inverted
    ``labeling.class_map``, else ``label <value>``)."""

    enabled: bool = True
    probability_band: tuple[float, float] = (0.4, 0.6)
    high_risk_threshold: float | None = Field(0.9, ge=0, le=1)
    rules: list[ReviewRule] = Field(default_factory=list)
    max_per_night: int = Field(25, ge=0)
    priority: list[ReviewReason] = Field(default_factory=lambda: ["high_risk", "rule", "low_confidence"])
    quotas: dict[ReviewReason, float] = Field(default_factory=dict)  # reason -> share of max_per_night reserved
    label_names: dict[int, str] = Field(default_factory=dict)  # label value -> name shown to the reviewer
    timeout_hours: float = Field(24, gt=0)
    default_decision: Literal["accept_model", "flag_high_risk"] = "accept_model"
    top_contributions: int = Field(5, ge=1, le=50)  # features shown to the reviewer when contributions are given
    flow_definition_name: str | None = Field(None, max_length=63, pattern=r"^[a-z0-9](-*[a-z0-9])*$")
    #: who may answer review tasks: Airflow user names and/or ``role:<Role>`` (see GovernanceSpec)
    reviewers: list[Annotated[str, Field(pattern=ACCESS_ENTRY)]] = Field(
        default_factory=lambda: ["role:Admin"], min_length=1)

    @model_validator(mode="after")
    def _priority_complete(self) -> "ReviewSpec":
        if sorted(self.priority) != sorted(["high_risk", "rule", "low_confidence"]):
            raise ValueError("review.priority must list high_risk, rule and low_confidence, each once")
        bad = {k: v for k, v in self.quotas.items() if not 0 < v <= 1}
        if bad:
            raise ValueError(f"review.quotas {bad}: each share must be in (0, 1], e.g. {{low_confidence: 0.3}}")
        if sum(self.quotas.values()) > 1 + 1e-9:
            raise ValueError(f"review.quotas add up to {sum(self.quotas.values()):g} > 1: the shares of the cap "
                             "reserved per reason must total at most 1")
        if any(not name.strip() for name in self.label_names.values()):
            raise ValueError("review.label_names: a label name is empty")
        return self


class GovernanceSpec(Frozen):
    """Who may decide on model versions (approve, reject, promote, roll back).

    ``approvers`` are Airflow user names and/or ``role:<Role>`` entries (a role of the auth manager, e.g.
    ``role:Admin``; with Airflow's simple auth manager it is resolved to the users that have it). The
    approval human-in-the-loop tasks are assigned to them (Airflow refuses an answer from anyone else), and
    the governance DAGs fail when someone else triggers them. ``four_eyes``: the user who triggered the
    training run that produced a version may not approve it."""

    approvers: list[Annotated[str, Field(pattern=ACCESS_ENTRY)]] = Field(
        default_factory=lambda: ["role:Admin"], min_length=1)
    four_eyes: bool = True


class ClarifySpec(Frozen):
    pre_training_methods: list[str] | Literal["all"] = "all"
    post_training_methods: list[str] | Literal["all"] = "all"
    shap_sample_rows: int = Field(10000, gt=0)
    shap_baseline_rows: int = Field(50, gt=0)
    num_samples: int | None = None  # KernelSHAP samples (non-tree models)
    agg_method: Literal["mean_abs", "median", "mean_sq"] = "mean_abs"
    probability_threshold: float = 0.5


NotifierName = Literal["log", "email", "slack", "sns"]


class MonitorSpec(Frozen):
    """Model monitoring (``airsage.lifecycle.monitoring``, the ``<uc>__monitor`` DAG; README: Monitoring).

    * Model Monitor checks: ``comparison_method`` / ``comparison_threshold`` are written into the
      version's ``constraints.json`` when its baseline is suggested; that file then rules (edit it, or
      re-baseline, to change them for an existing version).
    * Drift (effect sizes, read at every run): a feature drifts when ``psi >= psi_threshold``, or its
      normalised Wasserstein (numeric) / Jensen-Shannon distance (categorical) reaches its threshold;
      features with fewer than ``min_drift_rows`` captured rows are not judged. The data drifts when
      the SHAP-importance-weighted share of drifted features reaches ``drifted_share_alert``.
    * Model quality: captured predictions get their labels from published datasets and human review
      decisions arriving within ``ground_truth_offset_hours`` (start, end) after capture; with fewer
      than ``min_ground_truth_rows`` labelled rows the metrics are reported but not judged.
      ``model_quality_constraints`` (metric -> ``{threshold, comparison_operator}``) override the
      constraints suggested from the training evaluation.
    * Alerts go to every channel in ``notifiers``, each through an Airflow connection: ``email``
      (SMTP provider; ``smtp_conn_id``, ``email_to``), ``slack`` (Slack provider; ``slack_conn_id``, an
      incoming-webhook connection), ``sns`` (amazon provider; ``sns_conn_id``, ``sns_topic_arn``),
      ``log`` (the task log). ``retrain_on_alert`` then triggers the ``<uc>__train`` DAG.
    """

    comparison_method: Literal["Simple", "Robust"] = "Robust"
    comparison_threshold: float = Field(0.1, gt=0, le=1)
    psi_threshold: float = Field(0.2, gt=0)
    js_threshold: float = Field(0.1, gt=0, le=1)
    wasserstein_threshold: float = Field(0.1, gt=0)
    drifted_share_alert: float = Field(0.2, gt=0, le=1)  # importance-weighted share of drifted features that alerts
    min_drift_rows: int = Field(500, ge=1)
    ground_truth_offset_hours: tuple[float, float] = (0, 24 * 14)
    min_ground_truth_rows: int = Field(200, ge=1)
    model_quality_constraints: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notifiers: list[NotifierName] = Field(default_factory=lambda: ["log"])
    email_to: list[str] = Field(default_factory=list)
    email_from: str | None = None  # None: the SMTP connection's from_email
    smtp_conn_id: str = "smtp_default"
    slack_conn_id: str = "slack_default"
    sns_conn_id: str = "aws_default"
    sns_topic_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]+:\d{12}:[A-Za-z0-9_\-]+(\.fifo)?$")
    sns_region: str | None = None  # None: the connection's / boto3's region
    retrain_on_alert: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> "MonitorSpec":
        start, end = self.ground_truth_offset_hours
        if end < start:
            raise ValueError("monitor.ground_truth_offset_hours must be [start_h, end_h] with start_h <= end_h")
        if len(set(self.notifiers)) != len(self.notifiers):
            raise ValueError("monitor.notifiers lists a channel twice")
        if "email" in self.notifiers and not self.email_to:
            raise ValueError("monitor.notifiers has 'email' but monitor.email_to is empty: list the recipients")
        if "sns" in self.notifiers and not self.sns_topic_arn:
            raise ValueError("monitor.notifiers has 'sns' but monitor.sns_topic_arn is not set: give the topic ARN")
        return self


class JobCompute(Frozen):
    backend: Backend = "local"
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(1, ge=1)
    volume_size_gb: int = Field(30, ge=1)
    max_runtime_s: int = Field(3600, ge=1)


class ComputeSpec(Frozen):
    train: JobCompute = JobCompute()
    tune: JobCompute = JobCompute()
    transform: JobCompute = JobCompute()
    clarify: JobCompute = JobCompute()
    monitor: JobCompute = JobCompute()


class SageMakerSpec(Frozen):
    """Where and how jobs run when ``compute.<job>.backend: sagemaker`` (README: Running on SageMaker).

    ``processing_engine`` picks what a clarify/monitor job runs: ``airsage`` (Airsage's own entrypoint
    in the framework image, the twin of the local job) or ``managed`` (AWS's Clarify / Model Monitor
    containers, closed to new AWS customers, hence opt-in).
    """

    role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
    region: str = "us-east-1"
    s3_prefix: str | None = Field(default=None, pattern=r"^s3://[^/]+")  # code, captures, default outputs
    aws_conn_id: str = "aws_default"
    poll_interval_s: int = Field(30, ge=1, le=3600)  # how often a deferred task asks SageMaker about its job
    kms_key_id: str | None = None  # output, volume and capture encryption
    subnets: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    enable_network_isolation: bool = False
    mirror_model_registry: bool = False
    model_package_group: str | None = None  # default: the registered model name, made SageMaker-safe
    framework_version: str = "3.2-0"  # SageMaker XGBoost framework image (script mode; Python 3.12, XGBoost 3.2)
    image_uri: str | None = None  # your own script-mode image instead (e.g. FROM the framework image)
    processing_engine: Literal["airsage", "managed"] = "airsage"
    requirements: list[str] = Field(default_factory=list)  # pip-installed at job start (needs network)
    tags: dict[str, str] = Field(default_factory=dict)  # added to every job, model and model package

    @model_validator(mode="after")
    def _vpc_pair(self) -> "SageMakerSpec":
        if bool(self.subnets) != bool(self.security_group_ids):
            raise ValueError("sagemaker.subnets and sagemaker.security_group_ids go together: set both or neither")
        return self


class ModelCardSpec(Frozen):
    """The human part of the generated model card (SageMaker model card ``intended_uses``,
    ``business_details`` and ``additional_information``); everything else is generated."""

    intended_use: str = ""
    risk_rating: Literal["High", "Medium", "Low", "Unknown"] = "Unknown"
    limitations: str = ""  # -> additional_information.caveats_and_recommendations
    risk_rating_explanation: str = ""
    factors_affecting_model_efficiency: str = ""
    business_problem: str = ""  # default: the use case description
    business_stakeholders: str = ""  # default: the use case owner
    line_of_business: str = ""
    ethical_considerations: str = ""


class UseCase(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    owner: str
    description: str = ""
    start_date: dt.date = dt.date(2026, 11, 1)
    tags: list[str] = Field(default_factory=list)
    model_name: str | None = None  # registered model name; default = use case name
    schema_: SchemaSpec = Field(alias="schema")
    data: DataSpec = DataSpec()
    generator: GeneratorSpec = GeneratorSpec()
    labeling: LabelingSpec = LabelingSpec()
    training: TrainingSpec = TrainingSpec()
    gates: GatesSpec = GatesSpec()
    transform: TransformSpec = TransformSpec()
    review: ReviewSpec = ReviewSpec()
    governance: GovernanceSpec = GovernanceSpec()
    clarify: ClarifySpec = ClarifySpec()
    monitor: MonitorSpec = MonitorSpec()
    compute: ComputeSpec = ComputeSpec()
    sagemaker: SageMakerSpec = SageMakerSpec()
    model_card: ModelCardSpec = ModelCardSpec()
    source: str | None = Field(default=None, exclude=True)  # the YAML file it came from

    @field_validator("start_date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> "UseCase":
        s = self.schema_
        features = set(s.feature_names)
        for facet in s.facets:
            if facet.name in (s.label, s.record_id):
                raise ValueError(f"facet {facet.name!r} cannot be the label or the record id")
        if s.group_variable and s.group_variable in (s.label, s.record_id):
            raise ValueError("schema.group_variable cannot be the label or the record id")
        for rule in self.review.rules:
            if rule.feature not in features:
                raise ValueError(f"review rule names unknown feature {rule.feature!r}; features are {sorted(features)}")
        lo, hi = self.review.probability_band
        if not 0 <= lo <= hi <= 1:
            raise ValueError("review.probability_band must be [low, high] with 0 <= low <= high <= 1")
        uses_sm = any(getattr(self.compute, j).backend == "sagemaker" for j in ComputeSpec.model_fields)
        if uses_sm and not (self.sagemaker.role_arn and self.sagemaker.s3_prefix):
            raise ValueError("a job uses backend: sagemaker, so sagemaker.role_arn and sagemaker.s3_prefix are required")
        return self

    @property
    def registered_model_name(self) -> str:
        return self.model_name or self.name

    def data_root(self, settings: Settings | None = None) -> str:
        from airsage.storage import is_s3, join, normalize

        if self.data.root:
            return self.data.root if is_s3(self.data.root) else normalize(self.data.root)
        settings = settings or load_settings()
        return join(settings.resolved_data_root, self.name)

    def path(self, *parts: str, settings: Settings | None = None) -> str:
        """A URI below the use case's data root: ``uc.path("predictions", "dt=2026-11-20")``."""
        from airsage.storage import join

        return join(self.data_root(settings), *parts)


# =========================================================================== loading
def _config_error(exc: ValidationError, source: str, line_of=None) -> ConfigError:
    lines = []
    first_key = None
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<top level>"
        first_key = first_key or key
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (a typo?)"
        line = line_of(tuple(err["loc"])) if line_of else None
        lines.append(f"{key}" + (f" (line {line})" if line else "") + f": {msg}")
    return ConfigError("invalid configuration:\n  " + "\n  ".join(lines), source=source, key=first_key,
                       fix="Correct the key(s) named above; the allowed keys and types are in the README "
                           "(section 'Use cases') and in airsage/config.py.")


def parse_usecase(data: dict[str, Any], source: str = "<dict>") -> UseCase:
    if not isinstance(data, dict):
        raise ConfigError("a use case must be a YAML mapping", source=source, fix="Start the file with 'name: ...'.")
    try:
        return UseCase.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _config_error(exc, source) from None


MAX_YAML_BYTES = 1 << 20  # a use case is a few KiB; anything near this is a mistake or an attack
MAX_YAML_DEPTH = 64


def _yaml_loader(source: str):
    """A PyYAML ``SafeLoader`` that refuses anchors and aliases (no billion laughs, no merge keys) and
    duplicate keys (naming both lines), and turns an impossible date into a ConfigError."""
    import yaml

    class _Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
                raise ConfigError(f"YAML {kind}{event.anchor} at line {event.start_mark.line + 1}: anchors and "
                                  "aliases are not allowed in a use case", source=source,
                                  fix="Write the repeated values out in full (no '&name' / '*name' / '<<:').")
            self._depth = getattr(self, "_depth", 0) + 1
            try:
                if self._depth > MAX_YAML_DEPTH:
                    raise ConfigError(f"YAML nested more than {MAX_YAML_DEPTH} levels deep at line "
                                      f"{event.start_mark.line + 1}", source=source,
                                      fix="A use case is a few levels deep: check the indentation and brackets.")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML reports it below
                    first = None
                if first is not None:
                    path = _node_path(self._root, key_node)
                    raise ConfigError(f"duplicate key {key!r} at lines {first} and {line}: the second would "
                                      "silently replace the first", source=source, key=path or str(key),
                                      fix=f"Keep one {key!r} entry (merge the two blocks) and delete the other.")
                try:
                    seen[key] = line
                except TypeError:
                    pass
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_timestamp(self, node):
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError as exc:
                raise ConfigError(f"{node.value!r} at line {node.start_mark.line + 1} is not a valid date ({exc})",
                                  source=source, key=_node_path(self._root, node) or None,
                                  fix="Write a real calendar date as YYYY-MM-DD, e.g. 2026-11-01.") from None

    _Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
    return _Loader


def _node_path(root, target) -> str:
    """The dotted key path of ``target`` (a key or value node) in the composed document ``root``."""
    import yaml

    def walk(node, path):
        if node is target:
            return path
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                name = str(getattr(k, "value", "?"))
                if k is target:
                    return [*path, name]
                found = walk(v, [*path, name])
                if found is not None:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                found = walk(item, [*path, str(i)])
                if found is not None:
                    return found
        return None

    return ".".join(walk(root, []) or []) if root is not None else ""


def _node_line(root, loc: tuple) -> int | None:
    """The 1-based line of the key at pydantic location ``loc`` (as deep as the document has it)."""
    import yaml

    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(getattr(k, "value", "")) == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def load_yaml_text(data: bytes, source: str) -> tuple[Any, Any]:
    """Parse a use-case file's bytes safely: ``(python value, composed root node)``. Refuses non-UTF-8
    bytes, files over ``MAX_YAML_BYTES``, anchors/aliases, duplicate keys, impossible dates and
    excessive nesting, each with a ConfigError naming the file, the line, the key and the fix."""
    import yaml

    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"the file is {len(data)} bytes, over the {MAX_YAML_BYTES} byte limit for a use case",
                          source=source, fix="A use case is a few KiB of YAML: check that this is the right file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} (offset {exc.start})",
                          source=source, fix="Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).") from None
    loader = _yaml_loader(source)(text.removeprefix("\ufeff"))
    loader._root = None
    try:
        root = loader.get_single_node()
        loader._root = root
        value = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {exc.problem or exc}", source=source,
                          fix="Fix the YAML syntax at the line named (indentation, a missing ':' or quote).") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", source=source, fix="Fix the YAML syntax.") from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", source=source,
                          fix="A use case is a few levels deep: check the indentation and brackets.") from None
    finally:
        loader.dispose()
    return value, root


def load_usecase_file(path: str | Path) -> UseCase:
    """One use-case YAML file, loaded safely (``load_yaml_text``) and validated."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"the file is {size} bytes, over the {MAX_YAML_BYTES} byte limit for a use case",
                              source=source, fix="A use case is a few KiB of YAML: check that this is the right file.")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the use-case file: {exc.strerror or exc}", source=source,
                          fix="Check the path and its permissions.") from None
    data, root = load_yaml_text(raw, source)
    if not isinstance(data, dict):
        raise ConfigError("a use case must be a YAML mapping", source=source, fix="Start the file with 'name: ...'.")
    try:
        uc = UseCase.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _config_error(exc, source, line_of=lambda loc: _node_line(root, loc)) from None
    if uc.name != path.stem:
        raise ConfigError(f"name {uc.name!r} differs from the file name {path.stem!r}", source=source, key="name",
                          fix=f"Rename the file to {uc.name}.yaml or set name: {path.stem}.")
    return uc


@functools.lru_cache(maxsize=8)
def _load_dir(directory: str, mtimes: tuple) -> tuple[UseCase, ...]:
    return tuple(load_usecase_file(p) for p in sorted(Path(directory).glob("*.yaml")))


def load_usecases(directory: str | Path | None = None) -> list[UseCase]:
    """Every use case in ``directory`` (default: settings.usecases_dir), sorted by file name."""
    directory = str(directory or load_settings().usecases_dir)
    files = sorted(Path(directory).glob("*.yaml"))
    return list(_load_dir(directory, tuple((str(p), p.stat().st_mtime_ns) for p in files)))


def get_usecase(name: str, directory: str | Path | None = None) -> UseCase:
    for uc in load_usecases(directory):
        if uc.name == name:
            return uc
    known = [u.name for u in load_usecases(directory)]
    raise ConfigError(f"unknown use case {name!r}", key="usecase",
                      fix=f"Use one of {known} or add include/usecases/{name}.yaml.")
