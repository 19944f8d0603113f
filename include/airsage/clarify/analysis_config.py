"""Clarify's ``analysis_config.json``: parsed into frozen dataclasses and validated.

The supported subset of the SageMaker Clarify schema (``ANALYSIS_CONFIG_SCHEMA_V1_0``)::

    version, dataset_type (text/csv | application/jsonlines | application/x-parquet), dataset_uri, headers,
    label, predicted_label, features (jsonlines only), excluded_columns, joinsource_name_or_index,
    label_values_or_threshold, probability_threshold, facet[{name_or_index, value_or_threshold}],
    group_variable, methods{pre_training_bias{methods}, post_training_bias{methods},
    shap{baseline, num_samples, agg_method, use_logit, save_local_shap_values, seed, num_clusters, explainer},
    report{name, title}}, predictor{...}

* ``label``, ``predicted_label``, ``features`` and ``joinsource_name_or_index`` are JMESPath expressions for
  JSON Lines (full JMESPath through the ``jmespath`` package that boto3 already brings; a top-level key
  such as ``"features"`` or a dotted path such as ``"data.features"`` is the common case); for CSV and
  Parquet they are column names or zero-based column indices.
* ``predictor`` is accepted and kept (it describes a SageMaker endpoint), but Airsage scores with the
  model it is given (a model URI / ``ModelBundle``) instead of calling an endpoint.
* ``methods.shap.explainer`` is an Airsage extension: ``auto`` (exact TreeSHAP for XGBoost, KernelSHAP
  otherwise), ``tree`` or ``kernel`` (Clarify's algorithm, in probability space unless ``use_logit``).
* Clarify keys that Airsage does not implement (``segment_config``, ``pdp``, ``text_config``, separate
  facet/predicted-label datasets, image and JSON datasets) are rejected with a ``ConfigError``, as are
  unknown keys: a typo never passes silently.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airsage.errors import ConfigError

DATASET_TYPES = ("text/csv", "application/jsonlines", "application/x-parquet")
CLARIFY_ONLY_DATASET_TYPES = ("application/json", "application/sagemakercapturejson", "application/x-image")
AGG_METHODS = ("mean_abs", "median", "mean_sq")
EXPLAINERS = ("auto", "tree", "kernel")
PRE_METHODS = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST_METHODS = ("DPPL", "DI", "DCA", "DCR", "RD", "DAR", "DRR", "AD", "CDDPL", "TE", "FT", "SD", "GE")
PREDICTOR_KEYS = {"endpoint_name", "model_name", "instance_type", "initial_instance_count", "endpoint_name_prefix",
                  "target_model", "content_type", "accept_type", "content_template", "record_template", "label",
                  "probability", "label_headers", "custom_attributes", "accelerator_type"}
UNSUPPORTED = {  # Clarify keys Airsage knows but does not implement -> the fix to suggest
    "facet_dataset_uri": "Put the facet columns in the main dataset.",
    "facet_headers": "Put the facet columns in the main dataset.",
    "predicted_label_dataset_uri": "Put the predicted label column in the main dataset (predicted_label).",
    "predicted_label_headers": "Put the predicted label column in the main dataset (predicted_label).",
    "segment_config": "Remove segment_config; run one analysis per segment instead.",
    "pdp": "Remove methods.pdp (partial dependence plots are not implemented).",
    "text_config": "Remove methods.shap.text_config (text explanations are not implemented).",
    "image_config": "Remove methods.shap.image_config (image explanations are not implemented).",
    "features_to_explain": "Remove methods.shap.features_to_explain (every feature is explained).",
}

Ref = str | int  # a column name, a zero-based index or a JMESPath expression


def _err(key: str, message: str, fix: str, source: str | None) -> ConfigError:
    return ConfigError(message, source=source, key=key, fix=fix)


def _check_keys(obj: Mapping, allowed: set[str], where: str, source: str | None) -> None:
    for key in obj:
        path = f"{where}.{key}" if where else key
        if key in UNSUPPORTED:
            raise _err(path, f"{path} is a Clarify option that Airsage does not support", UNSUPPORTED[key], source)
        if key not in allowed:
            raise _err(path, f"unknown key {path!r} (a typo?)", f"Use one of {sorted(allowed)}.", source)


def _typed(obj: Mapping, key: str, kinds: tuple[type, ...], where: str, source: str | None, *,
           required: bool = False, default: Any = None) -> Any:
    path = f"{where}.{key}" if where else key
    if key not in obj or obj[key] is None:
        if required:
            raise _err(path, f"{path} is required", f"Add {path} to analysis_config.json.", source)
        return default
    value = obj[key]
    bad_bool = isinstance(value, bool) and bool not in kinds
    if bad_bool or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise _err(path, f"{path} must be {names}, got {type(value).__name__} {value!r}",
                   f"Set {path} to a {names}.", source)
    return value


def _values(obj: Mapping, key: str, where: str, source: str | None, *, required: bool = False) -> tuple | None:
    value = _typed(obj, key, (list,), where, source, required=required)
    if value is None:
        return None
    path = f"{where}.{key}" if where else key
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise _err(path, f"{path} must hold numbers or strings, got {v!r}",
                       f"Write {path} as a list such as [1] or [\"female\"].", source)
    return tuple(value)


@dataclass(frozen=True)
class Facet:
    name_or_index: Ref
    value_or_threshold: tuple | None = None  # None/empty = one-vs-rest


@dataclass(frozen=True)
class BiasMethods:
    methods: tuple[str, ...] | str = "all"


@dataclass(frozen=True)
class ShapConfig:
    baseline: Any = None  # s3/local URI or a list of rows (lists or JSON objects)
    num_samples: int | None = None
    agg_method: str = "mean_abs"
    use_logit: bool = False
    save_local_shap_values: bool = False  # the DG default (the SDK's SHAPConfig sets true)
    seed: int | None = None
    num_clusters: int | None = None
    explainer: str = "auto"  # Airsage extension: auto | tree | kernel


@dataclass(frozen=True)
class ReportConfig:
    name: str = "report"
    title: str = "Analysis Report"


@dataclass(frozen=True)
class AnalysisConfig:
    dataset_type: str
    version: str = "1.0"
    dataset_uri: str | None = None
    headers: tuple[str, ...] | None = None
    label: Ref | None = None
    predicted_label: Ref | None = None
    features: str | None = None
    excluded_columns: tuple[Ref, ...] = ()
    joinsource_name_or_index: Ref | None = None
    label_values_or_threshold: tuple | None = None
    probability_threshold: float = 0.5
    facet: tuple[Facet, ...] = ()
    group_variable: Ref | None = None
    pre_training_bias: BiasMethods | None = None
    post_training_bias: BiasMethods | None = None
    shap: ShapConfig | None = None
    report: ReportConfig | None = None
    predictor: dict | None = None
    source: str | None = field(default=None, compare=False)

    # ---------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, obj: Mapping | str | "AnalysisConfig", source: str | None = None) -> "AnalysisConfig":
        """Validate a dict (or a JSON string) in Clarify's format; ``ConfigError`` names the key and the fix."""
        if isinstance(obj, AnalysisConfig):
            return obj
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"analysis_config is not valid JSON: {exc}", source=source,
                                  fix="Fix the JSON syntax.") from None
        if not isinstance(obj, Mapping):
            raise ConfigError("analysis_config must be a JSON object", source=source,
                              fix='Start it with {"dataset_type": ..., "methods": {...}}.')
        top = {"version", "dataset_type", "dataset_uri", "headers", "label", "predicted_label", "features",
               "excluded_columns", "joinsource_name_or_index", "label_values_or_threshold",
               "probability_threshold", "facet", "group_variable", "methods", "predictor"}
        _check_keys(obj, top, "", source)
        version = str(_typed(obj, "version", (str, int, float), "", source, default="1.0"))
        if version not in ("1.0", "1"):
            raise _err("version", f"unsupported version {version!r}", 'Use "version": "1.0".', source)
        dataset_type = _typed(obj, "dataset_type", (str,), "", source, required=True)
        if dataset_type in CLARIFY_ONLY_DATASET_TYPES:
            raise _err("dataset_type", f"dataset_type {dataset_type!r} is not supported by Airsage",
                       f"Convert the data to one of {list(DATASET_TYPES)}.", source)
        if dataset_type not in DATASET_TYPES:
            raise _err("dataset_type", f"unknown dataset_type {dataset_type!r}", f"Use one of {list(DATASET_TYPES)}.",
                       source)
        headers = _typed(obj, "headers", (list,), "", source)
        if headers is not None and not all(isinstance(h, str) for h in headers):
            raise _err("headers", "headers must be a list of column names", 'Write "headers": ["col1", ...].', source)
        ref = (str, int)
        features = _typed(obj, "features", (str,), "", source)
        if dataset_type == "application/jsonlines" and features is None:
            raise _err("features", "features is required for application/jsonlines",
                       'Give the JMESPath of the feature array, e.g. "features": "features".', source)
        excluded = _typed(obj, "excluded_columns", (list,), "", source, default=[])
        for e in excluded:
            if isinstance(e, bool) or not isinstance(e, ref):
                raise _err("excluded_columns", f"excluded_columns holds {e!r}", "List column names or indices.", source)
        prob = _typed(obj, "probability_threshold", (int, float), "", source, default=0.5)
        facets = tuple(cls._facet(f, i, source) for i, f in
                       enumerate(_typed(obj, "facet", (list,), "", source, default=[])))
        predictor = _typed(obj, "predictor", (dict,), "", source)
        if predictor is not None:
            _check_keys(predictor, PREDICTOR_KEYS, "predictor", source)
        cfg = cls(
            dataset_type=dataset_type, version="1.0",
            dataset_uri=_typed(obj, "dataset_uri", (str,), "", source),
            headers=tuple(headers) if headers is not None else None,
            label=_typed(obj, "label", ref, "", source),
            predicted_label=_typed(obj, "predicted_label", ref, "", source),
            features=features, excluded_columns=tuple(excluded),
            joinsource_name_or_index=_typed(obj, "joinsource_name_or_index", ref, "", source),
            label_values_or_threshold=_values(obj, "label_values_or_threshold", "", source),
            probability_threshold=float(prob), facet=facets,
            group_variable=_typed(obj, "group_variable", ref, "", source),
            predictor=dict(predictor) if predictor is not None else None, source=source,
            **cls._methods(_typed(obj, "methods", (dict,), "", source, required=True), source),
        )
        cfg._cross_check()
        return cfg

    @staticmethod
    def _facet(f: Any, i: int, source: str | None) -> Facet:
        where = f"facet[{i}]"
        if not isinstance(f, Mapping):
            raise _err(where, f"{where} must be an object", f'Write {where} as {{"name_or_index": "sex"}}.', source)
        _check_keys(f, {"name_or_index", "value_or_threshold"}, where, source)
        name = _typed(f, "name_or_index", (str, int), where, source, required=True)
        values = _values(f, "value_or_threshold", where, source)
        return Facet(name, values or None)

    @staticmethod
    def _methods(m: Mapping, source: str | None) -> dict[str, Any]:
        _check_keys(m, {"pre_training_bias", "post_training_bias", "shap", "report"}, "methods", source)
        out: dict[str, Any] = {}
        for stage, allowed in (("pre_training_bias", PRE_METHODS), ("post_training_bias", POST_METHODS)):
            spec = _typed(m, stage, (dict,), "methods", source)
            if spec is None:
                continue
            _check_keys(spec, {"methods"}, f"methods.{stage}", source)
            names = spec.get("methods", "all")
            if names != "all":
                if not isinstance(names, list) or not names or any(n not in allowed for n in names):
                    raise _err(f"methods.{stage}.methods", f"invalid methods.{stage}.methods {names!r}",
                               f'Use "all" or a non-empty list of {list(allowed)}.', source)
                names = tuple(names)
            out[stage] = BiasMethods(names)
        shap = _typed(m, "shap", (dict,), "methods", source)
        if shap is not None:
            out["shap"] = AnalysisConfig._shap(shap, source)
        report = _typed(m, "report", (dict,), "methods", source)
        if report is not None:
            _check_keys(report, {"name", "title"}, "methods.report", source)
            out["report"] = ReportConfig(_typed(report, "name", (str,), "methods.report", source, default="report"),
                                         _typed(report, "title", (str,), "methods.report", source,
                                                default="Analysis Report"))
        if not out:
            raise _err("methods", "methods names no analysis",
                       "Add pre_training_bias, post_training_bias and/or shap under methods.", source)
        return out

    @staticmethod
    def _shap(s: Mapping, source: str | None) -> ShapConfig:
        w = "methods.shap"
        _check_keys(s, {"baseline", "num_samples", "agg_method", "use_logit", "save_local_shap_values", "seed",
                        "num_clusters", "explainer"}, w, source)
        baseline = _typed(s, "baseline", (str, list), w, source)
        if isinstance(baseline, list) and (not baseline or not all(isinstance(r, (list, dict)) for r in baseline)):
            raise _err(f"{w}.baseline", "baseline must be a URI or a non-empty list of rows",
                       'Write "baseline": [[...feature values...]] or an s3:// URI.', source)
        num_samples = _typed(s, "num_samples", (int,), w, source)
        if num_samples is not None and num_samples < 1:
            raise _err(f"{w}.num_samples", "num_samples must be positive", "Use e.g. 2048 (or omit it: auto).", source)
        num_clusters = _typed(s, "num_clusters", (int,), w, source)
        if num_clusters is not None and not 1 <= num_clusters <= 12:
            raise _err(f"{w}.num_clusters", f"num_clusters {num_clusters} is outside 1..12", "Use 1 to 12.", source)
        if baseline is not None and num_clusters is not None:
            raise _err(f"{w}.num_clusters", "baseline and num_clusters are mutually exclusive",
                       "Keep one of them.", source)
        agg = _typed(s, "agg_method", (str,), w, source, default="mean_abs")
        if agg not in AGG_METHODS:
            raise _err(f"{w}.agg_method", f"unknown agg_method {agg!r}", f"Use one of {list(AGG_METHODS)}.", source)
        explainer = _typed(s, "explainer", (str,), w, source, default="auto")
        if explainer not in EXPLAINERS:
            raise _err(f"{w}.explainer", f"unknown explainer {explainer!r}", f"Use one of {list(EXPLAINERS)}.", source)
        return ShapConfig(
            baseline=baseline if not isinstance(baseline, list) else tuple(
                tuple(r) if isinstance(r, list) else dict(r) for r in baseline),
            num_samples=num_samples, agg_method=agg,
            use_logit=_typed(s, "use_logit", (bool,), w, source, default=False),
            save_local_shap_values=_typed(s, "save_local_shap_values", (bool,), w, source, default=False),
            seed=_typed(s, "seed", (int,), w, source), num_clusters=num_clusters, explainer=explainer)

    def _cross_check(self) -> None:
        bias = self.pre_training_bias is not None or self.post_training_bias is not None
        if bias:
            if self.label is None:
                raise _err("label", "bias analysis needs the label", 'Add "label": "<label column>".', self.source)
            if not self.label_values_or_threshold:
                raise _err("label_values_or_threshold", "bias analysis needs label_values_or_threshold",
                           'Add e.g. "label_values_or_threshold": [1].', self.source)
            if not self.facet:
                raise _err("facet", "bias analysis needs at least one facet",
                           'Add "facet": [{"name_or_index": "sex", "value_or_threshold": ["female"]}].', self.source)

    # ---------------------------------------------------------------- helpers
    @property
    def report_name(self) -> str:
        return self.report.name if self.report else "report"

    def to_dict(self) -> dict[str, Any]:
        """Back to Clarify's JSON shape (round-trips through ``parse``)."""
        out: dict[str, Any] = {"version": self.version, "dataset_type": self.dataset_type}
        for key in ("dataset_uri", "label", "predicted_label", "features", "joinsource_name_or_index",
                    "group_variable", "predictor"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.headers is not None:
            out["headers"] = list(self.headers)
        if self.excluded_columns:
            out["excluded_columns"] = list(self.excluded_columns)
        if self.label_values_or_threshold is not None:
            out["label_values_or_threshold"] = list(self.label_values_or_threshold)
        out["probability_threshold"] = self.probability_threshold
        if self.facet:
            out["facet"] = [{"name_or_index": f.name_or_index,
                             **({"value_or_threshold": list(f.value_or_threshold)} if f.value_or_threshold else {})}
                            for f in self.facet]
        methods: dict[str, Any] = {}
        for stage in ("pre_training_bias", "post_training_bias"):
            spec = getattr(self, stage)
            if spec is not None:
                methods[stage] = {"methods": spec.methods if spec.methods == "all" else list(spec.methods)}
        if self.shap is not None:
            shap = {k: v for k, v in asdict(self.shap).items() if v is not None}
            if isinstance(self.shap.baseline, tuple):
                shap["baseline"] = [list(r) if isinstance(r, tuple) else dict(r) for r in self.shap.baseline]
            methods["shap"] = shap
        if self.report is not None:
            methods["report"] = {"name": self.report.name, "title": self.report.title}
        out["methods"] = methods
        return out
