"""The Clarify processing job: ``python -m airsage.entrypoints.clarify``.

SageMaker Clarify's processing contract, with ``<opt_ml>`` = ``$AIRSAGE_OPT_ML`` or ``/opt/ml``:

* config: ``<opt_ml>/processing/input/config/analysis_config.json``
* data:   ``<opt_ml>/processing/input/data/`` (files of the configured ``dataset_type``; or ``dataset_uri``)
* model:  ``<opt_ml>/processing/input/model/`` (optional; an Airsage model directory or ``model.tar.gz``)
* output: ``<opt_ml>/processing/output/`` (analysis.json, explanations_shap/out.csv, report.html)

On error the job prints the error (an ``AirsageError``: its message and ``Fix:`` line; anything else: the
traceback), writes the message to ``<opt_ml>/output/failure`` (SageMaker's FailureReason) and to
``<opt_ml>/processing/output/failure``, and exits 1.

The result is staged beside the output directory and then moved in file by file (``os.replace``), the
``_SUCCESS`` marker last: SageMaker's output directory may be a mount point that cannot be renamed. Before
anything is moved the output is checked like every publish (``storage.check_output``): not an input, not
inside one, and holding nothing but an earlier Clarify output of this job.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import tempfile
import traceback
import uuid
from pathlib import Path

from airsage.entrypoints import contract


def _model_dir(path: Path) -> Path | None:
    """The model directory to load, unpacking a ``model.tar.gz`` when that is what was mounted."""
    if not path.exists() or not any(path.iterdir()):
        return None
    tars = sorted(path.glob("*.tar.gz"))
    if tars and not any(path.rglob("airsage_model.json")):
        target = Path(tempfile.mkdtemp(prefix="airsage-model-"))
        with tarfile.open(tars[0]) as tar:
            tar.extractall(target, filter="data")
        return target
    return path


def _publish(stage: Path, out: Path, *, inputs: tuple[str, ...] = ()) -> None:
    from airsage import storage
    from airsage.clarify.runner import OUTPUT_KIND

    stale = out / "failure"  # a previous attempt's failure reason (this job's own file): superseded
    if stale.is_file() and not stale.is_symlink():
        stale.unlink()
    storage.check_output(str(out), inputs=inputs, kind=OUTPUT_KIND)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in stage.rglob("*") if p.is_file())
    marker = [p for p in files if p.name == "_SUCCESS"]
    for f in [p for p in files if p.name != "_SUCCESS"] + marker:
        dest = out / f.relative_to(stage)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(f, dest)


def run() -> dict:
    from airsage.clarify.analysis_config import AnalysisConfig
    from airsage.clarify.runner import run_analysis
    from airsage.errors import ConfigError

    config_path = contract.processing_input("config") / "analysis_config.json"
    if not config_path.exists():
        raise ConfigError(f"{config_path} does not exist", key="analysis_config",
                          fix="Mount the analysis config as the processing input 'analysis_config' "
                              "(destination /opt/ml/processing/input/config).")
    cfg = AnalysisConfig.parse(config_path.read_text(), source=str(config_path))
    data = contract.processing_input("data")
    dataset = str(data) if data.exists() and any(data.iterdir()) else cfg.dataset_uri
    if not dataset:
        raise ConfigError(f"no data under {data} and no dataset_uri", key="dataset_uri",
                          fix="Mount the data as the processing input 'dataset' or set dataset_uri.")
    model = None
    mounted = contract.processing_input("model")
    model_dir = _model_dir(mounted)
    out = contract.processing_output()
    stage = out.parent / f".clarify-stage-{uuid.uuid4().hex[:8]}"
    try:
        if model_dir is not None:
            from airsage.model import ModelBundle

            model = ModelBundle.load(model_dir)
        params = json.loads(os.environ.get("AIRSAGE_JOB_PARAMETERS") or "{}")
        max_rows = params.get("max_shap_rows")
        result = run_analysis(cfg, dataset, str(stage), model=model,
                              max_shap_rows=int(max_rows) if max_rows else None, seed=int(params.get("seed", 0)))
        _publish(stage, out, inputs=(dataset, str(config_path)))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if model_dir is not None and model_dir != mounted:
            shutil.rmtree(model_dir, ignore_errors=True)
    return {**result.to_dict(), "output_uri": str(out)}


def main() -> int:
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - the job boundary: report, then fail
        from airsage.errors import AirsageError

        if not isinstance(exc, AirsageError):
            traceback.print_exc()  # a bug: its traceback belongs in the job log
        message = contract.failure_text(exc)
        contract.write_failure(message)
        try:
            failure = contract.processing_output() / "failure"
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(message[:1024])
        except OSError:
            pass
        print(f"airsage-clarify failed: {message}", file=sys.stderr)
        return 1
    print(f"airsage-clarify wrote {', '.join(result['files'])} to {result['output_uri']} "
          f"({result['records']} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
