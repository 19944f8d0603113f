"""The JSONPath subset SageMaker Batch Transform accepts in ``InputFilter`` / ``OutputFilter``.

Supported (DG ``batch-transform-data-processing.md``): ``$``, ``.name``, ``*`` (``.*`` or ``[*]``),
``['a','b']``, ``[i,j]`` (negative indexes count from the end), ``[start:end]`` (**inclusive**, either
bound may be omitted; an index list may mix slices: ``[0,5:]``). A path is at most 63 characters.
Nested multi-child brackets (``['a','b.c']``, or more path after ``['a','b']``) are rejected, as
SageMaker does.

Evaluation follows Jayway JsonPath (what SageMaker documents): a definite path returns one value; a
path with ``*``, a slice or an index list returns a list; ``['a','b']`` on an object returns an object
with those keys. A missing key or an index outside the array is a record error, as in SageMaker.

Stdlib only: this module is cheap to import and usable for config validation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airsage.errors import ConfigError

MAX_LEN = 63
_NAME = re.compile(r"[^.\[\]*'\"\s,]+")
_INT = re.compile(r"-?\d+")


class RecordError(ValueError):
    """One record cannot be processed (bad JSON, missing field, index out of range, bad value).

    The engine turns it into a per-file failure naming the file and the line/row."""


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Keys:  # ['a','b']: an object restricted to these keys
    names: tuple[str, ...]


@dataclass(frozen=True)
class Wildcard:
    pass


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Slice:
    start: int | None
    end: int | None  # inclusive


@dataclass(frozen=True)
class IndexList:  # [i,j] or [0,5:]: always yields a list
    items: tuple[Index | Slice, ...]


Segment = Key | Keys | Wildcard | Index | Slice | IndexList


def _error(setting: str, expr: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{setting} {expr!r} is not a supported JSONPath: {problem}", key=setting, fix=fix)


_FIX = ("Use SageMaker's subset: '$', '$.name', '$.*', \"$['a','b']\", '$[1,3]', '$[1:]' (inclusive), e.g. "
        "InputFilter '$[1:]' drops the first CSV column.")


@dataclass(frozen=True)
class JsonPath:
    """A parsed path. ``apply(doc)`` selects from one record (a JSON value or a CSV row as a list)."""

    expr: str
    segments: tuple[Segment, ...]

    @property
    def is_root(self) -> bool:
        return not self.segments

    @property
    def indefinite(self) -> bool:
        return any(isinstance(s, (Wildcard, Slice, IndexList)) for s in self.segments)

    def apply(self, doc: Any) -> Any:
        nodes = [doc]
        many = False
        for seg in self.segments:
            out: list[Any] = []
            for node in nodes:
                out.extend(_select(seg, node, self.expr))
            nodes = out
            many = many or isinstance(seg, (Wildcard, Slice, IndexList))
        return nodes if many else nodes[0]


def _select(seg: Segment, node: Any, expr: str) -> list[Any]:
    if isinstance(seg, Key):
        if not isinstance(node, dict):
            raise RecordError(f"path {expr}: .{seg.name} needs a JSON object, got {_kind(node)}")
        if seg.name not in node:
            raise RecordError(f"path {expr}: no key {seg.name!r} in the record")
        return [node[seg.name]]
    if isinstance(seg, Keys):
        if not isinstance(node, dict):
            raise RecordError(f"path {expr}: {list(seg.names)} needs a JSON object, got {_kind(node)}")
        missing = [n for n in seg.names if n not in node]
        if missing:
            raise RecordError(f"path {expr}: no key(s) {missing} in the record")
        return [{n: node[n] for n in seg.names}]
    if isinstance(seg, Wildcard):
        if isinstance(node, dict):
            return list(node.values())
        if isinstance(node, list):
            return list(node)
        raise RecordError(f"path {expr}: * needs an object or an array, got {_kind(node)}")
    if not isinstance(node, list):
        raise RecordError(f"path {expr}: an index needs an array, got {_kind(node)}")
    items = seg.items if isinstance(seg, IndexList) else (seg,)
    out: list[Any] = []
    n = len(node)
    for item in items:
        if isinstance(item, Index):
            i = item.index + n if item.index < 0 else item.index
            if not 0 <= i < n:
                raise RecordError(f"path {expr}: index {item.index} is outside the record's {n} element(s)")
            out.append(node[i])
        else:
            out.extend(node[i] for i in slice_indices(item, n))
    return out


def slice_indices(s: Slice, n: int) -> range:
    """SageMaker slices are inclusive: ``[1:4]`` = indexes 1..4; bounds are clamped to the array."""
    start = 0 if s.start is None else (s.start + n if s.start < 0 else s.start)
    end = n - 1 if s.end is None else (s.end + n if s.end < 0 else s.end)
    return range(max(start, 0), min(end, n - 1) + 1)


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    return f"the scalar {v!r}"[:60]


# --------------------------------------------------------------------------- parsing
def parse(expr: str, setting: str = "filter") -> JsonPath:
    """Parse and validate ``expr``; a ``ConfigError`` names ``setting`` and the fix."""
    if not isinstance(expr, str) or not expr.startswith("$"):
        raise _error(setting, str(expr), "it must start with '$' (the whole record)", "Use '$' to keep the whole record. " + _FIX)
    if len(expr) > MAX_LEN:
        raise _error(setting, expr, f"it is {len(expr)} characters; SageMaker allows at most {MAX_LEN}",
                     "Shorten the path (select fewer keys, or use a slice like '$[2:9]').")
    pos = 1
    segments: list[Segment] = []
    while pos < len(expr):
        if segments and isinstance(segments[-1], Keys):
            raise _error(setting, expr, "nothing may follow a multi-child bracket ['a','b'] (nested children "
                                        "are not supported)", "Select the nested field with its own path, e.g. $.a.b.")
        ch = expr[pos]
        if ch == ".":
            pos += 1
            if pos < len(expr) and expr[pos] == "*":
                segments.append(Wildcard())
                pos += 1
            elif pos < len(expr) and expr[pos] == "[":
                continue  # '$.field.['a','b']' is SageMaker's documented form
            else:
                m = _NAME.match(expr, pos)
                if not m:
                    raise _error(setting, expr, f"expected a name after '.' at position {pos}", _FIX)
                segments.append(Key(m.group()))
                pos = m.end()
        elif ch == "[":
            end = expr.find("]", pos)
            if end < 0:
                raise _error(setting, expr, f"'[' at position {pos} is never closed", _FIX)
            body = expr[pos + 1:end]
            if "[" in body:
                raise _error(setting, expr, "nested brackets are not supported", _FIX)
            segments.append(_bracket(body, expr, setting))
            pos = end + 1
        else:
            raise _error(setting, expr, f"unexpected {ch!r} at position {pos}", _FIX)
    return JsonPath(expr, tuple(segments))


def _bracket(body: str, expr: str, setting: str) -> Segment:
    body = body.strip()
    if body == "*":
        return Wildcard()
    if not body:
        raise _error(setting, expr, "empty brackets []", _FIX)
    parts = [p.strip() for p in body.split(",")]
    if body[0] in "'\"":
        names = []
        for p in parts:
            if len(p) < 2 or p[0] not in "'\"" or p[-1] != p[0]:
                raise _error(setting, expr, f"{p!r} is not a quoted name; do not mix names and indexes", _FIX)
            name = p[1:-1]
            if not name:
                raise _error(setting, expr, "an empty name ''", _FIX)
            if any(c in name for c in ".[]*'\""):
                raise _error(setting, expr, f"{name!r}: nested children inside a multi-child bracket are not supported",
                             "List direct children only, e.g. $.field1['child1','child2'].")
            names.append(name)
        return Key(names[0]) if len(names) == 1 else Keys(tuple(names))
    items: list[Index | Slice] = []
    for p in parts:
        if ":" in p:
            lo, _, hi = p.partition(":")
            lo, hi = lo.strip(), hi.strip()
            if ":" in hi or (lo and not _INT.fullmatch(lo)) or (hi and not _INT.fullmatch(hi)):
                raise _error(setting, expr, f"{p!r} is not a slice start:end (no step allowed)", _FIX)
            items.append(Slice(int(lo) if lo else None, int(hi) if hi else None))
        elif _INT.fullmatch(p):
            items.append(Index(int(p)))
        else:
            raise _error(setting, expr, f"{p!r} is neither an index, a slice nor a quoted name", _FIX)
    if len(items) == 1:
        return items[0]
    return IndexList(tuple(items))


def select_columns(path: JsonPath, columns: list[str], setting: str = "filter") -> list[str]:
    """The columns a path keeps from a table (Parquet): index paths pick by position, name paths by name.

    Only single-step paths make sense on a table; anything deeper is a ``ConfigError``."""
    if path.is_root:
        return list(columns)
    if len(path.segments) > 1:
        raise ConfigError(f"{setting} {path.expr!r} goes deeper than one level, which a Parquet table does not have",
                          key=setting, fix="On Parquet use '$', \"$['col_a','col_b']\", '$[0,-1]' or '$[1:]'.")
    seg = path.segments[0]
    try:
        if isinstance(seg, (Key, Keys)):
            picked = path.apply({c: c for c in columns})
            picked = list(picked) if isinstance(picked, dict) else [picked]
        else:
            picked = path.apply(list(columns))
            picked = picked if isinstance(picked, list) else [picked]
    except RecordError as exc:
        raise ConfigError(f"{setting} {path.expr!r} does not fit the table's columns {columns}: {exc}", key=setting,
                          fix="Name existing columns or use indexes within the column count.") from None
    return picked
