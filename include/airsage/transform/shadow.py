"""Shadow scoring: challengers scored on the champion's rows, written beside (never into) its output.

* In the engine (``run_batch_transform(..., shadow=[ShadowTarget(...)])``) each challenger scores the
  rows the champion reads, in the same pass: the input is read once, and a challenger with the
  champion's features and vocabularies predicts on the champion's encoded matrix (else it encodes
  the same row group with its own encoder). One ``ShadowSink`` per challenger runs in its own thread
  and writes, per input file, a Parquet ``<rel>.out`` of shadow scores (inference_id, the facet
  columns present, champion_score, champion_label, score, predicted_label: the champion's ids, rows in
  input order). Its output is published as a unit (``storage.atomic_dir``, kind "shadow") after the
  champion's. A challenger that fails (load, missing column, predict, write) only stops itself: its
  output is not published and its ``ShadowResult`` says why; the champion's output, capture and
  report are as without it.
* ``shadow_from_outputs``: the same files built from two ordinary transform jobs' outputs (champion
  and challenger, each a ``.out`` per input file), joined per file by inference_id (the SageMaker path).
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from airsage import storage
from airsage.errors import AirsageError, DataValidationError
from airsage.transform import capture as cap
from airsage.transform.encoding import ArrowEncoder
from airsage.transform.jsonpath import RecordError
from airsage.transform.results import ShadowResult
from airsage.transform.rows import OUT_SUFFIX, parse_text_records

log = logging.getLogger("airsage.transform")
SHADOW_KIND = "shadow"  # the kind recorded in a shadow output's ownership marker
SCORE_COLUMNS = ("champion_score", "champion_label", "score", "predicted_label")


@dataclass(frozen=True)
class ShadowTarget:
    """A challenger to score in the champion's shadow. ``model``: like the champion's (a ``ModelBundle``
    or a loaded flavor); ``error``: set instead when it could not be loaded (reported as failed)."""

    model: Any
    model_version: str
    output_uri: str
    error: str | None = None


class _Abort(Exception):
    """Thrown into a shadow's ``atomic_dir`` so that it removes its stage and publishes nothing."""


def reason(exc: BaseException) -> str:
    if isinstance(exc, AirsageError):
        return exc.message + (f" (fix: {exc.fix})" if exc.fix else "")
    if isinstance(exc, RecordError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def text_frame(values: dict[str, list], features: list[str], categorical: dict) -> pd.DataFrame:
    """Parsed text records (``rows.parse_text_records``) as the frame ``model.encode`` takes."""
    return pd.DataFrame({f: (pd.Series(values[f], dtype=object) if f in categorical
                             else np.asarray(values[f], dtype=np.float64)) for f in features})


def text_facets(job: Any, sink: "ShadowSink") -> dict[str, pa.DataType]:
    """The facet columns of a challenger's shadow file on the text path: model features only."""
    return {c: pa.string() if c in job.categorical or c in sink.categorical else pa.float64()
            for c in job.shadow_columns if c in job.features or c in sink.features}


def text_shadow(job: Any, batch: list, digest: str, values: dict[str, list], ids: list[str], x: Any,
                scores: np.ndarray) -> None:
    """Score a batch of CSV / JSON Lines records (parsed by the engine ``job``) with its challengers."""
    id_array = pa.array(ids, pa.string())
    for sink in job.sinks:
        if not sink.active:
            continue
        own_values, own = values, None
        if not sink.same:
            t0 = time.perf_counter()
            try:
                own_values, _ = parse_text_records(batch, job.config, sink.features, sink.categorical,
                                                   job.feature_columns, None, digest)
                own = text_frame(own_values, sink.features, sink.categorical)
            except KeyError as exc:  # a positional record (CSV row, JSON array) has no value of that name
                sink.fail(f"the input lacks the challenger's feature {exc} (the record's values are "
                          f"{job.feature_columns}: feature_columns)")
                continue
            except Exception as exc:  # noqa: BLE001 - the challenger fails, the champion goes on
                sink.fail(f"reading its features failed: {reason(exc)}")
                continue
            sink.busy["predict"] += time.perf_counter() - t0
        facets = {c: pa.array(values[c] if c in values else own_values[c], t) for c, t in text_facets(job, sink).items()}
        sink.score(x, own, id_array, scores, job.threshold, facets)


class ShadowSink:
    """One challenger during a run: ``start``, then per input file ``begin_file`` / ``score`` (any number
    of times, from one thread) / ``end_file``, then ``finish``. Never raises after ``__init__``: a failure
    is recorded (``error``), the files of this challenger are dropped and later calls return at once."""

    def __init__(self, target: ShadowTarget, champion: Any, *, shadow_columns: Sequence[str], parquet: bool):
        self.version = str(target.model_version)
        self.output_uri = storage.normalize(target.output_uri) if target.output_uri else ""
        self.model = target.model
        self.error: str | None = target.error
        self.columns = list(dict.fromkeys(shadow_columns))
        self.features: list[str] = []
        self.categorical: dict[str, list[str]] = {}
        self.same = False
        self.encoder: ArrowEncoder | None = None
        self.busy = {"predict": 0.0, "write": 0.0}
        self.records_out = 0
        self._cm = self._stage = self._writer = self._tmp = self._final = None
        self._fields: list[pa.Field] = []
        self._file_rows = 0
        if self.error is None:
            try:
                self.features = list(self.model.feature_names)
                self.categorical = dict(self.model.categorical)
                self.threshold = float(self.model.threshold)
                self.same = self.features == list(champion.feature_names) and self.categorical == dict(champion.categorical)
                if parquet and not self.same:
                    self.encoder = ArrowEncoder.for_model(self.model)
            except Exception as exc:  # noqa: BLE001 - a bad challenger fails alone
                self.fail(f"not a usable model: {reason(exc)}")

    @property
    def active(self) -> bool:
        return self.error is None

    def fail(self, why: str) -> None:
        if self.error is None:
            self.error = why
            log.warning("shadow model version %s failed (the champion goes on): %s", self.version, why)
        self._drop_file()

    # ------------------------------------------------------------------ run
    def start(self, input_uri: str, protected: dict[str, str | None]) -> None:
        """Open the staged output; ``protected`` (name -> uri) must not overlap it (champion output, capture)."""
        if not self.active:
            return
        try:
            if not self.output_uri:
                raise ValueError("no output_uri given")
            for name, uri in protected.items():
                how = storage.overlap(self.output_uri, uri) if uri else None
                if how:
                    raise ValueError(f"the shadow output {self.output_uri} {how} the {name} {uri}")
            self._cm = storage.atomic_dir(self.output_uri, inputs=(input_uri,), kind=SHADOW_KIND)
            self._stage = Path(self._cm.__enter__())
        except Exception as exc:  # noqa: BLE001
            self._cm = None
            self.fail(f"cannot write the shadow output: {reason(exc)}")

    def finish(self, publish: bool) -> ShadowResult:
        """Publish (or, after a failure or when ``publish`` is false, drop) the output; the result."""
        if self._cm is not None:
            cm, self._cm = self._cm, None
            try:
                if publish and self.active:
                    cm.__exit__(None, None, None)
                else:
                    cm.__exit__(_Abort, _Abort(), None)
            except Exception as exc:  # noqa: BLE001
                self.fail(f"publishing the shadow output failed: {reason(exc)}")
        if self.active and not publish:
            self.error = "the champion's run did not complete"
        return ShadowResult(model_version=self.version, output_uri=self.output_uri,
                            status="Completed" if self.active else "Failed",
                            records_out=self.records_out if self.active else 0,
                            seconds=round(sum(self.busy.values()), 3), error=self.error)

    # ------------------------------------------------------------------ per file
    def lacking(self, columns: Sequence[str]) -> None:
        """Fail when the input lacks one of this challenger's features."""
        missing = [f for f in self.features if f not in columns] if self.active else []
        if missing:
            self.fail(f"the input lacks the challenger's feature(s) {missing}")

    def begin_file(self, rel: str, facet_fields: list[pa.Field]) -> None:
        if not self.active or self._stage is None:
            return
        self._final = self._stage.joinpath(*(rel + OUT_SUFFIX).split("/"))
        self._final.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self._final.with_name(f".{self._final.name}.tmp")
        self._fields = list(facet_fields)
        self._writer, self._file_rows = None, 0

    def score(self, x: np.ndarray | None, own: Any, ids: pa.Array, champion_scores: np.ndarray,
              champion_threshold: float, facets: dict[str, Any]) -> None:
        """Score one batch and write its rows. ``x``: the champion's matrix (used when the encoding is the
        same); ``own``: what this challenger encodes itself otherwise (an Arrow table for its encoder,
        or a pandas frame for ``model.encode``)."""
        if not self.active or self._tmp is None:
            return
        try:
            t0 = time.perf_counter()
            if not self.same:
                x = self.encoder.encode(own) if self.encoder is not None else self.model.encode(own)
            n = len(ids)
            scores = (np.asarray(self.model.predict_proba_encoded(x), dtype=np.float64) if n
                      else np.empty(0, np.float64))
            if scores.shape != (n,):
                raise ValueError(f"the challenger returned {scores.shape} scores for {n} rows")
            t1 = time.perf_counter()
            self.busy["predict"] += t1 - t0
            out = shadow_table(ids, facets, champion_scores, (champion_scores > champion_threshold).astype(np.int64),
                               scores, (scores > self.threshold).astype(np.int64))
            if self._writer is None:
                self._writer = pq.ParquetWriter(str(self._tmp), out.schema,
                                                **cap.write_options(out.schema, ("inference_id",)))
            self._writer.write_table(out)
            self._file_rows += n
            self.busy["write"] += time.perf_counter() - t1
        except Exception as exc:  # noqa: BLE001 - the challenger fails, the champion goes on
            self.fail(f"scoring failed: {reason(exc)}")

    def end_file(self, ok: bool) -> None:
        """Keep the file when the champion's file and this challenger both succeeded, else drop it."""
        if self._tmp is None:
            return
        if not (ok and self.active):
            self._drop_file()
            return
        try:
            if self._writer is None:  # no rows: an empty file with the schema, like the champion's
                schema = pa.schema([pa.field("inference_id", pa.string()), *self._fields,
                                    *(pa.field(c, pa.float64() if "score" in c else pa.int64()) for c in SCORE_COLUMNS)])
                self._writer = pq.ParquetWriter(str(self._tmp), schema, **cap.write_options(schema, ("inference_id",)))
            self._writer.close()
            self._writer = None
            os.replace(self._tmp, self._final)
            self.records_out += self._file_rows
        except Exception as exc:  # noqa: BLE001
            self.fail(f"writing the shadow file failed: {reason(exc)}")
        self._tmp = None

    def _drop_file(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the file is removed anyway
                pass
            self._writer = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


def shadow_table(ids: pa.Array, facets: dict[str, Any], champion_scores: np.ndarray, champion_labels: np.ndarray,
                 scores: np.ndarray, labels: np.ndarray) -> pa.Table:
    """The rows of a shadow scores file (see the module docstring), in this column order."""
    cols = {"inference_id": ids, **facets,
            "champion_score": pa.array(champion_scores, pa.float64()), "champion_label": pa.array(champion_labels, pa.int64()),
            "score": pa.array(scores, pa.float64()), "predicted_label": pa.array(labels, pa.int64())}
    return pa.table(cols)


# =========================================================================== from two jobs' outputs
def shadow_from_outputs(champion_output_uri: str, challenger_output_uri: str, dest_uri: str, *,
                        shadow_columns: Sequence[str] = (), champion_threshold: float | None = None,
                        challenger_threshold: float | None = None, force: bool = False) -> dict[str, Any]:
    """Build the shadow scores files from a champion's and a challenger's transform outputs (one ``.out``
    per input file each, Parquet, with inference_id, score and predicted_label; with JoinSource Input also
    the facet columns) into ``dest_uri``, published as a unit (kind "shadow").

    Rows follow the champion's file; each is matched to the challenger's row with the same inference_id
    (generated ids, ``<prefix>-<record number>``, differ by prefix between two jobs: they are matched by
    record number). Labels are the jobs' ``predicted_label`` unless a threshold is given (then
    ``score > threshold``). Facet columns come from the champion's file, else the challenger's, and are
    written when present. Returns ``{"files", "rows", "output_uri"}``; a file or row without its
    counterpart raises ``DataValidationError``."""
    champ_files = _out_files(champion_output_uri)
    chall_files = _out_files(challenger_output_uri)
    problems = []
    if not champ_files:
        problems.append(f"no {OUT_SUFFIX} files under the champion's output {champion_output_uri}")
    missing = sorted(set(champ_files) - set(chall_files))
    extra = sorted(set(chall_files) - set(champ_files))
    if missing:
        problems.append(f"the challenger's output lacks {len(missing)} file(s): {', '.join(missing[:5])}")
    if extra:
        problems.append(f"the challenger's output has {len(extra)} file(s) the champion's lacks: {', '.join(extra[:5])}")
    if problems:
        raise DataValidationError(f"shadow outputs {champion_output_uri} / {challenger_output_uri}", problems,
                                  fix="Pair the champion's and the challenger's transform outputs of the same input "
                                      "partition, both completed (rerun the job that is incomplete).")
    rows = 0
    with storage.atomic_dir(dest_uri, inputs=(champion_output_uri, challenger_output_uri), force=force,
                            kind=SHADOW_KIND) as stage:
        for rel in sorted(champ_files):
            with storage.local_copy(champ_files[rel]) as a, storage.local_copy(chall_files[rel]) as b:
                table = _paired_file(pq.read_table(a), pq.read_table(b), rel, list(shadow_columns),
                                     champion_threshold, challenger_threshold)
            final = Path(stage).joinpath(*rel.split("/"))
            final.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, str(final), **cap.write_options(table.schema, ("inference_id",)))
            rows += table.num_rows
    return {"files": len(champ_files), "rows": rows, "output_uri": storage.normalize(dest_uri)}


def _out_files(uri: str) -> dict[str, str]:
    base = storage.normalize(uri)
    files = storage.list_files(base, suffixes=(OUT_SUFFIX,)) if storage.exists(base) else []
    return {storage.relative(f, base).replace(os.sep, "/"): f for f in files}


def _paired_file(champ: pa.Table, chall: pa.Table, rel: str, shadow_columns: list[str],
                 champion_threshold: float | None, challenger_threshold: float | None) -> pa.Table:
    where = f"shadow outputs, file {rel}"
    fix = "Score the same input partition with both models (same record_id_col), then build the shadow again."
    for name, t in (("champion", champ), ("challenger", chall)):
        lacking = [c for c in ("inference_id", "score", "predicted_label") if c not in t.column_names]
        if lacking:
            raise DataValidationError(where, [f"the {name}'s file lacks the column(s) {lacking}"],
                                      fix="Keep inference_id, score and predicted_label in both jobs' output_filter.")
    a, b = _text(champ.column("inference_id")), _text(chall.column("inference_id"))
    order = None
    if not (len(a) == len(b) and a.equals(b)):
        if pc.count_distinct(b).as_py() != len(b) or pc.count_distinct(a).as_py() != len(a):
            raise DataValidationError(where, ["inference ids repeat within a file: rows cannot be paired by id"],
                                      fix=fix)
        order = pc.index_in(a, value_set=b)
        if len(a) == len(b) and len(a) and order.null_count == len(a):  # generated ids of two jobs
            order = pc.index_in(_record_numbers(a), value_set=_record_numbers(b))
        if order.null_count or len(a) != len(b):
            raise DataValidationError(where, [f"{order.null_count} of the champion's {len(a)} row(s) have no "
                                              f"challenger row with the same inference_id (challenger rows: {len(b)})"],
                                      fix=fix)
    cb = chall if order is None else chall.take(order)

    def labels(t: pa.Table, threshold: float | None) -> pa.Array:
        if threshold is None:
            return pc.cast(t.column("predicted_label"), pa.int64())
        return pa.array((np.asarray(t.column("score").to_numpy(), dtype=np.float64) > float(threshold)).astype(np.int64))

    facets = {}
    for c in dict.fromkeys(shadow_columns):
        src = champ if c in champ.column_names else cb if c in cb.column_names else None
        if src is not None:
            facets[c] = src.column(c)
    return pa.table({"inference_id": a, **facets,
                     "champion_score": pc.cast(champ.column("score"), pa.float64()),
                     "champion_label": labels(champ, champion_threshold),
                     "score": pc.cast(cb.column("score"), pa.float64()),
                     "predicted_label": labels(cb, challenger_threshold)})


def _text(col: Any) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col if pa.types.is_string(col.type) else pc.cast(col, pa.string())


def _record_numbers(ids: pa.Array) -> pa.Array:
    """The record number of generated ids (``<prefix>-<n>`` -> ``n``)."""
    return pc.replace_substring_regex(ids, pattern=r"^.*-", replacement="")
