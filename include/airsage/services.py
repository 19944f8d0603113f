"""``make up`` / ``make down``: the UIs on this machine, as background processes.

Airflow 3's four components (api-server on :8080, scheduler, dag-processor, triggerer) and the MLflow UI
(:5000) run from ``.venv`` with the embedded environment (``airsage.devenv``). Logs and pid files live in
``$AIRSAGE__HOME/services/``. Login: ``admin`` / ``admin`` (also ``approver``/``approver`` with the Op role
and ``reviewer``/``reviewer`` with the User role) — Airflow's simple auth manager, for a laptop only.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from airsage.devenv import airflow_env

COMPONENTS = {
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
}


def _dir(env) -> Path:
    d = Path(env["AIRSAGE__HOME"]) / "services"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def up() -> None:
    from airsage.demo import init_airflow

    env = airflow_env()
    init_airflow(env)
    d = _dir(env)
    procs = dict(COMPONENTS)
    home = Path(env["AIRSAGE__HOME"])
    procs["mlflow-ui"] = ["mlflow", "server", "--backend-store-uri", env["MLFLOW_TRACKING_URI"],
                          "--default-artifact-root", env["AIRSAGE__MLFLOW__ARTIFACT_ROOT"],
                          "--host", "127.0.0.1", "--port", "5000"]
    for name, cmd in procs.items():
        pid_file = d / f"{name}.pid"
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            print(f"{name}: already running (pid {pid_file.read_text()})")
            continue
        log = open(d / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        p = subprocess.Popen([_bin(cmd[0]), *cmd[1:]], env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, cwd=str(home))
        pid_file.write_text(str(p.pid))
        print(f"{name}: started (pid {p.pid}, log {d / f'{name}.log'})")
    print(f"\nAirflow UI: http://localhost:{env['AIRFLOW__API__PORT']}  (login admin / admin; approver / approver)"
          "\nMLflow UI:  http://localhost:5000\nStop with: make down")
    time.sleep(1)


def down() -> None:
    env = airflow_env()
    d = _dir(env)
    for pid_file in sorted(d.glob("*.pid")):
        pid = int(pid_file.read_text())
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except OSError:
                pass
            print(f"{pid_file.stem}: stopped (pid {pid})")
        pid_file.unlink()


def status() -> None:
    env = airflow_env()
    for pid_file in sorted(_dir(env).glob("*.pid")):
        pid = int(pid_file.read_text())
        print(f"{pid_file.stem}: {'running' if _alive(pid) else 'dead'} (pid {pid})")


if __name__ == "__main__":
    {"up": up, "down": down, "status": status}[sys.argv[1]]()
