"""``run_analysis``: one Clarify processing job's work, writing Clarify's output layout atomically.

Output directory (published as a unit with ``airsage.storage.atomic_dir``)::

    analysis.json                 Clarify's keys (version, pre_training_bias_metrics, post_training_bias_metrics,
                                  explanations.kernel_shap.label0) + an "airsage" key (SHAP method, counts)
    explanations_shap/out.csv     local SHAP values, columns <feature>_label0 (+ the join-source id column),
                                  one row per explained record in input order (save_local_shap_values)
    <report.name>.html            self-contained report (when methods.report is set)

Which columns are what: the label, the predicted label, the join-source column and ``excluded_columns``
are not model inputs; every other column is a *feature* (sent to the model; FlipTest's inputs). Facets
and the group variable may be excluded columns: they are still read for bias analysis. An excluded column
that the dataset does not have is ignored.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airsage import storage
from airsage.clarify import explain as explain_mod
from airsage.clarify import metrics, report
from airsage.clarify.analysis_config import AnalysisConfig
from airsage.errors import ConfigError, DataValidationError

SUFFIXES = {"text/csv": (".csv",), "application/jsonlines": (".jsonl", ".jsonlines", ".json"),
            "application/x-parquet": (".parquet", ".pq")}
FLAGGED_RECORDS = 3
OUTPUT_KIND = "clarify"  # the kind recorded in the output's ownership marker (storage.check_output)


@dataclass(frozen=True)
class ClarifyResult:
    output_uri: str
    analysis: dict = field(repr=False)
    files: tuple[str, ...]
    records: int
    shap_method: str | None = None
    notable: tuple[str, ...] = ()  # "stage/facet=value/metric" outside the report's rule-of-thumb bands

    def to_dict(self) -> dict[str, Any]:
        return {"output_uri": self.output_uri, "analysis_uri": storage.join(self.output_uri, "analysis.json"),
                "files": list(self.files), "records": self.records, "shap_method": self.shap_method,
                "notable": list(self.notable)}


# =========================================================================== dataset
_FIX_DATA = "Correct the named line of the dataset (or remove the file) and re-run."


def _jsonlines_frame(text: str, cfg: AnalysisConfig, source: str = "dataset") -> pd.DataFrame:
    import jmespath

    rows = []
    feature_names: list[str] | None = None
    extra = [(cfg.label, "label"), (cfg.predicted_label, "predicted_label"),
             (cfg.joinsource_name_or_index, "joinsource_name_or_index")]
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise DataValidationError(source, [f"line {line_no}: not valid JSON ({exc})"], fix=_FIX_DATA) from None
        except RecursionError:
            raise DataValidationError(source, [f"line {line_no}: not valid JSON (nested too deeply)"],
                                      fix=_FIX_DATA) from None
        feats = jmespath.search(cfg.features, rec)
        if isinstance(feats, dict):
            names, vals = list(feats), list(feats.values())
        elif isinstance(feats, list):
            vals = feats
            names = list(cfg.headers[:len(vals)]) if cfg.headers and len(cfg.headers) >= len(vals) \
                else [f"feature_{i}" for i in range(len(vals))]
        else:
            raise DataValidationError(source, [f"line {line_no}: features {cfg.features!r} selects {str(feats)[:80]!r}"],
                                      fix="Point 'features' (JMESPath) at an array or object of feature values.")
        feature_names = feature_names or names
        row = dict(zip(names, vals))
        for expr, _ in extra:
            if isinstance(expr, str):
                row[expr] = jmespath.search(expr, rec)
        rows.append(row)
    return pd.DataFrame(rows)


def read_dataset(uri: str, cfg: AnalysisConfig) -> pd.DataFrame:
    """Every file below ``uri`` of the configured ``dataset_type``, concatenated in name order.

    CSV: with ``headers``, the files have no header row (Clarify's convention); without, the first row is
    the header. JSON Lines: ``features`` selects the feature array/object, ``headers`` names an array's
    items (``feature_0..`` otherwise); label, predicted label and join source are JMESPath expressions.
    """
    files = storage.list_files(uri, suffixes=SUFFIXES[cfg.dataset_type]) or storage.list_files(uri)
    if not files:
        raise DataValidationError(uri, ["no data file found"], fix=f"Put {cfg.dataset_type} files under {uri}.")
    frames = []
    for f in files:
        frames.append(_read_file(f, storage.read_bytes(f), cfg))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _read_file(f: str, data: bytes, cfg: AnalysisConfig) -> pd.DataFrame:
    """One dataset file as a frame; malformed content is a DataValidationError naming the file and line."""
    if not data.strip():
        raise DataValidationError(f, ["the file is empty"], fix="Remove the empty file or write the data into it.")
    if cfg.dataset_type == "application/x-parquet":
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
            raise DataValidationError(f, [f"not a readable Parquet file: {str(exc)[:200]}"], fix=_FIX_DATA) from None
        if cfg.headers and len(cfg.headers) == len(frame.columns):
            frame.columns = list(cfg.headers)
        return frame
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataValidationError(f, [f"line {line}: not UTF-8 text"], fix="Save the dataset as UTF-8.") from None
    if cfg.dataset_type != "text/csv":
        return _jsonlines_frame(text, cfg, f)
    import csv

    width = None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:  # a ragged row is named by its line, not silently shifted or a pandas traceback
            if not row:
                continue
            width = width or (len(cfg.headers) if cfg.headers else len(row))
            if len(row) != width:
                raise DataValidationError(f, [f"line {reader.line_num}: {len(row)} field(s), expected {width}"],
                                          fix=_FIX_DATA)
    except csv.Error as exc:
        raise DataValidationError(f, [f"line {reader.line_num}: not valid CSV ({exc})"], fix=_FIX_DATA) from None
    try:
        return pd.read_csv(io.StringIO(text), header=None if cfg.headers else "infer",
                           names=list(cfg.headers) if cfg.headers else None)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(f, [f"not valid CSV: {str(exc)[:200]}"], fix=_FIX_DATA) from None


def resolve(df: pd.DataFrame, ref: str | int | None, key: str) -> str | None:
    """A column name from a name or a zero-based index."""
    if ref is None:
        return None
    if isinstance(ref, int):
        if not 0 <= ref < len(df.columns):
            raise ConfigError(f"{key} index {ref} is out of range ({len(df.columns)} columns)", key=key,
                              fix="Use a zero-based column index or the column name.")
        return str(df.columns[ref])
    if ref not in df.columns:
        raise ConfigError(f"{key} {ref!r} is not a column of the dataset", key=key,
                          fix=f"Use one of {list(df.columns)[:30]} (or give headers).")
    return ref


def _baseline_frame(cfg: AnalysisConfig, feature_cols: list[str], model_features: list[str]) -> pd.DataFrame | None:
    base = cfg.shap.baseline if cfg.shap else None
    if base is None:
        return None
    if isinstance(base, str):
        frame = read_dataset(base, cfg)
        cols = [c for c in feature_cols if c in frame.columns]
        if len(cols) == len(feature_cols):
            return frame[cols]
        if frame.shape[1] in (len(feature_cols), len(model_features)):
            frame.columns = feature_cols if frame.shape[1] == len(feature_cols) else model_features
            return frame
        raise ConfigError(f"baseline {base} has {frame.shape[1]} columns, the dataset {len(feature_cols)} features",
                          key="methods.shap.baseline", fix="Give baseline rows with the feature columns only.")
    if all(isinstance(r, dict) for r in base):
        return pd.DataFrame(list(base))
    width = {len(r) for r in base}
    for cols in (feature_cols, model_features):
        if width == {len(cols)}:
            return pd.DataFrame([list(r) for r in base], columns=cols)
    raise ConfigError(f"baseline rows have {sorted(width)} values, the dataset has {len(feature_cols)} features",
                      key="methods.shap.baseline", fix="Give each baseline row the feature values in column order.")


# =========================================================================== analysis
def _bias_block(df: pd.DataFrame, cfg: AnalysisConfig, stage: str, cols: dict, feature_cols: list[str],
                predicted_positive: np.ndarray | None) -> dict:
    spec = cfg.pre_training_bias if stage == "pre_training" else cfg.post_training_bias
    methods = spec.methods if spec.methods == "all" else list(spec.methods)
    label_values = list(cfg.label_values_or_threshold)
    facets = [(resolve(df, f.name_or_index, "facet.name_or_index"),
               list(f.value_or_threshold) if f.value_or_threshold else None) for f in cfg.facet]
    reports = metrics.bias_reports(
        df, facets, cols["label"], label_values, stage, predicted_label=cols["predicted"],
        group_variable=cols["group"], methods=methods,
        predicted_positive=predicted_positive if cols["predicted"] is None else None, feature_columns=feature_cols)
    facet_dicts = {name: [r.to_dict() for r in entries] for name, entries in reports.items()}
    return {"label": cols["label"],
            "label_value_or_threshold": metrics.label_value_or_threshold(df[cols["label"]], label_values),
            "facets": facet_dicts}


def _predict(model: Any, df: pd.DataFrame, feature_cols: list[str]) -> np.ndarray:
    frame = df if getattr(model, "feature_names", None) else df[feature_cols]
    proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
    return proba[:, -1] if proba.ndim == 2 else proba


def _notable(analysis: dict) -> tuple[str, ...]:
    out = []
    for stage in ("pre_training_bias_metrics", "post_training_bias_metrics"):
        for facet, entries in analysis.get(stage, {}).get("facets", {}).items():
            for e in entries:
                out += [f"{stage.split('_')[0]}/{facet}={e['value_or_threshold']}/{m['name']}"
                        for m in e["metrics"] if report.is_notable(m["name"], m["value"])]
    return tuple(out)


def run_analysis(config: dict | AnalysisConfig, dataset: pd.DataFrame | str, output_uri: str, *,
                 model: Any = None, max_shap_rows: int | None = None, seed: int = 0, force: bool = False,
                 inputs: tuple[str, ...] = ()) -> ClarifyResult:
    """Run the configured bias and explainability analyses and publish Clarify's output files.

    The output goes through ``storage.atomic_dir`` (checked first, before the dataset is read): it may
    not be, contain or lie inside the dataset (a URI) or any of ``inputs``, and replaces only a folder
    Airsage published as Clarify output (``force``: foreign content is moved aside, never deleted).

    ``model``: an object with ``predict_proba(df) -> ndarray`` (positive-class probability) and optionally
    ``booster`` (xgboost.Booster), ``encode(df)`` and ``feature_names`` (``airsage.model.ModelBundle``);
    not needed when the config names ``predicted_label`` and asks for no SHAP. ``max_shap_rows``: explain
    a seeded random sample of at most that many records (kept in input order) instead of all of them.
    """
    cfg = AnalysisConfig.parse(config)
    inputs = tuple(str(i) for i in (*inputs, *((dataset,) if isinstance(dataset, str) else ())) if i)
    storage.check_output(output_uri, inputs=inputs, force=force, kind=OUTPUT_KIND)
    if isinstance(dataset, str):
        df = read_dataset(dataset, cfg)
    elif isinstance(dataset, pd.DataFrame):
        df = dataset.reset_index(drop=True)
    else:
        raise ConfigError("dataset must be a pandas DataFrame or a URI", key="dataset",
                          fix="Pass a DataFrame or a local path / s3:// URI of the data.")
    if df.empty:
        raise DataValidationError("dataset", ["the dataset has no rows"], fix="Analyse a non-empty dataset.")
    cols = {"label": resolve(df, cfg.label, "label"), "predicted": resolve(df, cfg.predicted_label, "predicted_label"),
            "join": resolve(df, cfg.joinsource_name_or_index, "joinsource_name_or_index"),
            "group": resolve(df, cfg.group_variable, "group_variable")}
    feature_cols = feature_columns(df, cfg)

    needs_scores = cfg.shap is not None or (cfg.post_training_bias is not None and cols["predicted"] is None)
    if needs_scores and model is None:
        what = "SHAP explanations" if cfg.shap is not None else "post-training bias without predicted_label"
        raise ConfigError(f"{what} need a model", key="predicted_label" if cfg.shap is None else "methods.shap",
                          fix="Pass the model (a model URI / ModelBundle), or name the predicted_label column and "
                              "drop methods.shap.")
    scores = _predict(model, df, feature_cols) if needs_scores and cfg.post_training_bias is not None \
        and cols["predicted"] is None else None
    predicted_positive = scores > cfg.probability_threshold if scores is not None else None

    analysis: dict[str, Any] = {"version": "1.0"}
    if cfg.pre_training_bias is not None:
        analysis["pre_training_bias_metrics"] = _bias_block(df, cfg, "pre_training", cols, feature_cols, None)
    if cfg.post_training_bias is not None:
        analysis["post_training_bias_metrics"] = _bias_block(df, cfg, "post_training", cols, feature_cols,
                                                             predicted_positive)

    explanation, rows, local_frame, flagged = None, None, None, []
    if cfg.shap is not None:
        rows = np.arange(len(df))
        if max_shap_rows is not None and max_shap_rows < len(df):
            rows = np.sort(np.random.default_rng(seed).choice(len(df), max_shap_rows, replace=False))
        sub = df.iloc[rows].reset_index(drop=True)
        model_features = list(getattr(model, "feature_names", None) or feature_cols)
        explanation = explain_mod.explain(
            model, sub, feature_columns=feature_cols, baseline=_baseline_frame(cfg, feature_cols, model_features),
            explainer=cfg.shap.explainer, num_samples=cfg.shap.num_samples, num_clusters=cfg.shap.num_clusters,
            use_logit=cfg.shap.use_logit, seed=cfg.shap.seed if cfg.shap.seed is not None else seed,
            agg_method=cfg.shap.agg_method)
        label_key = (cfg.predictor or {}).get("label_headers", ["label0"])[0] if (cfg.predictor or {}).get(
            "label_headers") else "label0"
        analysis["explanations"] = {"kernel_shap": {label_key: {
            "global_shap_values": explanation.global_values(), "expected_value": explanation.expected_value}}}
        analysis["airsage"] = {"shap_method": explanation.method, "shap_output_space": explanation.output_space,
                               "shap_agg_method": explanation.agg_method, "shap_records": int(len(rows)),
                               "shap_additivity_max_error": explanation.additivity_max_error}
        local_frame = pd.DataFrame(explanation.local, columns=[f"{f}_{label_key}" for f in explanation.feature_names])
        ids = sub[cols["join"]].tolist() if cols["join"] else [int(r) for r in rows]
        if cols["join"]:
            local_frame.insert(0, cols["join"], sub[cols["join"]].to_numpy())
        elif len(rows) < len(df):
            local_frame.insert(0, "record_index", rows)
        for i in np.argsort(-explanation.output, kind="stable")[:FLAGGED_RECORDS]:
            flagged.append({"id": ids[i], "output": float(explanation.output[i]),
                            "contributions": dict(zip(explanation.feature_names, explanation.local[i].tolist()))})
        feature_values = explain_mod.model_inputs(model, sub, feature_cols)[0] if len(sub) else None

    files = ["analysis.json"]
    with storage.atomic_dir(output_uri, inputs=inputs, force=force, kind=OUTPUT_KIND) as stage:
        (stage / "analysis.json").write_text(json.dumps(analysis, indent=2, allow_nan=False) + "\n")
        if local_frame is not None and cfg.shap.save_local_shap_values:
            (stage / "explanations_shap").mkdir()
            local_frame.to_csv(stage / "explanations_shap" / "out.csv", index=False)
            files.append("explanations_shap/out.csv")
        if cfg.report is not None:
            name = f"{Path(cfg.report_name).name}.html"
            html_text = report.render_html(
                analysis, title=cfg.report.title,
                local=explanation.local if explanation is not None else None,
                feature_values=feature_values if explanation is not None else None,
                feature_names=list(explanation.feature_names) if explanation is not None else None, flagged=flagged)
            (stage / name).write_text(html_text, encoding="utf-8")
            files.append(name)
    return ClarifyResult(storage.normalize(output_uri), analysis, tuple(files), len(df),
                         explanation.method if explanation is not None else None, _notable(analysis))


def analyse_uri(config_uri: str, dataset_uri: str, output_uri: str, *, model_uri: str | None = None,
                **kwargs: Any) -> ClarifyResult:
    """``run_analysis`` from URIs: the config JSON, the data, and optionally an Airsage model."""
    cfg = AnalysisConfig.parse(storage.read_text(config_uri), source=config_uri)
    model = None
    if model_uri:
        from airsage.model import ModelBundle

        model = ModelBundle.load_uri(model_uri)
    return run_analysis(cfg, dataset_uri, output_uri, model=model, **kwargs)


def feature_columns(df: pd.DataFrame, cfg: AnalysisConfig) -> list[str]:
    """The columns treated as features for ``cfg`` (everything but label, predicted label, join source, excluded)."""
    excluded = {resolve(df, e, "excluded_columns") for e in cfg.excluded_columns
                if not (isinstance(e, str) and e not in df.columns)}  # an absent excluded column is no error
    skip = {resolve(df, cfg.label, "label"), resolve(df, cfg.predicted_label, "predicted_label"),
            resolve(df, cfg.joinsource_name_or_index, "joinsource_name_or_index")} | excluded
    return [c for c in df.columns if c not in skip]
