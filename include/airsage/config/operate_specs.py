"""The use-case sections that run and govern a model: ``transform``, ``shadow``, ``review``, ``governance``,
``clarify``, ``monitor``, ``compute``, ``sagemaker`` and ``model_card``."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from airsage.config.base import Frozen

Backend = Literal["local", "sagemaker"]
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


class ShadowGateSpec(Frozen):
    """An optional approval gate on shadow evidence (``airsage.lifecycle.shadow``; README: Shadow scoring).
    With ``enabled``, a pending version can be approved only after ``min_partitions`` shadow-scored
    partitions whose cumulative comparison stays within every bound that is set (None = not checked)."""

    enabled: bool = False
    min_partitions: int = Field(3, ge=1, le=365)
    max_flip_rate: float | None = Field(0.05, ge=0, le=1)  # share of decisions that would change
    max_group_flip_rate: float | None = Field(0.10, ge=0, le=1)  # in any facet group
    max_bias_change: float | None = Field(0.05, ge=0, le=2)  # |challenger - champion| DPPL of any facet
    min_auc_delta: float | None = Field(None, ge=-1, le=1)  # once labelled: challenger AUC - champion AUC


class ShadowSpec(Frozen):
    """Shadow scoring of pending versions in the nightly batch transform (README: Shadow scoring).
    ``versions``: ``newest`` scores the ``newest`` most recent pending versions, ``all`` every pending one.
    On ``compute.transform.backend: sagemaker`` each challenger is its own transform job, run only with
    ``sagemaker_jobs: true`` (each costs a job per partition); locally the champion's job scores them too,
    reading and encoding the input once."""

    enabled: bool = False
    versions: Literal["newest", "all"] = "newest"
    newest: int = Field(1, ge=1, le=10)
    sagemaker_jobs: bool = False
    gate: ShadowGateSpec = Field(default_factory=ShadowGateSpec)


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

