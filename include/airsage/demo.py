"""``make demo``: the example use case's whole lifecycle, run through Airflow, DAG after DAG.

generate data -> ``<uc>__import_labels`` -> ``<uc>__train`` (gates, register as PendingManualApproval)
(with Clarify bias + SHAP and the Model Monitor baselines) -> ``<uc>__approve_model`` (decided by the user who runs it) ->
``<uc>__batch_transform`` (the approved champion scores a partition, with data capture) -> ``<uc>__monitor``
(data quality and drift against the champion's baseline) -> a summary of what was produced and where.
Human review is not part of the demo: its tasks wait for a person (answer them in the UI after ``make up``).

Each DAG runs with ``airflow dags test`` (no scheduler needed). Safe to run twice: data generation and
label import are idempotent, training is skipped when the champion was already trained on the current
dataset version (``--retrain`` forces a new version), scoring replaces the partition's output exactly.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from airsage.devenv import airflow_env

DEMO_PARTITION = "2026-11-21"


def airflow(*args: str, env: dict[str, str], check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    cmd = [str(__import__("pathlib").Path(sys.executable).with_name("airflow")), *args]
    print(f"\n$ airflow {' '.join(args)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True)
    if not quiet or proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        print(tail)
    print(f"  ({time.monotonic() - t0:.0f} s, exit {proc.returncode})", flush=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"`airflow {' '.join(args)}` failed (exit {proc.returncode}); see the output above.")
    return proc


def dags_test(dag_id: str, conf: dict | None, env: dict[str, str]) -> subprocess.CompletedProcess:
    args = ["dags", "test", dag_id]
    if conf:
        args += ["-c", json.dumps(conf)]
    proc = airflow(*args, env=env, check=False, quiet=True)
    out = proc.stdout + proc.stderr
    failed = proc.returncode != 0 or "state=failed" in out.lower() or "DagRunState.FAILED" in out
    if failed:
        print("\n".join(out.splitlines()[-60:]))
        raise SystemExit(f"DAG {dag_id} failed; its task logs are above and under $AIRFLOW_HOME/logs.")
    return proc


def sqlite_wal(sql_alchemy_conn: str) -> bool:
    """Put an embedded SQLite metadata DB into write-ahead-log mode (a setting the file keeps): readers (the
    UI, the API server) then no longer wait for a writer (the scheduler, a task), which made UI answers fail
    with HTTP 500 "Database error" on a busy 2-core machine. One writer at a time still holds; the
    connection's ``timeout=30`` covers that wait. A no-op for any other database."""
    import sqlite3

    prefix = "sqlite:///"
    if not sql_alchemy_conn.startswith(prefix):
        return False
    path = sql_alchemy_conn[len(prefix):].split("?", 1)[0]
    with sqlite3.connect(path, timeout=30) as con:
        return con.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal"


def init_airflow(env: dict[str, str]) -> None:
    """Create the metadata DB (idempotent), the registry pool and the UI login file."""
    from pathlib import Path

    airflow_home = Path(env["AIRFLOW_HOME"])
    airflow_home.mkdir(parents=True, exist_ok=True)
    pw = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    if not pw.exists():
        pw.write_text(json.dumps({"admin": "admin", "approver": "approver", "reviewer": "reviewer"}))
    airflow("db", "migrate", env=env, quiet=True)
    sqlite_wal(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    airflow("pools", "set", "airsage_registry", "1", "Serialises model-registry mutations", env=env, quiet=True)


def run(usecase: str = "credit_risk", *, retrain: bool = False, partition: str = DEMO_PARTITION) -> dict:
    env = airflow_env()
    import os

    os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRSAGE__", "MLFLOW_"))})
    from airsage.config import get_usecase
    from airsage.lifecycle import labels
    from airsage.lifecycle.summary import summary as lifecycle_summary
    from airsage.registry import ModelRegistry

    uc = get_usecase(usecase)
    print(f"== Airsage demo: use case {uc.name}; state under {env['AIRSAGE__HOME']}")
    init_airflow(env)

    print("\n== 1. Generate the example data (seeded; kept if present)")
    data = labels.prepare_example_data(uc, end_date=partition)
    print(json.dumps({k: v for k, v in data.items() if k != "written"}, indent=2), f"\nnew files: {len(data['written'])}")

    print("\n== 2. Import labels (Ground Truth manifest -> validated, versioned dataset)")
    dags_test(f"{uc.name}__import_labels", {"manifest_uri": data["manifest"]}, env)
    dataset = labels.latest_dataset(uc)
    print(f"dataset {dataset.version} ({dataset.rows} rows) at {dataset.uri}")

    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    champion = reg.champion(name)
    if champion and champion.tags.get("dataset_version") == dataset.version and not retrain:
        print(f"\n== 3-4. Champion v{champion.version} was trained on {dataset.version} already: "
              "skipping training (make demo RETRAIN=1 trains a new version)")
    else:
        print("\n== 3. Train, gate and register (PendingManualApproval)")
        dags_test(f"{uc.name}__train", {"await_approval": False, "dataset_version": dataset.version}, env)
        versions = reg.list_versions(name)
        latest = max(versions, key=lambda v: int(v.version))
        print(f"registered {name} v{latest.version}: {latest.status}")
        if latest.status != "PendingManualApproval":
            raise SystemExit(f"v{latest.version} is {latest.status}: a quality gate failed (see the train log above).")
        print("\n== 4. Approve (with a comment; `airflow dags test` records your OS user, source cli:airflow-dags-test)")
        dags_test(f"{uc.name}__approve_model", {"version": latest.version, "decision": "approve",
                                               "comment": "Demo: gates passed; metrics reviewed."}, env)

    print(f"\n== 5. Score partition {partition} with the approved champion (batch transform)")
    dags_test(f"{uc.name}__batch_transform", {"partition": partition}, env)

    print(f"\n== 6. Monitor partition {partition} against the champion's training baseline")
    dags_test(f"{uc.name}__monitor", {"partition": partition}, env)

    summary = lifecycle_summary(uc)
    print("\n== What the demo produced")
    print(json.dumps(summary, indent=2, default=str))
    print(f"\nMLflow UI: make up, then http://localhost:5000 ; Airflow UI: http://localhost:8080 (admin/admin)")
    return summary


def run_shadow(usecase: str = "credit_risk", *, partition: str = DEMO_PARTITION) -> dict:
    """``make demo-shadow``: champion and challenger. The outcomes of the scored partition arrive, a
    challenger is trained on the larger dataset and left pending, the next night's partition is scored by
    the champion with the challenger in shadow, that night's outcomes arrive (the paired quality test), the
    approver reads the evidence and approves: the challenger becomes the champion and its shadow scoring
    stops. Runs the base demo first when there is no champion yet; safe to run again."""
    import datetime as dt
    import os

    env = airflow_env()
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRSAGE__", "MLFLOW_"))})
    from airsage.config import get_usecase
    from airsage.lifecycle import governance, labels, shadow
    from airsage.lifecycle.common import partition_for
    from airsage.registry import ModelRegistry

    uc = get_usecase(usecase)
    if not uc.shadow.enabled:
        raise SystemExit(f"shadow.enabled is false in use case {uc.name}: set it to true to run this chapter.")
    reg = ModelRegistry.from_settings()
    name = uc.registered_model_name
    if reg.champion(name) is None:
        run(usecase, partition=partition)
    init_airflow(env)
    champion = reg.champion(name)
    day1 = partition_for(partition)
    day2 = day1 + dt.timedelta(days=1)

    print(f"\n== 7. The outcomes of partition {day1} arrive; the label import publishes them")
    labels.prepare_outcomes(uc, day1)
    dags_test(f"{uc.name}__import_labels", {}, env)
    dataset = labels.latest_dataset(uc)
    print(f"dataset {dataset.version} ({dataset.rows} rows)")

    newest = max(reg.list_versions(name), key=lambda v: int(v.version))
    if newest.tags.get("dataset_version") == dataset.version and newest.version != champion.version:
        challenger = newest
        print(f"\n== 8. Challenger v{challenger.version} was trained on {dataset.version} already ({challenger.status})")
    elif newest.version == champion.version and newest.tags.get("dataset_version") == dataset.version:
        challenger = newest
        print(f"\n== 8. v{challenger.version}, trained on {dataset.version}, is the champion already: "
              "this chapter ran before")
    else:
        print(f"\n== 8. Train a challenger on {dataset.version}; it stays PendingManualApproval")
        dags_test(f"{uc.name}__train", {"await_approval": False, "dataset_version": dataset.version}, env)
        challenger = max(reg.list_versions(name), key=lambda v: int(v.version))
        if str(challenger.status) != "PendingManualApproval":
            raise SystemExit(f"v{challenger.version} is {challenger.status}: a quality gate failed (see the train log).")
    version = challenger.version

    print(f"\n== 9. Score partition {day2} with champion v{champion.version}; pending versions in shadow")
    labels.prepare_scoring(uc, day2)
    dags_test(f"{uc.name}__batch_transform", {"partition": str(day2)}, env)

    print(f"\n== 10. The outcomes of {day2} arrive: the paired quality comparison")
    labels.prepare_outcomes(uc, day2)
    dags_test(f"{uc.name}__import_labels", {}, env)
    if str(reg.get_version(name, version).status) == "PendingManualApproval":
        shadow.refresh(uc, version)
        print("\n-- What the approver reads (the approval request's summary) --")
        print(governance.approval_summary(uc, version))
        print(f"\n== 11. Approve v{version}: it becomes the champion and its shadow scoring stops")
        dags_test(f"{uc.name}__approve_model", {"version": version, "decision": "approve",
                                               "comment": f"Demo: shadow evidence on {day2} reviewed."}, env)
    summary = shadow.read_summary(uc, version) or {}
    result = {"challenger": version, "champion": reg.champion(name).version, **shadow.headline(summary),
              "stopped_reason": summary.get("stopped_reason"), "summary": shadow.summary_uri(uc, version)}
    print("\n== Shadow evidence of v" + version)
    print(json.dumps(result, indent=2, default=str))
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--usecase", default="credit_risk")
    p.add_argument("--retrain", action="store_true")
    p.add_argument("--partition", default=DEMO_PARTITION)
    p.add_argument("--shadow", action="store_true", help="the champion-and-challenger chapter (make demo-shadow)")
    a = p.parse_args(argv)
    if a.shadow:
        run_shadow(a.usecase, partition=a.partition)
    else:
        run(a.usecase, retrain=a.retrain, partition=a.partition)


if __name__ == "__main__":
    main()
