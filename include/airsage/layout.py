"""Where every piece of a use case's data lives: the one owner of the data layout (stdlib + core only).

Below a use case's root (``uc.data_root()``: a local path or ``s3://bucket/prefix``)::

    raw/features/dt=YYYY-MM-DD/*.parquet         feature records (no labels): what labels join to
    labels/incoming/<job>/manifests/output/output.manifest   Ground Truth output manifests
    datasets/<ds-…>/ , datasets/latest.json      versioned training sets (label import)
    scoring/dt=YYYY-MM-DD/*.parquet              the nightly partitions to score
    training/<job>/output/model.tar.gz           training job outputs (SageMaker's layout)
    predictions/dt=YYYY-MM-DD/                   batch transform outputs (<file>.out per input file)
    capture/dt=YYYY-MM-DD/<key>.parquet          data capture for monitoring
    reports/transform/dt=YYYY-MM-DD/<job>.json   a SageMaker transform's imported report
    reports/clarify/<run_key>/                   Clarify inputs and outputs of one run
    monitor/baselines/v<version>/                one monitoring baseline per model version
    monitor/runs/dt=YYYY-MM-DD/<run_key>/        one monitoring run
    monitor/jobs/<job name>/                     the monitor job's raw output
    review/a2i/<flow>/…/output.json              human review decisions (A2I layout)

and, shared by every use case, ``<settings data root>/_audit/<model>/`` (the registry's audit log) and
``<home>/jobs/<name>/`` (local compute jobs). Every function returns a URI string; none touches storage.
A value that becomes a path segment (partition, dataset version, model version) is validated here.
"""
from __future__ import annotations

import datetime as dt
import re

from airsage import identifiers, storage
from airsage.config import Settings, UseCase, load_settings
from airsage.errors import ConfigError

_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _day(partition: str | dt.date | dt.datetime) -> str:
    return f"dt={identifiers.partition(partition):%Y-%m-%d}"


def root(uc: UseCase) -> str:
    return uc.data_root()


# ---------------------------------------------------------------------- inputs and labels
def raw_features(uc: UseCase, partition: str | dt.date | None = None) -> str:
    """Feature records (what labels join to); one partition directory when ``partition`` is given."""
    base = uc.path("raw", "features")
    return base if partition is None else storage.join(base, _day(partition))


def labels_incoming(uc: UseCase) -> str:
    return uc.path("labels", "incoming")


def ground_truth_manifest(uc: UseCase, job: str) -> str:
    """A labeling job's output manifest (Ground Truth's ``<job>/manifests/output/output.manifest``)."""
    return storage.join(labels_incoming(uc), job, "manifests", "output", "output.manifest")


def datasets(uc: UseCase) -> str:
    return uc.path("datasets")


def dataset(uc: UseCase, version: str) -> str:
    return storage.join(datasets(uc), identifiers.check(version, identifiers.DATASET_VERSION, field="dataset_version"))


def scoring(uc: UseCase, partition: str | dt.date) -> str:
    """The records of one nightly partition to score."""
    return uc.path("scoring", _day(partition))


# ---------------------------------------------------------------------- training and scoring outputs
def training_outputs(uc: UseCase) -> str:
    """The training jobs' output path (each job writes ``<job>/output/{model,output}.tar.gz`` below it)."""
    return uc.path("training")


def predictions(uc: UseCase, partition: str | dt.date | None = None) -> str:
    base = uc.path("predictions")
    return base if partition is None else storage.join(base, _day(partition))


def captures(uc: UseCase, partition: str | dt.date | None = None) -> str:
    """Data capture for monitoring (one file per run key below each partition)."""
    base = uc.path("capture")
    return base if partition is None else storage.join(base, _day(partition))


def transform_reports(uc: UseCase) -> str:
    """Every batch-transform report (one per job, below each partition)."""
    return uc.path("reports", "transform")


def transform_report(uc: UseCase, partition: str | dt.date, job_name: str) -> str:
    return storage.join(transform_reports(uc), _day(partition), f"{job_name}.json")


def dataset_file(uc: UseCase, version: str, name: str) -> str:
    """A file of a published dataset version (``manifest.json``, ``validation.html``, ``data.parquet``)."""
    return storage.join(dataset(uc, version), name)


# ---------------------------------------------------------------------- Clarify
def clarify_reports(uc: UseCase) -> str:
    return uc.path("reports", "clarify")


def clarify_run(uc: UseCase, run_key: str) -> str:
    """Everything Clarify wrote for one run: ``input/`` (configs, eval rows) and one directory per analysis."""
    return storage.join(clarify_reports(uc), run_key)


def clarify_output(uc: UseCase, run_key: str, stage: str) -> str:
    """One analysis' output directory: ``pre_training``, ``post_training`` or ``analysis`` (standalone)."""
    return storage.join(clarify_run(uc, run_key), stage)


def clarify_analysis(uc: UseCase, run_key: str) -> str:
    """The post-training analysis (bias + SHAP) a training run wrote."""
    return storage.join(clarify_output(uc, run_key, "post_training"), "analysis.json")


# ---------------------------------------------------------------------- monitoring
def version_key(version: str | int) -> str:
    """A model version as a path segment (``3`` or ``v3`` -> ``3``); refuses anything else."""
    v = str(version).strip()
    if v.startswith("v") and v[1:].isdigit():
        v = v[1:]
    if not _VERSION.match(v) or ".." in v:
        raise ConfigError(f"model version {version!r} cannot name a baseline", key="model_version",
                          fix="Pass the registered version number, e.g. 3.")
    return v


def monitor_baselines(uc: UseCase) -> str:
    return uc.path("monitor", "baselines")


def monitor_baseline(uc: UseCase, version: str | int) -> str:
    """The monitoring baseline of one model version."""
    return storage.join(monitor_baselines(uc), f"v{version_key(version)}")


def monitor_runs(uc: UseCase) -> str:
    return uc.path("monitor", "runs")


def monitor_run(uc: UseCase, partition: str | dt.date, run_key: str) -> str:
    """One monitoring run (``run_key`` must already be path-safe)."""
    return storage.join(monitor_runs(uc), _day(partition), run_key)


def monitor_history(uc: UseCase) -> str:
    """The monitoring history points (one per run, below each model version): the trend's source."""
    return uc.path("monitor", "history")


def monitor_job_output(uc: UseCase, job_name: str) -> str:
    return uc.path("monitor", "jobs", job_name)


# ---------------------------------------------------------------------- shadow scoring
def shadow_root(uc: UseCase) -> str:
    """Shadow scoring of pending versions: never read by anything downstream of the predictions."""
    return uc.path("shadow")


def shadow_version(uc: UseCase, version: str | int) -> str:
    return storage.join(shadow_root(uc), f"v{version_key(version)}")


def shadow_scores(uc: UseCase, version: str | int, partition: str | dt.date) -> str:
    """One challenger's scores of one partition (a ``.out`` per input file, beside the champion's)."""
    return storage.join(shadow_version(uc, version), "scores", _day(partition))


def shadow_comparison(uc: UseCase, version: str | int, partition: str | dt.date) -> str:
    """The challenger-vs-champion comparison of one partition (JSON)."""
    return storage.join(shadow_version(uc, version), "compare", f"{_day(partition)}.json")


def shadow_labelled(uc: UseCase, version: str | int, partition: str | dt.date) -> str:
    """The partition's rows with ground truth and both scores (Parquet): the paired quality test's input."""
    return storage.join(shadow_version(uc, version), "labelled", f"{_day(partition)}.parquet")


def shadow_summary(uc: UseCase, version: str | int) -> str:
    """The cumulative comparison of a challenger over every shadow partition (JSON)."""
    return storage.join(shadow_version(uc, version), "summary.json")


# ---------------------------------------------------------------------- human review
def review(uc: UseCase) -> str:
    """Every review decision below this prefix is ground truth for monitoring."""
    return uc.path("review")


def a2i_outputs(uc: UseCase) -> str:
    return storage.join(review(uc), "a2i")


# ---------------------------------------------------------------------- the model dashboard
def dashboard(uc: UseCase) -> str:
    """The dashboard's summaries (index, versions, partitions), written when things happen."""
    return uc.path("dashboard")


# ---------------------------------------------------------------------- shared by all use cases
def audit_root(settings: Settings | None = None) -> str:
    """The registry's audit log root; one directory per registered model below it."""
    return storage.join((settings or load_settings()).resolved_data_root, "_audit")


def audit_log(model_name: str, settings: Settings | None = None) -> str:
    return storage.join(audit_root(settings), model_name)


def jobs_dir(settings: Settings | None = None) -> str:
    """Local compute jobs (``<home>/jobs/<name>/`` plays SageMaker's ``/opt/ml``)."""
    return str((settings or load_settings()).jobs_dir)
