"""Champion vs challenger on the same rows: the shadow comparison of one partition, of all partitions so
far, and of the labelled rows.

* ``compare_partition(frame, ...)``: a PartitionComparison from one partition's shadow scores (columns
  ``champion_score``, ``champion_label``, ``score``, ``predicted_label`` and the facet columns):
  agreement, decision flips (overall and per facet group), both score distributions on 20 fixed bins of
  [0, 1], and Clarify's post-training DPPL / DI of both models' decisions per facet
  (``airsage.shadow.facets``). Every number is kept with the counts it comes from, so
* ``combine(comparisons, quality=...)`` recomputes the totals of several partitions from the summed
  counts and histograms: its body equals ``compare_partition`` of the concatenated frames (the float sums
  up to rounding).
* ``paired_quality(...)``: both models on the labelled rows: AUC (and a paired DeLong test of the
  difference, ``airsage.shadow.delong``), accuracy, precision, recall and F1 from
  ``airsage.monitor.model_quality`` (the one implementation of those metrics).

Score distance from the two histograms: ``psi`` is ``airsage.monitor.drift.psi`` (champion = baseline,
shares floored at 1e-4); ``ks`` is the largest gap between the two cumulative shares at the 21 bin edges,
an approximation of the Kolmogorov-Smirnov statistic to within the bin width 0.05. Results are plain
JSON: ``json.dumps(result, allow_nan=False)`` works (non-finite numbers as ``airsage.jsonsafe`` strings).
A frame with 0 rows gives counts 0 and null rates.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from airsage import jsonsafe
from airsage.errors import DataValidationError
from airsage.monitor.drift import psi as _psi
from airsage.monitor.model_quality import confusion_counts, metrics_from_counts, roc_auc
from airsage.shadow import facets as _facets
from airsage.shadow.delong import delong_test

PARTITION_KIND, SUMMARY_KIND, SCHEMA_VERSION = "airsage.shadow.partition", "airsage.shadow.summary", 1
N_BINS = 20
EDGES = [i / N_BINS for i in range(N_BINS + 1)]
SCORE_COLUMNS = ("champion_score", "champion_label", "score", "predicted_label")
QUALITY_METRICS = ("accuracy", "precision", "recall", "f1")
MIN_QUALITY_ROWS = 30


# =========================================================================== helpers
def to_json(value: Any) -> Any:
    """``value`` with every number JSON-safe (``airsage.jsonsafe.encode``), tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return jsonsafe.encode(value)


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def _labels(frame: pd.DataFrame, column: str, partition: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = int(np.count_nonzero(~np.isin(values, (0.0, 1.0))))
    if bad:
        raise DataValidationError(f"shadow scores of partition {partition}",
                                  [f"{bad} of {len(values)} values of {column} are not 0 or 1"],
                                  fix=f"Write {column} as the 0/1 decision (score > threshold) of the model.")
    return values.astype(bool)


def _scores(frame: pd.DataFrame, column: str, partition: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise DataValidationError(f"shadow scores of partition {partition}",
                                  [f"{bad} of {len(values)} values of {column} are missing or not finite"],
                                  fix=f"Write {column} as the model's probability of the positive class for every row.")
    return values


def histogram(scores: np.ndarray) -> list[int]:
    """Counts over the 20 bins ``[0, .05), ..., [.95, 1]`` (scores outside [0, 1] go to the end bins)."""
    bins = np.clip(np.floor(np.clip(scores, 0.0, 1.0) * N_BINS), 0, N_BINS - 1).astype(np.int64)
    return np.bincount(bins, minlength=N_BINS).tolist()


def score_block(champion_hist: Sequence[int], challenger_hist: Sequence[int], champion_sum: float,
                challenger_sum: float, abs_diff_sum: float, max_abs_diff: float | None) -> dict[str, Any]:
    """The ``scores`` block from the histograms and sums: means, PSI and KS (the histogram approximation:
    the largest gap of the cumulative shares at the bin edges, exact to within the bin width 0.05)."""
    hc, hs = np.asarray(champion_hist, dtype=np.int64), np.asarray(challenger_hist, dtype=np.int64)
    rows = int(hc.sum())
    if rows:
        pc, ps = hc / rows, hs / rows
        psi: float | None = _psi(pc, ps)
        ks: float | None = float(np.max(np.abs(np.cumsum(pc) - np.cumsum(ps))))
    else:
        psi = ks = None
    return {"edges": list(EDGES), "champion_hist": hc.tolist(), "challenger_hist": hs.tolist(),
            "champion_sum": float(champion_sum), "challenger_sum": float(challenger_sum),
            "abs_diff_sum": float(abs_diff_sum), "max_abs_diff": max_abs_diff,
            "mean_champion": _rate(champion_sum, rows), "mean_challenger": _rate(challenger_sum, rows),
            "mean_abs_diff": _rate(abs_diff_sum, rows), "psi": psi, "ks": ks}


def _totals(rows: int, agree: int, to_pos: int, to_neg: int, champion_pos: int, challenger_pos: int) -> dict[str, Any]:
    return {
        "rows": rows,
        "agreement": {"agree": agree, "rate": _rate(agree, rows)},
        "flips": {"to_positive": to_pos, "to_negative": to_neg, "total": to_pos + to_neg,
                  "rate": _rate(to_pos + to_neg, rows)},
        "positive_rate": {"champion": _rate(champion_pos, rows), "challenger": _rate(challenger_pos, rows)},
        "champion_positive": champion_pos, "challenger_positive": challenger_pos,
    }


# =========================================================================== one partition
def compare_partition(frame: pd.DataFrame, *, facets: Sequence[Any], partition: str, champion_version: str,
                      challenger_version: str, quality: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The PartitionComparison of one partition's shadow scores (see the module docstring).

    ``facets``: ``FacetSpec`` objects or ``{"name", "value_or_threshold"}`` dicts; a facet whose column is
    not in ``frame`` is left out. ``quality``: this partition's ``paired_quality`` (or None) to carry along.
    Raises ``DataValidationError`` for a missing score column, a label that is not 0/1 or a missing score.
    """
    missing = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(f"shadow scores of partition {partition}",
                                  [f"column {c} is missing" for c in missing],
                                  fix="Score the partition with the champion and the challenger (the shadow scores "
                                      "file has champion_score, champion_label, score and predicted_label).")
    frame = frame.reset_index(drop=True)
    champ, chall = _labels(frame, "champion_label", partition), _labels(frame, "predicted_label", partition)
    s_champ, s_chall = _scores(frame, "champion_score", partition), _scores(frame, "score", partition)
    rows = len(frame)
    totals = _totals(rows, int(np.count_nonzero(champ == chall)), int(np.count_nonzero(~champ & chall)),
                     int(np.count_nonzero(champ & ~chall)), int(champ.sum()), int(chall.sum()))
    groups: dict[str, list[dict[str, Any]]] = {}
    bias: dict[str, dict[str, Any]] = {}
    for facet in facets:
        name, values = _facets.facet_spec(facet)
        if name not in frame.columns or name in groups:
            continue
        if not rows:
            groups[name] = []
            continue
        kind, keys, labels = _facets.facet_layout(frame[name], values)
        groups[name] = _facets.group_rows(keys, labels, champ, chall)
        bias.update(_facets.bias_from_groups(name, kind, values, groups[name]))
    diff = np.abs(s_chall - s_champ)
    scores = score_block(histogram(s_champ), histogram(s_chall), float(s_champ.sum()), float(s_chall.sum()),
                         float(diff.sum()), float(diff.max()) if rows else None)
    return to_json(_document(PARTITION_KIND, totals, groups, scores, bias, quality,
                             head={"partition": str(partition), "champion_version": str(champion_version),
                                   "challenger_version": str(challenger_version)}))


def _document(kind: str, totals: dict[str, Any], groups: dict, scores: dict, bias: dict, quality: Any,
              head: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in totals.items() if k not in ("champion_positive", "challenger_positive")}
    body["positive_rate"] = {**body["positive_rate"], "champion_positive": totals["champion_positive"],
                             "challenger_positive": totals["challenger_positive"]}
    return {"kind": kind, "schema_version": SCHEMA_VERSION, **head, **body, "groups": groups, "scores": scores,
            "bias": bias, "quality": dict(quality) if quality is not None else None}


# =========================================================================== several partitions
def _num(value: Any) -> float | None:
    return jsonsafe.number(value)


def history_row(c: Mapping[str, Any]) -> dict[str, Any]:
    """One partition's line of the summary's history."""
    group_rates = [_num(g.get("flip_rate")) for gs in (c.get("groups") or {}).values() for g in gs]
    group_rates = [r for r in group_rates if r is not None]
    changes = [_num((b.get("change") or {}).get("DPPL")) for b in (c.get("bias") or {}).values()]
    changes = [abs(v) for v in changes if v is not None]
    q = c.get("quality") or {}
    return {"partition": c["partition"], "champion_version": c.get("champion_version"), "rows": int(c["rows"]),
            "agreement_rate": _num(c["agreement"]["rate"]), "flip_rate": _num(c["flips"]["rate"]),
            "to_positive": int(c["flips"]["to_positive"]), "to_negative": int(c["flips"]["to_negative"]),
            "max_group_flip_rate": max(group_rates, default=None), "psi": _num(c["scores"].get("psi")),
            "max_abs_bias_change": max(changes, default=None),
            "auc_delta": _num(q.get("auc_delta")) if q.get("status") == "ok" else None,
            "labelled_rows": int(q.get("labelled_rows") or 0)}


def combine(comparisons: Sequence[Mapping[str, Any]], *, quality: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ShadowSummary body (without usecase, model_name, status and gate) of several PartitionComparisons.

    Totals, groups, scores and bias are recomputed from the summed counts and histograms (bias through
    the same DPPL / DI code as one partition); ``history`` has one row per partition, sorted. ``quality``
    is the ``paired_quality`` of all labelled rows so far (a DeLong test does not add up over partitions).
    Raises ``DataValidationError`` for a partition listed twice or comparisons of different challengers.
    """
    comps = sorted(comparisons, key=lambda c: str(c["partition"]))
    parts = [str(c["partition"]) for c in comps]
    dupes = sorted({p for p in parts if parts.count(p) > 1})
    challengers = list(dict.fromkeys(str(c["challenger_version"]) for c in comps))
    problems = [f"partition {p} is listed more than once" for p in dupes]
    if len(challengers) > 1:
        problems.append(f"comparisons of several challenger versions: {challengers}")
    if problems:
        raise DataValidationError("shadow comparisons", problems,
                                  fix="Combine one comparison per partition, all of the same challenger version.")
    rows = sum(int(c["rows"]) for c in comps)

    def total(path: tuple[str, str]) -> int:
        return sum(int(c[path[0]][path[1]]) for c in comps)

    champ_pos = sum(_positives(c, "champion") for c in comps)
    chall_pos = sum(_positives(c, "challenger") for c in comps)
    totals = _totals(rows, total(("agreement", "agree")), total(("flips", "to_positive")),
                     total(("flips", "to_negative")), champ_pos, chall_pos)
    groups: dict[str, list[dict[str, Any]]] = {}
    for name in dict.fromkeys(n for c in comps for n in (c.get("groups") or {})):
        groups[name] = _facets.merge_groups([c["groups"][name] for c in comps if name in (c.get("groups") or {})])
    bias: dict[str, dict[str, Any]] = {}
    for name, (kind, values) in _facet_kinds(comps).items():
        if name in groups:
            bias.update(_facets.bias_from_groups(name, kind, values, groups[name]))
    hists = [c["scores"] for c in comps]
    maxes = [_num(h.get("max_abs_diff")) for h in hists]
    maxes = [m for m in maxes if m is not None]
    scores = score_block(np.sum([h["champion_hist"] for h in hists], axis=0) if hists else [0] * N_BINS,
                         np.sum([h["challenger_hist"] for h in hists], axis=0) if hists else [0] * N_BINS,
                         sum(_num(h["champion_sum"]) or 0.0 for h in hists),
                         sum(_num(h["challenger_sum"]) or 0.0 for h in hists),
                         sum(_num(h["abs_diff_sum"]) or 0.0 for h in hists), max(maxes, default=None))
    head = {"challenger_version": challengers[0] if challengers else None,
            "champion_versions": list(dict.fromkeys(str(c.get("champion_version")) for c in comps)),
            "partitions": len(comps), "first_partition": parts[0] if parts else None,
            "last_partition": parts[-1] if parts else None, "history": [history_row(c) for c in comps]}
    return to_json(_document(SUMMARY_KIND, totals, groups, scores, bias, quality, head=head))


def _positives(c: Mapping[str, Any], model: str) -> int:
    """Positive decisions of one model in one comparison (kept next to the rates)."""
    pr = c["positive_rate"]
    if f"{model}_positive" in pr:
        return int(pr[f"{model}_positive"])
    rate = _num(pr.get(model))
    return int(round((rate or 0.0) * int(c["rows"])))


def _facet_kinds(comps: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, list[Any]]]:
    """Each facet's kind and configured values, from the bias entries (the latest partition wins)."""
    out: dict[str, tuple[str, list[Any]]] = {}
    for c in comps:
        for key, entry in (c.get("bias") or {}).items():
            facet = entry.get("facet", key)
            kind = entry.get("kind", _facets.VALUES)
            out[facet] = (kind, [] if kind == _facets.ONE_VS_REST else list(entry.get("facet_values") or []))
    return out


# =========================================================================== labelled rows
def _insufficient(n: int, positives: int, reason: str) -> dict[str, Any]:
    return {"labelled_rows": n, "positives": positives, "champion": None, "challenger": None, "auc_delta": None,
            "delong": None, "status": "insufficient", "reason": reason}


def paired_quality(y_true: Any, champion_score: Any, challenger_score: Any, champion_label: Any,
                   challenger_label: Any, *, min_rows: int = MIN_QUALITY_ROWS) -> dict[str, Any]:
    """The QualityComparison of both models on the same labelled rows (``y_true``: 0/1 or bool).

    ``status`` is ``insufficient`` (metrics null, ``reason`` says why) with fewer than ``min_rows`` rows
    or fewer than 2 rows of either class; else ``ok`` with AUC, accuracy, precision, recall and F1 of
    both, ``auc_delta`` = challenger - champion and the paired DeLong test of that difference.
    """
    y = pd.to_numeric(pd.Series(np.asarray(y_true)), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    arrays = [np.asarray(a) for a in (champion_score, challenger_score, champion_label, challenger_label)]
    if any(len(a) != len(y) for a in arrays):
        raise DataValidationError("labelled shadow rows", [f"arrays of lengths {[len(y)] + [len(a) for a in arrays]}"],
                                  fix="Give one ground truth, both scores and both decisions per labelled row.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise DataValidationError("labelled shadow rows", ["ground truth holds values other than 0 and 1"],
                                  fix="Map the ground truth to 1 (a positive label) and 0 before comparing.")
    bad = [w for w, a in (("champion_score", arrays[0]), ("challenger_score", arrays[1]))
           if not np.isfinite(np.asarray(a, dtype=np.float64)).all()]
    if bad:
        raise DataValidationError("labelled shadow rows", [f"{w} holds missing or non-finite values" for w in bad],
                                  fix="Give both models' probability of the positive class for every labelled row.")
    t = y.astype(bool)
    n, positives = len(t), int(t.sum())
    if n < min_rows:
        return _insufficient(n, positives, f"{n} labelled rows, fewer than the {min_rows} needed")
    if min(positives, n - positives) < 2:
        return _insufficient(n, positives, f"{positives} positive and {n - positives} negative labelled rows: "
                                           "both classes need at least 2 rows")
    s1, s2 = (np.asarray(a, dtype=np.float64) for a in arrays[:2])
    out = {"labelled_rows": n, "positives": positives}
    for model, score, label in (("champion", s1, arrays[2]), ("challenger", s2, arrays[3])):
        counts = metrics_from_counts(*confusion_counts(t, np.asarray(label).astype(np.float64) > 0.5))
        out[model] = {"auc": roc_auc(t, score), **{k: counts[k] for k in QUALITY_METRICS}}
    test = delong_test(t, s1, s2)
    out["auc_delta"] = out["challenger"]["auc"] - out["champion"]["auc"]
    out["delong"] = {"z": test.z, "p_value": test.p_value, "ci95": list(test.ci95)}
    out.update(status="ok", reason=None)
    return to_json(out)
