"""Consolidate several annotations of one record into one label.

**Vote.** Each label's score is the sum of its annotations' confidences (rounded to 9 decimals so that
0.5 + 0.4 ties with 0.9). The highest score wins. **Tie rule**, in order: more annotations; the most
recent ``creation-date`` among the label's annotations (a later job or adjustment wins); finally the
label whose text sorts first (always decides, so the result never depends on input order). Single-worker
Ground Truth jobs report confidence 0.00: all-zero scores tie and the count decides.

**Winning confidence.** ``label_confidence`` is the highest confidence among the winning label's
annotations; that annotation (ties: latest, then first by source and line) names ``labeling_job`` and
``label_source``. ``human_annotated`` is true when any winning annotation was made by a human.

**Policies** (``labeling.low_confidence`` / ``labeling.auto_labeled``): ``drop`` removes the annotations
below ``min_confidence`` / made automatically (``human-annotated: no``) *before* the vote, so a human
answer for the same record still counts; they are returned as policy rejections. ``flag`` adds
``low_confidence`` (winning confidence below ``min_confidence``) / ``auto_labeled`` (no human among the
winning annotations) to the row's ``label_flag``; ``keep`` does nothing. Disagreeing annotations always
add ``conflict``.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from airsage.labeling import records as R
from airsage.labeling.records import Annotation, Rejection

CONFLICT, LOW_CONFIDENCE, AUTO_LABELED = "conflict", "low_confidence", "auto_labeled"
FLAG_ORDER = (CONFLICT, LOW_CONFIDENCE, AUTO_LABELED)


@dataclass(frozen=True)
class Consolidated:
    """The label of one record after the vote."""

    record_id: str
    label: Any
    confidence: float
    human_annotated: bool
    job: str
    kind: str
    flags: tuple[str, ...]
    votes: int  # annotations that took part in the vote
    created: str | None

    @property
    def label_flag(self) -> str:
        return ",".join(self.flags)


@dataclass(frozen=True)
class ConsolidationResult:
    records: list[Consolidated]  # sorted by record id
    accepted: list[Annotation]  # annotations that took part in a vote
    dropped: list[Rejection]  # policy drops
    conflicts: int  # records whose annotations disagreed


def _score(confidences: Iterable[float]) -> float:
    return round(math.fsum(confidences), 9)


def vote(annotations: Sequence[Annotation]) -> tuple[Any, Annotation, bool]:
    """(winning label, representative annotation, conflict?) for the annotations of one record."""
    if not annotations:
        raise ValueError("vote() needs at least one annotation")
    if len(annotations) == 1:
        return annotations[0].label, annotations[0], False
    by_label: dict[Any, list[Annotation]] = {}
    for a in annotations:
        by_label.setdefault(a.label, []).append(a)

    def rank(item: tuple[Any, list[Annotation]]) -> tuple:
        label, group = item
        latest = max(a.created_key for a in group)
        return -_score(a.confidence for a in group), -len(group), -latest, str(label)

    label, group = min(by_label.items(), key=rank)
    rep = min(group, key=lambda a: (-a.confidence, -a.created_key, a.source, a.line))
    return label, rep, len(by_label) > 1


def consolidate(annotations: Iterable[Annotation], *, min_confidence: float = 0.0, low_confidence: str = "keep",
                auto_labeled: str = "keep") -> ConsolidationResult:
    """Group annotations by record id, apply the drop policies, vote, and flag (see module docstring)."""
    groups: dict[str, list[Annotation]] = {}
    dropped: list[Rejection] = []
    for a in annotations:
        if auto_labeled == "drop" and not a.human_annotated:
            dropped.append(R.reject_annotation(a, R.DROPPED_AUTO_LABELED,
                                               "automated label (human-annotated: no); labeling.auto_labeled = drop"))
        elif low_confidence == "drop" and a.confidence < min_confidence:
            dropped.append(R.reject_annotation(a, R.DROPPED_LOW_CONFIDENCE,
                                               f"confidence {a.confidence} < labeling.min_confidence {min_confidence}"))
        else:
            groups.setdefault(a.record_id, []).append(a)
    records, accepted, conflicts = [], [], 0
    for rid in sorted(groups):
        group = groups[rid]
        label, rep, conflict = vote(group)
        winners = [a for a in group if a.label == label]
        human = any(a.human_annotated for a in winners)
        flags = {CONFLICT} if conflict else set()
        if low_confidence == "flag" and rep.confidence < min_confidence:
            flags.add(LOW_CONFIDENCE)
        if auto_labeled == "flag" and not human:
            flags.add(AUTO_LABELED)
        conflicts += conflict
        accepted += group
        records.append(Consolidated(record_id=rid, label=label, confidence=rep.confidence, human_annotated=human,
                                    job=rep.job, kind=rep.kind, flags=tuple(f for f in FLAG_ORDER if f in flags),
                                    votes=len(group), created=rep.created))
    return ConsolidationResult(records=records, accepted=accepted, dropped=dropped, conflicts=conflicts)
