"""Active learning export and its round trip through a (simulated) Ground Truth job and the import."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airsage.labeling import import_labels, load_dataset
from airsage.labeling.active_learning import export_uncertain
from airsage.labeling.features import load_features
from airsage.labeling.simulate import complete_input_manifest
from airsage.model import ModelBundle


class FirstFeatureIsTheScore:
    """An estimator whose P(positive) is the first encoded feature: hand-computable margins."""

    def predict_proba(self, x):
        return np.column_stack([1 - x[:, 0], x[:, 0]])


def bundle(threshold=0.5):
    return ModelBundle(algorithm="stub", feature_names=["x1", "x2", "color"],
                       categorical={"color": ["blue", "green", "red"]}, threshold=threshold,
                       estimator=FirstFeatureIsTheScore())


def test_least_certain_first_ties_by_id(tmp_path):
    # binary-exact scores, so the margins |p - 0.5| are exact: h 0, b/c 0.125, d/e 0.25, f/g 0.5
    df = pd.DataFrame({"application_id": [f"r-{c}" for c in "abcdefgh"],
                       "x1": [0.5, 0.375, 0.625, 0.25, 0.75, 1.0, 0.0, 0.5], "x2": 1.0, "color": "red"})
    out = tmp_path / "input.manifest"
    res = export_uncertain(bundle(), df.iloc[::-1], 4, str(out), labeled_ids={"r-a"}, record_id="application_id")
    assert res.record_ids == ["r-h", "r-b", "r-c", "r-d"] and res.candidates == 7 and res.max_margin == 0.25
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["application_id"] for x in lines] == res.record_ids
    assert json.loads(lines[1]["source"]) == {"x1": 0.375, "x2": 1.0, "color": "red"}
    assert [x["airsage-score"] for x in lines] == [0.5, 0.375, 0.625, 0.25]


def test_nothing_left_to_label(tmp_path):
    df = pd.DataFrame({"application_id": ["a"], "x1": [0.5], "x2": [1.0], "color": ["red"]})
    res = export_uncertain(bundle(), df, 3, str(tmp_path / "m"), labeled_ids=["a"], record_id="application_id")
    assert (res.uri, res.rows) == (None, 0) and not (tmp_path / "m").exists()


def test_round_trip_joins_back_by_key(tmp_path, make_tiny):
    uc = make_tiny(tmp_path / "root")
    features = load_features(uc)
    exported = export_uncertain(bundle(), features, 4, str(tmp_path / "al" / "input.manifest"),
                                labeled_ids=["app-40"], uc=uc)
    # x1 = i/100 for app-i, so the closest to 0.5 after app-40 are app-39 … app-36
    assert exported.record_ids == ["app-39", "app-38", "app-37", "app-36"]
    truth = {"app-39": 1, "app-38": 0, "app-37": 1, "app-36": 0}
    output = tmp_path / "job" / "manifests" / "output" / "output.manifest"
    complete_input_manifest(exported.uri, str(output), labels=truth, label_attribute="default-label",
                            job_name="al-round-1", record_id="application_id",
                            class_map={"0": "no_default", "1": "default"})
    first = json.loads(output.read_text().splitlines()[0])
    assert {"source", "application_id", "airsage-score", "default-label", "default-label-metadata"} == set(first)
    report = import_labels(uc, [str(output)])
    assert (report.lines_read, report.accepted, report.quarantined) == (4, 4, 0)
    df = load_dataset(report.version, uc)
    assert dict(zip(df["application_id"], df["default"])) == truth
    assert set(df["labeling_job"]) == {"al-round-1"}


def test_record_id_is_required(tmp_path):
    from airsage.errors import ConfigError

    with pytest.raises(ConfigError, match="record id"):
        export_uncertain(bundle(), pd.DataFrame({"x1": [0.1]}), 1, str(tmp_path / "m"), labeled_ids=[])
