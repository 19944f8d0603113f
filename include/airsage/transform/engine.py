"""``run_batch_transform``: SageMaker Batch Transform semantics on local or S3 data.

* Every object under ``input_uri`` yields ``<output_uri>/<rel/path>/<file>.out`` (Parquet in ->
  Parquet ``.out``), records in input order. A file with a bad record yields no ``.out`` and a
  ``FileFailure`` (file, line or row, reason); the other files still complete.
* The run's output replaces ``output_uri`` as a unit (``storage.atomic_dir``): each ``.out`` is
  written under a temporary name and renamed when its file completes, and the finished directory is
  swapped in at the end, so a rerun leaves no stale or duplicate files and a killed run leaves the
  previous output (or nothing) visible. A ``_SUCCESS`` marker is written beside the ``.out`` files.
* Per record the model returns (``TransformConfig.inference_fields``): ``inference_id`` (the record id
  when ``record_id_col`` is given, else ``<sha1(run_key, relative path)[:16]>-<record number>``:
  deterministic, so a rerun reproduces it), ``model_name``, ``model_version``, ``predicted_label``
  (``score > model.threshold``) and ``score`` (probability of the positive class).
* Parquet is streamed row group by row group (``ParquetFile.read_row_group``; memory is bounded by
  the row-group size) through stages that overlap: read+encode, predict, write, and with data capture a
  fourth, write capture (the capture re-encodes every feature column: as its own thread it no longer
  stalls the ``.out`` writer). pyarrow and XGBoost release the GIL, so both cores stay busy. Text columns
  stored dictionary-encoded in the input are read as dictionaries and written back as such (no hashing
  of every value again on a JoinSource Input rewrite); the file's content is the same.
* ``capture_uri``: inputs and outputs for monitoring, see ``airsage.transform.capture``.
* ``shadow``: challengers scored on the same rows in the same pass, see ``airsage.transform.shadow``.

The pipeline's threads live in ``pipeline``, the report types in ``results``, the per-record helpers
(ids, text record parsing) in ``rows``; their names stay importable from here.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airsage import storage
from airsage.errors import AirsageError, ConfigError, DataValidationError
from airsage.transform import capture as cap
from airsage.transform import records as rec
from airsage.transform.encoding import ArrowEncoder
from airsage.transform.jsonpath import RecordError, select_columns
from airsage.transform.pipeline import END as _END  # noqa: F401 - re-exported
from airsage.transform.pipeline import run_pipeline
from airsage.transform.results import (  # noqa: F401 - re-exported: the engine's public names
    FileFailure,
    FileResult,
    ShadowResult,
    TransformFailedError,
    TransformProgress,
    TransformReport,
)
from airsage.transform.rows import (  # noqa: F401 - re-exported
    OUT_SUFFIX,
    file_digest,
    generated_ids,
    parquet_id_column,
    parquet_ids,
    parse_text_records,
)
from airsage.transform.rows import dictionary_stored_text as _dictionary_stored_text
from airsage.transform.rows import is_text as _is_text
from airsage.transform.settings import PARQUET, TransformConfig
from airsage.transform.shadow import ShadowSink, ShadowTarget, reason, text_facets, text_frame, text_shadow

log = logging.getLogger("airsage.transform")
OUTPUT_KIND = "transform"  # the kind recorded in the output's ownership marker
TEXT_CHUNK = 5000  # records per model call on the CSV / JSON Lines path
IN_FLIGHT = 3  # row groups alive at once: one being read, one predicted, one written (bounds memory)


# =========================================================================== entry point
def run_batch_transform(
    model: Any,
    input_uri: str,
    output_uri: str,
    config: TransformConfig | dict[str, Any],
    *,
    model_name: str,
    model_version: str | int,
    run_key: str,
    capture_uri: str | None = None,
    record_id_col: str | int | None = None,
    feature_columns: list[str] | None = None,
    progress: Callable[[TransformProgress], None] | None = None,
    partition_date: dt.date | str | None = None,
    fail_on_file_error: bool = True,
    force: bool = False,
    shadow: Sequence[ShadowTarget] = (),
    shadow_columns: Sequence[str] = (),
) -> TransformReport:
    """Score every file under ``input_uri`` into ``output_uri`` (see the module docstring).

    ``model``: a ``ModelBundle`` (or anything with ``feature_names``, ``categorical``, ``threshold``,
    ``encode(df)`` and ``predict_proba_encoded(x)``). ``record_id_col``: the record id column (CSV: its
    index in the input row; JSON / Parquet: its name), used as the inference id. ``feature_columns``:
    names of the positional values an InputFilter result holds (CSV rows, JSON arrays); default the
    model's feature order. ``partition_date``: the capture partition (default: today, UTC).
    ``fail_on_file_error``: raise ``TransformFailedError`` (after publishing the files that succeeded,
    as SageMaker does) when any file failed; else just report it.
    ``force``: replace an existing output directory that Airsage did not publish (its content is moved
    aside, never deleted); an output overlapping the input or the capture location is always refused.
    ``shadow``: challengers scored on the same rows in the same pass, each into its own output of shadow
    scores (``airsage.transform.shadow``; ``shadow_columns``: the facet columns carried into it, those
    the input has). A challenger that fails never fails the run: ``report.shadow`` says why.
    """
    config = config if isinstance(config, TransformConfig) else TransformConfig.from_dict(config)
    _check_locations(input_uri, output_uri, capture_uri)
    storage.check_output(output_uri, inputs=(input_uri,), force=force, kind=OUTPUT_KIND)
    input_uri, output_uri = storage.normalize(input_uri), storage.normalize(output_uri)
    feature_columns = list(feature_columns or model.feature_names)
    absent = [f for f in model.feature_names if f not in feature_columns]
    if absent:
        raise ConfigError(f"feature_columns lacks the model feature(s) {absent}", key="feature_columns",
                          fix="List every model feature (in input order) or leave feature_columns unset.")
    escaped: list[str] = []
    files = storage.list_files(input_uri, escaped=escaped)
    if not files and not escaped:
        raise DataValidationError(input_uri, ["no input files found"],
                                  fix="Point input_uri at the partition holding the data (a file or a prefix).")
    job = _Job(model, config, str(model_name), str(model_version), run_key, record_id_col, feature_columns, progress)
    job.output_uri = output_uri
    started = time.time()
    sinks = [ShadowSink(t, model, shadow_columns=shadow_columns, parquet=config.content_type == PARQUET)
             for t in shadow]
    for sink in sinks:
        sink.start(input_uri, {"champion's output": output_uri, "capture location": capture_uri,
                               **{f"shadow output of version {o.version}": o.output_uri
                                  for o in sinks if o is not sink and o.active}})
    job.sinks, job.shadow_columns = sinks, list(dict.fromkeys(shadow_columns))
    capture = None
    if capture_uri:
        target = cap.capture_file_uri(capture_uri, cap.parse_date(partition_date), run_key)
        capture = cap.CaptureWriter(target, model.feature_names, model.categorical)
    results: list[FileResult] = []
    failures: list[FileFailure] = [
        FileFailure(uri, _relative(uri, input_uri), "a symbolic link to a file outside the input folder: not read")
        for uri in escaped]
    capture_file = None
    published = False
    try:
        with storage.atomic_dir(output_uri, inputs=(input_uri,), force=force, kind=OUTPUT_KIND) as stage:
            for i, uri in enumerate(files):
                rel = _relative(uri, input_uri)
                job.files_done, job.files_total = i, len(files)
                result, failure = job.run_file(uri, rel, Path(stage), capture)
                results.append(result)
                if failure:
                    failures.append(failure)
                    log.warning("transform %s: %s", run_key, failure.describe())
        if capture is not None:
            capture_file = capture.publish()
        published = True
    finally:
        if capture is not None:
            capture.close()
        shadow_results = tuple(sink.finish(published) for sink in sinks)
    seconds = time.time() - started
    for stage_name in ("predict", "write") if sinks else ():
        job.stage_seconds[f"shadow_{stage_name}"] = sum(sink.busy[stage_name] for sink in sinks)
    ok = [r for r in results if r.output_uri]
    records_in = sum(r.records_in for r in results)
    records_out = sum(r.records_out for r in results)
    report = TransformReport(
        status="Failed" if failures else "Completed", run_key=run_key, model_name=str(model_name),
        model_version=str(model_version), input_uri=input_uri, output_uri=output_uri, capture_file=capture_file,
        config=config.to_dict(), files_in=len(files) + len(escaped), files_out=len(ok), files_failed=len(failures),
        records_in=records_in, records_out=records_out, records_failed=records_in - records_out,
        failures=tuple(failures), files=tuple(results),
        started_at=dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds"),
        seconds=round(seconds, 3), records_per_s=round(records_out / seconds, 1) if seconds > 0 else 0.0,
        stage_seconds={k: round(v, 3) for k, v in job.stage_seconds.items()}, shadow=shadow_results)
    log.info("transform %s: %s, %d/%d files, %d records in %.1f s (%.0f records/s)", run_key, report.status,
             report.files_out, report.files_in, records_out, seconds, report.records_per_s)
    if report.failed and fail_on_file_error:
        raise TransformFailedError(report)
    return report


def _check_locations(input_uri: str, output_uri: str, capture_uri: str | None) -> None:
    """The output may not be, contain or lie inside the input (checked again by ``storage.check_output``,
    with symlinks resolved); the capture location may not overlap either (a rerun would replace or
    read it)."""
    how = storage.overlap(output_uri, input_uri)
    if how:
        raise ConfigError(f"output_uri {output_uri} {how} the input {input_uri}: "
                          + ("a rerun would read its own output" if how == "lies inside"
                             else "publishing would replace the input"),
                          key="output_uri", fix="Write predictions under a separate prefix, e.g. .../predictions/dt=<date>.")
    for other, key in ((input_uri, "input_uri"), (output_uri, "output_uri")):
        how = storage.overlap(capture_uri, other) if capture_uri else None
        if how:
            raise ConfigError(f"capture_uri {capture_uri} {how} {key} {other}", key="capture_uri",
                              fix="Keep the data capture under its own prefix, e.g. <data root>/capture.")


def _relative(uri: str, input_uri: str) -> str:
    if uri.rstrip("/") == input_uri.rstrip("/"):
        return uri.rstrip("/").rsplit("/", 1)[-1]
    return storage.relative(uri, input_uri).replace(os.sep, "/")


# =========================================================================== one run
class _Job:
    def __init__(self, model, config: TransformConfig, model_name: str, model_version: str, run_key: str,
                 record_id_col, feature_columns: list[str], progress):
        self.model = model
        self.config = config
        self.model_name = model_name
        self.model_version = model_version
        self.run_key = run_key
        self.record_id_col = record_id_col
        self.feature_columns = feature_columns
        self.progress = progress
        self.output_uri = ""
        self.features = list(model.feature_names)
        self.categorical = dict(model.categorical)
        self.threshold = float(model.threshold)
        self.encoder = ArrowEncoder.for_model(model) if config.content_type == PARQUET else None
        self.in_path, self.out_path = config.input_path, config.output_path
        self.stage_seconds = {"read": 0.0, "predict": 0.0, "write": 0.0}
        self.files_done = self.files_total = 0
        self.records_done = 0
        self._started = time.time()
        self._last_tick = self._last_log = 0.0
        self._lock = threading.Lock()
        self.sinks: list[ShadowSink] = []  # challengers scored in the shadow (see airsage.transform.shadow)
        self.shadow_columns: list[str] = []

    # ------------------------------------------------------------------ per file
    def run_file(self, uri: str, rel: str, stage: Path, capture) -> tuple[FileResult, FileFailure | None]:
        t0 = time.time()
        final = stage.joinpath(*(rel + OUT_SUFFIX).split("/"))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp")
        counts = {"in": 0, "out": 0}
        failure = None
        if capture is not None:
            capture.begin_file()
        try:
            with storage.local_copy(uri) as local:
                if self.config.content_type == PARQUET:
                    self._parquet_file(Path(local), tmp, rel, counts, capture)
                else:
                    self._text_file(Path(local), tmp, rel, counts, capture)
            os.replace(tmp, final)
        except (RecordError, AirsageError, pa.ArrowException, OSError, RecursionError) as exc:  # this file only
            failure = FileFailure(uri, rel, _reason(exc), getattr(exc, "line", None), getattr(exc, "record", None))
        finally:
            if capture is not None:
                capture.end_file(failure is None)
            tmp.unlink(missing_ok=True)
            for sink in self.sinks:
                sink.end_file(failure is None)
        if failure:
            counts["out"] = 0
            if failure.record is not None:  # records are parsed ahead in batches: count up to the bad one
                counts["in"] = failure.record + 1
        self.files_done += 1
        self._tick(rel, force=True)
        out_uri = None if failure else storage.join(self.output_uri, rel + OUT_SUFFIX)
        return FileResult(uri, rel, out_uri, counts["in"], counts["out"], round(time.time() - t0, 3)), failure

    def _tick(self, rel: str, force: bool = False, fraction: float = 0.0) -> None:
        now = time.time()
        if not force and now - self._last_tick < 1.0:
            return
        self._last_tick = now
        elapsed = max(now - self._started, 1e-9)
        done = (self.files_done + (0.0 if force else fraction)) / max(self.files_total, 1)
        eta = elapsed * (1 - done) / done if done > 0 else None
        event = TransformProgress(rel, self.files_done, self.files_total, self.records_done,
                                  round(self.records_done / elapsed, 1), None if eta is None else round(eta, 1))
        if force or now - self._last_log >= 10:
            self._last_log = now
            log.info("transform %s: %s, %d/%d files, %d records, %.0f records/s, ETA %s s", self.run_key, rel,
                     event.files_done, event.files_total, event.records_done, event.records_per_s, event.eta_s)
        if self.progress is not None:
            self.progress(event)


    # ------------------------------------------------------------------ CSV / JSON Lines
    def _text_file(self, local: Path, tmp: Path, rel: str, counts: dict, capture) -> None:
        cfg = self.config
        digest = file_digest(self.run_key, rel)
        assembler = rec.Assembler(cfg.assemble_with)
        size = local.stat().st_size
        for sink in self.sinks:
            sink.begin_file(rel, [pa.field(c, t) for c, t in text_facets(self, sink).items()])
        with open(local, "rb") as fh, open(tmp, "w", encoding="utf-8", newline="") as out:
            batch: list[rec.Record] = []
            records = rec.iter_records(fh, cfg, size)
            while True:
                t0 = time.perf_counter()
                try:
                    r = next(records, None)
                except RecordError as exc:
                    exc.record = counts["in"]  # type: ignore[attr-defined]
                    raise
                self.stage_seconds["read"] += time.perf_counter() - t0
                if r is not None:
                    batch.append(r)
                    counts["in"] += 1
                if batch and (r is None or len(batch) >= TEXT_CHUNK):
                    counts["out"] += self._text_batch(batch, digest, out, assembler, capture)
                    self.records_done += len(batch)
                    batch = []
                    self._tick(rel, fraction=fh.tell() / max(size, 1))
                if r is None:
                    break

    def _text_batch(self, batch: list[rec.Record], digest: str, out, assembler: rec.Assembler, capture) -> int:
        cfg = self.config
        t0 = time.perf_counter()
        values, ids = parse_text_records(batch, cfg, self.features, self.categorical, self.feature_columns,
                                         self.record_id_col, digest)
        frame = text_frame(values, self.features, self.categorical)
        self.stage_seconds["read"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        x = self.model.encode(frame)
        scores = np.asarray(self.model.predict_proba_encoded(x), dtype=np.float64)
        labels = (scores > self.threshold).astype(np.int64)
        self.stage_seconds["predict"] += time.perf_counter() - t0
        if self.sinks:
            text_shadow(self, batch, digest, values, ids, x, scores)
        t0 = time.perf_counter()
        pieces = []
        for r, rid, score, label in zip(batch, ids, scores.tolist(), labels.tolist()):
            result = rec.inference(cfg.inference_fields, {
                "inference_id": rid, "model_name": self.model_name, "model_version": self.model_version,
                "predicted_label": label, "score": score}, cfg.accept)
            if cfg.joins:
                result = rec.join(r.raw, result, cfg.content_type)
            if not self.out_path.is_root:
                try:
                    result = self.out_path.apply(result)
                except RecordError as exc:
                    exc.line, exc.record = r.line, r.index  # type: ignore[attr-defined]
                    raise
            pieces.append(assembler.piece(rec.serialize(result, cfg.accept), r.group))
        out.write("".join(pieces))
        if capture is not None:
            feats = {f: pa.array(values[f], pa.string() if f in self.categorical else pa.float64()) for f in self.features}
            capture.write(cap.capture_table(pa.array(ids, pa.string()), _now(), feats, scores, labels,
                                            self.model_name, self.model_version, self.features, self.categorical))
        self.stage_seconds["write"] += time.perf_counter() - t0
        return len(batch)

    # ------------------------------------------------------------------ Parquet
    def _parquet_file(self, local: Path, tmp: Path, rel: str, counts: dict, capture,
                      digest: str | None = None) -> None:
        cfg = self.config
        try:
            schema = pq.read_schema(local)
        except pa.ArrowException as exc:
            raise RecordError(f"not a readable Parquet file ({exc}); content_type is {PARQUET}") from None
        names = list(schema.names)
        model_cols = select_columns(self.in_path, names, "input_filter")
        lacking = [f for f in self.features if f not in model_cols]
        if lacking:
            raise RecordError(f"the input (after input_filter {cfg.input_filter!r}) lacks the model feature(s) {lacking}")
        id_col = self._parquet_id_col(names)
        dict_cols = [f for f in self.categorical if f in names and _is_text(schema.field(f).type)]
        fields = list(cfg.inference_fields)
        if cfg.joins:  # rewritten as they are: keep dictionary-stored text as dictionaries (see the module doc)
            dict_cols += [c for c in _dictionary_stored_text(local, schema) if c not in dict_cols and c != id_col]
        pf = pq.ParquetFile(local, read_dictionary=dict_cols or None)
        if cfg.joins:
            clash = [f for f in fields if f in names]
            if clash:
                raise RecordError(f"input column(s) {clash} clash with the inference columns joined to them; "
                                  "rename them or set join_source to None")
            read_cols, joined = names, names + fields
        else:
            read_cols = list(dict.fromkeys(self.features + ([id_col] if id_col else [])))
            joined = fields
        out_cols = select_columns(self.out_path, joined, "output_filter")
        digest = digest or file_digest(self.run_key, rel)
        sinks, side_cols, facets = self._parquet_shadow(rel, model_cols, names, pf.schema_arrow)
        if sinks and not cfg.joins:
            read_cols = list(dict.fromkeys(read_cols + side_cols))
        n_groups = pf.metadata.num_row_groups
        offsets = np.cumsum([0] + [pf.metadata.row_group(i).num_rows for i in range(n_groups)]).tolist()
        captured_at = _now()
        state: dict[str, Any] = {"writer": None}

        def read(rg: int):
            t0 = time.perf_counter()
            # one decode thread: the stages already overlap, and XGBoost wants both cores (measured: less CPU)
            table = pf.read_row_group(rg, columns=read_cols, use_threads=False) if rg >= 0 \
                else pf.schema_arrow.empty_table().select(read_cols)
            start = offsets[rg] if rg >= 0 else 0
            with self._lock:
                counts["in"] += table.num_rows
            x = self.encoder.encode(table)
            ids = self._parquet_ids(table, id_col, digest, start)
            # hand on only what the writer needs, so finished columns are freed early (bounded memory)
            keep = table if cfg.joins else table.select(self.features) if capture is not None else None
            side = table.select(side_cols) if sinks and side_cols else None
            self.stage_seconds["read"] += time.perf_counter() - t0
            return keep, x, ids, side

        def predict(x: np.ndarray) -> np.ndarray:
            t0 = time.perf_counter()
            scores = np.asarray(self.model.predict_proba_encoded(x), dtype=np.float64) if len(x) else np.empty(0)
            self.stage_seconds["predict"] += time.perf_counter() - t0
            return scores

        def write(table: pa.Table | None, ids: pa.Array, scores: np.ndarray, rg: int) -> None:
            t0 = time.perf_counter()
            n = len(ids)
            labels = (scores > self.threshold).astype(np.int64)
            inf = {"inference_id": ids, "model_name": cap.constant_strings(self.model_name, n),
                   "model_version": cap.constant_strings(self.model_version, n),
                   "predicted_label": pa.array(labels), "score": pa.array(scores, pa.float64())}
            cols = {**({c: table.column(c) for c in names} if cfg.joins else {}), **inf}
            out = pa.Table.from_arrays([cols[c] for c in out_cols], names=out_cols)
            if state["writer"] is None:
                plain = ("inference_id",) + ((id_col,) if id_col else ())
                state["writer"] = pq.ParquetWriter(str(tmp), out.schema, **cap.write_options(out.schema, plain))
            state["writer"].write_table(out)
            self.stage_seconds["write"] += time.perf_counter() - t0
            if capture is None:
                done(n, rg)
            return labels

        def write_capture(table: pa.Table, ids: pa.Array, scores: np.ndarray, labels: np.ndarray, rg: int) -> None:
            t0 = time.perf_counter()
            capture.write(cap.capture_table(ids, captured_at, {f: table.column(f) for f in self.features}, scores,
                                            labels, self.model_name, self.model_version, self.features,
                                            self.categorical))
            self.stage_seconds["capture"] = self.stage_seconds.get("capture", 0.0) + time.perf_counter() - t0
            done(len(ids), rg)

        def done(n: int, rg: int) -> None:
            with self._lock:
                counts["out"] += n
                self.records_done += n
            self._tick(rel, fraction=offsets[rg + 1] / max(offsets[-1], 1) if rg >= 0 else 1.0)

        try:
            groups = list(range(n_groups)) or [-1]  # an empty file still gets an empty .out with the schema
            _pipeline(groups, read, predict, write, write_capture if capture is not None else None,
                      [self._shadow_side(sink, facets) for sink in sinks])
        finally:
            if state["writer"] is not None:
                state["writer"].close()

    def _parquet_shadow(self, rel: str, model_cols: list[str], names: list[str],
                        schema: pa.Schema) -> tuple[list[ShadowSink], list[str], list[str]]:
        """The challengers scoring this file, the extra columns they need read (facets, own features), the
        facet columns present."""
        facets = [c for c in self.shadow_columns if c in names]
        sinks = []
        for sink in self.sinks:
            sink.lacking(model_cols)
            sink.begin_file(rel, [schema.field(c) for c in facets])
            if sink.active:
                sinks.append(sink)
        own = [f for sink in sinks if not sink.same for f in sink.features]
        return sinks, list(dict.fromkeys(facets + own)), facets

    def _shadow_side(self, sink: ShadowSink, facets: list[str]) -> Callable:
        def side(rg: int, x: np.ndarray, ids: pa.Array, scores: np.ndarray, table: pa.Table | None) -> None:
            sink.score(x, table, ids, scores, self.threshold, {c: table.column(c) for c in facets})
        return side

    def _parquet_id_col(self, names: list[str]) -> str | None:
        return parquet_id_column(names, self.record_id_col)

    def _parquet_ids(self, table: pa.Table, id_col: str | None, digest: str, start: int) -> pa.Array:
        return parquet_ids(table, id_col, digest, start)


# =========================================================================== one file, for the serving module
def score_parquet_file(model: Any, src: str | Path, dest: str | Path, config: TransformConfig | dict[str, Any], *,
                       model_name: str, model_version: str | int, digest: str,
                       record_id_col: str | int | None = None) -> int:
    """Score one local Parquet file into ``dest``: the very ``.out`` ``run_batch_transform`` writes for it
    (same columns, types, row groups and writer options), with ``digest`` as the prefix of generated
    inference ids (the engine's is ``file_digest(run_key, relative path)``). Returns the row count.

    This is what the SageMaker serving module runs for a whole-file Parquet request. A bad file raises
    ``RecordError`` (with ``record`` when a row is at fault) or ``pyarrow.ArrowException``."""
    config = config if isinstance(config, TransformConfig) else TransformConfig.from_dict(config)
    if config.content_type != PARQUET:
        raise ConfigError(f"score_parquet_file needs content_type {PARQUET!r}, got {config.content_type!r}",
                          key="content_type", fix="Use run_batch_transform for CSV / JSON Lines.")
    job = _Job(model, config, str(model_name), str(model_version), "", record_id_col, list(model.feature_names), None)
    counts = {"in": 0, "out": 0}
    job._parquet_file(Path(src), Path(dest), "", counts, None, digest=digest)
    return counts["out"]


def _pipeline(items: list[int], read: Callable, predict: Callable, write: Callable,
              write_capture: Callable | None = None, sides: Sequence[Callable] = ()) -> None:
    """``pipeline.run_pipeline`` with this module's ``IN_FLIGHT``."""
    run_pipeline(items, read, predict, write, write_capture, sides, in_flight=IN_FLIGHT)


_reason = reason


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
