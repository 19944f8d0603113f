"""Consolidation (confidence-weighted vote, tie rule, policies), source-ref checks, canonical hash."""
from __future__ import annotations

import hashlib
import json
import struct

import pytest

from airsage.labeling import records as R
from airsage.labeling.consolidate import consolidate, vote
from airsage.labeling.records import Annotation, source_ref_problem


def ann(label, conf, created="2026-11-20T08:00:00.000000", *, rid="r1", human=True, line=1, job="j"):
    return Annotation(record_id=rid, label=label, confidence=conf, human_annotated=human, job=job, kind="ground_truth",
                      source="s", line=line, created=created)


# ------------------------------------------------------------------ vote
def test_weighted_majority_beats_single_confident_vote():
    # scores: label 1 = 0.6; label 0 = 0.5 + 0.4 = 0.9 -> 0 wins; its best confidence is 0.5
    label, rep, conflict = vote([ann(1, 0.6, line=1), ann(0, 0.5, line=2), ann(0, 0.4, line=3)])
    assert (label, rep.confidence, rep.line, conflict) == (0, 0.5, 2, True)


def test_weighted_vote_is_not_a_head_count():
    # two weak votes (0.2 + 0.3 = 0.5) lose to one strong vote (0.9)
    label, rep, _ = vote([ann(0, 0.2), ann(0, 0.3), ann(1, 0.9)])
    assert (label, rep.confidence) == (1, 0.9)


def test_equal_scores_count_decides_and_float_noise_is_ignored():
    # 0.1 + 0.2 = 0.30000000000000004 in floats; rounded it ties with 0.15 + 0.15 = 0.3. Equal counts too,
    # so the most recent annotation decides: label 1 (09:00) over label 0 (08:00).
    a = [ann(0, 0.1, "2026-11-20T08:00:00"), ann(0, 0.2, "2026-11-20T08:00:00"),
         ann(1, 0.15, "2026-11-20T09:00:00"), ann(1, 0.15, "2026-11-20T07:00:00")]
    assert vote(a)[0] == 1


def test_single_worker_zero_confidence_falls_back_to_count():
    assert vote([ann(1, 0.0), ann(0, 0.0), ann(0, 0.0)])[0] == 0


def test_tie_on_score_and_count_latest_wins():
    a = [ann(0, 0.5, "2026-11-20T09:00:00"), ann(1, 0.5, "2026-11-20T10:00:00")]
    assert vote(a)[0] == 1 and vote(a[::-1])[0] == 1


def test_full_tie_first_label_text_wins_regardless_of_order():
    a = [ann(1, 0.5), ann(0, 0.5)]
    assert vote(a)[0] == 0 and vote(a[::-1])[0] == 0
    assert vote([ann("yes", 0.7), ann("no", 0.7)])[0] == "no"


def test_vote_needs_annotations():
    with pytest.raises(ValueError):
        vote([])


# ------------------------------------------------------------------ consolidate + policies
def test_consolidate_groups_sorts_and_flags():
    res = consolidate([ann(1, 0.8, rid="b"), ann(0, 0.6, rid="b", line=2), ann(0, 0.2, rid="a", line=3),
                       ann(1, 0.9, rid="c", human=False, line=4)],
                      min_confidence=0.3, low_confidence="flag", auto_labeled="flag")
    assert [(r.record_id, r.label, r.confidence, r.label_flag, r.votes) for r in res.records] == [
        ("a", 0, 0.2, "low_confidence", 1), ("b", 1, 0.8, "conflict", 2), ("c", 1, 0.9, "auto_labeled", 1)]
    assert res.conflicts == 1 and len(res.accepted) == 4 and res.dropped == []
    assert [r.human_annotated for r in res.records] == [True, True, False]


def test_drop_auto_labels_before_the_vote():
    res = consolidate([ann(1, 0.95, human=False, line=1), ann(0, 0.6, line=2)], auto_labeled="drop")
    assert [(r.label, r.flags, r.votes) for r in res.records] == [(0, (), 1)]
    assert [(d.line, d.reason) for d in res.dropped] == [(1, R.DROPPED_AUTO_LABELED)]
    assert R.DROPPED_AUTO_LABELED in R.POLICY_REASONS


def test_drop_low_confidence_can_remove_a_record():
    res = consolidate([ann(1, 0.1, rid="x"), ann(0, 0.9, rid="y")], min_confidence=0.3, low_confidence="drop")
    assert [r.record_id for r in res.records] == ["y"]
    assert [(d.record_id, d.reason) for d in res.dropped] == [("x", R.DROPPED_LOW_CONFIDENCE)]


def test_keep_policy_neither_flags_nor_drops():
    res = consolidate([ann(1, 0.1, human=False)], min_confidence=0.3, low_confidence="keep", auto_labeled="keep")
    assert res.records[0].flags == () and res.dropped == []


# ------------------------------------------------------------------ source-ref checks
ALLOWED = ("s3://airsage-labels/credit/", "s3://other/exact-prefix")


@pytest.mark.parametrize("ref", [
    "s3://airsage-labels/credit/app-1.json",
    "s3://airsage-labels/credit/sub/dir/app-1.json",
    "s3://other/exact-prefix/x.jpg",
])
def test_source_ref_allowed(ref):
    assert source_ref_problem(ref, ALLOWED) is None


@pytest.mark.parametrize("ref", [
    "s3://airsage-labels/credit/../secrets/x.json",  # traversal
    "s3://airsage-labels/credit/./x.json",
    "s3://airsage-labels/credit/a/../../x.json",
    "s3://airsage-labels/credit/%2e%2e/x.json",  # encoded traversal
    "s3://airsage-labels/credit/..%2Fx.json",
    "s3://airsage-labels/credit//x.json",  # empty segment
    "s3://airsage-labels/credit\\..\\x.json",  # backslashes
    "s3://airsage-labels/credit/x\n.json",  # control character
    "s3://airsage-labels/credit-evil/x.json",  # prefix is not a path segment boundary
    "s3://other/exact-prefix-2/x.jpg",
    "s3://airsage-labels.evil/credit/x.json",  # another bucket
    "s3://evil/airsage-labels/credit/x.json",
    "S3://airsage-labels/credit/x.json",  # scheme must match exactly
    "https://airsage-labels/credit/x.json",
    "/airsage-labels/credit/x.json",  # not a URI
    "",
    None,
    42,
])
def test_source_ref_refused(ref):
    assert source_ref_problem(ref, ALLOWED)


def test_source_ref_without_allowed_prefixes_still_refuses_traversal():
    assert source_ref_problem("s3://any/x.jpg", ()) is None
    assert source_ref_problem("s3://any/../x.jpg", ())


# ------------------------------------------------------------------ canonical hash
def test_canonical_hash_matches_the_documented_serialisation():
    import pandas as pd

    from airsage.labeling.dataset import FORMAT, canonical_sha256

    df = pd.DataFrame({"id": pd.Series(["b", "a"], dtype="str"), "x": [float("nan"), -0.0], "n": [2, 1],
                       "s": pd.Series(["é", None], dtype="str"),
                       "ok": [True, False],
                       "t": pd.to_datetime(["2026-11-01T00:00:01", "2026-11-01T00:00:00"], utc=True).as_unit("us")})
    # independent rendering of the format described in airsage.labeling.dataset, rows sorted by id (a, b)
    h = hashlib.sha256()
    kinds = [["id", "string"], ["x", "float64"], ["n", "int64"], ["s", "string"], ["ok", "bool"], ["t", "timestamp_us"]]
    h.update(FORMAT.encode() + b"\n" + json.dumps(kinds).encode() + b"\n" + struct.pack("<Q", 2))
    h.update(struct.pack("<2I", 1, 1) + b"ab")
    h.update(struct.pack("<2d", 0.0, float("nan")))
    h.update(struct.pack("<2q", 1, 2))
    h.update(struct.pack("<2I", 0xFFFFFFFF, 2) + "é".encode())  # row a: missing, row b: 2 UTF-8 bytes
    h.update(bytes([0, 1]))
    t0 = 1793491200 * 1_000_000  # 2026-11-01T00:00:00Z in microseconds
    h.update(struct.pack("<2q", t0, t0 + 1_000_000))
    assert canonical_sha256(df, sort_by="id") == h.hexdigest()


def test_canonical_hash_is_order_independent_and_content_sensitive():
    import pandas as pd

    from airsage.labeling.dataset import canonical_sha256

    df = pd.DataFrame({"id": ["a", "b", "c"], "y": [0, 1, 0], "c": [0.5, 0.25, 1.0]})
    base = canonical_sha256(df, sort_by="id")
    assert canonical_sha256(df.iloc[::-1], sort_by="id") == base
    assert canonical_sha256(df.assign(y=[0, 1, 1]), sort_by="id") != base
    assert canonical_sha256(df.assign(c=[0.5, 0.25, 1.0000000000000002]), sort_by="id") != base
    assert canonical_sha256(df.rename(columns={"c": "conf"}), sort_by="id") != base
