"""``import_labels``: label sources in, one validated, content-addressed dataset version out.

Steps: read every source (``readers``) -> join to feature records by record id -> consolidate several
annotations per record (``consolidate``) -> write rejected items to the quarantine file -> fail when the
bad share exceeds ``labeling.max_bad_share`` -> build the typed dataset -> if that version is not
published yet: validate it (great-expectations) and publish it (``dataset``) -> point ``latest.json``
at it.

**Reconciliation.** Every input item (manifest line, A2I human answer, label-file row) ends as exactly
one accepted annotation (it took part in a vote) or one quarantined item, so
``lines_read == accepted + quarantined`` — checked on every run. Dataset rows <= accepted, since
several annotations of one record make one row.

**Quarantine file**: ``<root>/labeling/quarantine/q-<12 hex of its content>.jsonl``, one JSON object per
rejected item (``source``, ``line``, ``reason``, ``detail``, ``record_id``, ``raw``), sorted by source
and line. Content-addressed like the dataset, so a re-import writes nothing new.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import airsage
from airsage import storage
from airsage.errors import AirsageError, DataValidationError, StorageError
from airsage.labeling import records as R
from airsage.labeling.consolidate import ConsolidationResult, consolidate
from airsage.labeling.dataset import (FORMAT, build_dataset, canonical_sha256, dataset_uri, publish_dataset,
                                      read_manifest, update_latest, version_for)
from airsage.labeling.features import features_location, load_features
from airsage.labeling.readers import (detect_format, expand_sources, read_a2i_output, read_ground_truth_manifest,
                                      read_label_table)
from airsage.labeling.records import Annotation, ReaderOptions, Rejection, label_domain

if TYPE_CHECKING:
    import pandas as pd

    from airsage.config import UseCase

log = logging.getLogger("airsage.labeling")
_READERS = {R.GROUND_TRUTH: read_ground_truth_manifest, R.A2I: read_a2i_output, R.TABLE: read_label_table}


@dataclass(frozen=True)
class ImportReport:
    """What one label import did. ``created`` is False when the version existed already (nothing written)."""

    version: str
    uri: str
    created: bool
    lines_read: int
    accepted: int
    quarantined: int
    by_reason: dict[str, int]
    sources: list[dict[str, Any]]
    quarantine_uri: str | None
    manifest: dict[str, Any] = field(repr=False)
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


@dataclass(frozen=True)
class _Read:
    annotations: list[Annotation]
    rejections: list[Rejection]
    sources: list[dict[str, Any]]


# ============================================================================= steps
def read_sources(files: list[str], options: ReaderOptions, *, links: list[str] = ()) -> _Read:
    """Read every file once (downloaded once when on S3), with per-file counts and sha256.

    Each file is isolated: one that cannot be read at all (a reader's ``DataValidationError`` /
    ``StorageError``, e.g. a label table without an id column) becomes one ``unreadable_file`` rejection
    (line 0) and the other files still count. ``links`` (symbolic links out of a label folder) become
    ``link_outside_source`` rejections without being opened: nothing of their target is read or kept."""
    annotations: list[Annotation] = []
    rejections: list[Rejection] = []
    stats = []
    for uri in links:
        rejections.append(Rejection(uri, 0, R.LINK_OUTSIDE_SOURCE, "a symbolic link to a file outside the label "
                                                                    "folder: not followed, not read"))
        stats.append({"uri": uri, "format": None, "sha256": None, "lines": 1, "parsed": 0, "rejected_on_read": 1})
    for uri in files:
        with storage.local_copy(uri) as local:
            h = hashlib.sha256()
            with open(local, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            kind = detect_format(local, uri)
            got: list[Annotation | Rejection] = []
            try:
                got = list(_READERS[kind](str(local), options, source_name=uri))
            except (DataValidationError, StorageError) as exc:  # this file only; the others still import
                got = [Rejection(uri, 0, R.UNREADABLE_FILE, "; ".join(getattr(exc, "failures", [])) or exc.message)]
            n_ok = sum(isinstance(i, Annotation) for i in got)
            annotations += [i for i in got if isinstance(i, Annotation)]
            rejections += [i for i in got if not isinstance(i, Annotation)]
        if not got:
            log.warning("label source %s holds no label lines (empty)", uri)
        stats.append({"uri": uri, "format": kind, "sha256": h.hexdigest(), "lines": len(got),
                      "parsed": n_ok, "rejected_on_read": len(got) - n_ok})
    return _Read(annotations, rejections, stats)


def join_features(annotations: list[Annotation], features: "pd.DataFrame", record_id: str
                  ) -> tuple[list[Annotation], list[Rejection]]:
    """Annotations whose record id has a feature record, and rejections for the others."""
    have = set(features[record_id].astype(str)) if len(features) else set()
    kept, missing = [], []
    for a in annotations:
        if a.record_id in have:
            kept.append(a)
        else:
            missing.append(R.reject_annotation(a, R.NO_FEATURE_RECORD, f"record id {a.record_id!r} has no feature record"))
    return kept, missing


def quarantine_lines(rejections: list[Rejection]) -> bytes:
    rows = sorted(rejections, key=lambda r: (r.source, r.line, r.reason))
    return "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def write_quarantine(rejections: list[Rejection], root: str) -> str | None:
    """Write the quarantine file (content-addressed, create-if-absent); its URI, or None when empty."""
    if not rejections:
        return None
    data = quarantine_lines(rejections)
    uri = storage.join(root, "labeling", "quarantine", f"q-{hashlib.sha256(data).hexdigest()[:12]}.jsonl")
    storage.write_if_absent(uri, data)
    return uri


def _check_locations(root: str, inputs: list[str]) -> None:
    """What an import writes (``datasets/``, ``labeling/``) may not overlap a label source or the feature
    records (a quarantine file inside a label folder would be read back as labels next time)."""
    from airsage.errors import ConfigError

    for where in (storage.join(root, "datasets"), storage.join(root, "labeling")):
        for inp in inputs:
            how = storage.overlap(where, inp) if inp else None
            if how:
                raise ConfigError(f"the import would write {where}, which {how} the input {inp}", key="output_root",
                                  fix="Keep label sources and feature records outside the dataset root's datasets/ "
                                      "and labeling/ folders (pass --output elsewhere, or move the sources).")


def worst_reasons(by_reason: dict[str, int]) -> list[str]:
    return [f"{reason}: {n} line(s)" for reason, n in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))]


def _reconcile(lines_read: int, accepted: int, quarantined: int) -> None:
    if lines_read != accepted + quarantined:  # an invariant, not user input: never silently wrong
        raise AirsageError(f"label import counts do not reconcile: {lines_read} lines read != {accepted} accepted "
                           f"+ {quarantined} quarantined", fix="This is a bug in airsage.labeling; please report it.")


# ============================================================================= manifest / lineage
def _manifest(uc: "UseCase", df: "pd.DataFrame", sha: str, read: _Read, cons: ConsolidationResult, *,
              quarantine_uri: str | None, by_reason: dict[str, int], bad_share: float, features: "pd.DataFrame",
              features_uri: str, validation: dict[str, Any]) -> dict[str, Any]:
    s, lab = uc.schema_, uc.labeling
    created = sorted(a.created for a in cons.accepted if a.created)
    flags = Counter(f for r in cons.records for f in r.flags)
    return {
        "format": FORMAT, "usecase": uc.name, "version": version_for(sha), "hash": sha, "rows": len(df),
        "columns": [{"name": c, "dtype": str(df[c].dtype)} for c in df.columns],
        "record_id": s.record_id, "event_time": s.event_time,
        "label": {"column": s.label, "values": label_domain(uc), "positive_labels": list(s.positive_labels)},
        "classes": {str(k): int(v) for k, v in df[s.label].value_counts().sort_index().items()},
        "sources": read.sources,
        "labeling_jobs": sorted({a.job for a in cons.accepted if a.job}),
        "creation_date_range": [created[0], created[-1]] if created else None,
        "annotations": {"lines_read": len(cons.accepted) + sum(by_reason.values()),
                        "accepted": len(cons.accepted), "quarantined": sum(by_reason.values()),
                        "records": len(cons.records),
                        "multi_annotated_records": sum(r.votes > 1 for r in cons.records),
                        "conflicts": cons.conflicts, "human_annotated_rows": int(df["human_annotated"].sum()),
                        "flags": dict(sorted(flags.items()))},
        "policy": {"min_confidence": lab.min_confidence, "low_confidence": lab.low_confidence,
                   "auto_labeled": lab.auto_labeled, "max_bad_share": lab.max_bad_share},
        "features": {"uri": features_uri, **features.attrs.get("airsage", {})},
        "quarantine": {"uri": quarantine_uri, "count": sum(by_reason.values()), "by_reason": by_reason,
                       "bad_share": round(bad_share, 6)},
        "validation": validation,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "airsage_version": airsage.__version__,
    }


def lineage(report: ImportReport) -> dict[str, dict[str, Any]]:
    """What the MLflow layer logs for an import: ``params`` and ``tags`` (strings) and ``metrics``."""
    m = report.manifest
    srcs = ",".join(s["uri"] for s in report.sources)
    jobs = ",".join(m.get("labeling_jobs", []))
    return {
        "params": {"dataset_version": report.version, "dataset_uri": report.uri, "dataset_rows": str(report.rows),
                   "dataset_hash": m.get("hash", ""), "label_sources": srcs[:5000], "labeling_jobs": jobs[:5000]},
        "tags": {"airsage.dataset.version": report.version, "airsage.dataset.uri": report.uri,
                 "airsage.dataset.hash": m.get("hash", ""), "airsage.dataset.created": str(report.created).lower(),
                 "airsage.labeling.quarantine_uri": report.quarantine_uri or "",
                 "airsage.labeling.source_sha256": ",".join((s["sha256"] or "-")[:12] for s in report.sources)[:5000]},
        "metrics": {"label_lines_read": report.lines_read, "label_lines_accepted": report.accepted,
                    "label_lines_quarantined": report.quarantined, "dataset_rows": report.rows,
                    "label_conflicts": m.get("annotations", {}).get("conflicts", 0)},
    }


# ============================================================================= the import
def import_labels(uc: "UseCase", sources: list[str] | str, *, features_uri: str | None = None,
                  output_root: str | None = None) -> ImportReport:
    """Import label files (Ground Truth output manifests, A2I output.json, CSV/Parquet, or prefixes holding
    them) into a dataset version below ``output_root`` (default ``uc.data_root()``).

    Feature records come from ``features_uri`` (default ``labeling.features_uri``, else
    ``<data_root>/raw/features``). Raises ``DataValidationError`` when the bad share is above
    ``labeling.max_bad_share`` (after writing the quarantine file) or when validation fails (nothing is
    published). ``datasets/latest.json`` then points at this import's version, even when that version
    existed already (``created=False``; nothing else is written)."""
    if isinstance(sources, str):
        sources = [sources]
    lab, s = uc.labeling, uc.schema_
    options = ReaderOptions.from_usecase(uc)
    root = output_root or uc.data_root()
    links: list[str] = []
    files = expand_sources(sources, escaped=links)
    feat_uri = features_location(uc, features_uri)
    _check_locations(root, [*sources, feat_uri])
    read = read_sources(files, options, links=links)
    lines_read = len(read.annotations) + len(read.rejections)
    if lines_read == 0:
        raise DataValidationError(f"labels for {uc.name}", [f"the label sources hold no label lines: "
                                                            f"{', '.join(files[:5])} {'is' if len(files) == 1 else 'are'} empty"],
                                  fix="Point --manifest at the job's output manifest / output.json / label file with "
                                      "content (a header-only or 0-byte file has no labels).")

    ids = {a.record_id for a in read.annotations}
    features = load_features(uc, ids=ids, uri=feat_uri) if ids else _no_features(uc)
    joined, orphans = join_features(read.annotations, features, s.record_id)
    cons = consolidate(joined, min_confidence=lab.min_confidence, low_confidence=lab.low_confidence,
                       auto_labeled=lab.auto_labeled)
    rejections = [*read.rejections, *orphans, *cons.dropped]
    _reconcile(lines_read, len(cons.accepted), len(rejections))

    by_reason = dict(sorted(Counter(r.reason for r in rejections).items()))
    quarantine_uri = write_quarantine(rejections, root)
    bad = sum(n for reason, n in by_reason.items() if reason not in R.POLICY_REASONS)
    bad_share = bad / lines_read if lines_read else 1.0
    where = f" (see {quarantine_uri})" if quarantine_uri else ""
    if bad_share > lab.max_bad_share:
        raise DataValidationError(
            f"labels for {uc.name}", [f"{bad} of {lines_read} lines ({bad_share:.1%}) quarantined, above "
                                      f"labeling.max_bad_share {lab.max_bad_share:.1%}", *worst_reasons(by_reason)],
            fix=f"Read the quarantine file{where}: fix the sources or the use case's labeling section, then re-run.")
    if not cons.records:
        raise DataValidationError(f"labels for {uc.name}", ["no labelled record remains", *worst_reasons(by_reason)],
                                  fix=f"Check the sources and labeling policies{where}.")

    df = build_dataset(uc, features, cons.records)
    sha = canonical_sha256(df)
    version = version_for(sha)
    uri = dataset_uri(uc, version, output_root)
    if storage.is_complete(uri):
        manifest, created = read_manifest(uri), False
        log.info("dataset %s exists already at %s: nothing written", version, uri)
    else:
        manifest, created = _validate_and_publish(uc, df, sha, read, cons, root=root, uri=uri, by_reason=by_reason,
                                                  bad_share=bad_share, quarantine_uri=quarantine_uri,
                                                  features=features, features_uri=feat_uri)
    update_latest(uc, {"version": version, "uri": uri, "hash": sha, "rows": len(df),
                       "created_at": manifest.get("created_at")}, output_root)
    return ImportReport(version=version, uri=uri, created=created, lines_read=lines_read, accepted=len(cons.accepted),
                        quarantined=len(rejections), by_reason=by_reason, sources=read.sources,
                        quarantine_uri=quarantine_uri, manifest=manifest, rows=len(df))


def _validate_and_publish(uc: "UseCase", df: "pd.DataFrame", sha: str, read: _Read, cons: ConsolidationResult, *,
                          root: str, uri: str, by_reason: dict[str, int], bad_share: float,
                          quarantine_uri: str | None, features: "pd.DataFrame", features_uri: str
                          ) -> tuple[dict[str, Any], bool]:
    from airsage.labeling.validation import load_suite, render_html, validate_dataset

    version = version_for(sha)
    result = validate_dataset(df, load_suite(uc))
    facts = {"dataset": version, "rows": len(df), "use case": uc.name, "sha256": sha[:16] + "…"}
    page = render_html(result, title=f"Validation of {uc.name} dataset {version}", facts=facts)
    if not result.success:
        report = storage.join(root, "labeling", "validation", f"{version}.html")
        storage.write_if_absent(report, page.encode("utf-8"))
        raise DataValidationError(f"labelled dataset {version}", result.failures(),
                                  fix=f"Nothing was published. See {report}; fix the labels or the use case's "
                                      "labeling section and re-run.")
    manifest = _manifest(uc, df, sha, read, cons, quarantine_uri=quarantine_uri, by_reason=by_reason,
                         bad_share=bad_share, features=features, features_uri=features_uri,
                         validation=result.summary())
    created = publish_dataset(df, manifest, page, uri, record_id=uc.schema_.record_id)
    if not created:  # published concurrently by another run: theirs is the record
        manifest = read_manifest(uri)
    return manifest, created


def _no_features(uc: "UseCase") -> "pd.DataFrame":
    import pandas as pd

    from airsage.labeling.features import feature_columns

    df = pd.DataFrame({c: pd.Series(dtype="str") for c in feature_columns(uc)})
    df.attrs["airsage"] = {"files": 0, "rows_scanned": 0, "duplicate_ids": 0}
    return df
