"""Every job kind a DAG can run, declared once: kind -> (its arguments' type, its spec builder).

``RunJobOperator`` (and anything else that runs a job from XCom) calls ``spec_for``: the arguments are
parsed into their frozen type (a missing key is a ``ConfigError`` naming it) and handed to the builder.
``train`` becomes a ``tune`` job when the use case turns tuning on (``JobSpec.kind`` says which).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from airsage.compute.base import JobSpec
from airsage.config import UseCase
from airsage.contracts import ClarifyArgs, MonitorArgs, TrainArgs, TransformArgs
from airsage.errors import ConfigError


def _train(uc: UseCase, args: TrainArgs, run_key: str) -> JobSpec:
    from airsage.lifecycle.training import train_spec

    return train_spec(uc, args.dataset, run_key)


def _transform(uc: UseCase, args: TransformArgs, run_key: str) -> JobSpec:
    from airsage.lifecycle.transform import transform_spec

    return transform_spec(uc, args.model, args.partition, run_key, input_uri=args.input_uri,
                          output_uri=args.output_uri, overrides=args.overrides, shadow=args.shadow)


def _clarify(uc: UseCase, args: ClarifyArgs, run_key: str) -> JobSpec:
    from airsage.lifecycle.clarify import clarify_spec

    return clarify_spec(uc, run_key=run_key, config_uri=args.config_uri, data_uri=args.data_uri,
                        output_uri=args.output_uri, model_uri=args.model_uri, stage=args.stage)


def _monitor(uc: UseCase, args: MonitorArgs, run_key: str) -> JobSpec:
    from airsage.lifecycle.monitoring import monitor_spec

    return monitor_spec(uc, run_key=run_key, **args.to_dict())


@dataclass(frozen=True)
class JobKind:
    args: type
    build: Callable[[UseCase, Any, str], JobSpec]


JOBS: dict[str, JobKind] = {
    "train": JobKind(TrainArgs, _train),
    "transform": JobKind(TransformArgs, _transform),
    "clarify": JobKind(ClarifyArgs, _clarify),
    "monitor": JobKind(MonitorArgs, _monitor),
}


def spec_for(uc: UseCase, job: str, args: Mapping[str, Any] | Any, run_key: str) -> JobSpec:
    """The ``JobSpec`` of a ``job`` (``train``, ``transform``, ``clarify``, ``monitor``) from its arguments
    (the typed object, or its dict as XCom carries it)."""
    kind = JOBS.get(job)
    if kind is None:
        raise ConfigError(f"unknown job {job!r}", key="job", fix=f"Use one of {sorted(JOBS)}.")
    typed = args if isinstance(args, kind.args) else kind.args.from_dict(args or {})
    return kind.build(uc, typed, run_key)
