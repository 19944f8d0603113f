"""The one writer and the one reader of each asset event's extra."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))

from airsage.config import get_usecase  # noqa: E402
from airsage_airflow.assets import (  # noqa: E402
    PredictionsEvent,
    dataset_extra,
    predictions_asset,
    predictions_events,
    predictions_extra,
)


class Events(dict):  # Airflow's TriggeringAssetEventsAccessor: asset -> its events
    def __getitem__(self, asset):
        return dict.__getitem__(self, asset.name)


def test_every_partition_once_the_latest_event_wins():
    asset = predictions_asset(get_usecase("credit_risk"))
    events = Events({asset.name: [
        SimpleNamespace(extra=predictions_extra(partition="2026-11-21", output_uri="/p/a", model_version=3)),
        SimpleNamespace(extra={"partition": "2026-11-20", "output_uri": "/p/b", "model_version": 2}),
        SimpleNamespace(extra=predictions_extra(partition="2026-11-21", output_uri="/p/c", model_version="4")),
        SimpleNamespace(extra={}), SimpleNamespace(extra=None)]})
    assert predictions_events(events, asset) == [PredictionsEvent("2026-11-20", "/p/b", "2"),
                                                 PredictionsEvent("2026-11-21", "/p/c", "4")]
    assert predictions_events(Events(), asset) == [] and predictions_events(None, asset) == []


def test_writers_produce_the_keys_readers_and_tests_use():
    assert predictions_extra(partition="2026-11-21", output_uri="", model_version=None) == {
        "partition": "2026-11-21", "output_uri": None, "model_version": None}
    assert dataset_extra(version="ds-0123456789ab", uri="/d", created=1) == {
        "version": "ds-0123456789ab", "uri": "/d", "created": True}
