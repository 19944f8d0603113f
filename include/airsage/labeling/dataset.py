"""Versioned, content-addressed training datasets.

Layout below the root (``uc.data_root()`` or an explicit ``output_root``)::

    datasets/ds-<12 hex>/data.parquet      the rows, sorted by record id (immutable)
    datasets/ds-<12 hex>/manifest.json     rows, classes, sources, jobs, hash, validation, quarantine
    datasets/ds-<12 hex>/validation.html   the great-expectations validation result, self-contained
    datasets/ds-<12 hex>/_SUCCESS          written last (airsage.storage.atomic_dir)
    datasets/latest.json                   pointer to the most recently imported version

**Version = content.** ``canonical_sha256`` hashes a canonical serialisation of the rows sorted by
record id: a header (format name, JSON list of [column, kind], uint64 row count), then each column
in order as little-endian values: float64 (one NaN bit pattern, -0.0 as 0.0), int64, bool as one byte,
timestamps as int64 microseconds UTC; a string column is its uint32 UTF-8 byte lengths (missing =
0xFFFFFFFF) followed by the concatenated UTF-8 bytes. It does not depend on pandas/pyarrow versions
or Parquet encoding. ``ds-`` + its first 12 hex digits names the
version, so importing the same labels again yields the same version and writes nothing.

Dataset columns: record id, event time, the features (numeric as float64, categorical as str), the
pass-through columns (str), the label (int64 when all label values are integers, else str), then
``label_confidence`` (float64), ``label_source`` (ground_truth | a2i | table), ``human_annotated``
(bool), ``labeling_job`` (str) and ``label_flag`` (comma-separated: conflict, low_confidence,
auto_labeled; empty when clean).
"""
from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airsage import identifiers, storage
from airsage.errors import ConfigError, DataValidationError, StorageError
from airsage.labeling.records import label_domain

if TYPE_CHECKING:
    import pandas as pd

    from airsage.config import UseCase
    from airsage.labeling.consolidate import Consolidated

FORMAT = "airsage-dataset/1"
DATA_FILE, MANIFEST_FILE, VALIDATION_FILE, LATEST_FILE = "data.parquet", "manifest.json", "validation.html", "latest.json"
LABEL_META_COLUMNS = ["label_confidence", "label_source", "human_annotated", "labeling_job", "label_flag"]
VERSION_RE = re.compile(r"^ds-[0-9a-f]{12}$")
OUTPUT_KIND = "dataset"  # the kind in a dataset directory's ownership marker (storage.check_output)


# ============================================================================= columns
def dataset_columns(uc: "UseCase") -> list[str]:
    s = uc.schema_
    return list(dict.fromkeys([s.record_id, s.event_time, *s.feature_names, *s.passthrough, s.label,
                               *LABEL_META_COLUMNS]))


def label_is_integer(uc: "UseCase") -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in label_domain(uc))


def column_types(uc: "UseCase") -> dict[str, str]:
    """Column -> the type great-expectations reports for it under pandas 3 (``str`` columns and
    tz-aware timestamps are checked element-wise, hence ``str`` and ``Timestamp``)."""
    s = uc.schema_
    types = {s.record_id: "str", s.event_time: "Timestamp"}
    types |= {f: "float64" for f in s.numeric_features}
    types |= {f: "str" for f in s.categorical_features}
    types |= {p: "str" for p in s.passthrough if p not in types}
    types[s.label] = "int64" if label_is_integer(uc) else "str"
    types |= {"label_confidence": "float64", "label_source": "str", "human_annotated": "bool",
              "labeling_job": "str", "label_flag": "str"}
    return {c: types[c] for c in dataset_columns(uc)}


def _as_str(series: "pd.Series") -> "pd.Series":
    import pandas as pd

    return series.astype(object).where(series.notna(), None).map(lambda v: v if v is None else str(v)).astype(
        pd.StringDtype(na_value=float("nan")))


def build_dataset(uc: "UseCase", features: "pd.DataFrame", records: Sequence["Consolidated"]) -> "pd.DataFrame":
    """Join consolidated labels to their feature records (every record must have one) and normalise the
    column types (module docstring). Rows are sorted by record id."""
    import numpy as np
    import pandas as pd

    s = uc.schema_
    labels = pd.DataFrame({
        s.record_id: pd.Series([r.record_id for r in records], dtype="str"),
        s.label: [r.label for r in records],
        "label_confidence": np.array([r.confidence for r in records], dtype=np.float64),
        "label_source": pd.Series([r.kind for r in records], dtype="str"),
        "human_annotated": np.array([r.human_annotated for r in records], dtype=bool),
        "labeling_job": pd.Series([r.job for r in records], dtype="str"),
        "label_flag": pd.Series([r.label_flag for r in records], dtype="str"),
    })
    feats = features.drop(columns=[c for c in (s.label, *LABEL_META_COLUMNS) if c in features.columns])
    feats = feats.assign(**{s.record_id: _as_str(feats[s.record_id])})
    df = labels.merge(feats, on=s.record_id, how="inner", validate="one_to_one")
    if len(df) != len(labels):
        raise DataValidationError("labelled records", [f"{len(labels) - len(df)} label(s) have no feature record"])
    df[s.event_time] = pd.to_datetime(df[s.event_time], utc=True).dt.as_unit("us")
    for f in s.numeric_features:
        df[f] = pd.to_numeric(df[f], errors="coerce").astype("float64")
    for c in [*s.categorical_features, *s.passthrough]:
        df[c] = _as_str(df[c])
    df[s.label] = df[s.label].astype("int64") if label_is_integer(uc) else _as_str(df[s.label])
    return df[dataset_columns(uc)].sort_values(s.record_id, kind="stable").reset_index(drop=True)


# ============================================================================= canonical hash
def _kind(series: "pd.Series") -> str:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "float64"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp_us"
    return "string"


def _column_bytes(series: "pd.Series", kind: str) -> bytes:
    import numpy as np
    import pandas as pd

    if kind == "float64":
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0  # -0.0 -> 0.0
        arr[np.isnan(arr)] = np.nan
        return arr.astype("<f8").tobytes()
    if kind == "int64":
        return series.to_numpy(dtype=np.int64).astype("<i8").tobytes()
    if kind == "bool":
        return series.to_numpy(dtype=bool).astype(np.uint8).tobytes()
    if kind == "timestamp_us":
        ts = pd.to_datetime(series, utc=True).dt.as_unit("us")
        arr = ts.to_numpy(dtype="datetime64[us]").astype(np.int64)
        return arr.astype("<i8").tobytes()
    import pyarrow as pa

    missing = series.isna().to_numpy()
    try:
        arr = pa.array(series, from_pandas=True)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            raise pa.ArrowTypeError("not strings")
        arr = arr.cast(pa.large_string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed objects: their text form
        arr = pa.array([None if m else str(v) for v, m in zip(series.tolist(), missing)], type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.offset:
        arr = pa.concat_arrays([arr])  # a zero-offset copy: buffers start at row 0
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[: len(arr) + 1]
    lengths = np.diff(offsets).astype(np.uint32)
    lengths[missing] = 0xFFFFFFFF
    data = arr.buffers()[2]
    return lengths.astype("<u4").tobytes() + (data.to_pybytes()[int(offsets[0]): int(offsets[-1])] if data else b"")


def canonical_sha256(df: "pd.DataFrame", sort_by: str | None = None) -> str:
    """sha256 of the canonical serialisation of ``df``'s rows (sorted by ``sort_by`` when given)."""
    if sort_by is not None:
        df = df.sort_values(sort_by, kind="stable").reset_index(drop=True)
    kinds = [(str(c), _kind(df[c])) for c in df.columns]
    h = hashlib.sha256()
    h.update(FORMAT.encode() + b"\n" + json.dumps(kinds).encode() + b"\n" + struct.pack("<Q", len(df)))
    for (name, kind), col in zip(kinds, df.columns):
        h.update(_column_bytes(df[col], kind))
    return h.hexdigest()


def version_for(sha256: str) -> str:
    return f"ds-{sha256[:12]}"


# ============================================================================= locations
def datasets_root(uc: "UseCase", output_root: str | None = None) -> str:
    return storage.join(output_root or uc.data_root(), "datasets")


def dataset_uri(uc: "UseCase", version: str, output_root: str | None = None) -> str:
    """``<datasets root>/<version>``; ``version`` must be ``ds-<12 hex>`` (never a path such as ``../x``)."""
    return storage.join(datasets_root(uc, output_root),
                        identifiers.check(version, identifiers.DATASET_VERSION, field="dataset_version"))


# ============================================================================= publishing
def write_parquet(df: "pd.DataFrame", path: Any, *, record_id: str) -> None:
    """Snappy Parquet; dictionary encoding only for string columns other than the record id (performance
    notes: dictionary-encoding floats is slow and no smaller)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    dict_cols = [f.name for f in table.schema if f.name != record_id
                 and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
    pq.write_table(table, str(path), compression="snappy", use_dictionary=dict_cols or False,
                   row_group_size=250_000)


def publish_dataset(df: "pd.DataFrame", manifest: dict[str, Any], validation_html: str, uri: str, *,
                    record_id: str) -> bool:
    """Write the dataset directory as a unit (``atomic_dir``). False (nothing written) when a complete
    directory is already there: versions are immutable."""
    if storage.is_complete(uri):
        return False
    with storage.atomic_dir(uri, kind=OUTPUT_KIND) as stage:
        write_parquet(df, stage / DATA_FILE, record_id=record_id)
        (stage / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        (stage / VALIDATION_FILE).write_text(validation_html, encoding="utf-8")
    return True


def update_latest(uc: "UseCase", pointer: dict[str, Any], output_root: str | None = None) -> bool:
    """Point ``datasets/latest.json`` at ``pointer["version"]`` (atomic). False when it already does."""
    uri = storage.join(datasets_root(uc, output_root), LATEST_FILE)
    if storage.exists(uri):
        try:
            if storage.read_json(uri).get("version") == pointer["version"]:
                return False
        except (ValueError, StorageError):
            pass
    storage.write_json(uri, pointer)
    return True


def latest_dataset(uc: "UseCase", *, output_root: str | None = None) -> dict[str, Any] | None:
    """The ``latest.json`` pointer (version, uri, hash, rows, created_at), or None before the first import."""
    uri = storage.join(datasets_root(uc, output_root), LATEST_FILE)
    if not storage.exists(uri):
        return None
    return storage.read_json(uri)


def read_manifest(uri: str) -> dict[str, Any]:
    return storage.read_json(storage.join(uri, MANIFEST_FILE))


def resolve_dataset(uri_or_version: str, uc: "UseCase", *, output_root: str | None = None) -> str:
    """The dataset directory for ``latest``, a version ``ds-…`` or an absolute directory / ``data.parquet`` URI.

    Anything else is refused before it becomes a path: a bare name that is not ``latest`` / ``ds-<12 hex>``
    (``../x``, ``ds-x/../..``), a relative path, or a URI with ``..`` segments."""
    ref = str(uri_or_version).strip()
    if not ref:
        raise ConfigError("no dataset given", key="dataset", fix="Pass 'latest', a version ds-… or a dataset URI.")
    is_uri = storage.is_s3(ref) or ref.startswith(("/", "file://"))
    if not is_uri:
        identifiers.dataset_ref(ref, field="dataset_version")  # latest | ds-<12 hex>
    elif any(seg in ("..", ".") for seg in ref.replace("\\", "/").split("/")) or "\0" in ref:
        raise ConfigError(f"dataset URI {ref!r} has '.' or '..' segments", key="dataset_version",
                          fix="Give the dataset's version (ds-…), 'latest', or its absolute URI in plain form.")
    if ref == "latest":
        pointer = latest_dataset(uc, output_root=output_root)
        if not pointer:
            raise DataValidationError(datasets_root(uc, output_root), ["no dataset has been published yet"],
                                      fix="Run the label import first (airsage.labeling.import_labels).")
        version = identifiers.check(pointer.get("version"), identifiers.DATASET_VERSION, field="latest.json version")
        return dataset_uri(uc, version, output_root)
    if VERSION_RE.match(ref):
        return dataset_uri(uc, ref, output_root)
    if ref.endswith(".parquet"):
        return ref.rsplit("/", 1)[0]
    return ref


def load_dataset(uri_or_version: str, uc: "UseCase", *, output_root: str | None = None,
                 verify: bool = False) -> "pd.DataFrame":
    """The rows of a published dataset. ``verify`` recomputes the content hash against the manifest."""
    import pyarrow.parquet as pq

    uri = resolve_dataset(uri_or_version, uc, output_root=output_root)
    if not storage.is_complete(uri):
        raise StorageError(f"dataset {uri} is missing or incomplete (no _SUCCESS marker)",
                           fix="Check the version (latest_dataset(uc)) or re-run the label import.")
    with storage.local_copy(storage.join(uri, DATA_FILE)) as path:
        df = pq.read_table(path).to_pandas()
    if verify:
        expected = read_manifest(uri).get("hash")
        actual = canonical_sha256(df)
        if actual != expected:
            raise DataValidationError(uri, [f"content hash {actual[:12]} differs from the manifest's "
                                            f"{str(expected)[:12]}: the data was modified"],
                                      fix="Datasets are immutable: re-import the labels to publish a new version.")
    return df
