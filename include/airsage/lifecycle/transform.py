"""The batch-transform workflow (``<uc>__batch_transform``, ``airsage transform``): the transform job's
spec, its report on either backend, and scoring in-process with the approval guard."""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airsage import layout, storage
from airsage.compute.base import JobSpec, job_name
from airsage.config import UseCase
from airsage.contracts import JobResult, ServingModel, TransformArgs
from airsage.errors import ConfigError, DataValidationError
from airsage.lifecycle.common import bundle_for, partition_for, resources, run_key_from

log = logging.getLogger("airsage.lifecycle.transform")


def transform_spec(uc: UseCase, model: ServingModel | Mapping[str, Any], partition: dt.date | str, run_key: str, *,
                   input_uri: str | None = None, output_uri: str | None = None,
                   overrides: Mapping[str, Any] | None = None, shadow: Sequence[ServingModel] = ()) -> JobSpec:
    """The batch transform job of one partition with the served model (SageMaker Batch Transform settings
    from ``uc.transform``; ``overrides`` replace single settings). ``shadow``: pending versions the local
    job also scores on the same rows (``airsage.lifecycle.shadow``). The override ``shadow_job`` makes
    this a challenger's own SageMaker job: no data capture, nothing else in shadow."""
    m = model if isinstance(model, ServingModel) else ServingModel.from_dict(model)
    partition = partition_for(partition)
    overrides = dict(overrides or {})
    shadow_job = bool(overrides.pop("shadow_job", False))
    t = uc.transform
    params = {
        "content_type": t.content_type, "split_type": t.split_type, "batch_strategy": t.batch_strategy,
        "max_payload_mb": t.max_payload_mb, "input_filter": t.input_filter, "join_source": t.join_source,
        "output_filter": t.output_filter, "assemble_with": t.assemble_with,
        "inference_fields": list(t.inference_fields), **({"accept": t.accept} if t.accept else {}),
        # keyed by partition, not by Airflow run: any rerun of a partition replaces its capture and
        # derived inference ids exactly (the job name stays unique per Airflow run)
        "model_name": m.name, "model_version": m.version, "run_key": f"dt-{partition}",
        # header-less CSV rows have no column names: there the inference id is derived (as `airsage transform`)
        "partition_date": str(partition), "record_id_col": None if t.content_type == "text/csv" else uc.schema_.record_id,
        "capture_uri": layout.captures(uc) if t.capture else None,
        # a model registered from outside Airsage is served by flavor: its threshold (tag, else the use
        # case's) and the vocabularies of its string columns travel with the job
        "model_tags": {"airsage.threshold": str(uc.training.decision_threshold), **dict(m.serving_tags)}, "fail_on_file_error": False,
    }
    params.update({k: v for k, v in overrides.items() if v not in (None, "")})
    _transform_config(params)  # a bad combination fails here, before a job exists, on either backend
    extra_inputs: dict[str, str] = {}
    if shadow_job:  # a challenger scored in shadow: its own output, never the champion's capture
        params["capture_uri"] = None
    elif shadow and uc.compute.transform.backend != "sagemaker":  # SageMaker: each its own job (lifecycle.shadow)
        extra_inputs, shadow_params = shadow_inputs(uc, shadow, partition)
        params.update(shadow_params)
    kind = "shadow" if shadow_job else "transform"
    return JobSpec(kind="transform", name=job_name(uc.name, kind, f"{partition}-v{m.version}" if shadow_job
                                                   else str(partition), run_key),
                   entrypoint="airsage.entrypoints.transform",
                   inputs={"model": m.model_artifact_uri, "data": scoring_input(uc, partition, input_uri),
                           **extra_inputs},
                   output_uri=output_uri or layout.predictions(uc, partition), parameters=params,
                   resources=resources(uc, "transform"), tags={"usecase": uc.name, "partition": str(partition)})


def shadow_columns(uc: UseCase) -> list[str]:
    """The columns carried into each challenger's scores for the per-group comparison: the facets."""
    return [f.name for f in uc.schema_.facets]


def shadow_inputs(uc: UseCase, shadow: Sequence[ServingModel], partition: dt.date) -> tuple[dict[str, str], dict[str, Any]]:
    """The local transform job's extra inputs (each challenger's model artifact, channel ``shadow_<version>``)
    and the parameters that make the engine score them on the champion's rows (README: Shadow scoring)."""
    channel = {m.version: f"shadow_{layout.version_key(m.version)}" for m in shadow}
    inputs = {channel[m.version]: m.model_artifact_uri for m in shadow}
    targets = [{"model_version": m.version, "output_uri": layout.shadow_scores(uc, m.version, partition),
                "input": channel[m.version],
                "model_tags": {"airsage.threshold": str(uc.training.decision_threshold), **dict(m.serving_tags)}}
               for m in shadow]
    return inputs, {"shadow": targets, "shadow_columns": shadow_columns(uc)}


def partition_ready(input_uri: str, marker: str | None = None) -> tuple[bool, str]:
    """The late-data wait's condition: is the partition at ``input_uri`` there to be scored?

    With ``marker`` (``transform.wait_for_data.marker``, e.g. ``_SUCCESS``): that file exists below
    ``input_uri`` (and, if it is an Airsage ownership marker, its publish is complete). Without: at
    least one input file is there (temporary ``.``/``_`` names do not count). Returns ``(ready, why)``.
    """
    if marker:
        marker_uri = storage.join(input_uri, marker)
        if not storage.exists(marker_uri):
            return False, f"waiting for {marker_uri}"
        doc = storage.read_marker(input_uri) if marker == storage.SUCCESS_MARKER else None
        if doc is not None and doc.get("state") == "publishing":
            return False, f"{marker_uri} says the partition is still being published"
        return True, f"{marker_uri} is there"
    files = storage.list_files(input_uri)
    if not files:
        return False, f"no input file under {input_uri} yet"
    return True, f"{len(files)} input file(s) under {input_uri}"


def scoring_input(uc: UseCase, partition: dt.date | str, input_uri: str | None = None) -> str:
    """The input of a partition's transform: the override, else ``layout.scoring``."""
    return input_uri or layout.scoring(uc, partition_for(partition))


def _transform_config(params: Mapping[str, Any]):
    from airsage.transform.settings import TransformConfig

    names = set(TransformConfig.__dataclass_fields__)
    return TransformConfig.from_dict({k: v for k, v in params.items() if k in names and v is not None})


def read_transform_report(job: JobResult | Mapping[str, Any]) -> dict[str, Any]:
    """The report a transform job left: the local job's ``report.json``, or the one ``finish_transform``
    wrote for a SageMaker job (``outputs["report"]`` either way); ``{}`` when there is none."""
    outputs = job.outputs if isinstance(job, JobResult) else (job.get("outputs") or {})
    report = outputs.get("report")
    return storage.read_json(report) if report and storage.exists(report) else {}


def finish_transform(uc: UseCase, job: JobResult | Mapping[str, Any],
                     plan: TransformArgs | Mapping[str, Any]) -> dict[str, Any]:
    """The report of a finished transform job (the DAG's publish step), the same for both backends.

    Local: the job's ``report.json`` (the engine wrote the capture table itself). SageMaker (the job
    result has ``outputs["capture"]``, or ``compute.transform.backend`` is sagemaker): SageMaker's data
    capture is imported into ``capture/dt=<partition>/<run_key>.parquet`` (what monitoring reads; a
    rerun replaces it) and the report is written to ``layout.transform_report``.
    Without capture (``transform.capture: false``) the report counts the ``.out`` files only.
    ``plan`` is what the DAG's ``resolve_model`` returned (model, partition, input/output URIs).
    """
    result = job if isinstance(job, JobResult) else JobResult.from_dict({"outputs": {}, **job})
    outputs = result.outputs
    on_sagemaker = bool(outputs.get("capture")) or (uc.compute.transform.backend == "sagemaker"
                                                    and not outputs.get("report"))
    if not on_sagemaker:
        report = read_transform_report(result)
        if report:  # published beside the SageMaker jobs' reports, where the dashboard and reruns find it
            args = plan if isinstance(plan, TransformArgs) else TransformArgs.from_dict(plan)
            name = result.job_name or f"{uc.name}-transform-{partition_for(args.partition)}"
            uri = storage.write_json(layout.transform_report(uc, partition_for(args.partition), name), report)
            report = {**report, "report_uri": uri, "job_report_uri": outputs.get("report")}
        _record_partition(uc, report, plan)
        return report
    from airsage.transform.sagemaker_capture import import_sagemaker_capture, report_from_outputs

    args = plan if isinstance(plan, TransformArgs) else TransformArgs.from_dict(plan)
    partition = partition_for(args.partition)
    name = result.job_name or f"{uc.name}-transform-{partition}"
    spec = transform_spec(uc, args.model, partition, "finish", input_uri=args.input_uri,
                          output_uri=args.output_uri, overrides=args.overrides)
    p = spec.parameters
    config = _transform_config(p)
    common = {"run_key": p["run_key"], "model_name": p["model_name"], "model_version": p["model_version"],
              "job_name": name}
    if outputs.get("capture"):
        report = import_sagemaker_capture(
            _model_schema(spec.inputs["model"]), outputs["capture"], config,
            capture_uri=p.get("capture_uri") or layout.captures(uc), partition_date=p["partition_date"],
            record_id_col=p.get("record_id_col"), feature_columns=p.get("feature_columns"), **common)
    else:
        report = report_from_outputs(spec.inputs["data"], outputs.get("output") or spec.output_uri, config, **common)
    uri = storage.write_json(layout.transform_report(uc, partition, name), report)
    log.info("transform %s: imported SageMaker's outputs (%s files, %s records), capture %s", name,
             report.get("files_out"), report.get("records_out"), report.get("capture_file"))
    report = {**report, "report_uri": uri}
    _record_partition(uc, report, plan)
    return report


def _record_partition(uc: UseCase, report: Mapping[str, Any], plan: TransformArgs | Mapping[str, Any]) -> None:
    """The dashboard's summary of a scored partition (never fails the publish step)."""
    from airsage import dashboard

    if not report:
        return
    args = plan if isinstance(plan, TransformArgs) else TransformArgs.from_dict(plan)
    dashboard.safe_record(dashboard.record_partition, uc, dict(report), partition=str(partition_for(args.partition)),
                          report_uri=report.get("report_uri"))


def _model_schema(model_uri: str):
    """Feature names and categorical features of a model artifact (its metadata; no model is loaded)."""
    import tempfile
    from types import SimpleNamespace

    from airsage.model import META_FILE

    with tempfile.TemporaryDirectory(prefix="airsage-model-meta-") as tmp:
        meta = next(iter(sorted(storage.unpack_tar(model_uri, tmp).rglob(META_FILE))), None)
        if meta is None:
            raise DataValidationError(model_uri, [f"no {META_FILE} in the model artifact"],
                                      fix="Point the registered version at a model.tar.gz produced by Airsage training.")
        doc = json.loads(meta.read_text())
    return SimpleNamespace(feature_names=list(doc["feature_names"]), categorical=dict(doc["categorical"]))


def _optional_usecase(name: str | None) -> UseCase | None:
    """The use case named ``name`` when one exists, else None: ``airsage transform`` needs no use-case file
    (a use case only supplies the record id column). An explicit ``--usecase`` is looked up strictly."""
    from airsage.config import load_usecases

    if not name:
        return None
    try:
        ucs = load_usecases()
    except ConfigError as exc:  # an unrelated broken file must not stop a standalone transform
        log.warning("use cases not loaded (%s); scoring without one", exc.message)
        return None
    return next((u for u in ucs if u.name == name), None)


def score(*, model_uri: str, input_uri: str, output_uri: str, settings: Mapping[str, Any],
          usecase: str | None = None, capture_uri: str | None = None, run_key: str | None = None,
          record_id: str | None = None, force: bool = False) -> dict:
    """``airsage transform``: the batch-transform engine the DAG's job runs, in-process, with the approval guard.

    Standalone: no use-case file is needed (``usecase`` defaults to the registered model's name when such a
    use case exists; it only supplies the record id column). The record id is ``record_id`` (a column name,
    or for header-less CSV its index), else the use case's, else derived per record. When any input file
    failed, the good files are published and ``TransformFailedError`` (exit 3; 2 when nothing succeeded)
    carries the report naming the failed files. ``force``: replace an output directory Airsage did not
    publish (its content is moved aside)."""
    from airsage.config import get_usecase
    from airsage.transform import run_batch_transform

    if not model_uri.startswith("models:/"):
        raise ConfigError(f"--model-uri {model_uri!r} is not a registry URI", key="--model-uri",
                          fix="Use models:/<name>@<alias> or models:/<name>/<version>: only approved versions are served.")
    bundle, name, version = bundle_for(model_uri, require_approved=True)
    uc = get_usecase(usecase) if usecase else _optional_usecase(name)
    if record_id not in (None, ""):
        id_col: str | int | None = int(record_id) if str(record_id).lstrip("-").isdigit() else record_id
    else:  # header-less CSV rows have no column names: the inference id is derived unless --record-id names an index
        id_col = uc.schema_.record_id if uc and settings.get("content_type") != "text/csv" else None
    report = run_batch_transform(
        bundle, input_uri, output_uri, {k: v for k, v in settings.items() if v not in (None, "")},
        model_name=name, model_version=version, run_key=run_key_from(run_key), capture_uri=capture_uri,
        record_id_col=id_col, fail_on_file_error=True, force=force)
    return report.to_dict()


def partial_failure(uc: UseCase, report: Mapping[str, Any], partition: str) -> dict[str, Any]:
    """The DAG's verdict on a transform report with failed input files (the good files and the report are
    already published). Unless ``transform.allow_partial``, raise a permanent ``PartialFailureError`` naming
    the failed files (the run turns red); with it, return ``{"partial": True, "files_failed": n}`` for the
    asset event's extra. ``{}`` when nothing failed."""
    from airsage.errors import PartialFailureError

    failed = int(report.get("files_failed") or 0)
    if not failed:
        return {}
    failures = [_describe_failure(f) for f in report.get("failures") or []]
    if uc.transform.allow_partial:
        log.warning("partition %s is PARTIAL: %d of %s input file(s) failed (transform.allow_partial): %s",
                    partition, failed, report.get("files_in"), "; ".join(failures[:5]))
        return {"partial": True, "files_failed": failed}
    shown = "; ".join(failures[:5]) + (f" (+{len(failures) - 5} more)" if len(failures) > 5 else "")
    raise PartialFailureError(
        f"batch transform of partition {partition}: {failed} of {report.get('files_in')} input file(s) failed "
        f"({report.get('files_out')} published, see {report.get('report_uri') or 'the job report'}): {shown}",
        failures=failures,
        fix="Correct or remove the failed files named above and clear this run (the partition is re-scored and "
            "replaced as a whole), or set transform.allow_partial: true in the use case to accept partial output.")


def _describe_failure(f: Any) -> str:
    """One failed file as ``rel/path, line N: reason`` (``FileFailure.describe`` from its dict)."""
    if isinstance(f, Mapping):
        where = f", line {f['line']}" if f.get("line") is not None else (
            f", row {f['record']}" if f.get("record") is not None else "")
        return f"{f.get('relative_path') or f.get('input_uri') or '?'}{where}: {f.get('reason')}"
    return str(f)
