"""``TransformConfig``: one batch transform's settings, validated the way SageMaker validates them.

The field names follow ``CreateTransformJob`` (SageMaker API reference): ``ContentType``/``SplitType`` of
``TransformInput``, ``BatchStrategy``, ``MaxPayloadInMB``, ``Accept``/``AssembleWith`` of
``TransformOutput`` and ``DataProcessing`` (``InputFilter``, ``JoinSource``, ``OutputFilter``).
``to_sagemaker()`` gives those request fragments back, so the SageMaker backend and the local engine
read one object.

Airsage extensions (documented, never sent to SageMaker): ``application/x-parquet`` is streamed by row
group (a "record" is a row, MaxPayloadInMB does not apply, filters select columns), and
``inference_fields`` chooses which inference values the model emits per record.
Stdlib only (cheap to import).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from airsage.errors import ConfigError
from airsage.transform import jsonpath

CSV = "text/csv"
JSONLINES = "application/jsonlines"
PARQUET = "application/x-parquet"
CONTENT_TYPES = (CSV, JSONLINES, PARQUET)
INFERENCE_FIELDS = ("inference_id", "model_name", "model_version", "predicted_label", "score")
MAX_PAYLOAD_MB = 100


def _choice(value: Any, allowed: tuple[str, ...], key: str) -> str:
    if value is None and "None" in allowed:
        return "None"  # Python None is accepted for SageMaker's "None"
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is not allowed", key=key, fix=f"Use one of {list(allowed)}.")
    return value


@dataclass(frozen=True)
class TransformConfig:
    """Settings of one batch transform. Construct it directly, ``from_spec(uc.transform)`` or ``from_dict``.

    * ``accept`` defaults to ``content_type``.
    * ``max_payload_mb``: 0..100 like SageMaker; 0 means unbounded (SageMaker's chunked streaming).
      A record (or, with ``split_type="None"``, a whole CSV/JSON Lines file) larger than it fails its file.
    * ``inference_fields``: what the model returns per record, in order. CSV output appends these
      columns (so with the default order ``$[0,-1]`` on a joined row gives ``id,score``); JSON output
      nests them as an object (under ``SageMakerOutput`` when joined); Parquet output adds them as columns.
    """

    content_type: str = PARQUET
    accept: str | None = None
    split_type: str = "Line"
    batch_strategy: str = "MultiRecord"
    max_payload_mb: int = 6
    input_filter: str = "$"
    join_source: str = "None"
    output_filter: str = "$"
    assemble_with: str = "Line"
    inference_fields: tuple[str, ...] = field(default=INFERENCE_FIELDS)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "content_type", _choice(self.content_type, CONTENT_TYPES, "content_type"))
        set_(self, "accept", _choice(self.accept or self.content_type, CONTENT_TYPES, "accept"))
        set_(self, "split_type", _choice(self.split_type, ("None", "Line"), "split_type"))
        set_(self, "batch_strategy", _choice(self.batch_strategy, ("MultiRecord", "SingleRecord"), "batch_strategy"))
        set_(self, "join_source", _choice(self.join_source, ("None", "Input"), "join_source"))
        set_(self, "assemble_with", _choice(self.assemble_with, ("None", "Line"), "assemble_with"))
        set_(self, "inference_fields", tuple(self.inference_fields))
        if isinstance(self.max_payload_mb, bool) or not isinstance(self.max_payload_mb, int) \
                or not 0 <= self.max_payload_mb <= MAX_PAYLOAD_MB:
            raise ConfigError(f"max_payload_mb={self.max_payload_mb!r} is out of range", key="max_payload_mb",
                              fix=f"Use an integer from 0 to {MAX_PAYLOAD_MB} (SageMaker's MaxPayloadInMB; 6 is the default).")
        bad = [f for f in self.inference_fields if f not in INFERENCE_FIELDS]
        if not self.inference_fields or bad or len(set(self.inference_fields)) != len(self.inference_fields):
            raise ConfigError(f"inference_fields={list(self.inference_fields)} is invalid", key="inference_fields",
                              fix=f"List distinct names from {list(INFERENCE_FIELDS)}.")
        self.input_path  # noqa: B018 - parse now: a bad path fails at construction, naming the setting
        self.output_path  # noqa: B018
        if self.joins:
            if self.accept != self.content_type:
                raise ConfigError(f"join_source=Input needs accept == content_type, got accept={self.accept!r} and "
                                  f"content_type={self.content_type!r}", key="accept",
                                  fix=f"Set accept to {self.content_type!r} or join_source to None.")
            if self.assemble_with != self.split_type or self.split_type != "Line":
                raise ConfigError(f"join_source=Input needs assemble_with == split_type == 'Line', got "
                                  f"assemble_with={self.assemble_with!r}, split_type={self.split_type!r}",
                                  key="assemble_with", fix="Set split_type and assemble_with to 'Line' (or join_source to None).")
        if self.content_type == PARQUET and self.accept != PARQUET:
            raise ConfigError(f"Parquet input writes Parquet output; accept={self.accept!r} is not supported",
                              key="accept", fix=f"Set accept to {PARQUET!r} (or leave it unset).")
        if self.content_type != PARQUET and self.accept == PARQUET:
            raise ConfigError("accept=application/x-parquet needs Parquet input", key="accept",
                              fix=f"Use accept {CSV!r} or {JSONLINES!r} for text input.")
        if self.content_type == PARQUET:
            for key in ("input_filter", "output_filter"):
                path = getattr(self, key.replace("filter", "path"))
                if len(path.segments) > 1:
                    raise ConfigError(f"{key}={getattr(self, key)!r}: a Parquet table has one level of columns",
                                      key=key, fix="Use '$', \"$['col_a','col_b']\", '$[0,-1]' or '$[1:]' on Parquet.")

    # ------------------------------------------------------------------ derived
    @property
    def input_path(self) -> jsonpath.JsonPath:
        return jsonpath.parse(self.input_filter, "input_filter")

    @property
    def output_path(self) -> jsonpath.JsonPath:
        return jsonpath.parse(self.output_filter, "output_filter")

    @property
    def joins(self) -> bool:
        return self.join_source == "Input"

    @property
    def max_payload_bytes(self) -> int | None:
        return self.max_payload_mb * 1024 * 1024 if self.max_payload_mb else None

    # ------------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inference_fields"] = list(self.inference_fields)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TransformConfig":
        """From a plain dict (job parameters); unknown keys are an error naming them."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown transform setting(s) {unknown}", key=unknown[0],
                              fix=f"Use only {sorted(known)}.")
        return cls(**dict(d))

    @classmethod
    def from_spec(cls, spec: Any) -> "TransformConfig":
        """From a use case's ``transform`` section (``airsage.config.TransformSpec``)."""
        names = set(cls.__dataclass_fields__)
        data = {k: v for k, v in spec.model_dump().items() if k in names and v is not None}
        return cls.from_dict(data)

    def to_sagemaker(self) -> dict[str, Any]:
        """The ``CreateTransformJob`` fragments these settings stand for (Parquet extensions excluded)."""
        return {
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": self.max_payload_mb,
            "TransformInput": {"ContentType": self.content_type, "SplitType": self.split_type},
            "TransformOutput": {"Accept": self.accept, "AssembleWith": self.assemble_with},
            "DataProcessing": {"InputFilter": self.input_filter, "JoinSource": self.join_source,
                               "OutputFilter": self.output_filter},
        }
