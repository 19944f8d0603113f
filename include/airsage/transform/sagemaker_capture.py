"""Import a finished SageMaker batch transform into Airsage's capture table, with a transform report.

SageMaker's data capture (DG "Capture data from batch transform job"), under the job's
``DataCaptureConfig.DestinationS3Uri``: ``input/yyyy/mm/dd/hh/<manifest>`` and
``output/yyyy/mm/dd/hh/<manifest>`` (the hour the job started). A manifest lists S3 locations: a
``{"prefix": "s3://.../"}`` entry followed by keys relative to it, e.g.
``[{"prefix": "s3://b/scoring/dt=2026-11-20/"}, "part-0.parquet"]`` and, for the output,
``[{"prefix": "s3://b/predictions/dt=2026-11-20/"}, "part-0.parquet.out"]``. The guide calls it JSON
Lines but shows one JSON array: both one array and one JSON value per line are read.

``import_sagemaker_capture`` pairs every listed input ``<rel>`` with its output ``<rel>.out``, reads
both row by row (record order is kept by SageMaker), and writes ``capture_file_uri(capture_uri,
partition, run_key)`` atomically, with the columns the local engine captures (``transform.capture``;
a rerun replaces the file):

* features: parsed from the *input* as the local engine parses them (Parquet columns; CSV / JSON
  Lines through ``input_filter`` -> ``feature_columns``);
* ``score`` / ``predicted_label``: from the ``.out`` (Parquet columns; in CSV / JSON records located
  through ``inference_fields``, ``join_source`` and ``output_filter``, the columns SageMaker appends
  with ``GenerateInferenceId`` stripped);
* ``inference_id``: the record id when ``record_id_col`` is given (as locally), else the ``.out``'s
  ``inference_id``, else the local engine's ``<file_digest(run_key, rel)>-<record number>``;
* ``captured_at``: ``captured_at`` if given, else the ``SageMakerInferenceTime`` of CSV / JSON records,
  else the manifest's hour (the job's start hour, UTC);
* ``model_name`` / ``model_version``: the run's.

Row counts are reconciled per file (``DataValidationError`` naming the file when they differ). A
missing, empty or unreadable manifest, a listed object that does not exist, or an input without its
``.out`` is an error, never silence. The returned dict is a ``TransformReport`` (what the local job
writes as ``report.json``) plus ``backend``, ``job_name`` and ``capture_source``; ``seconds`` is the
import's own time (SageMaker's job time is in ``DescribeTransformJob``).

``report_from_outputs`` gives the same report's counts for a job that ran without data capture.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airsage import storage
from airsage.errors import ConfigError, DataValidationError
from airsage.transform import capture as cap
from airsage.transform import records as rec
from airsage.transform.engine import (
    OUT_SUFFIX,
    TEXT_CHUNK,
    FileFailure,
    FileResult,
    TransformReport,
    file_digest,
    generated_ids,
    parquet_id_column,
    parquet_ids,
    parse_text_records,
)
from airsage.transform.jsonpath import RecordError
from airsage.transform.settings import CSV, INFERENCE_FIELDS, PARQUET, TransformConfig

INFERENCE_ID_KEY, INFERENCE_TIME_KEY = "SageMakerInferenceId", "SageMakerInferenceTime"
_HOUR = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
_MARK = "\x00airsage:"
_FIX_MANIFEST = ("Import only a Completed transform job that ran with DataCaptureConfig (its DestinationS3Uri "
                 "holds input/ and output/ manifests); rerun the transform if the capture is incomplete.")


# =========================================================================== manifests
@dataclasses.dataclass(frozen=True)
class Entry:
    prefix: str
    key: str

    @property
    def uri(self) -> str:
        return self.prefix + self.key if self.prefix.endswith("/") else f"{self.prefix}/{self.key}"


@dataclasses.dataclass(frozen=True)
class Manifests:
    """The entries of every manifest under ``<dest>/<kind>/``, in order, without repeats."""

    kind: str
    files: tuple[str, ...]
    entries: tuple[Entry, ...]
    hour: dt.datetime | None  # the earliest yyyy/mm/dd/hh of the manifests (the job's start hour)


def parse_manifest(text: str, source: str) -> list[Entry]:
    """The entries of one manifest: one JSON array, or one JSON value (or array) per line."""
    body = text.strip()
    if not body:
        raise DataValidationError(source, ["the capture manifest is empty"], fix=_FIX_MANIFEST)
    try:
        whole = json.loads(body)
        items = whole if isinstance(whole, list) else [whole]
    except (ValueError, RecursionError):
        items = []
        for n, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise DataValidationError(source, [f"line {n} is not JSON ({exc}): a truncated or partial manifest"],
                                          fix=_FIX_MANIFEST) from None
            items.extend(value if isinstance(value, list) else [value])
    prefix: str | None = None
    entries: list[Entry] = []
    for i, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("prefix"), str):
            prefix = item["prefix"]
        elif isinstance(item, str) and item:
            if prefix is None:
                raise DataValidationError(source, [f"entry {i} ({item!r}) comes before any {{\"prefix\": ...}} entry"],
                                          fix=_FIX_MANIFEST)
            entries.append(Entry(prefix, item))
        else:
            raise DataValidationError(source, [f"entry {i} is neither a {{\"prefix\": ...}} object nor a key: "
                                               f"{str(item)[:80]!r}"], fix=_FIX_MANIFEST)
    if not entries:
        raise DataValidationError(source, ["the capture manifest lists no files"], fix=_FIX_MANIFEST)
    return entries


def read_manifests(capture_dest: str, kind: str) -> Manifests:
    """Every manifest under ``<capture_dest>/<kind>/`` (``input`` or ``output``)."""
    root = storage.join(capture_dest, kind)
    files = storage.list_files(root)
    if not files:
        raise DataValidationError(root, [f"no {kind} capture manifest under {root}/"], fix=_FIX_MANIFEST)
    entries: dict[str, Entry] = {}
    hours = []
    for f in files:
        for e in parse_manifest(storage.read_text(f), f):
            entries.setdefault(e.uri, e)
        m = _HOUR.search(f.replace("\\", "/"))
        if m:
            hours.append(dt.datetime(*map(int, m.groups()), tzinfo=dt.timezone.utc))
    return Manifests(kind, tuple(files), tuple(entries.values()), min(hours) if hours else None)


# =========================================================================== the import
def import_sagemaker_capture(
    model: Any,
    capture_dest: str,
    config: TransformConfig | dict[str, Any],
    *,
    capture_uri: str,
    partition_date: dt.date | str | None,
    run_key: str,
    model_name: str,
    model_version: str | int,
    record_id_col: str | int | None = None,
    feature_columns: list[str] | None = None,
    captured_at: dt.datetime | None = None,
    job_name: str | None = None,
) -> dict[str, Any]:
    """Write the capture table of a finished SageMaker transform and return its report (module docstring).

    ``model``: anything with ``feature_names`` and ``categorical`` (a ``ModelBundle``). ``config``: the
    transform settings the job ran with (``TransformConfig``). The other arguments are the local
    engine's (``run_batch_transform``)."""
    config = config if isinstance(config, TransformConfig) else TransformConfig.from_dict(config)
    started = time.time()
    inputs, outputs = read_manifests(capture_dest, "input"), read_manifests(capture_dest, "output")
    pairs = _pair(inputs, outputs)
    missing = [e.key for e, out in pairs if out is None]
    if missing:
        raise DataValidationError(storage.join(capture_dest, "output"), [
            f"no {OUT_SUFFIX} listed for input file(s) {missing[:5]}" + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")],
            fix="SageMaker fails a job whose file failed: import only a Completed job (see the job's CloudWatch logs).")
    for e, out in pairs:
        for kind, entry in (("input", e), ("output", out)):
            if not storage.exists(entry.uri):
                raise DataValidationError(entry.uri, [f"listed in the {kind} capture manifest but not found"],
                                          fix="Rerun the transform for the partition (its outputs were moved or deleted).")
    features = list(model.feature_names)
    categorical = dict(model.categorical)
    feature_columns = list(feature_columns or features)
    hour = inputs.hour or outputs.hour
    target = cap.capture_file_uri(capture_uri, cap.parse_date(partition_date), run_key)
    writer = cap.CaptureWriter(target, features, categorical)
    reader = _Reader(config, features, categorical, feature_columns, record_id_col, run_key, str(model_name),
                     str(model_version), captured_at, hour)
    results: list[FileResult] = []
    try:
        for e, out in pairs:
            t0 = time.time()
            writer.begin_file()
            ok = False
            try:
                n = reader.file(e.uri, out.uri, e.key, writer)
                ok = True
            finally:
                writer.end_file(ok)
            results.append(FileResult(e.uri, e.key, out.uri, n, n, round(time.time() - t0, 3)))
        capture_file = writer.publish()
    finally:
        writer.close()
    records = sum(r.records_out for r in results)
    seconds = time.time() - started
    report = TransformReport(
        status="Completed", run_key=run_key, model_name=str(model_name), model_version=str(model_version),
        input_uri=_common_prefix(inputs), output_uri=_common_prefix(outputs), capture_file=capture_file,
        config=config.to_dict(), files_in=len(pairs), files_out=len(results), files_failed=0, records_in=records,
        records_out=records, records_failed=0, failures=(), files=tuple(results),
        started_at=(reader.seen_time or hour or captured_at or _now()).isoformat(timespec="seconds"),
        seconds=round(seconds, 3),
        records_per_s=round(records / seconds, 1) if seconds > 0 else 0.0)
    return {**report.to_dict(), "backend": "sagemaker", "job_name": job_name, "capture_source": capture_dest}


def _pair(inputs: Manifests, outputs: Manifests) -> list[tuple[Entry, Entry | None]]:
    by_key = {e.key: e for e in outputs.entries}
    pairs = [(e, by_key.pop(e.key + OUT_SUFFIX, None)) for e in inputs.entries]
    if by_key:
        raise DataValidationError(storage.join(outputs.files[0].rsplit("/output/", 1)[0], "output"), [
            f"output(s) {sorted(by_key)[:5]} match no input listed in the input manifest"], fix=_FIX_MANIFEST)
    return pairs


def _common_prefix(m: Manifests) -> str:
    prefixes = list(dict.fromkeys(e.prefix for e in m.entries))
    return prefixes[0].rstrip("/") if len(prefixes) == 1 else ",".join(p.rstrip("/") for p in prefixes)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# =========================================================================== one file pair
class _Reader:
    def __init__(self, config: TransformConfig, features: list[str], categorical: dict[str, list[str]],
                 feature_columns: list[str], record_id_col, run_key: str, model_name: str, model_version: str,
                 captured_at: dt.datetime | None, hour: dt.datetime | None):
        self.config = config
        self.features, self.categorical, self.feature_columns = features, categorical, feature_columns
        self.record_id_col = record_id_col
        self.run_key, self.model_name, self.model_version = run_key, model_name, model_version
        self.captured_at = captured_at  # explicit: wins
        self.hour = hour  # the manifests' hour: the fallback
        self.seen_time: dt.datetime | None = None
        self._layouts: dict[Any, _Layout] = {}

    def file(self, in_uri: str, out_uri: str, rel: str, writer: cap.CaptureWriter) -> int:
        with storage.local_copy(in_uri) as lin, storage.local_copy(out_uri) as lout:
            try:
                if self.config.content_type == PARQUET:
                    return self._parquet(Path(lin), Path(lout), in_uri, out_uri, rel, writer)
                return self._text(Path(lin), Path(lout), in_uri, out_uri, rel, writer)
            except RecordError as exc:
                where = f"line {exc.line}: " if getattr(exc, "line", None) else (
                    f"row {exc.record}: " if getattr(exc, "record", None) is not None else "")
                raise DataValidationError(in_uri, [f"{where}{exc}"],
                                          fix="The transform scored this file, so its records should parse: check "
                                              "that the import uses the job's transform settings.") from None

    def _write(self, writer, ids, features, scores, labels, when) -> None:
        writer.write(cap.capture_table(ids, when, features, scores, labels, self.model_name, self.model_version,
                                       self.features, self.categorical))

    # ------------------------------------------------------------------ Parquet
    def _parquet(self, lin: Path, lout: Path, in_uri: str, out_uri: str, rel: str, writer) -> int:
        try:
            in_names, out_names = pq.read_schema(lin).names, pq.read_schema(lout).names
        except pa.ArrowException as exc:
            raise DataValidationError(f"{in_uri} / {out_uri}", [f"not a readable Parquet file: {exc}"],
                                      fix="Rerun the transform for the partition.") from None
        lacking = [f for f in self.features if f not in in_names]
        if lacking:
            raise DataValidationError(in_uri, [f"the input lacks the model feature(s) {lacking}"],
                                      fix="Import with the model version that scored the partition.")
        need = [c for c in ("score", "predicted_label") if c not in out_names]
        if need:
            raise ConfigError(f"{out_uri} has no {need} column: the capture needs score and predicted_label",
                              key="transform.output_filter",
                              fix="Keep score and predicted_label in transform.inference_fields and output_filter.")
        id_col = parquet_id_column(in_names, self.record_id_col)
        inp = pq.read_table(lin, columns=list(dict.fromkeys(self.features + ([id_col] if id_col else []))))
        out = pq.read_table(lout, columns=["score", "predicted_label"]
                            + (["inference_id"] if "inference_id" in out_names else []))
        if inp.num_rows != out.num_rows:
            raise _count_mismatch(in_uri, out_uri, rel, inp.num_rows, out.num_rows)
        n = inp.num_rows
        if id_col is not None:
            ids = parquet_ids(inp, id_col, "", 0)
        elif "inference_id" in out_names:
            ids = out.column("inference_id").combine_chunks().cast(pa.string())
        else:
            ids = generated_ids(file_digest(self.run_key, rel), 0, n)
        scores = np.asarray(out.column("score").to_numpy(), dtype=np.float64)
        labels = np.asarray(out.column("predicted_label").to_numpy(), dtype=np.int64)
        self._write(writer, ids, {f: inp.column(f) for f in self.features}, scores, labels,
                    self.captured_at or self.hour or _now())
        return n

    # ------------------------------------------------------------------ CSV / JSON Lines
    def _text(self, lin: Path, lout: Path, in_uri: str, out_uri: str, rel: str, writer) -> int:
        cfg = dataclasses.replace(self.config, max_payload_mb=0)  # SageMaker enforced it already
        digest = file_digest(self.run_key, rel)
        total = 0
        with open(lin, "rb") as fin, open(lout, "rb") as fout:
            records = rec.iter_records(fin, cfg, lin.stat().st_size)
            lines = _lines(fout)
            while True:
                batch = [r for _, r in zip(range(TEXT_CHUNK), records)]
                if not batch:
                    break
                values, ids = parse_text_records(batch, cfg, self.features, self.categorical, self.feature_columns,
                                                 self.record_id_col, digest)
                scores, labels = [], []
                when = None
                for i, r in enumerate(batch):
                    got = next(lines, None)
                    if got is None:
                        rest = sum(1 for _ in records)
                        raise _count_mismatch(in_uri, out_uri, rel, total + len(batch) + rest, total + i)
                    line_no, text = got
                    score, label, iid, at = self._output_record(r.raw, text, out_uri, line_no)
                    scores.append(score)
                    labels.append(label)
                    if iid is not None and self.record_id_col is None:
                        ids[i] = iid
                    when = when or at
                total += len(batch)
                feats = {f: pa.array(values[f], pa.string() if f in self.categorical else pa.float64())
                         for f in self.features}
                self._write(writer, pa.array(ids, pa.string()), feats, np.asarray(scores, np.float64),
                            np.asarray(labels, np.int64), self.captured_at or when or self.hour or _now())
            extra = sum(1 for _ in lines)
            if extra:
                raise _count_mismatch(in_uri, out_uri, rel, total, total + extra)
        return total

    def _layout(self, raw: Any) -> "_Layout":
        """Where each inference field lands in the output record of this input record: the record the
        local engine would write with markers for values, put through the same join and OutputFilter."""
        shape = len(raw) if isinstance(raw, list) else tuple(raw) if isinstance(raw, dict) else None
        key = (type(raw).__name__, shape)
        if key not in self._layouts:
            cfg = self.config
            t = rec.inference(cfg.inference_fields, {f: _MARK + f for f in INFERENCE_FIELDS}, cfg.accept)
            if cfg.joins:
                t = rec.join(raw, t, cfg.content_type)
            if not cfg.output_path.is_root:
                t = cfg.output_path.apply(t)
            if cfg.accept == CSV and not isinstance(t, list):
                t = [t]  # a scalar is written as one CSV cell
            paths = dict(_find_marks(t, ()))
            if "score" not in paths or "predicted_label" not in paths:
                raise ConfigError("the transform's output records do not carry score and predicted_label, which the "
                                  "capture needs", key="transform.output_filter",
                                  fix="Keep score and predicted_label in transform.inference_fields and output_filter.")
            self._layouts[key] = _Layout(paths, len(t) if isinstance(t, list) else 0, isinstance(t, dict))
        return self._layouts[key]

    def _output_record(self, raw: Any, text: str, out_uri: str, line_no: int):
        layout = self._layout(raw)
        at = None
        try:
            if self.config.accept == CSV:
                value: Any = next(csv.reader([text], strict=True))
                if len(value) == layout.width + 2:  # GenerateInferenceId: ..., <inference id>, <inference time>
                    at, value = value[-1], value[:-2]
                elif len(value) != layout.width:
                    raise ValueError(f"{len(value)} column(s), expected {layout.width} (or {layout.width + 2} with "
                                     "SageMaker's inference id and time)")
            else:
                value = obj = json.loads(text)
                if isinstance(obj, dict) and INFERENCE_ID_KEY in obj:  # GenerateInferenceId
                    at = obj.get(INFERENCE_TIME_KEY)
                    value = {k: v for k, v in obj.items() if k not in (INFERENCE_ID_KEY, INFERENCE_TIME_KEY)}
                    if not layout.is_object and set(value) == {"SageMakerOutput"}:
                        value = value["SageMakerOutput"]
            score = float(_at(value, layout.paths["score"]))
            label = int(float(_at(value, layout.paths["predicted_label"])))
            iid = str(_at(value, layout.paths["inference_id"])) if "inference_id" in layout.paths else None
        except (ValueError, TypeError, KeyError, IndexError, csv.Error, RecursionError) as exc:
            raise DataValidationError(out_uri, [f"line {line_no}: {type(exc).__name__}: {exc}"],
                                      fix="Import with the transform settings the job ran with "
                                          "(inference_fields, join_source, output_filter, accept).") from None
        # SageMaker's own inference id (a UUID) is not kept: Airsage's is the record id (or the .out's)
        when = _parse_time(at) if at else None
        if when is not None and self.seen_time is None:
            self.seen_time = when
        return score, label, iid, when


@dataclasses.dataclass(frozen=True)
class _Layout:
    paths: dict[str, tuple]  # inference field -> path of keys / indexes in the output record
    width: int  # CSV: columns of an output record (before SageMaker's two appended ones)
    is_object: bool


def _find_marks(node: Any, path: tuple) -> Iterator[tuple[str, tuple]]:
    if isinstance(node, str) and node.startswith(_MARK):
        yield node[len(_MARK):], path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _find_marks(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _find_marks(v, path + (i,))


def _at(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def _lines(fh: io.BufferedIOBase) -> Iterator[tuple[int, str]]:
    for n, line in enumerate(fh, 1):
        text = line.decode("utf-8").rstrip("\r\n")
        if text.strip():
            yield n, text


def _parse_time(text: str) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def _count_mismatch(in_uri: str, out_uri: str, rel: str, n_in: int, n_out: int) -> DataValidationError:
    return DataValidationError(in_uri, [f"{rel}: the input has {n_in} record(s) but its output {out_uri} has {n_out}"],
                               fix="The output does not belong to this input (or was cut short): rerun the transform "
                                   "for the partition, then import again.")


# =========================================================================== without capture
def report_from_outputs(input_uri: str, output_uri: str, config: TransformConfig | dict[str, Any], *, run_key: str,
                        model_name: str, model_version: str | int, job_name: str | None = None) -> dict[str, Any]:
    """The report of a SageMaker transform that ran without data capture: files and records counted
    from the input prefix and the ``.out`` files (Parquet row counts from the footers)."""
    config = config if isinstance(config, TransformConfig) else TransformConfig.from_dict(config)
    started = time.time()
    files = storage.list_files(input_uri)
    results, failures = [], []
    for uri in files:
        rel = storage.relative(uri, input_uri).replace("\\", "/") if uri != input_uri else uri.rsplit("/", 1)[-1]
        out = storage.join(output_uri, rel + OUT_SUFFIX)
        n_in = _count(uri, config.content_type)
        if not storage.exists(out):
            failures.append(FileFailure(uri, rel, "SageMaker wrote no .out for it (see the job's CloudWatch logs)"))
            results.append(FileResult(uri, rel, None, n_in, 0, 0.0))
            continue
        results.append(FileResult(uri, rel, out, n_in, _count(out, config.accept), 0.0))
    records_in = sum(r.records_in for r in results)
    records_out = sum(r.records_out for r in results)
    report = TransformReport(
        status="Failed" if failures else "Completed", run_key=run_key, model_name=str(model_name),
        model_version=str(model_version), input_uri=input_uri, output_uri=output_uri, capture_file=None,
        config=config.to_dict(), files_in=len(files), files_out=len(files) - len(failures),
        files_failed=len(failures), records_in=records_in, records_out=records_out,
        records_failed=records_in - records_out, failures=tuple(failures), files=tuple(results),
        started_at=_now().isoformat(timespec="seconds"), seconds=round(time.time() - started, 3), records_per_s=0.0)
    return {**report.to_dict(), "backend": "sagemaker", "job_name": job_name, "capture_source": None}


def _count(uri: str, content_type: str) -> int:
    with storage.local_copy(uri) as local:
        if content_type == PARQUET:
            return pq.ParquetFile(local).metadata.num_rows
        with open(local, "rb") as fh:
            return sum(1 for line in fh if line.strip())
