"""Airflow Assets that connect the workflows of a use case (light)."""
from __future__ import annotations

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
