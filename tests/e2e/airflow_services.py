"""Real Airflow services for end-to-end tests: a temporary home, free ports, the components ``make up`` starts
(through ``airsage.services``), and a small client of Airflow's public REST API that logs in and acts the way
the UI does (``POST /auth/token``, then ``/api/v2/...`` with a bearer token).

Usage::

    with airflow_services(home, dag_ids=["credit_risk__train"]) as af:
        admin = af.api("admin")
        run_id = admin.trigger("credit_risk__train", {"await_approval": True})

Every wait is bounded; a failure message carries the run's task states, the failed tasks' log tails and the
components' log tails.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airsage import services

REPO = Path(__file__).resolve().parents[2]
TERMINAL_RUN_STATES = {"success", "failed"}
FAILED_TI_STATES = {"failed", "upstream_failed"}


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: str | os.PathLike, **overrides: str) -> dict[str, str]:
    """The embedded environment on ``home``, cut loose from the developer's and the test session's settings.

    Test-only choices: free ports (api-server on 127.0.0.1, the worker and triggerer log servers); a shared JWT
    secret; no cron or Asset-triggered runs
    (``use_job_schedule=False``), so only the runs a test triggers exist; DAG files parsed once, not every 30 s,
    to keep the load down on a small machine.
    """
    from airsage.devenv import airflow_env

    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRSAGE__", "AIRFLOW", "MLFLOW_"))}
    base["AIRFLOW__API__PORT"] = str(free_port())
    env = airflow_env(home, base=base)
    env.update({
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(24),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    })
    env.update(overrides)
    return services.service_env(env)


def run_python(code: str, env: dict[str, str], timeout_s: float = 300) -> Any:
    """Run ``code`` in a fresh interpreter with ``env``; return the JSON its last stdout line holds."""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout_s,
                          cwd=REPO)
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def wait_for(probe: Callable[[], Any], *, timeout_s: float, what: str, interval_s: float = 2.0,
             on_timeout: Callable[[], str] | None = None) -> Any:
    """Call ``probe`` until it returns something truthy; fail after ``timeout_s`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (OSError, urllib.error.URLError, ValueError) as e:  # not up yet
            last_error = e
        if time.monotonic() >= deadline:
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}"
                                 f"{f' (last error: {last_error})' if last_error else ''}\n{detail}")
        time.sleep(interval_s)


class ApiError(AssertionError):
    def __init__(self, method: str, url: str, status: int, body: str):
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.status, self.body = status, body


class AirflowAPI:
    """Airflow's public REST API as one user of the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str, timeout_s: float = 30):
        self.base_url, self.timeout_s = base_url.rstrip("/"), timeout_s
        self.username, self.password = username, password
        self._token: str | None = None

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
              token: str | None = None) -> tuple[int, Any]:
        url = self.base_url + path + (f"?{urllib.parse.urlencode(params, doseq=True)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                raw = resp.read().decode()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raise ApiError(method, url, e.code, e.read().decode(errors="replace")) from None

    @property
    def token(self) -> str:
        """A JWT for this user, as the login form gets it (``POST /auth/token``)."""
        if self._token is None:
            status, body = self._send("POST", "/auth/token", {"username": self.username, "password": self.password})
            assert status == 201, (status, body)
            self._token = body["access_token"]
        return self._token

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return self._send(method, "/api/v2" + path, body, params, token=self.token)[1]

    # ------------------------------------------------------------------ what the UI does
    def unpause(self, dag_id: str) -> dict:
        return self.request("PATCH", f"/dags/{dag_id}", {"is_paused": False}, params={"update_mask": "is_paused"})

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> str:
        """The *Trigger* form: a manual run with ``conf``; returns its run id."""
        body = {"logical_date": None, "conf": conf, **({"dag_run_id": run_id} if run_id else {})}
        return self.request("POST", f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.request("GET", "/dags", params={"limit": 1000})["dags"]}

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 1000})["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """A task's XCom as stored (JSON), as the task instance's *XCom* tab shows it."""
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
                            params={"map_index": map_index})["value"]

    def hitl_details(self, dag_id: str, run_id: str, task_id: str | None = None) -> list[dict]:
        """The run's *Required actions* (answered or not)."""
        params = {"limit": 1000, **({"task_id": task_id} if task_id else {})}
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/hitlDetails", params=params)["hitl_details"]

    def hitl_detail(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails")

    def respond(self, dag_id: str, run_id: str, task_id: str, chosen_options: list[str],
                params_input: dict[str, Any] | None = None, map_index: int = -1) -> dict:
        """Answer a required action, as the form's buttons do (``PATCH .../hitlDetails``)."""
        return self.request("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails",
                            {"chosen_options": chosen_options, "params_input": params_input or {}})


class AirflowServices:
    """Airflow's components running on one isolated home (see :func:`airflow_services`)."""

    def __init__(self, env: dict[str, str], names: Sequence[str]):
        self.env, self.names = env, tuple(names)
        self.base_url = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
        self._apis: dict[str, AirflowAPI] = {}

    @property
    def home(self) -> Path:
        return Path(self.env["AIRSAGE__HOME"])

    def api(self, username: str) -> AirflowAPI:
        """A client logged in as ``username`` (password from the simple auth manager's passwords file)."""
        if username not in self._apis:
            passwords = json.loads(Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())
            self._apis[username] = AirflowAPI(self.base_url, username, passwords[username])
        return self._apis[username]

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        services.start(self.env, self.names)

    def stop(self) -> None:
        services.stop(self.env, timeout_s=20)

    def wait_ready(self, dag_ids: Sequence[str], timeout_s: float = 240) -> None:
        """Until the api-server answers, every component runs and the dag-processor has parsed ``dag_ids``."""
        def ready() -> bool:
            self._check_alive()
            with urllib.request.urlopen(self.base_url + "/api/v2/monitor/health", timeout=10) as r:
                health = json.loads(r.read())
            if health.get("metadatabase", {}).get("status") != "healthy":
                return False
            return set(dag_ids) <= self.api("admin").dag_ids()

        wait_for(ready, timeout_s=timeout_s, what=f"the api-server and DAGs {sorted(dag_ids)}",
                 interval_s=3, on_timeout=self.component_logs)

    def _check_alive(self) -> None:
        dead = [n for n, alive in services.status(self.env).items() if not alive]
        if dead:
            raise AssertionError(f"Airflow components exited: {dead}\n{self.component_logs()}")

    # ------------------------------------------------------------------ waiting on runs
    def wait_run(self, dag_id: str, run_id: str, *, timeout_s: float, user: str = "admin") -> dict:
        """Until the run ends; fail at once (with logs) when a task fails or the run ends other than success."""
        api = self.api(user)

        def done() -> dict | None:
            tis = api.task_instances(dag_id, run_id)
            if any(t["state"] in FAILED_TI_STATES for t in tis):
                raise AssertionError(f"{dag_id} {run_id}: a task failed\n{self.run_report(dag_id, run_id)}")
            run = api.dag_run(dag_id, run_id)
            return run if run["state"] in TERMINAL_RUN_STATES else None

        run = wait_for(done, timeout_s=timeout_s, what=f"{dag_id} run {run_id} to finish",
                       on_timeout=lambda: self.run_report(dag_id, run_id))
        assert run["state"] == "success", f"{dag_id} {run_id} ended {run['state']}\n{self.run_report(dag_id, run_id)}"
        return run

    def wait_awaiting_input(self, dag_id: str, run_id: str, task_id: str, *, count: int | None = None,
                            timeout_s: float, user: str = "admin") -> list[dict]:
        """Until ``task_id``'s required actions are pending: the request is written, the task instance is
        parked in ``awaiting_input`` (what the UI lists under *Required actions*) and the scheduler has seen the
        parking worker exit (see :meth:`worker_exit_seen`). ``count``: how many mapped instances to expect
        (None: as many as the task has instances, at least one)."""
        api = self.api(user)

        def pending() -> list[dict] | None:
            tis = api.task_instances(dag_id, run_id)
            if any(t["state"] in FAILED_TI_STATES for t in tis):
                raise AssertionError(f"{dag_id} {run_id}: a task failed\n{self.run_report(dag_id, run_id)}")
            if api.dag_run(dag_id, run_id)["state"] in TERMINAL_RUN_STATES:
                raise AssertionError(f"{dag_id} {run_id} ended before {task_id} asked anyone\n"
                                     f"{self.run_report(dag_id, run_id)}")
            waiting = [d for d in api.hitl_details(dag_id, run_id, task_id)
                       if not d["response_received"] and d["task_instance"]["state"] == "awaiting_input"]
            expected = count if count is not None else max(1, sum(t["task_id"] == task_id for t in tis))
            if len(waiting) < expected:
                return None
            seen = all(self.worker_exit_seen(dag_id, run_id, task_id, d["task_instance"]["map_index"],
                                             d["task_instance"]["try_number"]) for d in waiting)
            return waiting if seen else None

        return wait_for(pending, timeout_s=timeout_s, what=f"{dag_id}.{task_id} to await input",
                        on_timeout=lambda: self.run_report(dag_id, run_id))

    def worker_exit_seen(self, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> bool:
        """Whether the scheduler has processed the executor's event for the worker that parked this try.

        A person answers seconds after the form appears; a test answers in milliseconds. Airflow 3.3.2 fails a
        HITL task whose answer re-queues it before the scheduler drains that (stale) event: *"Executor reported
        that the task instance ... finished with state success, but the task instance's state attribute is
        queued"* -- the race family of apache/airflow#66374 and #72716. Waiting for the scheduler's log line
        answers no earlier than a person would.
        """
        key = (f"TaskInstanceKey(dag_id='{dag_id}', task_id='{task_id}', run_id='{run_id}', "
               f"try_number={try_number}, map_index={map_index})")
        log = services.log_path(self.env, "scheduler")
        return log.exists() and f"Received executor event with state success for task instance {key}" in \
            log.read_text(errors="replace")

    # ------------------------------------------------------------------ diagnostics
    def run_report(self, dag_id: str, run_id: str, tail: int = 40) -> str:
        """Task states of a run and the log tails of its failed (or unfinished) tasks."""
        lines = [f"== {dag_id} / {run_id}"]
        try:
            tis = self.api("admin").task_instances(dag_id, run_id)
        except Exception as e:  # noqa: BLE001 - diagnostics must not hide the original failure
            return f"{lines[0]}: could not read task instances: {e}\n{self.component_logs()}"
        for t in sorted(tis, key=lambda t: (t["task_id"], t["map_index"])):
            lines.append(f"  {t['task_id']}[{t['map_index']}]: {t['state']} (try {t['try_number']})")
        for t in tis:
            if t["state"] not in ("success", "skipped"):
                log = self.task_log(dag_id, run_id, t["task_id"], t["map_index"])
                if log:
                    lines += [f"-- log {t['task_id']}[{t['map_index']}] ({log.name})",
                              *log.read_text(errors="replace").splitlines()[-tail:]]
        return "\n".join(lines)

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Path | None:
        d = Path(self.env["AIRFLOW_HOME"]) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            d = d / f"map_index={map_index}"
        logs = sorted(d.glob("attempt=*.log"), key=lambda p: p.stat().st_mtime) if d.is_dir() else []
        return logs[-1] if logs else None

    def component_logs(self, tail: int = 30) -> str:
        out = []
        for name in self.names:
            p = services.log_path(self.env, name)
            text = p.read_text(errors="replace").splitlines()[-tail:] if p.exists() else ["(no log)"]
            out += [f"-- {name} ({p})", *text]
        return "\n".join(out)


@contextmanager
def airflow_services(env: dict[str, str], *, dag_ids: Sequence[str] = (),
                     names: Sequence[str] = services.AIRFLOW_COMPONENTS, ready_timeout_s: float = 240,
                     ) -> Iterator[AirflowServices]:
    """Start ``names`` on ``env`` (whose metadata DB exists: ``airsage.demo.init_airflow``), wait until the API
    answers and ``dag_ids`` are parsed, yield; always stop them, printing their log tails if the body failed."""
    af = AirflowServices(env, names)
    af.start()
    ok = False
    try:
        af.wait_ready(dag_ids, timeout_s=ready_timeout_s)
        yield af
        ok = True
    finally:
        if not ok:
            print(af.component_logs(tail=60))
        af.stop()
