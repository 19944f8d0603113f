"""``RunJobOperator``: one operator for every compute job, local or SageMaker.

It asks ``airsage.lifecycle.jobs.spec_for`` for the job's ``JobSpec`` (the job kind's declared arguments
type and spec builder; deterministic name from the run), submits it to the backend the use case names
for that job (``airsage.compute.backend_for``), and waits as the backend declares (``deferral``):

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
        from airsage.lifecycle.common import run_key_from
        from airsage.lifecycle.jobs import spec_for

        return spec_for(uc, self.job, self.job_args, run_key_from(self.run_key))

    def execute(self, context) -> dict[str, Any]:
        from airsage.config import get_usecase

        with airsage_errors():
            uc = get_usecase(self.usecase)
            spec = self._spec(uc)
            backend = _backend(uc, spec.kind)
            handle = backend.submit(spec)
            self.log.info("Submitted %s job %s to the %s backend", spec.kind, spec.name, backend.name)
            context["ti"].xcom_push(key="console_url", value=handle.console_url or "")
            deferral = backend.deferral(handle, spec) if self.deferrable else None
            if deferral is not None:
                from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger

                self.defer(trigger=SageMakerTrigger(**deferral), method_name="execute_complete",
                           kwargs={"spec": spec.to_dict(), "job_key": spec.kind})
            status = self._wait(backend, handle)
            return _result(spec, status)

    def _wait(self, backend, handle):
        last = [0.0]

        def on_poll(st):
            if time.monotonic() - last[0] > 30:
                self.log.info("Job %s: %s", handle.name, st.state)
                last[0] = time.monotonic()

        try:
            return backend.wait(handle, poll_s=self.poll_s, on_poll=on_poll)
        finally:
            tail = backend.log_tail(handle)
            if tail:
                self.log.info("Job log (tail):\n%s", tail)

    def execute_complete(self, context, event: dict[str, Any] | None = None, spec: dict | None = None,
                         job_key: str | None = None) -> dict[str, Any]:
        """Resume after the trigger fired. ``spec``/``job_key`` are the deferral's kwargs; ``airflow dags test``
        (3.3.2) resumes with the event only, so they are rebuilt from the operator's own (rendered) arguments,
        which give the same deterministic job name."""
        from airsage.compute.base import JobSpec
        from airsage.config import get_usecase
        from airsage.errors import JobFailedError

        with airsage_errors():
            uc = get_usecase(self.usecase)
            job = JobSpec.from_dict(spec) if spec else self._spec(uc)
            backend = _backend(uc, job_key or job.kind)
            status = backend.status(backend.handle_for(job))
            event = event or {}
            if event.get("status") != "success" or status.state != "Completed":
                raise JobFailedError(backend.name, job.name, status.failure_reason or event.get("message", "failed"))
            return _result(job, status)


def _result(spec, status) -> dict[str, Any]:
    from airsage.contracts import JobResult

    return JobResult.from_status(spec, status).to_dict()


def _backend(uc, job_key: str):
    """The job's backend (``airsage.compute.backend_for``); AWS clients come from the use case's Airflow
    AWS connection (``sagemaker.aws_conn_id``)."""
    from airsage.compute import backend_for

    from airsage_airflow.aws import client

    sm = uc.sagemaker
    return backend_for(uc, job_key, clients=lambda service: client(service, sm.aws_conn_id, sm.region))
