"""The vocabulary of label import: one annotation, one rejected input item, the quarantine reasons,
and ``ReaderOptions`` (what the readers need to know about a use case).

Every input item (a manifest line, one human answer of an A2I loop, a label-file row) becomes exactly
one ``Annotation`` or one ``Rejection``, each carrying its provenance (source URI and 1-based line or
item number). That one-to-one mapping is what lets the import reconcile its counts.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airsage.errors import ConfigError

if TYPE_CHECKING:
    from airsage.config import UseCase

# ----------------------------------------------------------------------------- quarantine reasons
MALFORMED_JSON = "malformed_json"  # not valid JSON / not a JSON object / not UTF-8
MISSING_LABEL_ATTRIBUTE = "missing_label_attribute"  # the line has no <attr> / <attr>-metadata
LABELING_FAILED = "labeling_failed"  # Ground Truth wrote a failure-reason instead of a label
MISSING_METADATA = "missing_metadata"  # a required metadata key (or answer / column value) is absent
INVALID_METADATA = "invalid_metadata"  # present but unusable: confidence not in [0, 1], bad date, ...
UNSUPPORTED_TYPE = "unsupported_type"  # not a classification task (object detection, segmentation, ...)
UNKNOWN_CLASS = "unknown_class"  # class name not in labeling.class_map / value not in the label domain
MULTIPLE_LABELS = "multiple_labels"  # a multi-label answer naming several (or no) use-case labels
SOURCE_REF_NOT_ALLOWED = "source_ref_not_allowed"  # outside labeling.allowed_source_prefixes
MISSING_RECORD_ID = "missing_record_id"  # no record id in the item (pass-through key / source-ref)
NO_FEATURE_RECORD = "no_feature_record"  # the record id has no feature record
UNREADABLE_FILE = "unreadable_file"  # a whole file: not UTF-8, not Parquet, no id/label column (line 0)
MALFORMED_ROW = "malformed_row"  # a CSV row with the wrong number of fields, or broken quoting
LINK_OUTSIDE_SOURCE = "link_outside_source"  # a symbolic link out of a label folder: never read
DROPPED_LOW_CONFIDENCE = "dropped_low_confidence"  # policy: labeling.low_confidence = drop
DROPPED_AUTO_LABELED = "dropped_auto_labeled"  # policy: labeling.auto_labeled = drop

#: Reasons that are the use case's policy, not bad data: they do not count towards ``max_bad_share``.
POLICY_REASONS = frozenset({DROPPED_LOW_CONFIDENCE, DROPPED_AUTO_LABELED})

CLASSIFICATION_TYPES = frozenset({
    "groundtruth/image-classification", "groundtruth/text-classification",
    "groundtruth/image-classification-multilabel", "groundtruth/text-classification-multilabel",
})
MULTILABEL_TYPES = frozenset(t for t in CLASSIFICATION_TYPES if t.endswith("-multilabel"))

# label_source values
GROUND_TRUTH, A2I, TABLE = "ground_truth", "a2i", "table"

_EPOCH = dt.datetime(1970, 1, 1)
RAW_CHARS = 2000  # how much of a rejected item's text the quarantine file keeps


@dataclass(frozen=True, slots=True)
class Annotation:
    """One accepted label for one record, already mapped to the use case's label domain."""

    record_id: str
    label: Any  # a value of the use case's label domain
    confidence: float  # 0..1 (Ground Truth: comparable only within one job)
    human_annotated: bool
    job: str  # Ground Truth job name (without "labeling-job/"), A2I flow definition, label file job column
    kind: str  # ground_truth | a2i | table
    source: str
    line: int
    created: str | None = None  # ISO timestamp (naive UTC) of the annotation, when known
    class_name: str | None = None
    annotator: str | None = None

    @property
    def created_key(self) -> float:
        """Seconds since the epoch (naive UTC) of ``created``; -inf when unknown (sorts as oldest)."""
        t = parse_timestamp(self.created)
        return -math.inf if t is None else (t - _EPOCH).total_seconds()


@dataclass(frozen=True, slots=True)
class Rejection:
    """One input item that did not become a label, and why (a line of the quarantine file)."""

    source: str
    line: int
    reason: str
    detail: str
    record_id: str | None = None
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "reason": self.reason, "detail": self.detail,
                "record_id": self.record_id, "raw": self.raw}


def reject_annotation(a: Annotation, reason: str, detail: str) -> Rejection:
    return Rejection(a.source, a.line, reason, detail, record_id=a.record_id)


def clip_raw(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= RAW_CHARS else text[:RAW_CHARS] + "…"


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp (``Z`` or offset allowed) as naive UTC; None when absent or unparsable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="microseconds")


# ----------------------------------------------------------------------------- reader options
@dataclass(frozen=True)
class ReaderOptions:
    """What the readers need from a use case. Build it with ``ReaderOptions.from_usecase(uc)``; tests and
    ad-hoc scripts may construct it directly."""

    record_key: str  # pass-through key / column / inputContent key holding the record id
    label_values: tuple[Any, ...]  # the label domain
    class_map: dict[str, Any] = field(default_factory=dict)  # class name -> label value
    label_attribute: str | None = None
    join_key: str = "record_id"  # record_id | source-ref
    source_ref_id_pattern: str = r"(?P<id>[^/]+?)(?:\.[^./]*)?$"
    allowed_source_prefixes: tuple[str, ...] = ()
    a2i_answer_key: str = "label"
    a2i_confidence_key: str | None = None
    a2i_record_key: str | None = None
    label_column: str | None = None  # label files: also accept the use case's label column name

    @classmethod
    def from_usecase(cls, uc: "UseCase") -> "ReaderOptions":
        lab, s = uc.labeling, uc.schema_
        domain = tuple(label_domain(uc))
        src = uc.source
        for name, value in lab.class_map.items():
            if value not in domain:
                raise ConfigError(f"labeling.class_map maps {name!r} to {value!r}, which is not a label value "
                                  f"{list(domain)}", source=src, key="labeling.class_map",
                                  fix="Map every class name to one of labeling.label_values (or fix label_values).")
        missing_pos = [p for p in s.positive_labels if p not in domain]
        if missing_pos:
            raise ConfigError(f"schema.positive_labels {missing_pos} are not in the label domain {list(domain)}",
                              source=src, key="labeling.label_values",
                              fix="Add them to labeling.label_values / labeling.class_map, or fix positive_labels.")
        if lab.join_key == "source-ref" and not lab.allowed_source_prefixes:
            raise ConfigError("join_key source-ref derives record ids from object URIs, so the allowed "
                              "locations must be listed", source=src, key="labeling.allowed_source_prefixes",
                              fix="List the s3:// prefixes your labelling jobs read from.")
        return cls(record_key=s.record_id, label_values=domain, class_map=dict(lab.class_map),
                   label_attribute=lab.label_attribute, join_key=lab.join_key,
                   source_ref_id_pattern=lab.source_ref_id_pattern,
                   allowed_source_prefixes=tuple(lab.allowed_source_prefixes), a2i_answer_key=lab.a2i_answer_key,
                   a2i_confidence_key=lab.a2i_confidence_key, a2i_record_key=lab.a2i_record_key,
                   label_column=s.label)

    # ---------------------------------------------------------------- label mapping
    def map_label(self, value: Any) -> tuple[Any, str | None]:
        """(label value, None) for a class name or a label value; (None, why) when it is neither.

        Class names are looked up in ``class_map`` first; a label value matches by its text form, so
        ``"0"`` (DG examples, CSV files) and ``0`` are the same label."""
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # a label column read as float (1.0)
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict, float)):
            return None, f"label {value!r} is not a class name or label value"
        text = str(value).strip()
        if text in self.class_map:
            return self.class_map[text], None
        for v in self.label_values:
            if str(v) == text:
                return v, None
        known = sorted(self.class_map) or [str(v) for v in self.label_values]
        where = "labeling.class_map" if self.class_map else "the label domain"
        return None, f"{text!r} is not in {where} {known}"

    def record_id_from_source_ref(self, ref: str) -> str | None:
        m = re.search(self.source_ref_id_pattern, ref)
        if not m:
            return None
        rid = m.groupdict().get("id") if m.groupdict() else None
        rid = rid if rid is not None else m.group(0)
        return rid or None


def label_domain(uc: "UseCase") -> list[Any]:
    """The use case's label values: ``labeling.label_values``, else the ``class_map`` values, else the
    positive labels plus 0 (binary 0/1 labels)."""
    lab = uc.labeling
    if lab.label_values:
        return list(dict.fromkeys(lab.label_values))
    if lab.class_map:
        return list(dict.fromkeys(lab.class_map.values()))
    pos = list(uc.schema_.positive_labels)
    if all(isinstance(p, int) for p in pos):
        return list(dict.fromkeys([0, *pos]))
    raise ConfigError("cannot tell the label values: positive_labels are not integers and neither "
                      "labeling.label_values nor labeling.class_map is set", source=uc.source,
                      key="labeling.label_values", fix="Set labeling.label_values to every label value.")


# ----------------------------------------------------------------------------- source-ref checks
_URI = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/]*)(?P<path>/.*)?$")
_ENCODED = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
#: schemes whose object keys are literal: ``%2F`` in an S3 key is three characters, never decoded to a
#: slash (SageMaker and S3 read the key as written), so it cannot climb out of a prefix
_LITERAL_KEY_SCHEMES = frozenset({"s3"})


def _decodes_to_traversal(decoded: str) -> bool:
    """True when a key segment, should something percent-decode it, would climb (``..%2F``, ``%2e%2e``)."""
    return "\0" in decoded or "\\" in decoded or any(p in (".", "..") for p in decoded.split("/"))


def source_ref_problem(ref: Any, allowed: tuple[str, ...] | list[str]) -> str | None:
    """Why ``ref`` is not an allowed object location (None when it is).

    Traversal tricks are refused outright rather than normalised: ``..`` or ``.`` segments, empty
    segments, backslashes, control characters, and for schemes that percent-decode (``https``) any
    percent-encoded dot, slash or backslash. S3 keys are literal, so a ``%2F`` inside an S3 key is an
    ordinary character (only a segment that would *decode* to ``.`` / ``..`` is refused there). A prefix
    matches whole path segments (``s3://b/data`` allows ``s3://b/data/x`` but not ``s3://b/data-evil/x``),
    and the bucket must be equal (``s3://b.evil/...`` is another bucket). An empty ``allowed`` accepts any
    clean URI.
    """
    from urllib.parse import unquote

    if not isinstance(ref, str) or not ref:
        return "source-ref is not a non-empty string"
    if any(ord(c) < 32 or ord(c) == 127 for c in ref) or "\\" in ref:
        return "source-ref contains control characters or backslashes"
    m = _URI.match(ref)
    if not m:
        return f"source-ref {ref!r} is not a URI (scheme://bucket/key)"
    if m.group("scheme") not in _LITERAL_KEY_SCHEMES and _ENCODED.search(ref):
        return "source-ref contains percent-encoded path characters"
    path = m.group("path") or "/"
    segments = path.split("/")[1:]
    if any(seg in (".", "..") or _decodes_to_traversal(unquote(seg)) for seg in segments) or "" in segments[:-1]:
        return f"source-ref {ref!r} has '.', '..' or empty path segments"
    if not allowed:
        return None
    for prefix in allowed:
        pm = _URI.match(prefix)
        if not pm or pm.group("scheme") != m.group("scheme") or pm.group("authority") != m.group("authority"):
            continue
        ppath = pm.group("path") or "/"
        if ppath.endswith("/"):
            if path.startswith(ppath):
                return None
        elif path == ppath or path.startswith(ppath + "/"):
            return None
    return f"source-ref {ref!r} is outside labeling.allowed_source_prefixes {list(allowed)}"

