"""``RunJobOperator``: one operator for every compute job, local or SageMaker.

It asks ``airsage.pipeline`` for the job's ``JobSpec`` (deterministic name from the run), submits it to
the backend the use case names for that job (``compute.<job>.backend``), and waits:

* ``local``: polls the job (the task holds its worker slot; the job runs in its own process);
* ``sagemaker``: defers to the amazon provider's ``SageMakerTrigger`` (no worker slot while waiting).

A retried task resubmits the same job name and the backend reattaches to it: never two jobs for a run.
XCom carries the job's name, state and output URIs only.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, BaseOperatorLink

from airsage_airflow.errors import airsage_errors


class SageMakerConsoleLink(BaseOperatorLink):
    name = "SageMaker job"

    def get_link(self, operator, *, ti_key):  # noqa: D401 - Airflow's API
        from airflow.sdk.execution_time.xcom import XCom

        value = XCom.get_value(ti_key=ti_key, key="console_url")
        return value or ""


class RunJobOperator(BaseOperator):
    """Run one Airsage job (``train``, ``transform``, ``clarify``, ``monitor``) for a use case.

    :param usecase: the use case name.
    :param job: ``train`` | ``transform`` | ``clarify`` | ``monitor`` (``train`` becomes ``tune`` when tuning is on).
    :param job_args: keyword arguments for the spec builder (an upstream task's output is resolved first).
    :param poll_s: polling interval for local jobs.
    :param deferrable: defer while a SageMaker job runs.
    """

    template_fields: Sequence[str] = ("usecase", "run_key", "job_args")
    operator_extra_links = (SageMakerConsoleLink(),)
    ui_color = "#f0e4ff"

    def __init__(self, *, usecase: str, job: str, job_args: Any = None, run_key: str = "{{ run_id }}",
                 poll_s: float = 2.0, deferrable: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.usecase = usecase
        self.job = job
        self.job_args = job_args
        self.run_key = run_key
        self.poll_s = poll_s
        self.deferrable = deferrable

    def _spec(self, uc):
        from airsage import pipeline

        args = dict(self.job_args or {})
        run_key = pipeline.run_key_from(self.run_key)
        if self.job == "train":
            return pipeline.train_spec(uc, args["dataset"], run_key)
        if self.job == "transform":
            return pipeline.transform_spec(uc, args["model"], pipeline.partition_for(args["partition"]), run_key,
                                           input_uri=args.get("input_uri") or None,
                                           output_uri=args.get("output_uri") or None,
                                           overrides=args.get("overrides"))
        builder = getattr(pipeline, f"{self.job}_spec", None)
        if builder is None:
            raise ValueError(f"no job builder for {self.job!r}")
        return builder(uc, run_key=run_key, **args)

    def execute(self, context) -> dict[str, Any]:
        from airsage.config import get_usecase

        with airsage_errors():
            uc = get_usecase(self.usecase)
            spec = self._spec(uc)
            job_key = "tune" if spec.kind == "tune" else self.job
            backend = _backend(uc, job_key)
            handle = backend.submit(spec)
            self.log.info("Submitted %s job %s to the %s backend", spec.kind, spec.name, backend.name)
            context["ti"].xcom_push(key="console_url", value=handle.console_url or "")
            if backend.name == "sagemaker" and self.deferrable:
                from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

                delay = int(backend.settings.poll_interval_s)
                max_runtime = int(spec.resources.get("max_runtime_s") or 86400)
                self.defer(trigger=SageMakerTrigger(**backend.trigger_kwargs(handle), waiter_delay=delay,
                                                    waiter_max_attempts=max_runtime // delay + 10),
                           method_name="execute_complete", kwargs={"spec": spec.to_dict(), "job_key": job_key})
            status = self._wait(backend, handle)
            return self._result(spec, status)

    def _wait(self, backend, handle):
        last = [0.0]

        def on_poll(st):
            if time.monotonic() - last[0] > 30:
                self.log.info("Job %s: %s", handle.name, st.state)
                last[0] = time.monotonic()

        try:
            return backend.wait(handle, poll_s=self.poll_s, on_poll=on_poll)
        finally:
            tail = getattr(backend, "log_tail", None)
            if tail:
                self.log.info("Job log (tail):\n%s", tail(handle))

    def execute_complete(self, context, event: dict[str, Any] | None = None, spec: dict | None = None,
                         job_key: str | None = None) -> dict[str, Any]:
        """Resume after the trigger fired. ``spec``/``job_key`` are the deferral's kwargs; ``airflow dags test``
        (3.3.2) resumes with the event only, so they are rebuilt from the operator's own (rendered) arguments,
        which give the same deterministic job name."""
        from airsage.compute.base import JobHandle, JobSpec
        from airsage.config import get_usecase
        from airsage.errors import JobFailedError

        with airsage_errors():
            uc = get_usecase(self.usecase)
            job = JobSpec.from_dict(spec) if spec else self._spec(uc)
            job_key = job_key or ("tune" if job.kind == "tune" else self.job)
            backend = _backend(uc, job_key)
            handle = (backend.handle_for(job) if hasattr(backend, "handle_for")  # the name SageMaker knows
                      else JobHandle(backend=backend.name, name=job.name, kind=job.kind))
            status = backend.status(handle)
            event = event or {}
            if event.get("status") != "success" or status.state != "Completed":
                raise JobFailedError(backend.name, job.name, status.failure_reason or event.get("message", "failed"))
            return self._result(job, status)

    @staticmethod
    def _result(spec, status) -> dict[str, Any]:
        return {"job_name": spec.name, "kind": spec.kind, "state": status.state, "outputs": dict(status.outputs)}


def _backend(uc, job_key: str):
    """The job's backend; a SageMaker one gets its clients from the use case's Airflow AWS connection."""
    from airsage import pipeline

    if getattr(uc.compute, job_key).backend != "sagemaker":
        return pipeline.backend_for(uc, job_key)
    from airsage_airflow.aws import client

    sm = uc.sagemaker
    return pipeline.backend_for(uc, job_key, client=client("sagemaker", sm.aws_conn_id, sm.region),
                                s3_client=client("s3", sm.aws_conn_id, sm.region))
