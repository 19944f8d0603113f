"""Dashboard benchmark: the overview API and the overview page at scale, through the real app and
Airflow's authentication.

    .venv/bin/python benchmarks/bench_dashboard.py [--usecases 10] [--versions 50] [--partitions 365] [--repeat 20]

Generates the history as dashboard summaries (what the lifecycle's ``record_*`` calls leave): per use
case ``--versions`` registered versions (approved / rejected / pending, gates, decisions) and
``--partitions`` scored and monitored days (rows, verdicts, review counts), in a temporary Airsage home
with its own use-case files. Then it times ``GET /airsage/api/v1/overview`` and ``GET /airsage/`` with a
real JWT (simple auth manager): the first (cold) request and the median / p95 of ``--repeat`` more.
Targets: API < 300 ms, page < 1 s. Prints a markdown table and a JSON line with machine facts.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))


def setup_env(home: Path) -> None:
    from airsage.devenv import airflow_env

    os.environ.update({k: v for k, v in airflow_env(home, base={}).items() if k != "PYTHONPATH"})
    os.environ.pop("AIRSAGE__DATA_ROOT", None)
    os.environ["AIRSAGE__USECASES_DIR"] = str(home / "usecases")


def write_usecases(home: Path, n: int) -> list:
    import yaml

    from airsage.config import load_usecases

    src = yaml.safe_load((REPO / "include" / "usecases" / "credit_risk.yaml").read_text())
    (home / "usecases").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"bench_uc{i:02d}"
        doc = {**src, "name": name, "data": {**(src.get("data") or {}), "root": str(home / "data" / name)}}
        (home / "usecases" / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_usecases(home / "usecases")


def generate(uc, versions: int, partitions: int) -> None:
    """One use case's summaries, written as the record_* functions write them (item files + index)."""
    from airsage.dashboard import record, store

    idx = store.empty_index(uc)
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    champion = previous = None
    for v in range(1, versions + 1):
        status = "Rejected" if v % 7 == 0 else ("PendingManualApproval" if v == versions else "Approved")
        gates = [{"name": g, "passed": not (status == "Rejected" and g == "min_auc"), "value": 0.8, "threshold": 0.7,
                  "detail": f"{g} check"} for g in ("min_auc", "min_pr_auc", "min_recall", "max_bias",
                                                     "champion_max_auc_drop")]
        when = (t0 + dt.timedelta(days=7 * v)).isoformat()
        tags = {"run_key": f"run-{v}", "dataset_version": f"ds-{v:012x}", "dataset_hash": f"{v:064x}",
                "code_version": f"{v:040x}", "registered_by": "airflow:train", "gate_results": json.dumps(gates),
                "metrics": json.dumps({"auc": 0.8 + v / 1000, "baseline_auc": 0.75, "recall": 0.6})}
        if status == "Approved":
            tags.update(approved_by=f"approver{v % 3}", approval_ts=when, approval_comment="reviewed")
            previous, champion = champion, str(v)
        elif status == "Rejected":
            tags.update(rejected_by="gates", rejection_ts=when)
        doc = record.version_doc({"version": str(v), "status": status, "aliases": [], "run_id": f"{v:032x}",
                                  "created_at": when, "tags": tags})
        doc["events"] = [record.event_doc({"seq": 2 * v, "ts": when, "action": "register", "actor": "airflow",
                                           "version": str(v)})]
        store.write_json(store.version_uri(uc, str(v)), doc)
        idx["versions"][str(v)] = record.compact_version(doc)
    idx["champion"], idx["previous"] = champion, previous
    start = dt.date(2026, 12, 1) - dt.timedelta(days=partitions)
    for i in range(partitions):
        day = (start + dt.timedelta(days=i)).isoformat()
        version = str(1 + i * versions // partitions)
        t = record.transform_doc({"status": "Completed", "model_version": version, "records_out": 50_000 + i,
                                  "records_in": 50_000 + i, "files_failed": 0, "started_at": f"{day}T02:00:00+00:00",
                                  "files": [{"output_uri": f"/p/{day}/part-0.out"}]}, day=day)
        m = record.monitor_doc({"alert": i % 17 == 0, "reasons": ["data drift: 30% of features"] if i % 17 == 0 else [],
                                "drifted_share": (i % 10) / 20, "prediction_drift": i % 29 == 0,
                                "model_quality": "ok", "model_version": version,
                                "report_uri": f"/r/{day}/report.html"}, day=day)
        r = record.review_doc({"routed": 20, "pending_review": 2 if i > partitions - 3 else 0, "reviewed": 18,
                               "timed_out": 0}, day=day)
        for part, doc in (("transform", t), ("monitor", m), ("review", r)):
            store.write_json(store.partition_uri(uc, day, part), doc)
        idx["partitions"][day] = record.compact_partition(t, m, r)
    idx["updated_at"] = store.now()
    store.write_json(store.index_uri(uc), idx)


def timed(fn, repeat: int) -> dict[str, float]:
    t = time.perf_counter()
    fn()
    cold = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    runs.sort()
    return {"cold_ms": cold * 1000, "median_ms": statistics.median(runs) * 1000,
            "p95_ms": runs[max(0, int(len(runs) * 0.95) - 1)] * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--usecases", type=int, default=10)
    ap.add_argument("--versions", type=int, default=50)
    ap.add_argument("--partitions", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="airsage-bench-dashboard-"))
    setup_env(home)
    ucs = write_usecases(home, args.usecases)
    t = time.perf_counter()
    for uc in ucs:
        generate(uc, args.versions, args.partitions)
    gen_s = time.perf_counter() - t
    index_kb = sum(os.path.getsize(os.path.join(uc.data_root(), "dashboard", "index.json")) for uc in ucs) / 1024

    from airflow import settings
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.revoked_token import RevokedToken
    from fastapi.testclient import TestClient

    from airsage_airflow.dashboard.app import create_app

    RevokedToken.__table__.create(settings.engine, checkfirst=True)
    token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="bench", role="viewer"))
    client = TestClient(create_app(), root_path="/airsage")
    client.cookies.set("_token", token)

    def api():
        r = client.get("/api/v1/overview")
        assert r.status_code == 200 and len(r.json()["usecases"]) == args.usecases, r.text[:300]

    def page():
        r = client.get("/")
        assert r.status_code == 200 and r.text.count('class="card usecase"') == args.usecases

    api_t, page_t = timed(api, args.repeat), timed(page, args.repeat)
    size_kb = len(client.get("/api/v1/overview").content) / 1024
    page_kb = len(client.get("/").content) / 1024
    print(f"\n{args.usecases} use cases x {args.versions} versions x {args.partitions} partitions "
          f"(generated in {gen_s:.1f} s; {index_kb:.0f} KiB of index files)\n")
    print("| request | cold | median | p95 | size | target |\n|---|---|---|---|---|---|")
    print(f"| GET /airsage/api/v1/overview | {api_t['cold_ms']:.0f} ms | {api_t['median_ms']:.0f} ms | "
          f"{api_t['p95_ms']:.0f} ms | {size_kb:.0f} KiB | < 300 ms |")
    print(f"| GET /airsage/ (overview page) | {page_t['cold_ms']:.0f} ms | {page_t['median_ms']:.0f} ms | "
          f"{page_t['p95_ms']:.0f} ms | {page_kb:.0f} KiB | < 1 s |")
    load = os.getloadavg()
    print(json.dumps({"date": dt.date.today().isoformat(), "machine": platform.machine(), "cpus": os.cpu_count(),
                      "python": platform.python_version(), "load_avg": [round(x, 2) for x in load],
                      "api": api_t, "page": page_t}))
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
