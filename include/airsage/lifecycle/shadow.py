"""Shadow scoring (README: Shadow scoring): pending versions scored beside the champion in the nightly
batch transform, compared on the same rows, and shown to the approver.

* ``candidates``: which pending versions a night scores (``shadow.versions``: the ``newest`` N or ``all``).
  A version stops being scored the moment it is approved or rejected (it is no longer pending), and
  ``stop`` records why in its summary. Shadow versions are resolved without the serving guard on purpose:
  their scores go under ``layout.shadow_scores`` only, never into the predictions Asset or the capture.
* Locally the champion's transform job scores them too (input read and encoded once:
  ``lifecycle.transform.shadow_inputs``); on SageMaker each is its own transform job (``shadow.sagemaker_jobs``), whose
  ``.out`` files ``compare`` joins with the champion's.
* ``compare``: per partition a ``PartitionComparison`` (agreement, flips overall and per facet group, score
  shift, Clarify DPPL / DI of both), then the cumulative ``ShadowSummary`` with the paired quality test on
  every labelled row so far (``refresh``, also run when labels arrive) and the gate verdict.
* ``check_gate``: with ``shadow.gate.enabled`` an approval is refused until the evidence passes the gate.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from airsage import layout, storage
from airsage.config import UseCase
from airsage.contracts import JobResult, ServingModel, TransformArgs
from airsage.errors import AirsageError, DataValidationError

log = logging.getLogger("airsage.lifecycle.shadow")
PENDING = "PendingManualApproval"


class ShadowGateError(AirsageError):
    """A pending version's shadow evidence does not (yet) pass ``shadow.gate``: approval refused."""

    exit_code = 2

    def __init__(self, name: str, version: str, reasons: Sequence[str]):
        self.reasons = list(reasons)
        super().__init__(
            f"{name} version {version} cannot be approved yet: its shadow evidence fails shadow.gate: "
            + "; ".join(self.reasons),
            fix="Let the nightly batch transform score more partitions in shadow (and the outcomes arrive), or "
                "reject the version; the gate's bounds are shadow.gate in the use case.")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- which versions
def candidates(uc: UseCase, champion_version: str | None) -> tuple[ServingModel, ...]:
    """The pending versions tonight's batch scores in shadow (none when ``shadow.enabled`` is false)."""
    if not uc.shadow.enabled:
        return ()
    if on_sagemaker(uc) and not uc.shadow.sagemaker_jobs:
        log.info("shadow: the transform runs on SageMaker and shadow.sagemaker_jobs is false (each challenger "
                 "would cost its own transform job): no version is scored in shadow")
        return ()
    from airsage.registry import ModelRegistry

    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    pending = sorted((v for v in reg.list_versions(name)
                      if str(v.status) == PENDING and str(v.version) != str(champion_version)),
                     key=lambda v: int(v.version), reverse=True)
    if uc.shadow.versions == "newest":
        pending = pending[: uc.shadow.newest]
    out = []
    for v in pending:
        uri = f"models:/{name}/{v.version}"
        try:  # not the serving guard: a shadow version is never served, its scores go nowhere downstream
            out.append(ServingModel.from_resolved(uri, reg.resolve(uri, require_approved=False)))
        except AirsageError as exc:
            log.warning("shadow: %s is not scored: %s", uri, exc.message)
    return tuple(out)


def on_sagemaker(uc: UseCase) -> bool:
    return uc.compute.transform.backend == "sagemaker"


def sagemaker_output(uc: UseCase, version: str, partition: str | dt.date) -> str:
    """Where a challenger's own SageMaker transform job writes its ``.out`` files for a partition."""
    from airsage.identifiers import partition as _partition

    return storage.join(layout.shadow_version(uc, version), "jobs", f"dt={_partition(partition):%Y-%m-%d}")


def sagemaker_jobs(uc: UseCase, plan: TransformArgs) -> list[dict[str, Any]]:
    """On SageMaker with ``shadow.sagemaker_jobs``: one ordinary transform job per challenger (its own
    output prefix below the challenger's shadow folder, no data capture); else none."""
    if not plan.shadow or not on_sagemaker(uc) or not uc.shadow.sagemaker_jobs:
        return []
    return [TransformArgs(model=m, partition=plan.partition, input_uri=plan.input_uri,
                          output_uri=sagemaker_output(uc, m.version, plan.partition),
                          overrides={"shadow_job": True}).to_dict()
            for m in plan.shadow]


# ---------------------------------------------------------------------- comparison
def compare(uc: UseCase, plan: TransformArgs | Mapping[str, Any],
            job: JobResult | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """After the champion's transform: compare every challenger of ``plan`` on the partition, refresh its
    summary. Returns ``{version: headline}``; every challenger is tried, one that was not scored (the job
    report says why) or cannot be compared has ``status: failed`` and an ``error`` (the champion's
    predictions are published before this runs)."""
    args = plan if isinstance(plan, TransformArgs) else TransformArgs.from_dict(plan)
    from airsage.lifecycle.common import partition_for
    from airsage.lifecycle.transform import read_transform_report

    partition = partition_for(args.partition)
    report = read_transform_report(job) if job else {}
    scored = {str(r.get("model_version")): r for r in (report.get("shadow") or [])}
    out: dict[str, Any] = {}
    for m in args.shadow:
        try:
            scores = layout.shadow_scores(uc, m.version, partition)
            if on_sagemaker(uc):
                scores = _from_sagemaker(uc, args, job, m, partition)
            elif report and scored.get(m.version, {}).get("status") != "Completed":
                # this run did not score it: an older run's scores of the partition must not pass for tonight's
                why = scored.get(m.version, {}).get("error") or "not in the transform job's report"
                raise DataValidationError(scores, [f"v{m.version} was not scored in shadow: {why}"],
                                          fix="Fix what the error names and clear the run's score_partition task.")
            comparison = compare_partition(uc, m, partition, scores, champion_version=args.model.version)
            summary = refresh(uc, m.version)
            out[m.version] = {"partition": str(partition), "status": "compared",
                              "rows": comparison.get("rows"), "agreement_rate": (comparison.get("agreement") or {}).get("rate"),
                              "flip_rate": (comparison.get("flips") or {}).get("rate"),
                              "gate_passed": _gate_passed(summary)}
        except (AirsageError, OSError, ValueError) as exc:
            msg = getattr(exc, "message", None) or str(exc)
            log.error("shadow v%s on %s: not compared: %s", m.version, partition, msg)
            out[m.version] = {"partition": str(partition), "status": "failed", "error": msg}
    return out


def _from_sagemaker(uc: UseCase, args: TransformArgs, job, m: ServingModel, partition: dt.date) -> str:
    """Build the challenger's shadow scores from its own SageMaker job's ``.out`` and the champion's."""
    from airsage.lifecycle.transform import shadow_columns
    from airsage.transform.shadow import shadow_from_outputs

    champion_out = _output_of(job) or args.output_uri or layout.predictions(uc, partition)
    challenger_out = sagemaker_output(uc, m.version, partition)
    if not storage.list_files(challenger_out, suffixes=(".out",)):
        raise DataValidationError(challenger_out, [f"no output of v{m.version}'s shadow transform job"],
                                  fix="See the shadow_score task of this run (one SageMaker transform job per "
                                      "challenger, with shadow.sagemaker_jobs: true), then clear compare_shadow.")
    dest = layout.shadow_scores(uc, m.version, partition)
    shadow_from_outputs(champion_out, challenger_out, dest, shadow_columns=shadow_columns(uc))
    return dest


def _output_of(job) -> str | None:
    if job is None:
        return None
    outputs = job.outputs if isinstance(job, JobResult) else (job.get("outputs") or {})
    return outputs.get("output")


def compare_partition(uc: UseCase, m: ServingModel, partition: dt.date, scores_uri: str, *,
                      champion_version: str) -> dict[str, Any]:
    """Compare one challenger's scores of one partition (its ``.out`` files) and write the comparison."""
    from airsage.shadow.compare import compare_partition as _compare

    if not storage.is_complete(scores_uri):
        raise DataValidationError(scores_uri, [f"v{m.version} has no complete shadow scores for {partition}"],
                                  fix="See the transform job's report (its 'shadow' entries say why).")
    frame = read_scores(scores_uri)
    comparison = _compare(frame, facets=uc.schema_.facets, partition=str(partition),
                          champion_version=str(champion_version), challenger_version=str(m.version))
    comparison = {**comparison, "scores_uri": scores_uri, "compared_at": _now()}
    storage.write_json(layout.shadow_comparison(uc, m.version, partition), _safe(comparison))
    return comparison


def read_scores(scores_uri: str):
    """Every ``.out`` of one challenger's partition as one frame (rows in file, then input order)."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    for uri in storage.list_files(scores_uri, suffixes=(".out",)):
        with storage.local_copy(uri) as local:
            frames.append(pq.read_table(local).to_pandas())
    if not frames:
        raise DataValidationError(scores_uri, ["no .out files"], fix="Re-run the partition's batch transform.")
    return pd.concat(frames, ignore_index=True)


def _safe(obj: Any) -> Any:
    from airsage.shadow.compare import to_json

    return to_json(obj)


# ---------------------------------------------------------------------- cumulative evidence
def partitions_of(uc: UseCase, version: str) -> list[str]:
    """The partitions compared so far for ``version`` (sorted ``YYYY-MM-DD``)."""
    base = storage.join(layout.shadow_version(uc, version), "compare")
    if not storage.exists(base):
        return []
    days = []
    for uri in storage.list_files(base, suffixes=(".json",)):
        stem = uri.replace("\\", "/").rsplit("/", 1)[-1][: -len(".json")]
        if stem.startswith("dt="):
            days.append(stem[3:])
    return sorted(days)


def labelled_rows(uc: UseCase, version: str, partition: str):
    """The partition's shadow rows whose outcome is known (ground truth: published datasets and review
    decisions, the latest label per record), written to ``layout.shadow_labelled``; None when none is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airsage.lifecycle.monitoring_data import load_ground_truth

    scores = layout.shadow_scores(uc, version, partition)
    if not storage.is_complete(scores):
        return None
    frame = read_scores(scores)
    truth = load_ground_truth(uc, frame["inference_id"].astype(str))
    if not len(truth):
        return None
    truth = truth.sort_values("labeled_at").drop_duplicates("inference_id", keep="last")
    joined = frame.assign(inference_id=frame["inference_id"].astype(str)).merge(
        truth[["inference_id", "label"]].rename(columns={"label": "ground_truth"}), on="inference_id", how="inner")
    if not len(joined):
        return None
    with storage.atomic_path(layout.shadow_labelled(uc, version, partition)) as tmp:
        pq.write_table(pa.Table.from_pandas(joined, preserve_index=False), tmp)
    return joined


def refresh(uc: UseCase, version: str, *, stopped: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Recompute ``version``'s cumulative summary from its partition comparisons and every labelled row so
    far, with the gate verdict; written atomically to ``layout.shadow_summary``. Safe to rerun."""
    import pandas as pd

    from airsage.shadow.compare import SUMMARY_KIND, combine, paired_quality
    from airsage.shadow.gate import evaluate_gate

    def quality_of(rows):
        return paired_quality(rows["ground_truth"].to_numpy(), rows["champion_score"].to_numpy(),
                              rows["score"].to_numpy(), rows["champion_label"].to_numpy(),
                              rows["predicted_label"].to_numpy())

    days = partitions_of(uc, version)
    comparisons, labelled = [], []
    for d in days:
        comparison = storage.read_json(layout.shadow_comparison(uc, version, d))
        rows = labelled_rows(uc, version, d)
        if rows is not None and len(rows):
            labelled.append(rows)
            comparison = {**comparison, "quality": quality_of(rows)}  # the partition's line of the history
        comparisons.append(comparison)
    # DeLong's variance is not additive: the cumulative test runs on every labelled row at once
    quality = quality_of(pd.concat(labelled, ignore_index=True)) if labelled else None
    previous = read_summary(uc, version) or {}
    body = combine(comparisons, quality=quality) if comparisons else {"partitions": 0, "history": [], "quality": quality}
    stop = dict(stopped) if stopped else ({k: previous.get(k) for k in ("status", "stopped_reason", "stopped_at")}
                                          if previous.get("status") == "stopped" else {})
    summary = {"kind": SUMMARY_KIND, "schema_version": 1, "usecase": uc.name, "model_name": uc.registered_model_name,
               "challenger_version": str(version), **body,
               "status": stop.get("status") or "active", "stopped_reason": stop.get("stopped_reason"),
               "stopped_at": stop.get("stopped_at"), "updated_at": _now()}
    summary["gate"] = evaluate_gate(summary, uc.shadow.gate)
    storage.write_json(layout.shadow_summary(uc, version), _safe(summary))
    return summary


def read_summary(uc: UseCase, version: str) -> dict[str, Any] | None:
    """The version's summary as last written (None when it was never scored in shadow)."""
    from airsage.cards.shadow import load_shadow

    return load_shadow(uc, version)


def shadow_versions(uc: UseCase) -> list[str]:
    """Every version with at least one shadow comparison (numeric order)."""
    root = layout.shadow_root(uc)
    if not storage.exists(root):
        return []
    found = set()
    for p in storage.list_files(root, suffixes=(".json",)):
        parts = storage.relative(p, root).replace("\\", "/").split("/")
        if len(parts) == 3 and parts[0].startswith("v") and parts[1] == "compare":
            found.add(parts[0][1:])
    return sorted(found, key=lambda v: (len(v), v))


def summary_uri(uc: UseCase, version: str) -> str:
    return layout.shadow_summary(uc, version)


def headline(s: Mapping[str, Any]) -> dict[str, Any]:
    """The few numbers of a summary a list shows."""
    return {"status": s.get("status"), "partitions": s.get("partitions"),
            "agreement_rate": (s.get("agreement") or {}).get("rate"), "flip_rate": (s.get("flips") or {}).get("rate"),
            "quality": (s.get("quality") or {}).get("status"), "auc_delta": (s.get("quality") or {}).get("auc_delta"),
            "gate_passed": _gate_passed(s)}


def _gate_passed(s: Mapping[str, Any]) -> bool | None:
    """The gate's verdict when ``shadow.gate`` is enabled (None when it is off: it decides nothing)."""
    gate = s.get("gate") or {}
    return gate.get("passed") if gate.get("enabled") else None


def headlines(uc: UseCase) -> dict[str, Any]:
    """Each shadow version's headline, as last computed (read only): ``airsage shadow show``."""
    return {v: headline(read_summary(uc, v) or {}) for v in shadow_versions(uc)}


def refresh_all(uc: UseCase) -> dict[str, Any]:
    """Refresh every active challenger's summary (outcomes may have arrived): ``airsage shadow refresh``."""
    out = {}
    for v in shadow_versions(uc):
        if (read_summary(uc, v) or {}).get("status") == "stopped":
            continue
        out[v] = headline(refresh(uc, v))
    return out


def stop(uc: UseCase, version: str, *, action: str, actor: str) -> dict[str, Any] | None:
    """Record that ``version``'s shadow scoring stopped (it was approved or rejected); None without any."""
    if not partitions_of(uc, version):
        return None
    when = _now()  # the decision is already recorded: a summary that cannot be rewritten is logged, not raised
    try:
        return refresh(uc, version, stopped={"status": "stopped", "stopped_at": when,
                                             "stopped_reason": f"{action} by {actor} on {when[:10]}"})
    except (AirsageError, OSError, ValueError) as exc:
        log.error("shadow v%s: scoring stopped (it is no longer pending) but its summary was not updated: %s",
                  version, getattr(exc, "message", None) or exc)
        return None


def check_gate(uc: UseCase, version: str) -> dict[str, Any] | None:
    """Refuse (``ShadowGateError``) approving ``version`` while ``shadow.gate`` is enabled and its evidence
    does not pass; returns the verdict (None when the gate is off)."""
    if not (uc.shadow.enabled and uc.shadow.gate.enabled):
        return None
    summary = refresh(uc, version) if partitions_of(uc, version) else None
    if summary is None:
        from airsage.shadow.gate import evaluate_gate

        verdict = evaluate_gate({"partitions": 0, "history": [], "quality": None}, uc.shadow.gate)
    else:
        verdict = summary["gate"]
    if not verdict.get("passed"):
        raise ShadowGateError(uc.registered_model_name, str(version), verdict.get("reasons") or ["not passed"])
    return verdict

