"""Frozen hand-off objects: everything that crosses an XCom or a process boundary (stdlib only).

XCom stays JSON: each type has exactly one ``to_dict()`` / ``from_dict()`` pair, and ``to_dict()`` keeps
the key names DAGs, tests and the UI read (``version``, ``uri``, ``outputs``, ``job``, …). A ``from_dict``
accepts what ``to_dict`` produced (plus, where noted, an older key) and refuses anything without its
required keys with a ``ConfigError`` naming the key.

* ``DatasetRef``  a published training-dataset version
* ``ServingModel`` the registered version a scoring run serves (only Approved ones are resolved)
* ``TrainArgs`` / ``TransformArgs`` / ``ClarifyArgs`` / ``MonitorArgs``  the arguments of each job kind
  (``airsage.lifecycle.jobs.JOBS`` maps each kind to its type); ``TransformArgs`` is also the
  batch-transform DAG's plan, with the pending versions it scores in shadow
* ``JobResult``  what a finished compute job hands on (name, kind, state, output URIs), built in one place
* ``PartitionPlan`` / ``BaselinePlan``  the monitor workflow's plans
* ``Registration``  the training DAG's registered version (name, version, status, gates) for its approval
* ``MonitorRunSummary`` / ``MonitorOutcome``  one monitored partition's summary, and the monitor run's result
* ``HumanAnswer`` / ``parse_hitl_answer``  a person's answer to an Airflow human-in-the-loop request (the
  one reader of that XCom: the DAGs use it through ``airsage_airflow.hitl.parse_answer``)
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airsage.errors import ConfigError


def _need(d: Mapping[str, Any] | None, type_name: str, *keys: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise ConfigError(f"{type_name} expects a mapping, got {type(d).__name__}", key=type_name,
                          fix=f"Pass the dict an upstream task returned ({type_name}.to_dict()).")
    missing = [k for k in keys if d.get(k) in (None, "")]
    if missing:
        raise ConfigError(f"{type_name} lacks {missing} (got keys {sorted(d)})", key=missing[0],
                          fix=f"Pass the dict an upstream task returned ({type_name}.to_dict()).")
    return d


def _fields(cls, d: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


# ---------------------------------------------------------------------- data and models
@dataclass(frozen=True)
class DatasetRef:
    """A published dataset version (``datasets/<version>/``); ``hash`` is the content hash of its rows."""

    version: str
    uri: str
    hash: str | None = None
    rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DatasetRef":
        _need(d, "DatasetRef", "version", "uri")
        return cls(version=str(d["version"]), uri=str(d["uri"]), hash=d.get("hash"),
                   rows=None if d.get("rows") is None else int(d["rows"]))


@dataclass(frozen=True)
class ServingModel:
    """The registered version a scoring run serves, as the registry resolved it (``uri`` as asked)."""

    uri: str
    name: str
    version: str
    status: str
    model_artifact_uri: str
    run_id: str | None = None
    #: the version tags a job needs to serve a model registered from outside Airsage by flavor
    #: (``airsage.threshold``, ``airsage.categories``, ``airsage.model_digest``); empty for Airsage's own
    serving_tags: Mapping[str, str] = field(default_factory=dict)

    SERVING_TAGS = ("airsage.threshold", "airsage.categories", "airsage.model_digest")

    @classmethod
    def from_resolved(cls, uri: str, resolved: Any) -> "ServingModel":
        """From the registry's ``ResolvedModel`` (duck-typed: name, version, status, model_artifact_uri, run_id).
        A model registered from outside Airsage has no ``model.tar.gz``: its MLflow model location
        (``source``) is what the job loads (by flavor)."""
        artifact = resolved.model_artifact_uri or getattr(resolved, "source", None)
        if not artifact:
            raise ConfigError(f"{resolved.name} version {resolved.version} has no model artifact to serve",
                              key="model_artifact_uri",
                              fix="Register the version with its model (airsage registry import, or an MLflow "
                                  "model logged with log_model).")
        tags = dict(getattr(resolved, "tags", None) or {})
        return cls(uri=uri, name=str(resolved.name), version=str(resolved.version), status=str(resolved.status),
                   model_artifact_uri=str(artifact), run_id=getattr(resolved, "run_id", None),
                   serving_tags={k: str(tags[k]) for k in cls.SERVING_TAGS if tags.get(k) not in (None, "")})

    def to_dict(self) -> dict[str, Any]:
        d = {**dataclasses.asdict(self), "serving_tags": dict(self.serving_tags)}
        if not d["serving_tags"]:  # Airsage's own versions: the XCom keeps its established keys
            d.pop("serving_tags")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ServingModel":
        _need(d, "ServingModel", "name", "version", "model_artifact_uri")
        return cls(uri=str(d.get("uri") or f"models:/{d['name']}/{d['version']}"), name=str(d["name"]),
                   version=str(d["version"]), status=str(d.get("status") or ""),
                   model_artifact_uri=str(d["model_artifact_uri"]), run_id=d.get("run_id"),
                   serving_tags={str(k): str(v) for k, v in (d.get("serving_tags") or {}).items()})


# ---------------------------------------------------------------------- job arguments
@dataclass(frozen=True)
class TrainArgs:
    """A training (or tuning, when the use case turns it on) job: the dataset to train on."""

    dataset: DatasetRef

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainArgs":
        _need(d, "TrainArgs", "dataset")
        ds = d["dataset"]
        return cls(dataset=ds if isinstance(ds, DatasetRef) else DatasetRef.from_dict(ds))


@dataclass(frozen=True)
class TransformArgs:
    """A batch transform job, and the batch-transform DAG's plan: what to serve, which partition, where."""

    model: ServingModel
    partition: str
    input_uri: str | None = None
    output_uri: str | None = None
    overrides: Mapping[str, Any] | None = None
    #: pending versions scored in shadow beside ``model`` (never served; README: Shadow scoring)
    shadow: tuple[ServingModel, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {"model": self.model.to_dict(), "partition": self.partition, "input_uri": self.input_uri or "",
               "output_uri": self.output_uri or ""}
        if self.overrides:
            out["overrides"] = dict(self.overrides)
        if self.shadow:
            out["shadow"] = [m.to_dict() for m in self.shadow]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TransformArgs":
        _need(d, "TransformArgs", "model", "partition")
        m = d["model"]
        return cls(model=m if isinstance(m, ServingModel) else ServingModel.from_dict(m), partition=str(d["partition"]),
                   input_uri=d.get("input_uri") or None, output_uri=d.get("output_uri") or None,
                   overrides=dict(d["overrides"]) if d.get("overrides") else None,
                   shadow=tuple(m if isinstance(m, ServingModel) else ServingModel.from_dict(m)
                                for m in d.get("shadow") or ()))


@dataclass(frozen=True)
class ClarifyArgs:
    """A Clarify processing job: the analysis config, the data, the model (post-training only), the output."""

    stage: str
    config_uri: str
    data_uri: str
    output_uri: str
    model_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "config_uri": self.config_uri, "data_uri": self.data_uri,
                "model_uri": self.model_uri, "output_uri": self.output_uri}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClarifyArgs":
        _need(d, "ClarifyArgs", "config_uri", "data_uri", "output_uri")
        return cls(**{"stage": "analysis", **_fields(cls, d)})


@dataclass(frozen=True)
class MonitorArgs:
    """A Model Monitor processing job: ``suggest-baseline`` of a dataset, or ``analyze`` against a baseline.
    Every URI is a staged directory (one processing channel each); ``input_digest`` names the content."""

    mode: str
    target: str
    dataset_uri: str
    config_uri: str
    input_digest: str
    statistics_uri: str | None = None
    constraints_uri: str | None = None
    score_statistics_uri: str | None = None
    #: bias drift / feature attribution drift (Clarify-based monitors): the version's post-training Clarify
    #: analysis, the ground truth joined to the partition (label metrics), the model artifact (TreeSHAP)
    clarify_baseline_uri: str | None = None
    groundtruth_uri: str | None = None
    model_uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MonitorArgs":
        _need(d, "MonitorArgs", "mode", "target", "dataset_uri", "config_uri", "input_digest")
        return cls(**_fields(cls, d))


# ---------------------------------------------------------------------- job results
@dataclass(frozen=True)
class JobResult:
    """A finished compute job: ``outputs`` holds its output URIs (``model_artifact``, ``output_data``,
    ``output``, ``report``, ``capture`` as the kind and backend produce them)."""

    job_name: str
    kind: str
    state: str
    outputs: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_status(cls, spec: Any, status: Any) -> "JobResult":
        """The one place a result is built: from a ``JobSpec`` and the backend's final ``JobStatus``."""
        return cls(job_name=spec.name, kind=spec.kind, state=status.state, outputs=dict(status.outputs))

    def output(self, key: str = "output") -> str:
        value = self.outputs.get(key)
        if not value:
            raise ConfigError(f"job {self.job_name} ({self.kind}) names no {key!r} output "
                              f"(it has {sorted(self.outputs)})", key=f"outputs.{key}",
                              fix="Pass the result of the job that produces it (RunJobOperator's return value).")
        return str(value)

    def to_dict(self) -> dict[str, Any]:
        return {"job_name": self.job_name, "kind": self.kind, "state": self.state, "outputs": dict(self.outputs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "JobResult":
        _need(d, "JobResult", "outputs")
        return cls(job_name=str(d.get("job_name") or ""), kind=str(d.get("kind") or ""),
                   state=str(d.get("state") or ""), outputs=dict(d["outputs"] or {}))


# ---------------------------------------------------------------------- monitoring plans
@dataclass(frozen=True)
class PartitionPlan:
    """The monitoring of one scored partition: the staged rows, the baseline, the monitor job's arguments."""

    partition: str
    model_version: str
    run_key: str
    baseline_uri: str
    output_uri: str
    meta_uri: str
    weights: str
    item_count: int
    capture_files: tuple[str, ...]
    model_versions_seen: tuple[str, ...]
    duplicates_dropped: int
    job: MonitorArgs

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(capture_files=list(self.capture_files), model_versions_seen=list(self.model_versions_seen),
                   job=self.job.to_dict())
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PartitionPlan":
        _need(d, "PartitionPlan", "partition", "model_version", "run_key", "baseline_uri", "output_uri", "meta_uri",
              "job")
        f = _fields(cls, d)
        f.update(capture_files=tuple(d.get("capture_files") or ()),
                 model_versions_seen=tuple(str(v) for v in d.get("model_versions_seen") or ()),
                 duplicates_dropped=int(d.get("duplicates_dropped") or 0), item_count=int(d.get("item_count") or 0),
                 weights=str(d.get("weights") or "uniform"), model_version=str(d["model_version"]),
                 job=d["job"] if isinstance(d["job"], MonitorArgs) else MonitorArgs.from_dict(d["job"]))
        return cls(**f)


@dataclass(frozen=True)
class BaselinePlan:
    """The baseline of one model version: ``needed`` False when a complete one exists (``result`` says
    where); else what the suggest-baseline job (``job``) and the publish step need."""

    needed: bool
    result: Mapping[str, Any] | None = None
    version: str | None = None
    baseline_uri: str | None = None
    dataset_uri: str | None = None
    eval_predictions_uri: str | None = None
    output_data_uri: str | None = None
    run_key: str | None = None
    clarify_analysis_uri: str | None = None
    job: MonitorArgs | None = None

    def to_dict(self) -> dict[str, Any]:
        if not self.needed:
            return {"needed": False, "result": dict(self.result or {})}
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "result"}
        out["job"] = self.job.to_dict() if self.job else None
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BaselinePlan":
        _need(d, "BaselinePlan")
        if not d.get("needed", True):
            return cls(needed=False, result=dict(d.get("result") or {}))
        _need(d, "BaselinePlan", "version", "baseline_uri", "dataset_uri", "job")
        f = _fields(cls, d)
        f.update(needed=True, version=str(d["version"]),
                 job=d["job"] if isinstance(d["job"], MonitorArgs) else MonitorArgs.from_dict(d["job"]))
        return cls(**f)


#: the source recorded with a decision taken in the Airflow UI or its REST API by an authenticated user
SOURCE_AIRFLOW_UI = "airflow-ui"


@dataclass(frozen=True)
class HumanAnswer:
    """One answer to a human-in-the-loop request: the chosen option, the authenticated Airflow user who
    answered, the request form's values, when, and the channel (``source``)."""

    option: str
    user: str
    user_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    responded_at: str | None = None
    source: str = SOURCE_AIRFLOW_UI

    def text(self, name: str) -> str:
        """A form value as stripped text ("" when absent)."""
        value = self.params.get(name)
        return "" if value is None else str(value).strip()

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HumanAnswer":
        return cls(**_fields(cls, _need(d, "HumanAnswer", "option", "user")))


def parse_hitl_answer(answer: Mapping[str, Any] | None, *, options: list[str] | tuple[str, ...]) -> HumanAnswer | None:
    """The answer an Airflow ``HITLOperator`` returned (its XCom: ``chosen_options``,
    ``responded_by_user``, ``params_input``, ``responded_at``); None when there is none (skipped, timed out).

    Raises ``DataValidationError`` when it is malformed: not exactly one of ``options``, or no responding
    user (an answer nobody can be held accountable for is not recorded)."""
    from airsage.errors import DataValidationError

    if not answer:
        return None
    if "option" in answer and "user" in answer:  # already parsed (HumanAnswer.to_dict())
        return HumanAnswer.from_dict(answer)
    chosen = list(answer.get("chosen_options") or [])
    if len(chosen) != 1 or chosen[0] not in options:
        raise DataValidationError("human-in-the-loop answer", [f"chose {chosen}, expected exactly one of {list(options)}"],
                                  fix="Answer the request again with one option.")
    user = answer.get("responded_by_user") or answer.get("responded_by") or {}
    name = str(user.get("name") or user.get("id") or "").strip()
    if not name:
        raise DataValidationError("human-in-the-loop answer", ["names no responding Airflow user"],
                                  fix="Answer through the Airflow UI or REST API as a logged-in user.")
    responded_at = answer.get("responded_at")
    return HumanAnswer(option=chosen[0], user=name, user_id=str(user.get("id") or name),
                       params=dict(answer.get("params_input") or {}),
                       responded_at=responded_at.isoformat() if hasattr(responded_at, "isoformat") else responded_at)


# ---------------------------------------------------------------------- registration and monitoring summaries
@dataclass(frozen=True)
class Registration:
    """A registered training (the training DAG's ``register_model``): the version, its approval status
    (``PendingManualApproval``, or ``Rejected`` when a quality gate failed) and every gate's result
    (``name``, ``passed``, ``value``, ``threshold``, ``detail``)."""

    name: str
    version: str
    status: str
    passed: bool
    gates: tuple[Mapping[str, Any], ...] = ()

    PENDING = "PendingManualApproval"

    @property
    def awaits_approval(self) -> bool:
        """Is the version waiting for a person's decision?"""
        return self.status == self.PENDING

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "status": self.status, "passed": self.passed,
                "gates": [dict(g) for g in self.gates]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Registration":
        """Also reads ``lifecycle.training.register_trained``'s report (the version's fields + gates)."""
        _need(d, "Registration", "name", "version", "status")
        gates = tuple(dict(g) for g in d.get("gates") or ())
        passed = d["passed"] if "passed" in d else all(g.get("passed") for g in gates)
        return cls(name=str(d["name"]), version=str(d["version"]), status=str(d["status"]), passed=bool(passed),
                   gates=gates)


@dataclass(frozen=True)
class MonitorRunSummary:
    """One monitoring run of a scored partition (``lifecycle.monitoring.finish_partition``): the verdict
    (``alert``, ``reasons``), what each monitor found, where the run and its report are. ``bias_drift`` /
    ``feature_attribution_drift`` hold the Clarify-based monitors' outcome, or ``{"status": "not_run",
    "reason": ...}``. The key names are those of the run's ``run.json``, the dashboard and the alerts."""

    partition: str
    model_version: str
    alert: bool = False
    reasons: tuple[str, ...] = ()
    violations: int | None = None
    data_quality_violations: int | None = None
    model_quality_violations: int | None = None
    drifted_features: tuple[str, ...] = ()
    dataset_drift: bool | None = None
    drifted_share: float | None = None
    prediction_drift: bool | None = None
    model_quality: str | None = None
    ground_truth_rows: int | None = None
    bias_drift: Mapping[str, Any] | None = None
    feature_attribution_drift: Mapping[str, Any] | None = None
    item_count: int | None = None
    run_key: str | None = None
    weights: str | None = None
    baseline_uri: str | None = None
    output_uri: str | None = None
    report_uri: str | None = None
    registry_findings: tuple[str, ...] = ()

    #: the order of ``to_dict()``'s keys (that of ``run.json``)
    KEYS = ("alert", "reasons", "violations", "data_quality_violations", "model_quality_violations",
            "drifted_features", "dataset_drift", "drifted_share", "prediction_drift", "model_quality",
            "ground_truth_rows", "bias_drift", "feature_attribution_drift", "item_count", "partition",
            "model_version", "run_key", "weights", "baseline_uri", "output_uri", "report_uri", "registry_findings")

    def alerted(self, monitor: str) -> bool:
        """Did a Clarify-based monitor (``bias_drift``, ``feature_attribution_drift``) alert?"""
        return bool((getattr(self, monitor) or {}).get("alert"))

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.KEYS}
        for k in ("reasons", "drifted_features", "registry_findings"):
            out[k] = list(out[k])
        for k in ("bias_drift", "feature_attribution_drift"):
            out[k] = None if out[k] is None else dict(out[k])
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MonitorRunSummary":
        _need(d, "MonitorRunSummary", "partition", "model_version")
        f = _fields(cls, d)
        f.update(partition=str(d["partition"]), model_version=str(d["model_version"]),
                 alert=bool(d.get("alert")), reasons=tuple(d.get("reasons") or ()),
                 drifted_features=tuple(d.get("drifted_features") or ()),
                 registry_findings=tuple(d.get("registry_findings") or ()))
        return cls(**f)


@dataclass(frozen=True)
class MonitorOutcome:
    """The monitor DAG's result: every partition's run summary, and whether any of them alerted."""

    alert: bool
    runs: tuple[MonitorRunSummary, ...] = ()

    @classmethod
    def of(cls, runs: "list[MonitorRunSummary] | tuple[MonitorRunSummary, ...]") -> "MonitorOutcome":
        return cls(alert=any(r.alert for r in runs), runs=tuple(runs))

    def to_dict(self) -> dict[str, Any]:
        return {"alert": self.alert, "runs": [r.to_dict() for r in self.runs]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MonitorOutcome":
        _need(d, "MonitorOutcome", "runs")
        runs = tuple(r if isinstance(r, MonitorRunSummary) else MonitorRunSummary.from_dict(r) for r in d["runs"])
        return cls(alert=bool(d.get("alert")) if "alert" in d else any(r.alert for r in runs), runs=runs)
