"""Readers for label sources. Each yields, per input item, one ``Annotation`` or one ``Rejection``
(``airsage.labeling.records``), with the source URI and the 1-based line (or item) number.

* ``read_ground_truth_manifest``: a SageMaker Ground Truth *output* (augmented) manifest, JSON Lines:
  single- and multi-label image/text classification, ``source`` text or ``source-ref`` objects, chained
  jobs (several ``<attr>``/``<attr>-metadata`` pairs per line), pass-through keys, int or string
  label values, any key order, unicode escapes. Blank lines are skipped and not counted.
* ``read_a2i_output``: one Amazon A2I human-loop ``output.json``; each ``humanAnswers[i]`` is item i+1.
  The label is ``answerContent[<labeling.a2i_answer_key>]`` (a dotted path; a crowd-classifier answer
  ``{"label": ...}`` is unwrapped); the record id is ``inputContent[<record key>]``.
* ``read_label_table``: a CSV or Parquet label file: record id column (the schema's ``record_id`` or
  ``record_id``), ``label`` (or the schema's label column), optional ``confidence``, ``annotator``,
  ``human_annotated``, ``labeling_job``, ``creation_date``. Line = row number + 1 (CSV: + header).
* ``read_labels``: picks the reader from the file name (``.csv``/``.parquet`` = table, ``output.json`` or
  a ``.json`` holding ``humanAnswers`` = A2I, anything else = Ground Truth JSON Lines).

Readers read through ``airsage.storage`` (local path or ``s3://``).
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from airsage import storage
from airsage.errors import ConfigError, DataValidationError, StorageError
from airsage.labeling import records as R
from airsage.labeling.records import Annotation, ReaderOptions, Rejection

Item = Annotation | Rejection

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
SOURCE_SUFFIXES = (".manifest", ".jsonl", *TABLE_SUFFIXES)  # picked up when a prefix is given
A2I_FILE = "output.json"


# ============================================================================= sources
def expand_sources(sources: Iterable[str], *, escaped: list[str] | None = None) -> list[str]:
    """Files named by ``sources``: a file stays itself; a prefix/directory expands to the label files
    below it (``*.manifest``, ``*.jsonl``, ``*.csv``, ``*.parquet`` and A2I ``output.json``), sorted.
    Ground Truth's worker-response JSON files are not picked up. A symbolic link in a folder that points
    outside it is never read: it goes to ``escaped`` (to be quarantined by name) instead."""
    out: list[str] = []
    links: list[str] = []
    for src in sources:
        src = str(src).strip()
        if not src:
            continue
        if storage.is_s3(src):
            below = storage.list_files(src)  # objects below src/ (empty when src is one object)
            found = _label_files(below) if below else [src]
        else:
            path = Path(storage.normalize(src))
            if path.is_file():
                found = [str(path)]
            elif path.is_dir():
                outside: list[str] = []
                found = _label_files(storage.list_files(str(path), escaped=outside))
                links += _label_files(outside)
            else:
                raise StorageError(f"label source {src} does not exist", fix="Check the path or URI.")
        if not found and links:
            continue
        if not found:
            raise StorageError(f"no label files found at {src}",
                               fix="Pass an output.manifest, an A2I output.json, a CSV/Parquet label file, or a "
                                   "prefix containing them.")
        out += [f for f in found if f not in out]
    if escaped is not None:
        escaped += [f for f in links if f not in escaped]
    elif links and not out:
        raise StorageError(f"the label sources hold only symbolic links to files outside them: {links[:3]}",
                           fix="Copy the label files into the folder; links out of a label folder are not followed.")
    return out


def _label_files(files: list[str]) -> list[str]:
    return [f for f in files if f.endswith(SOURCE_SUFFIXES) or f.rsplit("/", 1)[-1] == A2I_FILE]


def detect_format(path: str | Path, name: str | None = None) -> str:
    """``ground_truth``, ``a2i`` or ``table`` for a (local) file."""
    name = (name or str(path)).lower()
    if name.endswith(TABLE_SUFFIXES):
        return R.TABLE
    if name.rsplit("/", 1)[-1] == A2I_FILE:
        return R.A2I
    if name.endswith(".json"):
        try:
            obj = json.loads(Path(path).read_bytes())
        except (ValueError, UnicodeDecodeError, RecursionError):
            return R.GROUND_TRUTH
        if isinstance(obj, dict) and "humanAnswers" in obj:
            return R.A2I
    return R.GROUND_TRUTH


def read_labels(uri: str, options: ReaderOptions, *, source_name: str | None = None) -> Iterator[Item]:
    """Read any supported label file (format picked by ``detect_format``)."""
    with storage.local_copy(uri) as path:
        kind = detect_format(path, source_name or uri)
        reader = {R.GROUND_TRUTH: read_ground_truth_manifest, R.A2I: read_a2i_output, R.TABLE: read_label_table}[kind]
        yield from reader(str(path), options, source_name=source_name or uri)


# ============================================================================= Ground Truth
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


def _record_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


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


# ============================================================================= A2I
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


# ============================================================================= CSV / Parquet
_COLUMNS = {
    "confidence": ("confidence", "label_confidence"),
    "annotator": ("annotator", "worker_id", "workerId"),
    "human": ("human_annotated", "human-annotated"),
    "job": ("labeling_job", "job_name", "job-name", "job"),
    "created": ("creation_date", "creation-date", "created_at"),
}
_TRUE, _FALSE = {"yes", "true", "1", "y", "t"}, {"no", "false", "0", "n", "f"}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def read_label_table(uri: str, options: ReaderOptions, *, source_name: str | None = None) -> Iterator[Item]:
    """Annotations of a CSV or Parquet label file (one per row).

    A file that cannot be read as a whole (not UTF-8, not Parquet) becomes one ``unreadable_file``
    rejection (line 0), so the other files still import; a CSV row with the wrong number of fields
    becomes a ``malformed_row`` rejection. An empty file yields nothing. Without a record id or label
    column: ``DataValidationError`` (the import quarantines that file as a whole)."""
    name = source_name or uri
    with storage.local_copy(uri) as path:
        if name.lower().endswith(".csv"):
            yield from _csv_items(Path(path), options, name)
        else:
            yield from _parquet_items(Path(path), options, name)


def _file_rejection(name: str, detail: str) -> Rejection:
    return Rejection(name, 0, R.UNREADABLE_FILE, detail)


def _table_columns(cols: list[str], options: ReaderOptions, name: str) -> tuple[str, str]:
    """The record id and label columns; a DataValidationError (the import quarantines the file) without."""
    id_col = next((c for c in (options.record_key, "record_id") if c in cols), None)
    label_col = next((c for c in ("label", options.label_column) if c and c in cols), None)
    if id_col is None or label_col is None:
        raise DataValidationError(name, [f"label file needs a record id column ({options.record_key!r} or "
                                         f"'record_id') and a 'label' column; it has {cols[:20]}"],
                                  fix="Rename the columns (record id, label, optional confidence/annotator).")
    return id_col, label_col


def _csv_items(path: Path, options: ReaderOptions, name: str) -> Iterator[Item]:
    import csv
    import io

    data = path.read_bytes()
    if not data.strip():
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        yield _file_rejection(name, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}); save it as UTF-8")
        return
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    start = 1
    try:
        for fields in reader:
            row_line, start = start, reader.line_num + 1
            if not fields or not any(f.strip() for f in fields):
                continue
            if header is None:
                header = fields
                id_col, label_col = _table_columns(header, options, name)
                opt_cols = {k: next((c for c in names if c in header), None) for k, names in _COLUMNS.items()}
                continue
            if len(fields) != len(header):
                yield Rejection(name, row_line, R.MALFORMED_ROW, f"{len(fields)} field(s), the header has {len(header)}",
                                raw=R.clip_raw(",".join(fields)))
                continue
            yield _table_item(dict(zip(header, fields)), id_col, label_col, opt_cols, options, source=name,
                              line=row_line)
    except csv.Error as exc:
        yield Rejection(name, reader.line_num, R.MALFORMED_ROW, f"not valid CSV from here on: {exc}")


def _parquet_items(path: Path, options: ReaderOptions, name: str) -> Iterator[Item]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        return
    try:
        df = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        yield _file_rejection(name, f"not a readable Parquet file: {str(exc)[:300]}")
        return
    id_col, label_col = _table_columns([str(c) for c in df.columns], options, name)
    opt_cols = {k: next((c for c in names if c in df.columns), None) for k, names in _COLUMNS.items()}
    for i, row in enumerate(df.to_dict("records")):
        yield _table_item(row, id_col, label_col, opt_cols, options, source=name, line=i + 1)


def _table_id(value: Any) -> str | None:
    if _blank(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    return _record_id(value)


def _table_item(row: dict, id_col: str, label_col: str, cols: dict[str, str | None], opt: ReaderOptions, *,
                source: str, line: int) -> Item:
    rid = _table_id(row[id_col])

    def rej(reason: str, detail: str) -> Rejection:
        return Rejection(source, line, reason, detail, record_id=rid,
                         raw=R.clip_raw(json.dumps(row, default=str, ensure_ascii=False)))

    if rid is None:
        return rej(R.MISSING_RECORD_ID, f"empty record id in column {id_col!r}")
    value = row[label_col]
    if _blank(value):
        return rej(R.MISSING_METADATA, f"empty label in column {label_col!r}")
    label, why = opt.map_label(value)
    if why:
        return rej(R.UNKNOWN_CLASS, why)
    conf = 1.0
    if cols["confidence"] and not _blank(row[cols["confidence"]]):
        try:
            conf = _confidence(float(row[cols["confidence"]]))
        except (TypeError, ValueError):
            conf = None
        if conf is None:
            return rej(R.INVALID_METADATA, f"confidence {row[cols['confidence']]!r} is not a number in [0, 1]")
    human = True
    if cols["human"] and not _blank(row[cols["human"]]):
        text = str(row[cols["human"]]).strip().lower()
        if text not in _TRUE | _FALSE:
            return rej(R.INVALID_METADATA, f"human_annotated {row[cols['human']]!r} is not yes/no/true/false")
        human = text in _TRUE
    created = None
    if cols["created"] and not _blank(row[cols["created"]]):
        created = R.parse_timestamp(str(row[cols["created"]]))
        if created is None:
            return rej(R.INVALID_METADATA, f"creation date {row[cols['created']]!r} is not an ISO timestamp")
    job = "" if not cols["job"] or _blank(row[cols["job"]]) else str(row[cols["job"]])
    annotator = None if not cols["annotator"] or _blank(row[cols["annotator"]]) else str(row[cols["annotator"]])
    return Annotation(record_id=rid, label=label, confidence=conf, human_annotated=human, job=job, kind=R.TABLE,
                      source=source, line=line, created=R.iso(created), class_name=str(value), annotator=annotator)
