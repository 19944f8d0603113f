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

The format readers live in ``readers_ground_truth``, ``readers_a2i`` and ``readers_table``; every name is
importable from here.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from airsage import storage
from airsage.errors import ConfigError, DataValidationError, StorageError  # noqa: F401
from airsage.labeling import records as R
from airsage.labeling.readers_a2i import _a2i_answer, _dotted, _lookup, a2i_items, read_a2i_output  # noqa: F401
from airsage.labeling.readers_common import Item, _confidence, _record_id  # noqa: F401
from airsage.labeling.readers_ground_truth import (NoLabelAttributeError, _job_name, _lines, _parse,  # noqa: F401
                                                   detect_label_attribute, ground_truth_item,
                                                   label_attribute_candidates, read_ground_truth_manifest)
from airsage.labeling.readers_table import (_COLUMNS, _FALSE, _TRUE, _blank, _csv_items, _file_rejection,  # noqa: F401
                                            _parquet_items, _table_columns, _table_id, _table_item,
                                            read_label_table)
from airsage.labeling.records import Annotation, ReaderOptions, Rejection  # noqa: F401

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
