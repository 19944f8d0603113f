"""``make up`` / ``make down``: the UIs on this machine, as background processes.

Airflow 3's four components (api-server on :8080, scheduler, dag-processor, triggerer) and the MLflow UI
(:5000) run from ``.venv`` with the embedded environment (``airsage.devenv``). Logs and pid files live in
``$AIRSAGE__HOME/services/``. Logins (``LOGINS``): ``admin`` / ``admin``, ``approver`` / ``approver`` (Op role)
and ``reviewer`` / ``reviewer`` (User role) — Airflow's simple auth manager, for a laptop only. ``up`` unpauses the
use cases' DAGs once they are parsed (new DAGs start paused).

``start(env, names)`` / ``stop(env)`` take the environment explicitly, so the end-to-end tests run the very
same launcher on a temporary home and free ports.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from airsage.devenv import airflow_env

AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ALL_COMPONENTS = (*AIRFLOW_COMPONENTS, "mlflow-ui")


def service_env(env: dict[str, str]) -> dict[str, str]:
    """The environment every component shares.

    Task processes talk to the api-server's Execution API; Airflow assumes ``http://localhost:8080`` unless told
    otherwise, so a non-default ``AIRFLOW__API__PORT`` must also move the Execution API URL (else every task
    fails to start, or worse, reaches another Airflow on :8080).
    """
    port = env.get("AIRFLOW__API__PORT", "8080")
    out = dict(env)
    if not out.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") and not out.get("AIRFLOW__API__BASE_URL"):
        out["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://localhost:{port}/execution/"
    # MLflow 3.17 starts job-execution workers for GenAI jobs by default; Airsage uses none of them
    out.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return out


def command(name: str, env: dict[str, str]) -> list[str]:
    """The command line of one component."""
    if name in AIRFLOW_COMPONENTS:
        return [_bin("airflow"), name]
    if name == "mlflow-ui":
        return [_bin("mlflow"), "server", "--backend-store-uri", env["MLFLOW_TRACKING_URI"],
                "--default-artifact-root", env["AIRSAGE__MLFLOW__ARTIFACT_ROOT"],
                "--host", "127.0.0.1", "--port", env.get("MLFLOW_UI_PORT", "5000"), "--workers", "1"]
    raise ValueError(f"unknown component {name!r}; choose from {', '.join(ALL_COMPONENTS)}")


def services_dir(env: dict[str, str]) -> Path:
    d = Path(env["AIRSAGE__HOME"]) / "services"
    d.mkdir(parents=True, exist_ok=True)
    return d


def log_path(env: dict[str, str], name: str) -> Path:
    return services_dir(env) / f"{name}.log"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child of this process counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def start(env: dict[str, str], names: tuple[str, ...] | list[str] = ALL_COMPONENTS) -> dict[str, int]:
    """Start the named components in the background (one process group each); skip those already running.

    Returns ``{name: pid}``. The metadata DB must exist (``airsage.demo.init_airflow``).
    """
    env = service_env(env)
    d = services_dir(env)
    home = Path(env["AIRSAGE__HOME"])
    pids: dict[str, int] = {}
    for name in names:
        cmd = command(name, env)
        pid_file = d / f"{name}.pid"
        pid = _pid(pid_file)
        if pid and _alive(pid):
            print(f"{name}: already running (pid {pid})")
            pids[name] = pid
            continue
        with open(log_path(env, name), "ab") as log:  # the child keeps its own descriptor
            p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=str(home))
        pid_file.write_text(str(p.pid))
        pids[name] = p.pid
        print(f"{name}: started (pid {p.pid}, log {log_path(env, name)})")
    return pids


def stop(env: dict[str, str], timeout_s: float = 20.0) -> list[str]:
    """Stop every component started from this home: SIGTERM to its process group, SIGKILL after ``timeout_s``.

    Returns the names that were running.
    """
    d = services_dir(env)
    running: dict[str, int] = {}
    for pid_file in sorted(d.glob("*.pid")):
        pid = _pid(pid_file)
        if pid and _alive(pid):
            _signal_group(pid, signal.SIGTERM)
            running[pid_file.stem] = pid
    deadline = time.monotonic() + timeout_s
    while running and any(_alive(p) for p in running.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for name, pid in running.items():
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            print(f"{name}: killed (pid {pid}, no exit after {timeout_s:.0f} s)")
        else:
            print(f"{name}: stopped (pid {pid})")
    for name, pid in running.items():  # a component's leftovers (workers, task processes) share its group
        _signal_group(pid, signal.SIGKILL)
    for pid_file in d.glob("*.pid"):
        pid_file.unlink(missing_ok=True)
    return list(running)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def status(env: dict[str, str]) -> dict[str, int | None]:
    """``{name: pid}`` of every component started from this home; the pid is None when it is not running."""
    out = {}
    for pid_file in sorted(services_dir(env).glob("*.pid")):
        pid = _pid(pid_file)
        out[pid_file.stem] = pid if pid and _alive(pid) else None
    return out


def print_status(env: dict[str, str]) -> None:
    for name, pid in status(env).items():
        print(f"{name}: running (pid {pid})" if pid else f"{name}: dead")


#: the embedded setup's logins (airsage.devenv's simple auth manager users; laptop-only passwords)
LOGINS = (("admin", "admin", "Admin: everything"),
          ("approver", "approver", "Op: approves, rejects, promotes and rolls back models"),
          ("reviewer", "reviewer", "User: answers human-review tasks"))
#: the workflows every use case has (one DAG each: <usecase>__<workflow>)
WORKFLOWS = ("import_labels", "train", "approve_model", "promote_model", "batch_transform", "human_review",
             "monitor", "clarify")


def unpause_usecase_dags(env: dict[str, str], timeout_s: float = 240, interval_s: float = 10) -> list[str]:
    """Unpause every use case's DAGs (new DAGs start paused) once the dag-processor has stored them.

    Returns the use cases' DAG ids that are unpaused; on timeout the ones so far (the rest stay paused: use the
    toggle in the DAG list, or ``airflow dags unpause <dag_id>``).
    """
    import re

    from airsage.config import load_usecases

    names = [uc.name for uc in load_usecases()]
    expected = {f"{n}__{w}" for n in names for w in WORKFLOWS}
    pattern = "^(" + "|".join(re.escape(n) for n in names) + ")__"
    senv = service_env(env)

    def cli(*args: str) -> str:
        return subprocess.run([_bin("airflow"), "dags", *args], env=senv, capture_output=True, text=True,
                              timeout=180).stdout

    deadline = time.monotonic() + timeout_s
    while True:
        cli("unpause", "--treat-dag-id-as-regex", pattern, "-y")
        listed = _json_list(cli("list", "-o", "json"))
        active = {d["dag_id"] for d in listed if re.match(pattern, d.get("dag_id", ""))
                  and str(d.get("is_paused")).lower() in ("false", "0")}
        if expected <= active or time.monotonic() >= deadline:
            return sorted(active)
        time.sleep(interval_s)


def _json_list(out: str) -> list:
    """The JSON array in a command's output, which may carry log lines first (``... [warning ] ...``)."""
    import json
    import re

    for match in re.finditer(r"\[\s*[{\]]", out):
        try:
            value, _ = json.JSONDecoder().raw_decode(out[match.start():])
        except ValueError:
            continue
        if isinstance(value, list):
            return value
    return []


def up() -> None:
    from airsage.demo import init_airflow

    env = airflow_env()
    init_airflow(env)
    start(env)
    print("\nWaiting for the DAGs to be parsed, to unpause them ...")
    unpaused = unpause_usecase_dags(env)
    print(f"Unpaused {len(unpaused)} DAGs: the nightly batch transform and the asset-scheduled DAGs now run on "
          "their own; the others start from their Trigger form.")
    logins = "\n".join(f"  {user:<9} / {password:<9} {what}" for user, password, what in LOGINS)
    print(f"\nAirflow UI: http://localhost:{env['AIRFLOW__API__PORT']}   logins (laptop only):\n{logins}"
          f"\nMLflow UI:  http://localhost:{env.get('MLFLOW_UI_PORT', '5000')}\nStop with: make down")
    time.sleep(1)


def down() -> None:
    stop(airflow_env())


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    actions = {"up": up, "down": down, "status": lambda: print_status(airflow_env())}
    if len(argv) != 1 or argv[0] not in actions:
        raise SystemExit("usage: python -m airsage.services up|down|status")
    actions[argv[0]]()


if __name__ == "__main__":
    main()
