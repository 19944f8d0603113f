"""A SageMaker stand-in for the end-to-end tests: moto's server plus the jobs moto does not run.

moto (in server mode) implements SageMaker's control plane: it stores the Create* requests and answers
Describe*, but every job is ``Completed`` at once and nothing runs, so a later step that reads a job's
outputs (a ``model.tar.gz``, a Clarify ``analysis.json``, ``<file>.out``) would find nothing. This
emulator sits in front of moto as WSGI middleware. For every ``CreateTrainingJob``,
``CreateHyperParameterTuningJob``, ``CreateProcessingJob`` and ``CreateTransformJob`` moto accepted,
it runs the job **from the request alone**, the way SageMaker's containers would, in a background
thread, and until the job ends it rewrites moto's Describe answers: ``InProgress``, then
``Completed`` or ``Failed`` with the ``FailureReason`` SageMaker would give (the first KiB of
``/opt/ml/output/failure``).

What "the way SageMaker's containers would" means here (the container contract, public docs):

* **training** (script mode in a framework image): the channels' S3 prefixes are downloaded to
  ``/opt/ml/input/data/<channel>/``; ``/opt/ml/input/config/hyperparameters.json`` holds the request's
  ``HyperParameters`` (strings); ``sagemaker_submit_directory`` (a ``sourcedir.tar.gz`` on S3) is
  unpacked to ``/opt/ml/code`` and ``python <sagemaker_program>`` runs there with the request's
  ``Environment`` and the toolkit's ``SM_*`` variables; afterwards ``/opt/ml/model`` is uploaded as
  ``<S3OutputPath>/<job>/output/model.tar.gz`` and ``/opt/ml/output/data`` as ``output.tar.gz``, and
  the ``MetricDefinitions`` regexes are applied to the log (``FinalMetricDataList``).
* **tuning**: ``MaxNumberOfTrainingJobs`` trials of the training definition, each with the static
  hyperparameters plus one candidate drawn from ``ParameterRanges`` (seeded; grid for categorical
  ranges), named ``<tuning job>-NNN-<hash>``; the best trial by the objective metric (read from the
  log with its MetricDefinition) becomes ``BestTrainingJob``.
* **processing**: every input is downloaded to its ``LocalPath``; ``ContainerEntrypoint`` +
  ``ContainerArguments`` run with the request's ``Environment``; every output's ``LocalPath`` is
  uploaded to its ``S3Uri``.
* **transform**: the model's ``ModelDataUrl`` is unpacked to ``/opt/ml/model``; the serving module
  ``SAGEMAKER_PROGRAM`` is imported from ``SAGEMAKER_SUBMIT_DIRECTORY`` (an S3 ``sourcedir.tar.gz``
  or a directory inside the model) in a separate process with the model's ``Environment``;
  ``model_fn`` once, then per request ``input_fn`` -> ``predict_fn`` -> ``output_fn``. Requests:
  ``SplitType=None`` sends each S3 object whole; ``Line`` splits on newlines and batches records up to
  ``MaxPayloadInMB`` (``MultiRecord``) or one per request (``SingleRecord``). A request larger than
  ``MaxPayloadInMB`` fails its file. Each input ``<prefix>/<rel>`` gives ``<S3OutputPath>/<rel>.out``
  (``AssembleWith=Line`` appends a newline per record); a failed file gets no ``.out`` and fails the
  job while the other files are still processed. With ``DataCaptureConfig`` the job writes the two
  capture manifests (``<dest>/input/yyyy/mm/dd/hh/`` and ``<dest>/output/...``: a JSON array of
  ``{"prefix": ...}`` and the relative keys) and, with ``GenerateInferenceId``, appends an inference
  id and the job start time to every CSV / JSON Lines output record.

Paths: a job cannot mount ``/opt/ml`` on this machine, so each job gets its own root directory and
every ``/opt/ml`` in the request (local paths, the entrypoint, environment values) is mapped to it;
``AIRSAGE_OPT_ML`` tells Airsage's entrypoints. The job processes get a clean environment (no
``AIRSAGE__*``, ``AIRFLOW*``, ``MLFLOW*``, no AWS endpoint): what the container needs must be in the
request or the uploaded code. ``python3`` is this interpreter (the stand-in for the framework image).

Not emulated (the tests do not use them): DataProcessing filters and ``JoinSource=Input`` in
SageMaker itself (a transform asking for them fails with a clear reason), ``ManifestFile`` inputs,
Pipe mode, distributed jobs (``InstanceCount > 1`` runs once), Stop* calls, spot training, warm pools.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("sagemaker_emulator")

OPT_ML = "/opt/ml"
CREATE_OPS = {"CreateTrainingJob": "train", "CreateHyperParameterTuningJob": "tune",
              "CreateProcessingJob": "processing", "CreateTransformJob": "transform"}
NAME_KEYS = {"train": "TrainingJobName", "tune": "HyperParameterTuningJobName", "processing": "ProcessingJobName",
             "transform": "TransformJobName"}
DESCRIBE_OPS = {"DescribeTrainingJob": "train", "DescribeHyperParameterTuningJob": "tune",
                "DescribeProcessingJob": "processing", "DescribeTransformJob": "transform"}
STATUS_KEYS = {"train": "TrainingJobStatus", "tune": "HyperParameterTuningJobStatus",
               "processing": "ProcessingJobStatus", "transform": "TransformJobStatus"}
SERVING_RUNNER = Path(__file__).with_name("sagemaker_serving_runner.py")


@dataclass
class Job:
    kind: str
    name: str
    request: dict[str, Any]
    state: str = "InProgress"
    reason: str | None = None
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    ended: dt.datetime | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # what Describe reports beyond the status
    log_tail: str = ""


class SageMakerEmulator:
    """``with SageMakerEmulator(workdir) as url:`` — moto + job runner on 127.0.0.1, a free port."""

    def __init__(self, workdir: str | os.PathLike, *, region: str = "us-east-1", job_timeout_s: float = 1800):
        self.workdir = Path(workdir)
        self.region = region
        self.job_timeout_s = job_timeout_s
        self.jobs: dict[tuple[str, str], Job] = {}
        self.requests: list[tuple[str, dict[str, Any]]] = []  # every SageMaker call: (operation, request)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self.url: str | None = None

    # ------------------------------------------------------------------ server
    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", getattr(self, "_port", 0), self, threaded=True,
                                   request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        for t in list(self._threads):
            t.join(timeout=5)
        if self._server:
            self._server.shutdown()
            self._thread.join()

    def wait_idle(self, timeout_s: float = 600) -> None:
        for t in list(self._threads):
            t.join(timeout=timeout_s)

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=self.region, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def sagemaker(self):
        import boto3

        return boto3.client("sagemaker", endpoint_url=self.url, region_name=self.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # ------------------------------------------------------------------ WSGI middleware
    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("SageMaker."):
            return self._moto(environ, start_response)
        op = target.split(".", 1)[1]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        with self._lock:
            self.requests.append((op, request))
        status, headers, payload = self._call_moto(environ)
        ok = status.startswith("200")
        if ok and op in CREATE_OPS:
            kind = CREATE_OPS[op]
            self._start_job(kind, request[NAME_KEYS[kind]], request)
        elif ok and op in DESCRIBE_OPS:
            kind = DESCRIBE_OPS[op]
            job = self.jobs.get((kind, request.get(NAME_KEYS[kind], "")))
            if job is not None:
                payload = json.dumps(self._describe(job, json.loads(payload or b"{}"))).encode()
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(payload))))
        start_response(status, headers)
        return [payload]

    def _call_moto(self, environ) -> tuple[str, list[tuple[str, str]], bytes]:
        captured: dict[str, Any] = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, list(headers)

        chunks = self._moto(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return captured["status"], captured["headers"], payload

    def _describe(self, job: Job, d: dict[str, Any]) -> dict[str, Any]:
        d[STATUS_KEYS[job.kind]] = job.state
        if job.reason:
            d["FailureReason"] = job.reason
        else:
            d.pop("FailureReason", None)
        end_key = {"train": "TrainingEndTime", "processing": "ProcessingEndTime",
                   "transform": "TransformEndTime", "tune": "HyperParameterTuningEndTime"}[job.kind]
        if job.ended is None:
            d.pop(end_key, None)
        if job.kind == "train":
            d["SecondaryStatus"] = {"InProgress": "Training", "Completed": "Completed", "Failed": "Failed"}[job.state]
            d["FinalMetricDataList"] = [{"MetricName": k, "Value": v, "Timestamp": (job.ended or job.started).timestamp()}
                                        for k, v in sorted(job.metrics.items())]
            d["AlgorithmSpecification"] = job.request["AlgorithmSpecification"]  # moto replaces MetricDefinitions
            d["Environment"] = job.request.get("Environment", {})  # moto does not echo it
            if job.state == "Completed":
                d["ModelArtifacts"] = {"S3ModelArtifacts": job.extra["model_artifact"]}
        elif job.kind == "processing" and job.state == "Failed":
            d["ExitMessage"] = job.reason
        elif job.kind == "tune":
            d.update(job.extra.get("describe", {}))
            if job.state != "Completed":
                d.pop("BestTrainingJob", None)
        return d

    # ------------------------------------------------------------------ jobs
    def _start_job(self, kind: str, name: str, request: dict[str, Any]) -> None:
        job = Job(kind=kind, name=name, request=request)
        with self._lock:
            self.jobs[(kind, name)] = job
        t = threading.Thread(target=self._run_job, args=(job,), name=f"sm-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    def _run_job(self, job: Job) -> None:
        try:
            runner = {"train": self._run_training, "tune": self._run_tuning, "processing": self._run_processing,
                      "transform": self._run_transform}[job.kind]
            runner(job)
            if job.state == "InProgress":
                job.state = "Completed"
        except JobError as exc:
            job.state, job.reason = "Failed", str(exc)[:1024]
        except Exception as exc:  # noqa: BLE001 - an emulator bug must show as a failed job, not hang
            log.exception("emulator error in %s %s", job.kind, job.name)
            job.state, job.reason = "Failed", f"InternalServerError (emulator): {type(exc).__name__}: {exc}\n" \
                                              f"{traceback.format_exc()[-600:]}"
        finally:
            job.ended = dt.datetime.now(dt.UTC)

    def job_dir(self, name: str) -> Path:
        return self.workdir / name

    # ---- training
    def _run_training(self, job: Job, request: dict[str, Any] | None = None, *, name: str | None = None) -> dict:
        req = request or job.request
        name = name or job.name
        root = self.job_dir(name) / "opt_ml"
        shutil.rmtree(root, ignore_errors=True)
        hps = dict(req.get("HyperParameters") or {})
        channels = {}
        for ch in req.get("InputDataConfig", []):
            dest = root / "input" / "data" / ch["ChannelName"]
            self._download_prefix(ch["DataSource"]["S3DataSource"]["S3Uri"], dest)
            channels[ch["ChannelName"]] = {"TrainingInputMode": ch.get("InputMode", "File"),
                                           "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
        config = root / "input" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "hyperparameters.json").write_text(json.dumps(hps))
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
        for d in ("model", "output/data"):
            (root / d).mkdir(parents=True, exist_ok=True)
        submit = _json_value(hps.get("sagemaker_submit_directory"))
        program = _json_value(hps.get("sagemaker_program"))
        if not submit or not program:
            raise JobError("ClientError: script mode needs sagemaker_submit_directory and sagemaker_program")
        code = root / "code"
        self._fetch_code(self._map(str(submit), root), code)
        env = self._container_env(root, req.get("Environment") or {})
        env.update({"SM_MODEL_DIR": str(root / "model"), "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
                    "SM_HPS": json.dumps({k: _json_value(v) for k, v in hps.items()}),
                    "SM_CHANNELS": json.dumps(sorted(channels)), "SM_CURRENT_HOST": "algo-1",
                    "SM_HOSTS": json.dumps(["algo-1"]), "SM_NUM_CPUS": "1", "SM_NUM_GPUS": "0"})
        for ch in channels:
            env[f"SM_CHANNEL_{ch.upper()}"] = str(root / "input" / "data" / ch)
        proc_log = self._exec([sys.executable, str(code / program)], cwd=code, env=env, root=root, name=name)
        metrics = {}
        for md in req["AlgorithmSpecification"].get("MetricDefinitions", []):
            found = re.findall(md["Regex"], proc_log)
            if found:
                value = found[-1][0] if isinstance(found[-1], tuple) else found[-1]
                try:
                    metrics[md["Name"]] = float(value)
                except ValueError:
                    pass
        base = f"{req['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{name}/output"
        self._upload_tar(root / "model", f"{base}/model.tar.gz")
        self._upload_tar(root / "output" / "data", f"{base}/output.tar.gz")
        if job is not None and request is None:
            job.metrics = metrics
            job.extra["model_artifact"] = f"{base}/model.tar.gz"
        return {"metrics": metrics, "model_artifact": f"{base}/model.tar.gz"}

    # ---- tuning
    def _run_tuning(self, job: Job) -> None:
        req = job.request
        cfg = req["HyperParameterTuningJobConfig"]
        objective = cfg["HyperParameterTuningJobObjective"]
        definition = req["TrainingJobDefinition"]
        n = int(cfg["ResourceLimits"]["MaxNumberOfTrainingJobs"])
        candidates = _candidates(cfg.get("ParameterRanges") or {}, n, seed=job.name)
        trials, counters = [], {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0,
                                "Stopped": 0}
        for i, values in enumerate(candidates, start=1):
            trial = f"{job.name}-{i:03d}-{hashlib.sha1(f'{job.name}{i}'.encode()).hexdigest()[:8]}"
            hps = {**definition.get("StaticHyperParameters", {}), **values}
            treq = {**definition, "HyperParameters": hps,
                    "AlgorithmSpecification": {**definition["AlgorithmSpecification"],
                                               "MetricDefinitions": definition["AlgorithmSpecification"].get(
                                                   "MetricDefinitions", [])}}
            try:
                out = self._run_training(job, treq, name=trial)
            except JobError as exc:
                counters["NonRetryableError"] += 1
                trials.append({"name": trial, "values": values, "failed": str(exc)})
                continue
            counters["Completed"] += 1
            trials.append({"name": trial, "values": values, "metric": out["metrics"].get(objective["MetricName"])})
        scored = [t for t in trials if t.get("metric") is not None]
        if not scored:
            raise JobError(f"No training job succeeded after 0 attempts: {trials[-1].get('failed') if trials else ''}")
        best = (max if objective["Type"] == "Maximize" else min)(scored, key=lambda t: t["metric"])
        job.extra["trials"] = trials
        job.extra["describe"] = {
            "TrainingJobStatusCounters": counters,
            "BestTrainingJob": {"TrainingJobName": best["name"], "TunedHyperParameters": best["values"],
                                "TrainingJobStatus": "Completed",
                                "FinalHyperParameterTuningJobObjectiveMetric": {
                                    "MetricName": objective["MetricName"], "Value": best["metric"]}}}

    # ---- processing
    def _run_processing(self, job: Job) -> None:
        req = job.request
        root = self.job_dir(job.name) / "opt_ml"
        shutil.rmtree(root, ignore_errors=True)
        for inp in req.get("ProcessingInputs", []):
            s3 = inp.get("S3Input")
            if s3:
                self._download_prefix(s3["S3Uri"], Path(self._map(s3["LocalPath"], root)))
        outputs = req.get("ProcessingOutputConfig", {}).get("Outputs", [])
        for out in outputs:
            Path(self._map(out["S3Output"]["LocalPath"], root)).mkdir(parents=True, exist_ok=True)
        app = req["AppSpecification"]
        cmd = [self._map(a, root) for a in [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]]
        if not cmd:
            raise JobError("ClientError: the emulator runs processing jobs with a ContainerEntrypoint only "
                           "(an image's own ENTRYPOINT is not known here)")
        env = self._container_env(root, {k: self._map(v, root) for k, v in (req.get("Environment") or {}).items()})
        self._exec(cmd, cwd=root, env=env, root=root, name=job.name)
        for out in outputs:
            local = Path(self._map(out["S3Output"]["LocalPath"], root))
            self._upload_dir(local, out["S3Output"]["S3Uri"])

    # ---- transform
    def _run_transform(self, job: Job) -> None:
        req = job.request
        dp = req.get("DataProcessing") or {}
        if dp.get("InputFilter", "$") != "$" or dp.get("OutputFilter", "$") != "$" or dp.get("JoinSource", "None") != "None":
            raise JobError("ClientError (emulator): DataProcessing filters / JoinSource=Input are not emulated")
        model = self.sagemaker().describe_model(ModelName=req["ModelName"])["PrimaryContainer"]
        root = self.job_dir(job.name) / "opt_ml"
        shutil.rmtree(root, ignore_errors=True)
        model_dir = root / "model"
        model_dir.mkdir(parents=True)
        with tempfile_path(root / "model.tar.gz") as tgz:
            self._download_object(model["ModelDataUrl"], tgz)
            _extract(tgz, model_dir)
        menv = {str(k): str(v) for k, v in (model.get("Environment") or {}).items()}
        submit = self._map(menv.get("SAGEMAKER_SUBMIT_DIRECTORY", f"{OPT_ML}/model/code"), root)
        code = root / "code"
        self._fetch_code(submit, code)
        program = menv.get("SAGEMAKER_PROGRAM", "inference.py")
        src = req["TransformInput"]["DataSource"]["S3DataSource"]
        if src.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobError("ClientError (emulator): only S3Prefix transform inputs are emulated")
        prefix = src["S3Uri"]
        in_dir, out_dir = root / "input", root / "output"
        keys = self._download_prefix(prefix, in_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        spec = {
            "model_dir": str(model_dir), "code_dir": str(code), "program": program,
            "content_type": req["TransformInput"].get("ContentType"),
            "accept": req["TransformOutput"].get("Accept"),
            "split_type": req["TransformInput"].get("SplitType", "None"),
            "batch_strategy": req.get("BatchStrategy", "MultiRecord"),
            "max_payload_mb": int(req.get("MaxPayloadInMB", 6)),
            "assemble_with": req["TransformOutput"].get("AssembleWith", "None"),
            "generate_inference_id": bool((req.get("DataCaptureConfig") or {}).get("GenerateInferenceId")),
            "start_time": job.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "files": [{"input": str(in_dir / k), "output": str(out_dir / f"{k}.out"), "key": k} for k in keys],
        }
        spec_path = root / "transform.json"
        spec_path.write_text(json.dumps(spec))
        env = self._container_env(root, {k: self._map(v, root) for k, v in menv.items()})
        self._exec([sys.executable, str(SERVING_RUNNER), str(spec_path)], cwd=root, env=env, root=root, name=job.name,
                   check=False)
        result = json.loads((root / "transform-result.json").read_text())
        out_prefix = req["TransformOutput"]["S3OutputPath"].rstrip("/")
        done = []
        for f in result["files"]:
            if f["ok"]:
                self._upload_file(Path(f["output"]), f"{out_prefix}/{f['key']}.out")
                done.append(f["key"])
        capture = req.get("DataCaptureConfig")
        if capture:
            hour = job.started.strftime("%Y/%m/%d/%H")
            dest = capture["DestinationS3Uri"].rstrip("/")
            base = prefix if prefix.endswith("/") else prefix + "/"
            manifest_name = f"{job.name}.jsonl"
            self._put(f"{dest}/input/{hour}/{manifest_name}", json.dumps([{"prefix": base}, *keys]).encode())
            self._put(f"{dest}/output/{hour}/{manifest_name}",
                      json.dumps([{"prefix": out_prefix + "/"}, *[f"{k}.out" for k in done]]).encode())
        failed = [f for f in result["files"] if not f["ok"]]
        job.extra["files"] = result["files"]
        if failed:
            raise JobError("ClientError: See job logs for more information. Failed files: "
                           + "; ".join(f"{f['key']}: {f['error']}" for f in failed))

    # ------------------------------------------------------------------ helpers
    def _map(self, value: str, root: Path) -> str:
        return value.replace(OPT_ML, str(root)) if isinstance(value, str) else value

    def _container_env(self, root: Path, request_env: dict[str, str]) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        env = {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
               "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
               "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        env.update({str(k): str(v) for k, v in request_env.items()})
        env["AIRSAGE_OPT_ML"] = str(root)
        return env

    def _exec(self, cmd: list[str], *, cwd: Path, env: dict[str, str], root: Path, name: str,
              check: bool = True) -> str:
        cwd.mkdir(parents=True, exist_ok=True)
        log_path = self.job_dir(name) / "job.log"
        with open(log_path, "w") as fh:
            proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=self.job_timeout_s)
        text = log_path.read_text(errors="replace")
        if check and proc.returncode != 0:
            failure = root / "output" / "failure"
            reason = failure.read_text()[:1024] if failure.exists() else text[-800:]
            raise JobError(f"AlgorithmError: {reason}")
        return text

    def _fetch_code(self, submit: str, code: Path) -> None:
        code.mkdir(parents=True, exist_ok=True)
        if submit.startswith("s3://"):
            with tempfile_path(code.parent / "sourcedir.tar.gz") as tgz:
                self._download_object(submit, tgz)
                _extract(tgz, code)
        elif Path(submit).is_dir():
            if Path(submit).resolve() != code.resolve():
                shutil.copytree(submit, code, dirs_exist_ok=True)
        else:
            raise JobError(f"ClientError: the code {submit!r} is neither on S3 nor in the container")

    def _split(self, uri: str) -> tuple[str, str]:
        m = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
        if not m:
            raise JobError(f"ClientError: {uri!r} is not an S3 URI")
        return m.group(1), m.group(2)

    def _download_object(self, uri: str, dest: Path) -> None:
        bucket, key = self._split(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.s3().download_file(bucket, key, str(dest))
        except Exception as exc:  # noqa: BLE001
            raise JobError(f"ClientError: cannot download {uri}: {exc}") from exc

    def _download_prefix(self, uri: str, dest: Path) -> list[str]:
        """SageMaker's S3Prefix: every object whose key starts with the prefix, kept relative to it."""
        bucket, prefix = self._split(uri)
        s3 = self.s3()
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        if not keys:
            raise JobError(f"ClientError: No S3 objects found under S3 URL \"{uri}\" given in input data source. "
                           "Please ensure that the bucket exists in the selected region, that objects exist under "
                           "that S3 prefix, and that the role has permission to read those objects.")
        rels = []
        for key in sorted(keys):
            rel = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]  # a URI naming one object: its basename
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            rels.append(rel)
        return rels

    def _put(self, uri: str, body: bytes) -> None:
        bucket, key = self._split(uri)
        self.s3().put_object(Bucket=bucket, Key=key, Body=body)

    def _upload_file(self, path: Path, uri: str) -> None:
        bucket, key = self._split(uri)
        self.s3().upload_file(str(path), bucket, key)

    def _upload_dir(self, local: Path, uri: str) -> None:
        base = uri.rstrip("/")
        for p in sorted(local.rglob("*")):
            if p.is_file():
                self._upload_file(p, f"{base}/{p.relative_to(local).as_posix()}")

    def _upload_tar(self, local: Path, uri: str) -> None:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for p in sorted(local.rglob("*")):
                tar.add(p, arcname=p.relative_to(local).as_posix(), recursive=False)
        self._put(uri, raw.getvalue())

    # ------------------------------------------------------------------ for assertions
    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [r for op, r in self.requests if op == operation]

    def keys(self, uri: str, pattern: str = "*") -> list[str]:
        bucket, prefix = self._split(uri)
        s3 = self.s3()
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", [])]
        return sorted(k for k in keys if fnmatch.fnmatch(k, pattern))


@contextmanager
def running(workdir: Path, bucket: str) -> Iterator[SageMakerEmulator]:
    """A started emulator with ``bucket`` created; stopped on exit (a test fixture's body)."""
    emu = SageMakerEmulator(workdir)
    emu.start()
    try:
        emu.s3().create_bucket(Bucket=bucket)
        yield emu
    finally:
        emu.stop()


class JobError(Exception):
    """A job failure, worded as SageMaker's FailureReason."""


class tempfile_path:
    """A path that is removed on exit."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _extract(tgz: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")


def _json_value(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _candidates(ranges: dict[str, list[dict]], n: int, *, seed: str) -> list[dict[str, str]]:
    """``n`` hyperparameter candidates (strings, as SageMaker passes them) from ``ParameterRanges``."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        values: dict[str, str] = {}
        for r in ranges.get("IntegerParameterRanges", []):
            lo, hi = int(r["MinValue"]), int(r["MaxValue"])
            values[r["Name"]] = str(rng.randint(lo, hi))
        for r in ranges.get("ContinuousParameterRanges", []):
            lo, hi = float(r["MinValue"]), float(r["MaxValue"])
            values[r["Name"]] = repr(round(rng.uniform(lo, hi), 6))
        for r in ranges.get("CategoricalParameterRanges", []):
            values[r["Name"]] = r["Values"][i % len(r["Values"])]
        out.append(values)
    return out


def uid() -> str:
    return uuid.uuid4().hex


def main(argv: list[str] | None = None) -> None:
    """``python tests/e2e/sagemaker_emulator.py --workdir DIR [--port N]``: run it by hand (debugging)."""
    import argparse
    import time

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--workdir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bucket", action="append", default=[])
    a = p.parse_args(argv)
    emu = SageMakerEmulator(a.workdir)
    emu._port = a.port
    url = emu.start()
    for b in a.bucket:
        emu.s3().create_bucket(Bucket=b)
    print(f"SageMaker emulator at {url} (AWS_ENDPOINT_URL={url}); jobs under {a.workdir}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()


if __name__ == "__main__":
    main()
