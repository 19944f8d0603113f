"""The reader of an Amazon A2I human-loop ``output.json`` (``airsage.labeling.readers`` describes what it
accepts)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from airsage import storage
from airsage.labeling import records as R
from airsage.labeling.readers_common import Item, _confidence, _record_id
from airsage.labeling.records import Annotation, ReaderOptions, Rejection


def _dotted(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _lookup(content: dict, key: str) -> Any:
    """``content[key]``, else the dotted path ``key`` (``taskObject.record_id``: AWS's A2I samples nest
    the task's fields under ``inputContent.taskObject``, which may itself arrive as a JSON string)."""
    if key in content:
        return content[key]
    node: Any = content
    for part in key.split("."):
        if isinstance(node, str) and node.lstrip().startswith("{"):
            try:
                node = json.loads(node)
            except (ValueError, RecursionError):
                return None
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def read_a2i_output(uri: str, options: ReaderOptions, *, source_name: str | None = None) -> Iterator[Item]:
    """Annotations of one A2I ``output.json``: one per human answer (item number = answer index + 1)."""
    name = source_name or uri
    raw = storage.read_bytes(uri)
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        yield Rejection(name, 1, R.MALFORMED_JSON, f"not valid JSON: {exc}", raw=R.clip_raw(raw))
        return
    except RecursionError:
        yield Rejection(name, 1, R.MALFORMED_JSON, "not valid JSON: nested too deeply", raw=R.clip_raw(raw))
        return
    yield from a2i_items(data, options, source=name, raw=raw)


def a2i_items(data: Any, opt: ReaderOptions, *, source: str, raw: bytes | str | None = None) -> Iterator[Item]:
    """Items of one parsed A2I output document."""
    clipped = R.clip_raw(raw)
    if not isinstance(data, dict) or not isinstance(data.get("humanAnswers"), list):
        yield Rejection(source, 1, R.MISSING_METADATA, "not an A2I output: no humanAnswers list", raw=clipped)
        return
    if "awsManagedHumanLoopRequestSource" in data:
        yield Rejection(source, 1, R.UNSUPPORTED_TYPE, f"built-in task type "
                        f"{data['awsManagedHumanLoopRequestSource']!r} is not a classification answer", raw=clipped)
        return
    answers = data["humanAnswers"]
    if not answers:
        yield Rejection(source, 1, R.MISSING_METADATA, "humanAnswers is empty (loop without answers)", raw=clipped)
        return
    content = data.get("inputContent")
    if isinstance(content, str):  # InputContent is sent as a JSON string; the output holds the object
        try:
            content = json.loads(content)
        except (ValueError, RecursionError):
            content = None
    key = opt.a2i_record_key or opt.record_key
    problem: tuple[str, str] | None = None
    rid = None
    if not isinstance(content, dict):
        problem = (R.MISSING_METADATA, "inputContent is missing or not an object")
    else:
        ref = content.get("source-ref")
        if ref is not None or opt.join_key == "source-ref":
            why = R.source_ref_problem(ref, opt.allowed_source_prefixes)
            if why:
                problem = (R.SOURCE_REF_NOT_ALLOWED, why)
        if problem is None:
            rid = (opt.record_id_from_source_ref(ref) if opt.join_key == "source-ref"
                   else _record_id(_lookup(content, key)))
            if rid is None:
                problem = (R.MISSING_RECORD_ID, f"inputContent has no record id {key!r}")
    arn = str(data.get("flowDefinitionArn") or "")
    job = arn.split("flow-definition/", 1)[1] if "flow-definition/" in arn else str(data.get("humanLoopName") or "a2i")
    for i, ans in enumerate(answers, start=1):
        if problem:
            yield Rejection(source, i, *problem, record_id=rid, raw=clipped)
            continue
        item = _a2i_answer(ans, opt, rid=rid, job=job, source=source, item=i)
        if isinstance(item, Rejection):
            item = Rejection(item.source, item.line, item.reason, item.detail, item.record_id, clipped)
        yield item


def _a2i_answer(ans: Any, opt: ReaderOptions, *, rid: str, job: str, source: str, item: int) -> Item:
    def rej(reason: str, detail: str) -> Rejection:
        return Rejection(source, item, reason, detail, record_id=rid)

    content = ans.get("answerContent") if isinstance(ans, dict) else None
    if not isinstance(content, dict):
        return rej(R.MISSING_METADATA, "humanAnswers[].answerContent is missing or not an object")
    value = _dotted(content, opt.a2i_answer_key)
    if isinstance(value, dict) and set(value) == {"label"}:  # crowd-classifier: {"<name>": {"label": ...}}
        value = value["label"]
    elif isinstance(value, dict) and set(value) == {"labels"}:  # crowd-classifier-multi-select: {"labels": [...]}
        value = value["labels"]
    if value is None:
        return rej(R.MISSING_METADATA, f"answerContent has no {opt.a2i_answer_key!r} (labeling.a2i_answer_key); "
                                       f"keys: {sorted(content)}")
    if isinstance(value, list):  # a multi-select answer: one use-case label is needed
        mapped = [opt.map_label(v) for v in value]
        bad = next((why for _, why in mapped if why), None)
        if bad:
            return rej(R.UNKNOWN_CLASS, bad)
        labels = list(dict.fromkeys(lab for lab, _ in mapped))
        if len(labels) != 1:
            return rej(R.MULTIPLE_LABELS, f"multi-select answer {value!r} maps to {len(labels)} use-case labels; "
                                          "exactly one is needed")
        label, value = labels[0], "|".join(str(v) for v in value)
    else:
        label, why = opt.map_label(value)
        if why:
            return rej(R.UNKNOWN_CLASS, why)
    conf = 1.0
    if opt.a2i_confidence_key:
        conf = _confidence(_dotted(content, opt.a2i_confidence_key))
        if conf is None:
            return rej(R.INVALID_METADATA, f"answerContent {opt.a2i_confidence_key!r} is missing or not in [0, 1]")
    created = R.parse_timestamp(ans.get("submissionTime"))
    return Annotation(record_id=rid, label=label, confidence=conf, human_annotated=True, job=job, kind=R.A2I,
                      source=source, line=item, created=R.iso(created), class_name=str(value),
                      annotator=str(ans.get("workerId")) if ans.get("workerId") is not None else None)
