"""Review decisions stored exactly like Amazon A2I human-loop output (the A2I developer guide's output-data page).

Each decision is one ``output.json`` at
``<root>/<flow-definition-name>/YYYY/MM/DD/hh/mm/ss/<human-loop-name>/output.json`` (the timestamp is
the loop's creation time, UTC) with ``flowDefinitionArn``, ``humanAnswers``, ``humanLoopName`` and
``inputContent`` (the task payload, record id included). A reviewer's answer is
``answerContent = {"decision": "confirm" | "override", "label": <final label>, "comment": ...}`` with
``workerId`` = the reviewer.

A timeout is recorded as such: ``humanAnswers`` is empty (no human answered) and the Airsage key
``airsageTimeout = {"defaultDecision", "label", "timedOutAt"}`` holds the use case's default
(``accept_model``: the model's label; ``flag_high_risk``: the positive label).

``read_decisions`` returns every stored decision; ``resolve_decisions`` keeps one per record: a human
answer beats a timeout, and among humans the latest submission wins.

Times. In A2I ``acceptanceTime`` is when the worker accepted (opened) the task and
``timeSpentInSeconds`` runs from there to ``submissionTime``. Airflow's human-in-the-loop record
(``HITLDetail``) holds only ``created_at`` (the task was put before reviewers) and ``responded_at``
(the answer), not when a reviewer opened the task, so ``airsage.review.record`` estimates it (see
``estimate_acceptance``) and says how in the Airsage key ``airsageTiming = {"acceptanceBasis",
"taskCreatedAt"}``; the routing time stays the loop's creation time (the path's timestamp).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from airsage import storage
from airsage.errors import ConfigError, DataValidationError

LOOP_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
MAX_LOOP_NAME = 63
Decision = Literal["confirm", "override", "timeout_default"]
DECISION_COLUMNS = ["inference_id", "record_id", "human_loop_name", "flow_definition_name", "status", "decision",
                    "final_label", "model_label", "reviewer", "comment", "created_at", "decided_at", "output_uri"]


def human_loop_name(inference_id: str) -> str:
    """A valid, deterministic A2I loop name (``^[a-z0-9](-*[a-z0-9])*$``, at most 63 chars) for a record.

    The readable part is the id lower-cased with other characters turned into '-'; a short hash of the
    exact id is appended whenever that changed anything or the name had to be cut, so distinct ids keep
    distinct names."""
    raw = str(inference_id)
    clean = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    if clean == raw and len(clean) <= MAX_LOOP_NAME:
        return clean
    digest = hashlib.sha1(raw.encode()).hexdigest()[:10]
    head = clean[: MAX_LOOP_NAME - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}" if head else digest


def make_flow_definition_arn(name: str, region: str = "us-east-1", account: str = "000000000000") -> str:
    """An ARN for a flow definition; locally a placeholder account (A2I's ARN shape, 12 digits)."""
    return f"arn:aws:sagemaker:{region}:{account}:flow-definition/{name}"


def _utc(t: dt.datetime | str | pd.Timestamp) -> dt.datetime:
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _iso_ms(t: dt.datetime) -> str:
    """A2I's timestamp format: ``2020-12-28T18:59:15.191Z``."""
    t = _utc(t)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ReviewDecision:
    """One decision about one routed record (build it with ``human_decision`` or ``timeout_decision``)."""

    inference_id: str
    decision: Decision
    final_label: int
    model_label: int
    input_content: dict[str, Any]
    created_at: dt.datetime  # the human loop's creation (the task was routed)
    decided_at: dt.datetime  # submission time, or when the timeout expired
    reviewer: str | None = None
    comment: str = ""
    accepted_at: dt.datetime | None = None
    default_decision: str | None = None  # set for timeouts
    human_loop_name: str = field(default="")
    acceptance_basis: str | None = None  # how accepted_at was estimated (None: given by the caller)
    task_created_at: dt.datetime | None = None  # when Airflow put the task before reviewers (HITLDetail.created_at)

    def __post_init__(self) -> None:
        if not self.human_loop_name:
            object.__setattr__(self, "human_loop_name", human_loop_name(self.inference_id))
        if not LOOP_NAME.match(self.human_loop_name) or len(self.human_loop_name) > MAX_LOOP_NAME:
            raise ConfigError(f"human loop name {self.human_loop_name!r} is not valid for A2I", key="human_loop_name",
                              fix="Leave it empty to derive one from the inference id.")
        object.__setattr__(self, "created_at", _utc(self.created_at))
        object.__setattr__(self, "decided_at", _utc(self.decided_at))

    @property
    def status(self) -> str:
        return "timed_out" if self.decision == "timeout_default" else "reviewed"


def human_decision(payload: dict[str, Any], *, decision: str, reviewer: str, created_at: dt.datetime,
                   submitted_at: dt.datetime, label: int | None = None, comment: str = "",
                   accepted_at: dt.datetime | None = None) -> ReviewDecision:
    """A reviewer's answer to the task ``payload``. ``confirm`` keeps the model's label; ``override``
    needs the other ``label``."""
    model_label = int(payload["model_label"])
    if decision == "confirm":
        if label is not None and int(label) != model_label:
            raise ConfigError(f"decision 'confirm' with label {label} contradicts the model's label {model_label}",
                              key="decision", fix="Use decision 'override' to change the label.")
        final = model_label
    elif decision == "override":
        if label is None or int(label) == model_label:
            raise ConfigError("decision 'override' needs a label different from the model's", key="label",
                              fix=f"Give the corrected label (the model said {model_label}) or use 'confirm'.")
        final = int(label)
    else:
        raise ConfigError(f"unknown decision {decision!r}", key="decision", fix="Use 'confirm' or 'override'.")
    if not reviewer:
        raise ConfigError("a human decision needs the reviewer", key="reviewer", fix="Pass the reviewer's user name.")
    return ReviewDecision(inference_id=str(payload["inference_id"]), decision=decision, final_label=final,
                          model_label=model_label, input_content=payload, created_at=created_at,
                          decided_at=submitted_at, reviewer=reviewer, comment=comment,
                          accepted_at=accepted_at or created_at)


def timeout_decision(payload: dict[str, Any], spec: Any, *, created_at: dt.datetime,
                     positive_label: int = 1) -> ReviewDecision:
    """The use case's default decision for a task nobody answered within ``spec.timeout_hours``."""
    model_label = int(payload["model_label"])
    final = model_label if spec.default_decision == "accept_model" else int(positive_label)
    created = _utc(created_at)
    return ReviewDecision(inference_id=str(payload["inference_id"]), decision="timeout_default", final_label=final,
                          model_label=model_label, input_content=payload, created_at=created,
                          decided_at=created + dt.timedelta(hours=float(spec.timeout_hours)),
                          comment=f"no decision within {spec.timeout_hours:g} h: default {spec.default_decision}",
                          default_decision=spec.default_decision)


def a2i_output_uri(output_root: str, flow_definition_name: str, created_at: dt.datetime, loop_name: str) -> str:
    t = _utc(created_at)
    return storage.join(output_root, flow_definition_name, f"{t:%Y/%m/%d/%H/%M/%S}", loop_name, "output.json")


def a2i_output(decision: ReviewDecision, flow_definition_arn: str) -> dict[str, Any]:
    """The ``output.json`` document (A2I's output-data format) for one decision."""
    doc: dict[str, Any] = {"flowDefinitionArn": flow_definition_arn, "humanAnswers": []}
    if decision.decision == "timeout_default":
        doc["airsageTimeout"] = {"defaultDecision": decision.default_decision, "label": decision.final_label,
                                 "timedOutAt": _iso_ms(decision.decided_at)}
    else:
        accepted = decision.accepted_at or decision.created_at
        doc["humanAnswers"].append({
            "answerContent": {"decision": decision.decision, "label": decision.final_label,
                              "comment": decision.comment},
            "acceptanceTime": _iso_ms(accepted),
            "submissionTime": _iso_ms(decision.decided_at),
            "timeSpentInSeconds": round(max((decision.decided_at - _utc(accepted)).total_seconds(), 0.0), 3),
            "workerId": decision.reviewer,
        })
    doc["humanLoopName"] = decision.human_loop_name
    doc["inputContent"] = decision.input_content
    if decision.acceptance_basis and decision.decision != "timeout_default":
        doc["airsageTiming"] = {"acceptanceBasis": decision.acceptance_basis,
                                "taskCreatedAt": _iso_ms(decision.task_created_at or decision.created_at)}
    return doc


def write_a2i_output(decision: ReviewDecision, output_root: str, flow_definition_name: str, *,
                     flow_definition_arn: str | None = None, region: str = "us-east-1") -> str:
    """Write one decision's ``output.json`` (atomically; the same decision always lands on the same key)."""
    if not LOOP_NAME.match(flow_definition_name) or len(flow_definition_name) > MAX_LOOP_NAME:
        raise ConfigError(f"flow definition name {flow_definition_name!r} is not valid", key="review.flow_definition_name",
                          fix="Use lower-case letters, digits and '-', at most 63 characters (e.g. credit-risk-review).")
    arn = flow_definition_arn or make_flow_definition_arn(flow_definition_name, region)
    uri = a2i_output_uri(output_root, flow_definition_name, decision.created_at, decision.human_loop_name)
    storage.write_json(uri, a2i_output(decision, arn))
    return uri


def read_decisions(root: str, flow_definition_name: str | None = None) -> pd.DataFrame:
    """Every stored decision under ``root`` (optionally one flow definition), one row per ``output.json``."""
    base = storage.join(root, flow_definition_name) if flow_definition_name else root
    rows = []
    if storage.exists(base):
        for uri in storage.list_files(base, suffixes=("output.json",)):
            rows.append(_row(uri, storage.read_json(uri)))
    frame = pd.DataFrame(rows, columns=DECISION_COLUMNS)
    for col in ("created_at", "decided_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    frame["final_label"] = frame["final_label"].astype("Int64")
    frame["model_label"] = frame["model_label"].astype("Int64")
    return frame.sort_values(["inference_id", "decided_at"], kind="mergesort").reset_index(drop=True)


def _row(uri: str, doc: dict[str, Any]) -> dict[str, Any]:
    parts = uri.replace("\\", "/").split("/")
    if len(parts) < 9:
        raise DataValidationError(uri, ["not under <flow-definition>/YYYY/MM/DD/hh/mm/ss/<loop>/output.json"],
                                  fix="Point read_decisions at the root that write_a2i_output wrote to.")
    fd, y, mo, d, h, mi, s, loop = parts[-9:-1]
    created = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=dt.timezone.utc)
    content = doc.get("inputContent") or {}
    answers = doc.get("humanAnswers") or []
    row = {"inference_id": content.get("inference_id"), "record_id": content.get("record_id"),
           "human_loop_name": doc.get("humanLoopName", loop), "flow_definition_name": fd,
           "model_label": content.get("model_label"), "created_at": created, "output_uri": uri}
    if answers:
        last = max(answers, key=lambda a: a.get("submissionTime", ""))
        answer = last.get("answerContent") or {}
        row.update(status="reviewed", decision=answer.get("decision"), final_label=answer.get("label"),
                   reviewer=last.get("workerId"), comment=answer.get("comment", ""),
                   decided_at=last.get("submissionTime"))
    elif "airsageTimeout" in doc:
        t = doc["airsageTimeout"]
        row.update(status="timed_out", decision="timeout_default", final_label=t.get("label"), reviewer=None,
                   comment=f"default {t.get('defaultDecision')}", decided_at=t.get("timedOutAt"))
    else:
        raise DataValidationError(uri, ["no humanAnswers and no airsageTimeout"],
                                  fix="The file is not a finished review; remove it or write the decision again.")
    return row


def resolve_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """One decision per ``inference_id``: a human answer beats a timeout; then the latest ``decided_at``."""
    if decisions.empty:
        return decisions.copy()
    ranked = decisions.assign(_human=(decisions["status"] == "reviewed").astype(int))
    ranked = ranked.sort_values(["inference_id", "_human", "decided_at", "output_uri"], kind="mergesort")
    return ranked.groupby("inference_id", sort=True).tail(1).drop(columns="_human").reset_index(drop=True)
