"""Airflow as compose runs it: metadata in PostgreSQL, the CeleryExecutor with a Redis broker and PostgreSQL result
backend, and the api-server, scheduler, dag-processor and one ``airflow celery worker`` as separate processes.

A DAG run is triggered through the REST API (a token from the simple auth manager) and must succeed on the Celery
worker: the worker logs the workload, Celery records the task in its result backend, and the task's output (a
dataset on S3, its lineage in the MLflow server) exists. Component logs are printed when anything fails.
The triggerer is not started: no Airsage task defers on the local backend.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from topology_support import BIN, Processes, clean_env, free_port, http_json

pytestmark = [pytest.mark.topology, pytest.mark.moto]

DAG_ID = "credit_risk__import_labels"
TASK_ID = "import_dataset"
DATA_ROOT = "s3://airsage/airflow-data"
USERS = {"admin": "admin", "approver": "approver", "reviewer": "reviewer"}
RUN_TIMEOUT_S = 300
END_DATE = "2026-11-14"


@pytest.fixture(scope="module")
def airflow_stack(postgres, redis_url, s3, mlflow_server, tmp_path_factory):
    """Migrate a fresh metadata database, then start the four components; stop them (and only them) at the end."""
    pytest.importorskip("airflow.providers.celery", reason="apache-airflow-providers-celery is not installed "
                                                          "(pip install -r requirements.txt)")
    from airsage.devenv import airflow_env

    home = tmp_path_factory.mktemp("airflow-topology")
    metadata = postgres.create("airflow")
    port = free_port()
    env = airflow_env(home, base=clean_env(**s3.env))
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        # compose says db+postgresql://: SQLAlchemy 2.1 maps a driverless postgresql:// to psycopg 3 (not installed)
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # shared: the api-server checks the tasks' tokens
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW_CONN_AWS_DEFAULT": "aws://testing:testing@/?region_name=us-east-1&endpoint_url="
                                    + urllib.parse.quote(s3.url, safe=""),
        "AIRSAGE__DATA_ROOT": DATA_ROOT,
        "AIRSAGE__MLFLOW__ARTIFACT_ROOT": "s3://mlflow/artifacts",
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    })
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).write_text(json.dumps(USERS))

    procs = Processes(home / "logs")
    migrate = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, cwd=home, capture_output=True,
                             text=True, timeout=300)
    assert migrate.returncode == 0, (migrate.stdout + migrate.stderr)[-4000:]
    airflow = str(BIN / "airflow")
    try:
        procs.start("api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env, home)
        procs.start("scheduler", [airflow, "scheduler"], env, home)
        procs.start("dag-processor", [airflow, "dag-processor"], env, home)
        procs.start("celery-worker", [airflow, "celery", "worker", "--concurrency", "1",
                                      "--celery-hostname", "topology@%h"], env, home)
        api = f"http://127.0.0.1:{port}"
        procs.wait_http(f"{api}/api/v2/monitor/health", timeout_s=240)
        yield {"api": api, "env": env, "procs": procs, "metadata": metadata, "home": home}
    except BaseException:
        print(procs.tails(60))
        raise
    finally:
        procs.stop()


def token(api: str, user: str = "admin") -> str:
    status, body = http_json("POST", f"{api}/auth/token", {"username": user, "password": USERS[user]})
    assert status == 201, body
    return body["access_token"]


def wait_for(what: str, fn, procs: Processes, timeout_s: float, poll_s: float = 2.0):
    """Call ``fn`` until it returns something truthy; fail with the component logs after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        procs.check_alive()
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{procs.tails()}")
        time.sleep(poll_s)


def test_dag_run_triggered_over_rest_succeeds_on_the_celery_worker(airflow_stack, postgres, s3, mlflow_server,
                                                                   monkeypatch):
    api, procs = airflow_stack["api"], airflow_stack["procs"]
    for key, value in {**s3.env, "AIRSAGE__DATA_ROOT": DATA_ROOT}.items():  # to write the example data to S3
        monkeypatch.setenv(key, value)
    from airsage.lifecycle import labels
    from airsage.config import get_usecase

    uc = get_usecase("credit_risk")
    # other days than the registry test's: a new dataset version, so the worker logs a new lineage run
    data = labels.prepare_example_data(uc, end_date=END_DATE, days=2, rows_per_day=600)
    assert data["manifest"].startswith(f"{DATA_ROOT}/credit_risk/")

    try:
        tok = token(api)
        dag_url = f"{api}/api/v2/dags/{DAG_ID}"
        wait_for(f"{DAG_ID} to be parsed", lambda: http_json("GET", dag_url, token=tok)[0] == 200, procs, 240)
        status, body = http_json("PATCH", dag_url, {"is_paused": False}, token=tok)
        assert status == 200 and body["is_paused"] is False, body
        status, run = http_json("POST", f"{dag_url}/dagRuns",
                                {"logical_date": None, "conf": {"manifest_uri": data["manifest"]}}, token=tok)
        assert status == 200, run
        run_url = f"{dag_url}/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"

        def finished():
            state = http_json("GET", run_url, token=tok)[1].get("state")
            return state if state in ("success", "failed") else None

        assert wait_for("the DAG run to finish", finished, procs, RUN_TIMEOUT_S) == "success", procs.tails()

        status, tis = http_json("GET", f"{run_url}/taskInstances", token=tok)
        assert status == 200, tis
        ti = {t["task_id"]: t for t in tis["task_instances"]}[TASK_ID]
        assert ti["state"] == "success" and ti["queue"] == "default", ti
        status, xcom = http_json("GET", f"{run_url}/taskInstances/{TASK_ID}/xcomEntries/return_value", token=tok)
        assert status == 200, xcom
        result = xcom["value"]
        result = result if isinstance(result, dict) else json.loads(result)

        # it ran on the Celery worker: the scheduler handed it to Celery (external_executor_id), the worker named
        # "topology@..." executed that Celery task, and Celery stored its result in the PostgreSQL result backend
        # (after the task itself reported success, so wait for it)
        metadata = airflow_stack["metadata"]
        [(celery_id,)] = postgres.query(metadata, "SELECT external_executor_id FROM task_instance "
                                                  "WHERE dag_id = %s AND task_id = %s AND run_id = %s",
                                        (DAG_ID, TASK_ID, run["dag_run_id"]))
        assert celery_id, "the scheduler recorded no Celery task id"
        def celery_result():
            rows = postgres.query(metadata, "SELECT status FROM celery_taskmeta WHERE task_id = %s", (celery_id,))
            return rows[0][0] if rows and rows[0][0] in ("SUCCESS", "FAILURE", "REVOKED") else None

        assert wait_for("Celery's result for the task", celery_result, procs, 90) == "SUCCESS"
        worker_log = procs.log("celery-worker").read_text(errors="replace")
        assert "topology@" in worker_log and f"execute_workload[{celery_id}] received" in worker_log
        executed = [line for line in worker_log.splitlines() if f"[{celery_id}] Executing workload in Celery" in line]
        assert executed and DAG_ID in executed[0] and TASK_ID in executed[0], worker_log[-4000:]

        # what the task did: a dataset version on S3 and its lineage run in the MLflow server
        assert result["uri"].startswith(f"{DATA_ROOT}/credit_risk/datasets/"), result
        ds_key = result["uri"].removeprefix("s3://airsage/")
        assert f"{ds_key}/manifest.json" in s3.keys("airsage", ds_key + "/")
        assert "airflow-data/credit_risk/datasets/latest.json" in s3.keys("airsage", "airflow-data/")
        status, found = http_json("POST", f"{mlflow_server.url}/api/2.0/mlflow/runs/search", {
            "experiment_ids": [_experiment_id(mlflow_server.url)],
            "filter": f"tags.`airsage.dataset.uri` = '{result['uri']}'"})
        assert status == 200 and len(found.get("runs", [])) == 1, found
    except BaseException:
        print(procs.tails(60))
        raise


def _experiment_id(mlflow_url: str) -> str:
    status, body = http_json("GET", f"{mlflow_url}/api/2.0/mlflow/experiments/get-by-name?experiment_name="
                                    + urllib.parse.quote("airsage/credit_risk", safe=""))
    assert status == 200, body
    return body["experiment"]["experiment_id"]
