"""Helpers of the topology tests (a plain module: ``conftest`` names are ambiguous across test folders).

* ``Processes``: starts components in their own process groups with a log file each, waits for them over
  HTTP, gives their log tails, and stops exactly the groups it started.
* ``http_json``, ``free_port``, ``clean_env``, ``tail``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
# Airflow / Airsage / MLflow / AWS settings of the developer's shell must not leak into the components.
FOREIGN_ENV = ("AIRSAGE__", "AIRFLOW", "MLFLOW_", "AWS_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def http_json(method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 30):
    """One JSON request; returns ``(status, parsed body or text)`` and never raises on HTTP errors."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - localhost only
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without foreign Airflow/Airsage/MLflow/AWS settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV)}
    env.update(extra)
    return env


# ---------------------------------------------------------------------- processes
@dataclass
class Processes:
    """Components started by one fixture: one process group and one log file each."""

    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        with open(self.log(name), "ab") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> Path:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{name}.log"

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"component(s) exited: {dead}\n{self.tails()}")

    def wait_http(self, url: str, timeout_s: float, ok=lambda status, body: status == 200) -> None:
        """Poll ``url`` until ``ok(status, body)``; fail early (with the logs) if a component dies."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_alive()
            try:
                status, body = http_json("GET", url, timeout=5)
                if ok(status, body):
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} not ready after {timeout_s:.0f} s\n{self.tails()}")
            time.sleep(1)

    def tails(self, lines: int = 40) -> str:
        return "\n".join(f"----- {n} (pid {p.pid}, exit {p.poll()}) -----\n{tail(self.log(n), lines)}"
                         for n, p in self.procs.items())

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM each started group, SIGKILL what is left after ``timeout_s``; leftovers of a group die too."""
        for p in self.procs.values():
            _killpg(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs.values():
            _killpg(p.pid, signal.SIGKILL)  # group members (uvicorn/celery children, task processes)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass
