"""Which scored records go to a human, and in what order (the use case's ``review`` section).

A record is a *candidate* for one or more reasons:

* ``high_risk``: ``score >= high_risk_threshold`` (the model predicts the high-risk class with confidence);
* ``rule``: a feature rule matches (``loan_amount > 60000``); a missing value never matches;
* ``low_confidence``: ``low <= score <= high`` for ``probability_band = [low, high]``.

**Cap and priority.** At most ``max_per_night`` records are routed per call (one call per nightly
partition). Candidates are ranked by their most important reason in ``spec.priority`` (default
``high_risk`` > ``rule`` > ``low_confidence``), then within that tier: high risk by score, highest
first; rules by the number of rules matched, then score, highest first; low confidence by distance
to the band's centre, most uncertain first; ties by ``inference_id``. Candidates beyond the cap keep
the model's decision and are only counted (``over_cap``). Every routed record carries all its
reasons, not just the one that ranked it.

**Quotas.** ``spec.quotas = {low_confidence: 0.3}`` reserves ``floor(0.3 * max_per_night)`` places for
records that have that reason (among their reasons, whatever their tier), taken by that reason's own
order (low confidence: most uncertain first). Reasons with a quota are served in ``priority`` order,
a record fills one place only; places a reason cannot fill (too few candidates) and the rest of the cap
go to the remaining candidates in priority order. The routed set is then listed in priority order, and
``routed_by`` tells whether a record took a reserved place (``quota:<reason>``) or a ``priority`` one.
Without a quota a strict priority lets high-risk records fill the whole cap night after night; a
low-confidence quota keeps the records nearest the decision threshold in every night's review, and
their reviewed labels reach the next training set through the label import (the A2I outputs are a
label source).
"""
from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from airsage import storage
from airsage.errors import ConfigError, DataValidationError

REASONS = ("high_risk", "rule", "low_confidence")


@dataclass(frozen=True)
class RoutingReport:
    enabled: bool
    records: int  # scored records looked at
    candidates: int  # records with at least one reason
    routed: int
    over_cap: int
    cap: int
    by_reason: dict[str, int] = field(default_factory=dict)  # candidates per reason (a record may count twice)
    by_quota: dict[str, int] = field(default_factory=dict)  # routed records that took a reserved place, per reason

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rule_text(rule) -> str:
    return rule.reason or f"{rule.feature} {rule.op} {rule.value}"


def _rule_mask(col: pd.Series, rule) -> np.ndarray:
    """Rows where the rule holds; a missing (or, for a numeric rule, non-numeric) value never matches."""
    if rule.op == "in":
        return col.isin(list(rule.value)).to_numpy(dtype=bool) & col.notna().to_numpy()
    values = col
    if isinstance(rule.value, (int, float)) and not isinstance(rule.value, bool):
        values = pd.to_numeric(col, errors="coerce")
    try:
        hit = _OPS[rule.op](values, rule.value)
    except TypeError as exc:
        raise ConfigError(f"review rule {rule.feature} {rule.op} {rule.value!r} cannot compare with the data: {exc}",
                          key="review.rules", fix="Give the rule a value of the feature's type.") from None
    return np.asarray(hit, dtype=bool) & values.notna().to_numpy()


_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}


def candidates(scored: pd.DataFrame, spec, *, id_col: str = "inference_id", score_col: str = "score") -> pd.DataFrame:
    """The candidate rows, with reason flags (``_high``, ``_rule<i>``, ``_low``) and sort keys."""
    missing = [c for c in [id_col, score_col, *(r.feature for r in spec.rules)] if c not in scored.columns]
    if missing:
        raise DataValidationError("scored records for review", [f"missing column(s) {missing}"],
                                  fix="Route from the capture file or a joined .out (they hold the features and score).")
    score = pd.to_numeric(scored[score_col], errors="coerce").to_numpy(dtype=np.float64)
    n = len(scored)
    lo, hi = spec.probability_band
    high = score >= spec.high_risk_threshold if spec.high_risk_threshold is not None else np.zeros(n, bool)
    low_conf = (score >= lo) & (score <= hi)
    rule_hits = [_rule_mask(scored[r.feature], r) for r in spec.rules]
    n_rules = np.sum(rule_hits, axis=0).astype(np.int64) if rule_hits else np.zeros(n, np.int64)
    keep = np.flatnonzero(high | (n_rules > 0) | low_conf)
    out = scored.iloc[keep].copy()
    s = score[keep]
    flags = {"high_risk": high[keep], "rule": n_rules[keep] > 0, "low_confidence": low_conf[keep]}
    # tier = the most important reason in spec.priority; keys rank within the tier (see module docstring)
    k1 = np.full(len(keep), len(REASONS), np.int64)
    for i, reason in reversed(list(enumerate(spec.priority))):
        k1 = np.where(flags[reason], i, k1)
    tier = np.asarray(spec.priority, dtype=object)[k1] if len(keep) else np.empty(0, object)
    k2 = np.where(tier == "high_risk", -s, np.where(tier == "rule", -n_rules[keep].astype(float), np.abs(s - (lo + hi) / 2)))
    k3 = np.where(tier == "rule", -s, 0.0)
    out["tier"] = tier
    out["_high"], out["_low"] = flags["high_risk"], flags["low_confidence"]
    out["_anyrule"] = flags["rule"]
    for i, hit in enumerate(rule_hits):
        out[f"_rule{i}"] = hit[keep]
    out["_k1"], out["_k2"], out["_k3"] = k1, k2, k3
    # each reason's own order, used to fill its quota (see module docstring)
    out["_q_high_risk"], out["_q_high_risk2"] = -s, 0.0
    out["_q_rule"], out["_q_rule2"] = -n_rules[keep].astype(float), -s
    out["_q_low_confidence"], out["_q_low_confidence2"] = np.abs(s - (lo + hi) / 2), 0.0
    return out


_FLAG = {"high_risk": "_high", "rule": "_anyrule", "low_confidence": "_low"}


def reserved_places(spec) -> dict[str, int]:
    """Places of the cap reserved per reason: ``floor(share * max_per_night)``, in priority order."""
    return {r: int(math.floor(spec.quotas[r] * spec.max_per_night + 1e-9)) for r in spec.priority
            if spec.quotas.get(r)}


def _reasons(row: pd.Series, spec, score_col: str) -> tuple[list[str], list[str]]:
    texts, codes = [], []
    score = float(row[score_col])
    if row["_high"]:
        texts.append(f"high risk: score {score:.3f} >= {spec.high_risk_threshold}")
        codes.append("high_risk")
    for i, rule in enumerate(spec.rules):
        if row[f"_rule{i}"]:
            texts.append(f"rule: {_rule_text(rule)} ({rule.feature}={_show(row[rule.feature])})")
            if "rule" not in codes:
                codes.append("rule")
    if row["_low"]:
        lo, hi = spec.probability_band
        texts.append(f"low confidence: score {score:.3f} within [{lo}, {hi}]")
        codes.append("low_confidence")
    return texts, codes


def _show(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)


def _rank(cands: pd.DataFrame, cap: int, id_col: str) -> pd.DataFrame:
    return cands.sort_values(["_k1", "_k2", "_k3", id_col], kind="mergesort").head(cap)


def _by_reason(cands: pd.DataFrame, reason: str, id_col: str) -> pd.DataFrame:
    """Candidates having ``reason``, in that reason's own order."""
    has = cands[cands[_FLAG[reason]].to_numpy(bool)]
    return has.sort_values([f"_q_{reason}", f"_q_{reason}2", id_col], kind="mergesort")


def _select(cands: pd.DataFrame, spec, id_col: str) -> pd.DataFrame:
    """The routed records: reserved places per reason first, then priority; listed in priority order."""
    cap = spec.max_per_night
    cands = cands.reset_index(drop=True)
    picked: dict[int, str] = {}  # row position -> how it was routed
    for reason, places in reserved_places(spec).items():
        for pos in _by_reason(cands, reason, id_col).index:
            if places <= 0 or len(picked) >= cap:
                break
            if pos not in picked:
                picked[pos] = f"quota:{reason}"
                places -= 1
    ranked = cands.sort_values(["_k1", "_k2", "_k3", id_col], kind="mergesort")
    for pos in ranked.index:
        if len(picked) >= cap:
            break
        picked.setdefault(pos, "priority")
    out = ranked.loc[[pos for pos in ranked.index if pos in picked]].copy()
    out["routed_by"] = [picked[pos] for pos in out.index]
    return out


def _keep(cands: pd.DataFrame, spec, id_col: str) -> pd.DataFrame:
    """Enough candidates to make the final selection later (streaming): the top ``cap`` by priority and,
    per reason with a quota, the top ``sum(reserved)`` by that reason's order."""
    keep = _rank(cands, spec.max_per_night, id_col)
    reserved = reserved_places(spec)
    depth = sum(reserved.values())
    if not depth:
        return keep
    parts = [keep] + [_by_reason(cands, r, id_col).head(depth) for r in reserved]
    return pd.concat(parts).drop_duplicates(subset=[id_col], keep="first")


def _count_reasons(cands: pd.DataFrame, spec) -> dict[str, int]:
    counts = {"high_risk": int(cands["_high"].sum()) if len(cands) else 0,
              "rule": int(np.any([cands[f"_rule{i}"].to_numpy(bool) for i in range(len(spec.rules))], axis=0).sum())
              if spec.rules and len(cands) else 0,
              "low_confidence": int(cands["_low"].sum()) if len(cands) else 0}
    return {k: v for k, v in counts.items() if v}


def route_records(scored: pd.DataFrame, spec, *, id_col: str = "inference_id",
                  score_col: str = "score") -> tuple[pd.DataFrame, RoutingReport]:
    """Route one partition's scored records: the capped, ranked records (with ``reasons``, ``tier``,
    ``rank``) and a report. Pure; ``spec`` is the use case's ``ReviewSpec``."""
    if not spec.enabled:
        empty = candidates(scored.iloc[:0], spec, id_col=id_col, score_col=score_col)
        return _finish(empty, spec, score_col), RoutingReport(False, len(scored), 0, 0, 0, spec.max_per_night, {})
    cands = candidates(scored, spec, id_col=id_col, score_col=score_col)
    routed = _select(cands, spec, id_col)
    return _finish(routed, spec, score_col), RoutingReport(True, len(scored), len(cands), len(routed),
                                                           len(cands) - len(routed), spec.max_per_night,
                                                           _count_reasons(cands, spec), _count_quota(routed))


def _count_quota(routed: pd.DataFrame) -> dict[str, int]:
    if "routed_by" not in routed or routed.empty:
        return {}
    counts = routed["routed_by"].value_counts()
    return {k.split(":", 1)[1]: int(v) for k, v in sorted(counts.items()) if k.startswith("quota:")}


def route_parquet(uris: str | Iterable[str], spec, *, id_col: str = "inference_id", score_col: str = "score",
                  columns: list[str] | None = None) -> tuple[pd.DataFrame, RoutingReport]:
    """``route_records`` over Parquet files (a capture file, joined ``.out`` files, or a prefix),
    one row group at a time, keeping only the best ``max_per_night`` candidates: memory follows the
    cap, not the partition. ``columns``: what to keep for the payload (default: every column)."""
    import pyarrow.parquet as pq

    files = _parquet_files(uris)
    best: pd.DataFrame | None = None
    records, total, by_reason = 0, 0, {r: 0 for r in REASONS}
    for uri in files:
        with storage.local_copy(uri) as local:
            pf = pq.ParquetFile(local)
            names = pf.schema_arrow.names
            cols = None if columns is None else [c for c in dict.fromkeys(
                [id_col, score_col, *(r.feature for r in spec.rules), *columns]) if c in names]
            for rg in range(pf.metadata.num_row_groups):
                frame = pf.read_row_group(rg, columns=cols).to_pandas()
                records += len(frame)
                if not spec.enabled:
                    continue
                cands = candidates(frame, spec, id_col=id_col, score_col=score_col)
                total += len(cands)
                for k, v in _count_reasons(cands, spec).items():
                    by_reason[k] += v
                merged = cands if best is None else pd.concat([best, cands], ignore_index=True)
                best = _keep(merged, spec, id_col)
    routed = best if best is not None else candidates(
        pd.DataFrame({id_col: pd.Series(dtype=object), score_col: pd.Series(dtype=float),
                      **{r.feature: pd.Series(dtype=object) for r in spec.rules}}), spec, id_col=id_col, score_col=score_col)
    routed = _select(routed, spec, id_col) if spec.enabled else routed
    report = RoutingReport(bool(spec.enabled), records, total, len(routed), total - len(routed), spec.max_per_night,
                           {k: v for k, v in by_reason.items() if v} if spec.enabled else {}, _count_quota(routed))
    return _finish(routed, spec, score_col), report


def _parquet_files(uris: str | Iterable[str]) -> list[str]:
    if isinstance(uris, str):
        if uris.endswith((".parquet", ".out")) and not storage.is_s3(uris) and not _is_dir(uris):
            return [uris]
        files = storage.list_files(uris, suffixes=(".parquet", ".out"))
        return [f for f in files if "/_review/" not in f.replace("\\", "/")]
    return list(uris)


def _is_dir(uri: str) -> bool:
    from pathlib import Path

    return Path(storage.normalize(uri)).is_dir()


def _finish(routed: pd.DataFrame, spec, score_col: str) -> pd.DataFrame:
    """Ranked routed records with ``rank``, ``tier``, ``reasons`` (text), ``reason_codes`` and ``routed_by``."""
    pairs = [_reasons(row, spec, score_col) for _, row in routed.iterrows()]
    routed = routed.drop(columns=[c for c in routed.columns if c.startswith("_")]).reset_index(drop=True)
    routed["reasons"] = [p[0] for p in pairs]
    routed["reason_codes"] = [p[1] for p in pairs]
    if "routed_by" not in routed:
        routed["routed_by"] = pd.Series(["priority"] * len(routed), dtype=object)
    routed.insert(0, "rank", np.arange(1, len(routed) + 1))
    return routed
