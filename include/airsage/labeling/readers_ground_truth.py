"""The reader of a SageMaker Ground Truth output (augmented) manifest, JSON Lines (``airsage.labeling.readers``
describes what it accepts)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airsage import storage
from airsage.errors import ConfigError
from airsage.labeling import records as R
from airsage.labeling.readers_common import Item, _confidence, _record_id
from airsage.labeling.records import Annotation, ReaderOptions, Rejection


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes) of non-blank lines. Splits on ``\\n`` only, so U+2028 inside a JSON
    string (legal JSON) does not break a record."""
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, start=1):
            if no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\r\n")
            if raw.strip():
                yield no, raw


def _parse(raw: bytes) -> tuple[dict | None, str | None]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc}"
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return None, f"a manifest line must be a JSON object, got {type(obj).__name__}"
    return obj, None


def label_attribute_candidates(obj: dict) -> list[str]:
    """Keys ``k`` of a manifest line that have a ``k-metadata`` object (the labelling jobs' attributes)."""
    return [k[: -len("-metadata")] for k, v in obj.items()
            if k.endswith("-metadata") and isinstance(v, dict) and k[: -len("-metadata")]]


def detect_label_attribute(path: str | Path, configured: str | None = None, *, source_name: str | None = None) -> str:
    """The label attribute of a manifest: ``configured`` if given (checked to occur in the file when any
    attribute does), else the only attribute found on any line. Several (chained jobs) or none is a
    ``ConfigError`` naming the candidates."""
    seen: dict[str, int] = {}
    for _, raw in _lines(Path(path)):
        obj, _err = _parse(raw)
        if obj is not None:
            for k in label_attribute_candidates(obj):
                seen[k] = seen.get(k, 0) + 1
            if configured and configured in seen:
                return configured  # found: no need to read on
    name = source_name or str(path)
    if configured:
        if seen and configured not in seen:
            raise ConfigError(f"label attribute {configured!r} occurs on no line of {name}; its label attributes "
                              f"are {sorted(seen)}", key="labeling.label_attribute",
                              fix="Set labeling.label_attribute to the attribute of the job you want to import.")
        return configured
    if len(seen) == 1:
        return next(iter(seen))
    if not seen:
        raise NoLabelAttributeError(f"{name} has no '<attribute>' / '<attribute>-metadata' pair: not a Ground "
                                    f"Truth output manifest (an input manifest?)", key="labeling.label_attribute",
                                    fix="Import the job's manifests/output/output.manifest.")
    raise ConfigError(f"{name} holds several label attributes {sorted(seen)} (chained jobs); cannot pick one",
                      key="labeling.label_attribute",
                      fix=f"Set labeling.label_attribute in the use case to one of {sorted(seen)}.")


class NoLabelAttributeError(ConfigError):
    """No line of a manifest has a label attribute: each of its lines is quarantined instead."""


def _job_name(value: Any) -> str:
    text = str(value or "")
    return text.split("/", 1)[1] if text.startswith("labeling-job/") else text


def read_ground_truth_manifest(uri: str, options: ReaderOptions, *, source_name: str | None = None) -> Iterator[Item]:
    """Annotations of one Ground Truth output manifest (see the module docstring)."""
    name = source_name or uri
    with storage.local_copy(uri) as path:
        try:
            attr = detect_label_attribute(path, options.label_attribute, source_name=name)
        except NoLabelAttributeError as exc:  # garbage or an input manifest: quarantine its lines, not the import
            for no, raw in _lines(Path(path)):
                obj, err = _parse(raw)
                yield Rejection(name, no, R.MALFORMED_JSON if obj is None else R.MISSING_LABEL_ATTRIBUTE,
                                err or exc.message, raw=R.clip_raw(raw))
            return
        for no, raw in _lines(Path(path)):
            obj, err = _parse(raw)
            if obj is None:
                yield Rejection(name, no, R.MALFORMED_JSON, err or "", raw=R.clip_raw(raw))
            else:
                item = ground_truth_item(obj, attr, options, source=name, line=no)
                if isinstance(item, Rejection):
                    item = Rejection(item.source, item.line, item.reason, item.detail, item.record_id, R.clip_raw(raw))
                yield item


def ground_truth_item(obj: dict, attr: str, opt: ReaderOptions, *, source: str, line: int) -> Item:
    """One parsed manifest line -> an ``Annotation`` or the first reason it cannot be one."""
    rid_hint = _record_id(obj.get(opt.record_key))

    def rej(reason: str, detail: str) -> Rejection:
        return Rejection(source, line, reason, detail, record_id=rid_hint)

    meta_key = f"{attr}-metadata"
    if attr not in obj and meta_key not in obj:
        return rej(R.MISSING_LABEL_ATTRIBUTE, f"no {attr!r} / {meta_key!r} on this line; attributes here: "
                                             f"{label_attribute_candidates(obj)}")
    meta = obj.get(meta_key)
    if not isinstance(meta, dict):
        return rej(R.MISSING_METADATA, f"{meta_key!r} is missing or not an object")
    if "failure-reason" in meta:
        return rej(R.LABELING_FAILED, f"Ground Truth failure-reason: {str(meta['failure-reason'])[:300]}")
    typ = meta.get("type")
    if typ is None:
        return rej(R.MISSING_METADATA, f"{meta_key} has no 'type'")
    if typ not in R.CLASSIFICATION_TYPES:
        return rej(R.UNSUPPORTED_TYPE, f"type {typ!r} is not a classification task "
                                      f"(expected one of {sorted(R.CLASSIFICATION_TYPES)})")
    if attr not in obj:
        return rej(R.MISSING_LABEL_ATTRIBUTE, f"{meta_key!r} present but the label {attr!r} is not")
    multi = typ in R.MULTILABEL_TYPES
    required = ("job-name", "human-annotated", "creation-date",
                *(("class-map", "confidence-map") if multi else ("class-name", "confidence")))
    missing = [k for k in required if k not in meta]
    if missing:
        return rej(R.MISSING_METADATA, f"{meta_key} lacks {missing}")
    human = meta["human-annotated"]
    if human not in ("yes", "no"):
        return rej(R.INVALID_METADATA, f"human-annotated is {human!r}, expected 'yes' or 'no'")
    created = R.parse_timestamp(meta["creation-date"])
    if created is None:
        return rej(R.INVALID_METADATA, f"creation-date {meta['creation-date']!r} is not an ISO timestamp")

    ref = obj.get("source-ref")
    if ref is not None or opt.join_key == "source-ref":
        problem = R.source_ref_problem(ref, opt.allowed_source_prefixes)
        if problem:
            return rej(R.SOURCE_REF_NOT_ALLOWED, problem)
    if opt.join_key == "source-ref":
        rid = opt.record_id_from_source_ref(ref)
        if rid is None:
            return rej(R.MISSING_RECORD_ID, f"labeling.source_ref_id_pattern does not match {ref!r}")
    else:
        rid = _record_id(obj.get(opt.record_key))
        if rid is None:
            return rej(R.MISSING_RECORD_ID, f"no pass-through key {opt.record_key!r} (string or integer) on this line")

    value = obj[attr]
    if multi:
        ids, class_map, conf_map = value, meta["class-map"], meta["confidence-map"]
        if not isinstance(ids, list) or not isinstance(class_map, dict) or not isinstance(conf_map, dict):
            return rej(R.INVALID_METADATA, "multi-label: the label must be a list, class-map and confidence-map objects")
        labels: dict[Any, float] = {}
        for cid in ids:
            key = str(cid)
            if key not in class_map:
                return rej(R.MISSING_METADATA, f"class-map has no entry for label id {cid!r}")
            label, why = opt.map_label(class_map[key])
            if why:
                return rej(R.UNKNOWN_CLASS, f"class-name {why}")
            conf = _confidence(conf_map.get(key))
            if conf is None:
                return rej(R.INVALID_METADATA, f"confidence-map[{key!r}] is missing or not in [0, 1]")
            labels[label] = max(conf, labels.get(label, 0.0))
        if len(labels) != 1:
            return rej(R.MULTIPLE_LABELS, f"multi-label answer {ids!r} maps to {len(labels)} use-case labels; "
                                         "exactly one is needed")
        (label, conf), = labels.items()
        class_name = "|".join(str(class_map[str(c)]) for c in ids)
    else:
        if isinstance(value, (bool, list, dict)) or value is None:
            return rej(R.INVALID_METADATA, f"single-label value must be a class index, got {value!r}")
        class_name = meta["class-name"]
        label, why = opt.map_label(class_name)
        if why and not opt.class_map:
            label, why2 = opt.map_label(value)
            why = None if why2 is None else f"class-name {class_name!r} and label {value!r} are not label values"
        if why:
            return rej(R.UNKNOWN_CLASS, f"class-name {why}" if opt.class_map else why)
        conf = _confidence(meta["confidence"])
        if conf is None:
            return rej(R.INVALID_METADATA, f"confidence {meta['confidence']!r} is not a number in [0, 1]")
    return Annotation(record_id=rid, label=label, confidence=conf, human_annotated=human == "yes",
                      job=_job_name(meta["job-name"]), kind=R.GROUND_TRUTH, source=source, line=line,
                      created=R.iso(created), class_name=str(class_name))
