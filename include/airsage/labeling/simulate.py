"""Realistic label sources from a generated frame, for the demo and the tests (no AWS involved).

* ``write_ground_truth_output_manifest``: what a Ground Truth text-classification job writes to
  ``manifests/output/output.manifest``: the record's ``source`` text, the record id as a pass-through
  key, ``<attr>`` (class index) and ``<attr>-metadata``. Knobs add low-confidence answers, automated
  labels (``human-annotated: no``), repeated annotations of the same record (some disagreeing) and
  malformed lines.
* ``complete_input_manifest``: plays a Ground Truth job on an *input* manifest (e.g. the active-learning
  export): every line keeps its keys and gains the label attribute.
* ``write_a2i_output``: one A2I ``output.json`` per record, at A2I's key layout
  ``<prefix>/<flow-definition>/YYYY/MM/DD/hh/mm/ss/<human-loop>/output.json``.

``class_map`` here is the job's label list: label value (as text) -> the class name workers see, in
the order of the job's labels (the class index is the position). Default: the label values themselves.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airsage import storage
from airsage.labeling.active_learning import render_source

if TYPE_CHECKING:
    import pandas as pd

CREATION_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
DEFAULT_CREATION = "2026-11-20T08:00:00"


@dataclass(frozen=True)
class SimulationResult:
    uri: str
    lines: int
    records: int
    low_confidence: int = 0
    auto_labeled: int = 0
    duplicates: int = 0
    conflicting_duplicates: int = 0
    malformed: int = 0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _job_labels(df: "pd.DataFrame", label: str, class_map: Mapping[str, str] | None) -> dict[str, str]:
    if class_map:
        return {str(k): str(v) for k, v in class_map.items()}
    return {str(v): str(v) for v in sorted(df[label].dropna().unique(), key=str)}


def _start(creation_date: str | dt.date | dt.datetime) -> dt.datetime:
    if isinstance(creation_date, dt.datetime):
        return creation_date.replace(tzinfo=None)
    if isinstance(creation_date, dt.date):
        return dt.datetime.combine(creation_date, dt.time(8))
    return dt.datetime.fromisoformat(str(creation_date)).replace(tzinfo=None)


def _source_columns(df: "pd.DataFrame", record_id: str, label: str, source_columns: Sequence[str] | None) -> list[str]:
    if source_columns:
        return list(source_columns)
    hidden = {record_id, label, "label_available_at", "sex", "age_group"}  # never show the answer or facets
    return [c for c in df.columns if c not in hidden]


def _gt_line(source: str, rid: str, *, record_id: str, attr: str, job: str, labels: dict[str, str], value: str,
             confidence: float, human: bool, created: dt.datetime, multilabel: bool, rng) -> dict[str, Any]:
    names = list(labels.values())
    idx = list(labels).index(value)
    meta: dict[str, Any]
    if multilabel:
        conf_map = {str(idx): confidence}
        other = int(rng.integers(0, len(names)))
        if other != idx:  # a class some worker chose that consolidation rejected (real files show these)
            conf_map[str(other)] = round(float(rng.uniform(0.05, 0.4)), 2)
        meta = {"job-name": f"labeling-job/{job}", "class-map": {str(idx): names[idx]},
                "human-annotated": "yes" if human else "no", "creation-date": created.strftime(CREATION_FORMAT),
                "confidence-map": conf_map, "type": "groundtruth/text-classification-multilabel"}
        label_value: Any = [idx]
    else:
        meta = {"class-name": names[idx], "job-name": f"labeling-job/{job}", "confidence": confidence,
                "type": "groundtruth/text-classification", "human-annotated": "yes" if human else "no",
                "creation-date": created.strftime(CREATION_FORMAT)}
        label_value = idx
    return {"source": source, record_id: rid, attr: label_value, f"{attr}-metadata": meta}


def write_ground_truth_output_manifest(
    df: "pd.DataFrame", uri: str, *, label_attribute: str, job_name: str,
    class_map: Mapping[str, str] | None = None, seed: int = 0, low_confidence_share: float = 0.02,
    auto_labeled_share: float = 0.05, duplicate_annotation_share: float = 0.02, duplicate_conflict_share: float = 0.3,
    malformed_share: float = 0.0, creation_date: str | dt.date | dt.datetime = DEFAULT_CREATION,
    record_id: str = "application_id", label: str = "default", source_columns: Sequence[str] | None = None,
    multilabel: bool = False,
) -> SimulationResult:
    """Write a Ground Truth output manifest labelling every row of ``df`` with its ``label`` column.

    Confidences: human answers U(0.55, 0.99), low-confidence ones U(0.05, 0.25), automated labels
    U(0.70, 0.99), repeated annotations U(0.50, 0.95), rounded to 2 decimals like Ground Truth.
    Repeated annotations come after all first annotations with a later creation-date; a share
    ``duplicate_conflict_share`` of them names another class. Malformed lines are cut in half.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = _job_labels(df, label, class_map)
    cols = _source_columns(df, record_id, label, source_columns)
    start = _start(creation_date)
    n = len(df)
    auto = rng.random(n) < auto_labeled_share
    low = (rng.random(n) < low_confidence_share) & ~auto
    conf = np.where(auto, rng.uniform(0.70, 0.99, n),
                    np.where(low, rng.uniform(0.05, 0.25, n), rng.uniform(0.55, 0.99, n)))
    offsets = np.sort(rng.integers(0, 8 * 3600 * 1_000_000, n))
    dup = rng.random(n) < duplicate_annotation_share
    flip = rng.random(n) < duplicate_conflict_share
    malformed = rng.random(n + int(dup.sum())) < malformed_share

    records = df.to_dict("records")
    lines, conflicting = [], 0
    for i, rec in enumerate(records):
        rid, value = str(rec[record_id]), str(rec[label])
        lines.append(_gt_line(render_source(rec, cols), rid, record_id=record_id, attr=label_attribute, job=job_name,
                              labels=labels, value=value, confidence=round(float(conf[i]), 2), human=not auto[i],
                              created=start + dt.timedelta(microseconds=int(offsets[i])), multilabel=multilabel, rng=rng))
    for i in np.flatnonzero(dup):
        rec = records[i]
        value = str(rec[label])
        others = [v for v in labels if v != value]
        if flip[i] and others:
            value = others[int(rng.integers(0, len(others)))]
            conflicting += 1
        created = start + dt.timedelta(microseconds=int(offsets[i]), seconds=int(rng.integers(60, 3600)))
        lines.append(_gt_line(render_source(rec, cols), str(rec[record_id]), record_id=record_id, attr=label_attribute,
                              job=job_name, labels=labels, value=value, confidence=round(float(rng.uniform(0.5, 0.95)), 2),
                              human=True, created=created, multilabel=multilabel, rng=rng))
    texts = [json.dumps(line, ensure_ascii=False) for line in lines]
    texts = [t[: len(t) // 2] if malformed[j] else t for j, t in enumerate(texts)]
    with storage.atomic_open(uri, "w", encoding="utf-8") as fh:
        fh.write("\n".join(texts) + "\n")
    return SimulationResult(uri=uri, lines=len(texts), records=n, low_confidence=int(low.sum()),
                            auto_labeled=int(auto.sum()), duplicates=int(dup.sum()),
                            conflicting_duplicates=conflicting, malformed=int(malformed.sum()), files=[uri])


def complete_input_manifest(input_uri: str, output_uri: str, *, labels: Mapping[str, Any], label_attribute: str,
                            job_name: str, record_id: str, class_map: Mapping[str, str] | None = None,
                            confidence: float = 0.9, creation_date: str | dt.datetime = DEFAULT_CREATION
                            ) -> SimulationResult:
    """Play a Ground Truth job on an input manifest: every line keeps all its keys (pass-through) and gains
    ``<attr>``/``<attr>-metadata`` with the label ``labels[<record id>]``."""
    class_map = class_map or {str(v): str(v) for v in sorted(set(labels.values()), key=str)}
    job_labels = {str(k): str(v) for k, v in class_map.items()}
    start = _start(creation_date)
    out = []
    for i, raw in enumerate(storage.read_text(input_uri).splitlines()):
        if not raw.strip():
            continue
        line = json.loads(raw)
        value = str(labels[str(line[record_id])])
        idx = list(job_labels).index(value)
        line[label_attribute] = idx
        line[f"{label_attribute}-metadata"] = {
            "class-name": job_labels[value], "job-name": f"labeling-job/{job_name}", "confidence": confidence,
            "type": "groundtruth/text-classification", "human-annotated": "yes",
            "creation-date": (start + dt.timedelta(seconds=i)).strftime(CREATION_FORMAT)}
        out.append(json.dumps(line, ensure_ascii=False))
    with storage.atomic_open(output_uri, "w", encoding="utf-8") as fh:
        fh.write("\n".join(out) + "\n")
    return SimulationResult(uri=output_uri, lines=len(out), records=len(out), files=[output_uri])


def _loop_name(prefix: str, rid: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", f"{prefix}-{rid}".lower()).strip("-")
    return name[-63:].strip("-")


def _nested(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def write_a2i_output(
    df: "pd.DataFrame", prefix_uri: str, *, flow_definition_arn: str = "arn:aws:sagemaker:us-east-1:111122223333:"
    "flow-definition/airsage-review", answer_key: str = "label", class_map: Mapping[str, str] | None = None,
    seed: int = 0, workers_per_loop: int = 1, disagreement_share: float = 0.0,
    creation_time: str | dt.datetime = DEFAULT_CREATION, record_id: str = "application_id", label: str = "default",
    source_columns: Sequence[str] | None = None,
) -> SimulationResult:
    """Write one A2I ``output.json`` per row of ``df`` (DG ``a2i-output-data``, custom task type).

    ``answerContent`` holds the class name at ``answer_key`` (dotted = nested, e.g. ``category.label``
    like a crowd-classifier); ``inputContent`` carries the record id and the ``source`` text. Workers
    after the first name another class with probability ``disagreement_share``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = _job_labels(df, label, class_map)
    cols = _source_columns(df, record_id, label, source_columns)
    flow = flow_definition_arn.split("flow-definition/", 1)[-1]
    start = _start(creation_time)
    files = []
    for i, rec in enumerate(df.to_dict("records")):
        rid, value = str(rec[record_id]), str(rec[label])
        created = start + dt.timedelta(seconds=i)
        loop = _loop_name(flow[:20], rid)
        answers = []
        for w in range(workers_per_loop):
            v = value
            others = [x for x in labels if x != value]
            if w > 0 and others and rng.random() < disagreement_share:
                v = others[int(rng.integers(0, len(others)))]
            accepted = created + dt.timedelta(minutes=5 + w)
            spent = float(np.round(rng.uniform(5, 90), 3))
            answers.append({
                "answerContent": _nested(answer_key, labels[v]),
                "acceptanceTime": accepted.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "submissionTime": (accepted + dt.timedelta(seconds=spent)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "timeSpentInSeconds": spent, "workerId": f"{int(rng.integers(0, 2**63)):016x}"[:16],
            })
        doc = {"flowDefinitionArn": flow_definition_arn, "humanAnswers": answers, "humanLoopName": loop,
               "inputContent": {record_id: rid, "source": render_source(rec, cols)}}
        uri = storage.join(prefix_uri, flow, created.strftime("%Y/%m/%d/%H/%M/%S"), loop, "output.json")
        storage.write_text(uri, json.dumps(doc, ensure_ascii=False, indent=1))
        files.append(uri)
    return SimulationResult(uri=prefix_uri, lines=len(files) * workers_per_loop, records=len(files), files=files)
