"""Feature records that labels join to.

They live at ``<data_root>/raw/features/`` as Parquet, partitioned ``dt=YYYY-MM-DD/`` (or at
``labeling.features_uri`` / a URI passed in). Only the columns a dataset needs are read, row group by
row group, keeping the wanted record ids only, so memory follows the labelled records rather than the
whole feature history. A label column in the feature files is ignored: labels come from labelling.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from airsage import storage
from airsage.errors import DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from airsage.config import UseCase


def features_location(uc: "UseCase", uri: str | None = None) -> str:
    """``uri``, else ``labeling.features_uri``, else ``<data_root>/raw/features``."""
    from airsage import layout

    return uri or uc.labeling.features_uri or layout.raw_features(uc)


def feature_columns(uc: "UseCase") -> list[str]:
    """Columns read from the feature records: record id, event time, features, pass-through columns."""
    s = uc.schema_
    return list(dict.fromkeys([s.record_id, s.event_time, *s.feature_names, *s.passthrough]))


def load_features(uc: "UseCase", *, ids: set[str] | None = None, uri: str | None = None) -> "pd.DataFrame":
    """Feature records (record id as string), restricted to ``ids`` when given.

    A record id found in several files keeps its row with the latest event time (ties: the last file
    in sorted order). ``df.attrs["airsage"]`` holds ``files``, ``rows_scanned`` and ``duplicate_ids``.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    location = features_location(uc, uri)
    files = storage.list_files(location, suffixes=(".parquet",))
    if not files:
        raise DataValidationError(location, ["no Parquet feature files found"],
                                  fix="Write the feature records first (raw/features/dt=YYYY-MM-DD/*.parquet) or "
                                      "pass features_uri.")
    cols, rid = feature_columns(uc), uc.schema_.record_id
    wanted = pa.array(sorted(ids), type=pa.string()) if ids is not None else None
    tables, scanned = [], 0
    for f in files:
        with storage.local_copy(f) as path:
            pf = pq.ParquetFile(path)
            missing = [c for c in cols if c not in pf.schema_arrow.names]
            if missing:
                raise DataValidationError(f, [f"feature file lacks column(s) {missing}"],
                                          fix="Write feature records with every column of the use case's schema.")
            for rg in range(pf.num_row_groups):
                t = pf.read_row_group(rg, columns=cols)
                scanned += t.num_rows
                t = t.set_column(t.schema.get_field_index(rid), rid, pc.cast(t.column(rid), pa.string()))
                if wanted is not None:
                    t = t.filter(pc.is_in(t.column(rid), value_set=wanted))
                if t.num_rows:
                    tables.append(t)
    if tables:
        df = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    else:
        df = pd.DataFrame({c: pd.Series(dtype="str" if c == rid else "float64") for c in cols})
    before = len(df)
    ts = pd.to_datetime(df[uc.schema_.event_time], utc=True)
    df = (df.assign(_ts=ts, _order=range(len(df))).sort_values(["_ts", "_order"], kind="stable")
            .drop_duplicates(rid, keep="last").drop(columns=["_ts", "_order"]).reset_index(drop=True))
    df.attrs["airsage"] = {"files": len(files), "rows_scanned": scanned, "duplicate_ids": before - len(df)}
    return df
