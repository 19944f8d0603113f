"""``LocalBackend``: each job is ``python -m <entrypoint>`` in a subprocess under SageMaker's contract.

A job directory ``<home>/jobs/<name>/`` plays ``/opt/ml``: channels are copied in like File mode,
hyperparameters go to ``input/config/hyperparameters.json`` and ``SM_HPS``, the model is written to
``model/`` and packed to ``<output_uri>/<name>/output/model.tar.gz`` exactly where SageMaker puts it.
A detached runner process owns the job and writes ``status.json`` when it ends, so ``status`` never
blocks and a retried Airflow task reattaches to a job that is still running (or already completed).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from airsage import storage
from airsage.compute.base import PROCESSING_KINDS, TRAINING_KINDS, ComputeBackend, JobHandle, JobSpec, JobStatus


class LocalBackend(ComputeBackend):
    name = "local"

    def __init__(self, jobs_dir: str | os.PathLike | None = None, python: str | None = None):
        if jobs_dir is None:
            from airsage import layout

            jobs_dir = layout.jobs_dir()
        self.jobs_dir = Path(jobs_dir)
        self.python = python or sys.executable

    # ------------------------------------------------------------------ interface
    def submit(self, spec: JobSpec) -> JobHandle:
        job = self.jobs_dir / spec.name
        handle = JobHandle(backend=self.name, name=spec.name, kind=spec.kind)
        if job.exists():
            st = self.status(handle)
            same = _read_json(job / "spec.json") == spec.to_dict()
            if same and st.state in ("Completed", "InProgress"):
                return handle  # reattach: a retried task never runs the same job twice
            shutil.rmtree(job)  # failed, stopped or changed: start afresh under the same name
        if spec.kind in PROCESSING_KINDS or spec.kind == "transform":  # refuse a bad output before the job runs
            storage.check_output(spec.output_uri, inputs=tuple(spec.inputs.values()), kind=spec.kind)
        job.mkdir(parents=True)
        (job / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2))
        log = open(job / "job.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            [self.python, "-m", "airsage.compute.local", str(job)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=os.environ.copy(),
        )
        (job / "runner.pid").write_text(str(proc.pid))
        return handle

    def status(self, handle: JobHandle) -> JobStatus:
        job = self.jobs_dir / handle.name
        st = _read_json(job / "status.json")
        if st:
            return JobStatus(state=st["state"], failure_reason=st.get("failure_reason"),
                             outputs=st.get("outputs", {}), details={"log": str(job / "job.log")})
        pid_file = job / "runner.pid"
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            return JobStatus(state="InProgress", details={"log": str(job / "job.log")})
        if not job.exists():
            return JobStatus(state="Failed", failure_reason=f"no such local job {handle.name}")
        return JobStatus(state="Failed", failure_reason=f"the local runner died; see {job / 'job.log'}")

    def stop(self, handle: JobHandle) -> None:
        job = self.jobs_dir / handle.name
        pid_file = job / "runner.pid"
        if pid_file.exists() and _alive(pid := int(pid_file.read_text())):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _write_status(job, "Stopped", "stopped on request")

    def log_tail(self, handle: JobHandle, lines: int = 40) -> str:
        log = self.jobs_dir / handle.name / "job.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


# ---------------------------------------------------------------------- the runner
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_status(job: Path, state: str, reason: str | None = None, outputs: dict | None = None) -> None:
    tmp = job / ".status.json.tmp"
    tmp.write_text(json.dumps({"state": state, "failure_reason": reason, "outputs": outputs or {},
                               "ended_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
    os.replace(tmp, job / "status.json")


def _materialize(uri: str, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if storage.is_s3(uri):
        storage.download_dir(uri, dest)
        return
    src = Path(storage.normalize(uri))
    if src.is_file():
        _link_or_copy(src, dest / src.name)
    elif src.is_dir():
        for child in src.iterdir():
            if child.name.startswith((".", "_")):
                continue
            if child.is_dir():
                shutil.copytree(child, dest / child.name, copy_function=_link_or_copy)
            else:
                _link_or_copy(child, dest / child.name)
    else:
        raise FileNotFoundError(f"input {uri} does not exist")


def _link_or_copy(src, dst) -> None:
    """A hard link (no copy, and a regular file to readers that refuse symbolic links leading out of the
    directory they list), else a copy (another file system)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _contract_env(spec: JobSpec, opt_ml: Path) -> dict[str, str]:
    env = os.environ.copy()
    env.update({k: str(v) for k, v in spec.environment.items()})
    env["AIRSAGE_OPT_ML"] = str(opt_ml)
    env["AIRSAGE_JOB_NAME"] = spec.name
    env["AIRSAGE_JOB_PARAMETERS"] = json.dumps(dict(spec.parameters))
    env["AIRSAGE_OUTPUT_URI"] = spec.output_uri
    if spec.kind in TRAINING_KINDS:
        env["SM_MODEL_DIR"] = str(opt_ml / "model")
        env["SM_OUTPUT_DATA_DIR"] = str(opt_ml / "output" / "data")
        env["SM_HPS"] = json.dumps(dict(spec.hyperparameters))
        env["SM_CHANNELS"] = json.dumps(sorted(spec.inputs))
        env["SM_CURRENT_HOST"] = "algo-1"
        env["SM_HOSTS"] = json.dumps(["algo-1"])
        env["SM_NUM_CPUS"] = str(os.cpu_count() or 1)
        for ch in spec.inputs:
            env[f"SM_CHANNEL_{ch.upper()}"] = str(opt_ml / "input" / "data" / ch)
    for ch, uri in spec.inputs.items():
        env[f"AIRSAGE_INPUT_{ch.upper()}"] = uri  # transform streams its data from the URI itself
    return env


def _pack(src: Path, target_uri: str) -> str:
    with storage.atomic_path(target_uri) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            for p in sorted(src.rglob("*")):
                tar.add(p, arcname=p.relative_to(src).as_posix(), recursive=False)
    return target_uri


def run_job(job: Path) -> None:
    spec = JobSpec.from_dict(json.loads((job / "spec.json").read_text()))
    opt_ml = job / "opt_ml"
    outputs: dict[str, str] = {}
    try:
        (opt_ml / "input" / "config").mkdir(parents=True, exist_ok=True)
        (opt_ml / "output" / "data").mkdir(parents=True, exist_ok=True)
        if spec.kind in TRAINING_KINDS:
            (opt_ml / "model").mkdir(parents=True, exist_ok=True)
            (opt_ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps(dict(spec.hyperparameters)))
            (opt_ml / "input" / "config" / "inputdataconfig.json").write_text(
                json.dumps({ch: {"TrainingInputMode": "File"} for ch in spec.inputs}))
            for ch, uri in spec.inputs.items():
                _materialize(uri, opt_ml / "input" / "data" / ch)
        elif spec.kind in PROCESSING_KINDS:
            for ch, uri in spec.inputs.items():
                _materialize(uri, opt_ml / "processing" / "input" / ch)
            (opt_ml / "processing" / "output").mkdir(parents=True, exist_ok=True)
        elif spec.kind == "transform":
            model_uri = spec.inputs.get("model")
            if model_uri:
                storage.unpack_tar(model_uri, opt_ml / "model")
        env = _contract_env(spec, opt_ml)
        timeout = float(spec.resources.get("max_runtime_s", 0) or 0) or None
        print(f"[airsage local] {spec.kind} job {spec.name}: python -m {spec.entrypoint}", flush=True)
        rc = subprocess.call([sys.executable, "-m", spec.entrypoint], env=env, cwd=str(job), timeout=timeout)
        if rc != 0:
            failure = opt_ml / "output" / "failure"
            reason = failure.read_text() if failure.exists() else f"exit code {rc}; see {job / 'job.log'}"
            _write_status(job, "Failed", reason)
            return
        if spec.kind in TRAINING_KINDS:
            base = storage.join(spec.output_uri, spec.name, "output")
            outputs["model_artifact"] = _pack(opt_ml / "model", storage.join(base, "model.tar.gz"))
            outputs["output_data"] = _pack(opt_ml / "output" / "data", storage.join(base, "output.tar.gz"))
        elif spec.kind in PROCESSING_KINDS:
            # checked like every publish: never onto or inside an input, never over a folder that is not
            # an Airsage output of this kind (the marker written records the job's kind and inputs)
            with storage.atomic_dir(spec.output_uri, inputs=tuple(spec.inputs.values()), kind=spec.kind) as stage:
                shutil.copytree(opt_ml / "processing" / "output", stage, dirs_exist_ok=True)
            outputs["output"] = spec.output_uri
        else:
            outputs["output"] = spec.output_uri
            report = opt_ml / "output" / "data" / "report.json"
            if report.exists():
                outputs["report"] = str(report)
        _write_status(job, "Completed", None, outputs)
    except subprocess.TimeoutExpired:
        _write_status(job, "Stopped", f"MaxRuntimeInSeconds ({spec.resources.get('max_runtime_s')}) exceeded")
    except Exception as exc:  # noqa: BLE001 - the runner must always leave a status
        _write_status(job, "Failed", f"{type(exc).__name__}: {exc}")
        raise


if __name__ == "__main__":  # the detached runner: python -m airsage.compute.local <jobdir>
    run_job(Path(sys.argv[1]))
