"""``UseCase``: one YAML file in ``include/usecases/``, and its loading (safely, validated, cached per directory)."""
from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from airsage.config.base import Frozen, _config_error
from airsage.config.build_specs import DataSpec, GatesSpec, GeneratorSpec, LabelingSpec, SchemaSpec, TrainingSpec
from airsage.config.operate_specs import (ClarifySpec, ComputeSpec, GovernanceSpec, ModelCardSpec, MonitorSpec,
                                          ReviewSpec, SageMakerSpec, ShadowSpec, TransformSpec)
from airsage.config.safe_yaml import MAX_YAML_BYTES, _node_line, load_yaml_text
from airsage.config.settings import Settings, load_settings
from airsage.errors import ConfigError


class UseCase(Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    owner: str
    description: str = ""
    start_date: dt.date = dt.date(2026, 11, 1)
    tags: list[str] = Field(default_factory=list)
    model_name: str | None = None  # registered model name; default = use case name
    schema_: SchemaSpec = Field(alias="schema")
    data: DataSpec = DataSpec()
    generator: GeneratorSpec = GeneratorSpec()
    labeling: LabelingSpec = LabelingSpec()
    training: TrainingSpec = TrainingSpec()
    gates: GatesSpec = GatesSpec()
    transform: TransformSpec = TransformSpec()
    shadow: ShadowSpec = ShadowSpec()
    review: ReviewSpec = ReviewSpec()
    governance: GovernanceSpec = GovernanceSpec()
    clarify: ClarifySpec = ClarifySpec()
    monitor: MonitorSpec = MonitorSpec()
    compute: ComputeSpec = ComputeSpec()
    sagemaker: SageMakerSpec = SageMakerSpec()
    model_card: ModelCardSpec = ModelCardSpec()
    source: str | None = Field(default=None, exclude=True)  # the YAML file it came from

    @field_validator("start_date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> "UseCase":
        s = self.schema_
        features = set(s.feature_names)
        for facet in s.facets:
            if facet.name in (s.label, s.record_id):
                raise ValueError(f"facet {facet.name!r} cannot be the label or the record id")
        if s.group_variable and s.group_variable in (s.label, s.record_id):
            raise ValueError("schema.group_variable cannot be the label or the record id")
        for rule in self.review.rules:
            if rule.feature not in features:
                raise ValueError(f"review rule names unknown feature {rule.feature!r}; features are {sorted(features)}")
        lo, hi = self.review.probability_band
        if not 0 <= lo <= hi <= 1:
            raise ValueError("review.probability_band must be [low, high] with 0 <= low <= high <= 1")
        uses_sm = any(getattr(self.compute, j).backend == "sagemaker" for j in ComputeSpec.model_fields)
        if uses_sm and not (self.sagemaker.role_arn and self.sagemaker.s3_prefix):
            raise ValueError("a job uses backend: sagemaker, so sagemaker.role_arn and sagemaker.s3_prefix are required")
        return self

    @property
    def registered_model_name(self) -> str:
        return self.model_name or self.name

    def data_root(self, settings: Settings | None = None) -> str:
        from airsage.storage import is_s3, join, normalize

        if self.data.root:
            return self.data.root if is_s3(self.data.root) else normalize(self.data.root)
        settings = settings or load_settings()
        return join(settings.resolved_data_root, self.name)

    def path(self, *parts: str, settings: Settings | None = None) -> str:
        """A URI below the use case's data root: ``uc.path("predictions", "dt=2026-11-20")``."""
        from airsage.storage import join

        return join(self.data_root(settings), *parts)


def parse_usecase(data: dict[str, Any], source: str = "<dict>") -> UseCase:
    if not isinstance(data, dict):
        raise ConfigError("a use case must be a YAML mapping", source=source, fix="Start the file with 'name: ...'.")
    try:
        return UseCase.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _config_error(exc, source) from None


def load_usecase_file(path: str | Path) -> UseCase:
    """One use-case YAML file, loaded safely (``load_yaml_text``) and validated."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"the file is {size} bytes, over the {MAX_YAML_BYTES} byte limit for a use case",
                              source=source, fix="A use case is a few KiB of YAML: check that this is the right file.")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the use-case file: {exc.strerror or exc}", source=source,
                          fix="Check the path and its permissions.") from None
    data, root = load_yaml_text(raw, source)
    if not isinstance(data, dict):
        raise ConfigError("a use case must be a YAML mapping", source=source, fix="Start the file with 'name: ...'.")
    try:
        uc = UseCase.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise _config_error(exc, source, line_of=lambda loc: _node_line(root, loc)) from None
    if uc.name != path.stem:
        raise ConfigError(f"name {uc.name!r} differs from the file name {path.stem!r}", source=source, key="name",
                          fix=f"Rename the file to {uc.name}.yaml or set name: {path.stem}.")
    return uc


@functools.lru_cache(maxsize=8)
def _load_dir(directory: str, mtimes: tuple) -> tuple[UseCase, ...]:
    return tuple(load_usecase_file(p) for p in sorted(Path(directory).glob("*.yaml")))


def load_usecases(directory: str | Path | None = None) -> list[UseCase]:
    """Every use case in ``directory`` (default: settings.usecases_dir), sorted by file name."""
    directory = str(directory or load_settings().usecases_dir)
    files = sorted(Path(directory).glob("*.yaml"))
    return list(_load_dir(directory, tuple((str(p), p.stat().st_mtime_ns) for p in files)))


def get_usecase(name: str, directory: str | Path | None = None) -> UseCase:
    for uc in load_usecases(directory):
        if uc.name == name:
            return uc
    known = [u.name for u in load_usecases(directory)]
    raise ConfigError(f"unknown use case {name!r}", key="usecase",
                      fix=f"Use one of {known} or add include/usecases/{name}.yaml.")
