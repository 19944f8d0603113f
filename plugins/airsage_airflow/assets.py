"""Airflow Assets that connect the workflows of a use case (light), with the one writer and the one
reader of each asset event's ``extra``.

* ``<uc>.training_dataset`` — written by the label import (``dataset_extra``): version, URI, created;
* ``<uc>.champion_model`` — updated when the champion alias moves (no extra);
* ``<uc>.predictions`` — written once per scored partition (``predictions_extra``): partition, output
  URI, model version; read by the monitor and human-review DAGs (``predictions_events``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow.sdk import Asset

from airsage.config import UseCase


def dataset_asset(uc: UseCase) -> Asset:
    """Updated when the label import publishes a new training-set version."""
    return Asset(name=f"{uc.name}.training_dataset", group="airsage")


def model_asset(uc: UseCase) -> Asset:
    """Updated when the champion alias moves (approval, promotion, rollback)."""
    return Asset(name=f"{uc.name}.champion_model", group="airsage")


def predictions_asset(uc: UseCase) -> Asset:
    """Updated once per scored partition; the event's extra names the partition and output URI."""
    return Asset(name=f"{uc.name}.predictions", group="airsage")


# ---------------------------------------------------------------------- the training-dataset event
def dataset_extra(*, version: str, uri: str, created: bool) -> dict[str, Any]:
    """The extra of a training-dataset event (the label import's outlet)."""
    return {"version": str(version), "uri": str(uri), "created": bool(created)}


# ---------------------------------------------------------------------- the predictions event
@dataclass(frozen=True)
class PredictionsEvent:
    """One scored partition, as a predictions event's extra names it."""

    partition: str
    output_uri: str | None = None
    model_version: str | None = None
    partial: bool = False  # some input files failed and the use case allows partial partitions
    files_failed: int = 0

    def to_extra(self) -> dict[str, Any]:
        extra = {"partition": self.partition, "output_uri": self.output_uri, "model_version": self.model_version}
        if self.partial:
            extra.update(partial=True, files_failed=self.files_failed)
        return extra

    @classmethod
    def from_extra(cls, extra: Any) -> "PredictionsEvent | None":
        """None for an event without a partition (e.g. one a person created by hand in the UI)."""
        extra = dict(extra or {})
        if not extra.get("partition"):
            return None
        version = extra.get("model_version")
        return cls(partition=str(extra["partition"]), output_uri=extra.get("output_uri") or None,
                   model_version=str(version) if version not in (None, "") else None,
                   partial=bool(extra.get("partial")), files_failed=int(extra.get("files_failed") or 0))


def predictions_extra(*, partition: str, output_uri: str | None, model_version: str | int | None,
                      partial: bool = False, files_failed: int = 0) -> dict[str, Any]:
    """The extra of a predictions event (the batch transform's outlet)."""
    return PredictionsEvent(str(partition), output_uri or None,
                            None if model_version in (None, "") else str(model_version),
                            partial=bool(partial), files_failed=int(files_failed or 0)).to_extra()


def predictions_events(triggering_asset_events: Any, asset: Asset) -> list[PredictionsEvent]:
    """Every scored partition in a run's triggering events of ``asset``, once each (the latest event of a
    partition wins), sorted by partition. No events (a manual run) -> ``[]``."""
    try:
        events = list(triggering_asset_events[asset]) if triggering_asset_events else []
    except KeyError:
        events = []
    out: dict[str, PredictionsEvent] = {}
    for event in events:
        parsed = PredictionsEvent.from_extra(getattr(event, "extra", None))
        if parsed is not None:
            out[parsed.partition] = parsed
    return [out[p] for p in sorted(out)]
