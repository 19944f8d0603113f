"""Active learning: send the records the model is least sure about to labelling.

``export_uncertain`` writes a Ground Truth *input* manifest (JSON Lines): per record a ``source`` (a
compact JSON rendering of the model's inputs, what a worker reads) and the record id as a pass-through
key. Ground Truth copies pass-through keys into its output manifest, so importing that job's output
joins the new labels back to the feature records by key.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airsage import storage
from airsage.errors import ConfigError, DataValidationError

if TYPE_CHECKING:
    import pandas as pd

    from airsage.config import UseCase

MAX_ATTRIBUTE_CHARS = 20_000  # Ground Truth input manifest limit per attribute
SCORE_KEY = "airsage-score"


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)) or hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def render_source(record: Mapping[str, Any], columns: Sequence[str]) -> str:
    """The ``source`` text of a record: compact JSON of ``columns`` in order (missing values as null)."""
    return json.dumps({c: _plain(record.get(c)) for c in columns}, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


@dataclass(frozen=True)
class UncertainExport:
    """What ``export_uncertain`` wrote. ``uri`` is None when no unlabelled record was left."""

    uri: str | None
    rows: int
    candidates: int  # unlabelled records scored
    threshold: float
    max_margin: float | None  # the largest |p - threshold| exported
    record_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank_uncertain(scores: "Sequence[float]", ids: Sequence[str], threshold: float) -> list[int]:
    """Positions ordered by ``|p - threshold|`` ascending, ties by record id (deterministic)."""
    return sorted(range(len(ids)), key=lambda i: (abs(float(scores[i]) - threshold), str(ids[i])))


def export_uncertain(model_bundle: Any, features_df: "pd.DataFrame", n: int, output_uri: str, *,
                     labeled_ids: Iterable[Any], record_id: str | None = None, uc: "UseCase | None" = None,
                     columns: Sequence[str] | None = None) -> UncertainExport:
    """Write a Ground Truth input manifest with the ``n`` unlabelled records closest to the decision
    threshold. ``model_bundle`` needs ``predict_proba(df)`` and ``threshold`` (``airsage.model.ModelBundle``);
    the record id column is ``record_id`` or ``uc.schema_.record_id``; ``source`` renders ``columns``
    (default: the model's features)."""
    rid = record_id or (uc.schema_.record_id if uc is not None else None)
    if not rid:
        raise ConfigError("export_uncertain needs the record id column", key="record_id",
                          fix="Pass record_id=... or uc=<use case>.")
    if rid not in features_df.columns:
        raise DataValidationError("active learning candidates", [f"no record id column {rid!r}"],
                                  fix="Pass the feature records with their record id column.")
    if n <= 0:
        raise ConfigError(f"n must be positive, got {n}", key="labeling.active_learning_batch",
                          fix="Ask for at least one record.")
    columns = list(columns or getattr(model_bundle, "feature_names", None) or
                   [c for c in features_df.columns if c != rid])
    labeled = {str(x) for x in labeled_ids}
    ids_all = features_df[rid].astype(str)
    cand = features_df.loc[~ids_all.isin(labeled)].assign(**{rid: ids_all[~ids_all.isin(labeled)]})
    cand = cand.drop_duplicates(rid, keep="first").reset_index(drop=True)
    threshold = float(getattr(model_bundle, "threshold", 0.5))
    if cand.empty:
        return UncertainExport(uri=None, rows=0, candidates=0, threshold=threshold, max_margin=None)
    scores = [float(p) for p in model_bundle.predict_proba(cand)]
    ids = cand[rid].tolist()
    order = rank_uncertain(scores, ids, threshold)[:n]
    lines = []
    for i in order:
        record = cand.iloc[i].to_dict()
        source = render_source(record, columns)
        if len(source) > MAX_ATTRIBUTE_CHARS:
            why = f"record {ids[i]}: source has {len(source)} characters, Ground Truth allows {MAX_ATTRIBUTE_CHARS}"
            raise DataValidationError("active learning manifest", [why], fix="Render fewer columns (columns=...).")
        lines.append(json.dumps({"source": source, rid: ids[i], SCORE_KEY: round(scores[i], 6)}, ensure_ascii=False))
    with storage.atomic_open(output_uri, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    return UncertainExport(uri=output_uri, rows=len(order), candidates=len(ids), threshold=threshold,
                           max_margin=round(abs(scores[order[-1]] - threshold), 12),
                           record_ids=[ids[i] for i in order])
